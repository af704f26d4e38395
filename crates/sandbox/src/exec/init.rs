//! Stage 2, init: death signal, own `/proc`, Landlock, then the program.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use landlock::RulesetStatus;
use nix::mount::{MsFlags, mount};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::rules::Rules;
use super::{Failure, InitPlan, failure, supervise};
use crate::policy::Mechanism;

pub(super) fn run(plan: &InitPlan, program: &OsStr, args: &[OsString]) -> Result<u8, Failure> {
    // First, before the launcher can forward anything: as PID 1 a signal without a
    // handler is dropped.
    let signals = if plan.pid_namespace { Some(supervise::catch_signals()?) } else { None };
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL))?;
    if launcher_pid() != Some(plan.launcher_pid) {
        return Err(failure!("the sandbox launcher died during start-up"));
    }

    let policy = &plan.policy;
    let proc_mounted = policy.confine
        && plan.pid_namespace
        && plan.mount_namespace
        && nix::unistd::getpid() == Pid::from_raw(1)
        && mount(
            Some("proc"),
            "/proc",
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .is_ok();

    if proc_mounted {
        hide_run(policy);
    }
    if policy.confine && !policy.is_disabled(Mechanism::LandlockFs) {
        let mut read = policy.read.clone();
        if proc_mounted {
            // Only the sandbox's own processes are visible in this /proc.
            read.push(PathBuf::from("/proc"));
        }
        let mut write = policy.write.clone();
        write.extend(plan.tmp_dir.iter().cloned());
        let tcp_connect =
            if policy.is_disabled(Mechanism::LandlockNet) { None } else { Rules::tcp_for(&policy.network) };
        let rules = Rules { read, write, tcp_connect };
        match rules.restrict_self() {
            Ok(RulesetStatus::NotEnforced) if policy.required => {
                return Err(failure!("sandbox required but Landlock is not enforced"));
            }
            Ok(_) => {}
            Err(error) if policy.required => return Err(Failure(error)),
            Err(error) => eprintln!("{}warning: {error}", crate::HELPER_MESSAGE_PREFIX),
        }
    }

    if let Err(error) = if policy.confine { drop_capabilities() } else { Ok(()) } {
        if policy.required {
            return Err(failure!("cannot drop capabilities: {error}"));
        }
        eprintln!("{}warning: cannot drop capabilities: {error}", crate::HELPER_MESSAGE_PREFIX);
    }

    let mut command = Command::new(program);
    command.args(args);
    let Some(mut signals) = signals else {
        // No PID namespace: become the program, keeping the death signal and Landlock.
        let error = command.exec();
        return Err(failure!("cannot run {}: {error}", program.to_string_lossy()));
    };
    let child = command.spawn().map_err(|e| failure!("cannot run {}: {e}", program.to_string_lossy()))?;
    let child_pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    drop(child);
    // Returning ends PID 1, and with it every process left in the namespace.
    supervise::wait_relaying(&mut signals, child_pid)
}

/// Covers `/run` with an empty tmpfs in our mount namespace, unless the policy grants a
/// path in it. Landlock before ABI 9 does not govern connecting to a pathname UNIX socket,
/// and `/run` is where the dangerous ones live (`docker.sock`, containerd, D-Bus, systemd).
/// Nothing is lost: the preset does not grant `/run`, so Landlock denies reading it anyway.
fn hide_run(policy: &crate::SandboxPolicy) {
    let run = std::path::Path::new("/run");
    let granted = policy.read.iter().chain(&policy.write).any(|path| path.starts_with(run) || run.starts_with(path));
    if granted || !run.is_dir() {
        return;
    }
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if let Err(error) = mount(Some("tmpfs"), run, Some("tmpfs"), flags, Some("mode=755,size=64k")) {
        eprintln!("{}warning: cannot hide /run: {error}", crate::HELPER_MESSAGE_PREFIX);
    }
}

/// Leaves no capability to this process or anything it runs. Landlock does not cover what
/// root's capabilities allow besides files (loading a kernel module, raw I/O, reading
/// `/proc/kcore`, reconfiguring the host network without a network namespace). With the
/// bounding set empty, even a program run as uid 0 gains no capability at `exec`.
fn drop_capabilities() -> Result<(), caps::errors::CapsError> {
    use caps::CapSet;
    if caps::read(None, CapSet::Permitted)?.is_empty() && caps::read(None, CapSet::Bounding)?.is_empty() {
        return Ok(());
    }
    // The bounding set first: dropping from it needs CAP_SETPCAP, still effective here.
    for set in [CapSet::Bounding, CapSet::Ambient, CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        caps::clear(None, set)?;
    }
    Ok(())
}

/// Our parent's pid as the host sees it. Read from the host's `/proc` (not yet replaced
/// by ours), because inside a new PID namespace `getppid()` is 0.
fn launcher_pid() -> Option<i32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| line.strip_prefix("PPid:"))?.trim().parse().ok()
}
