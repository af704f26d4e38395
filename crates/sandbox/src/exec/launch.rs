//! Stage 1, the launcher: namespaces, private temp dir, stage 2, signal relay, sweep.

use std::ffi::{OsStr, OsString};
use std::process::Command;

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::unistd::Pid;

use super::{Failure, InitPlan, failure, loopback, supervise};
use crate::command::HELPER_MAGIC;
use crate::policy::{Mechanism, NetworkPolicy, SandboxPolicy};
use crate::probe::HostCapabilities;
use crate::report::SandboxReport;

/// Namespaces actually entered.
#[derive(Debug, Clone, Copy)]
struct Entered {
    net: bool,
    pid: bool,
    mount: bool,
}

pub(super) fn run(policy: SandboxPolicy, program: &OsStr, args: &[OsString]) -> Result<u8, Failure> {
    let wants_net = policy.confine
        && matches!(policy.network, NetworkPolicy::None | NetworkPolicy::Loopback)
        && !policy.is_disabled(Mechanism::NetNamespace);
    let wants_pid = !policy.is_disabled(Mechanism::PidNamespace);
    let entered = enter_namespaces(wants_net, wants_pid);

    // The same decision the parent made, on what this process actually got.
    let caps = HostCapabilities {
        net_namespace: entered.net,
        pid_namespace: entered.pid,
        mount_namespace: entered.mount,
        ..crate::probe::probe_landlock()
    };
    let report = SandboxReport::plan(&policy, &caps);
    if policy.required && !report.missing.is_empty() {
        return Err(failure!("sandbox required but not available: {}", Mechanism::list(&report.missing)));
    }

    if entered.net
        && policy.network == NetworkPolicy::Loopback
        && let Err(error) = loopback::bring_up()
    {
        if policy.required {
            return Err(failure!("cannot bring up the sandbox loopback: {error}"));
        }
        eprintln!("{}warning: sandbox loopback is down: {error}", crate::HELPER_MESSAGE_PREFIX);
    }

    let tmp_dir = if policy.private_tmp {
        Some(
            tempfile::Builder::new()
                .prefix("toolbridge-sandbox-")
                .tempdir()
                .map_err(|e| failure!("cannot create the private temp dir: {e}"))?,
        )
    } else {
        None
    };
    if !entered.pid {
        nix::sys::prctl::set_child_subreaper(true).map_err(|e| failure!("cannot become a child subreaper: {e}"))?;
    }

    let plan = InitPlan {
        policy,
        launcher_pid: nix::unistd::getpid().as_raw(),
        tmp_dir: tmp_dir.as_ref().map(|dir| dir.path().to_path_buf()),
        net_namespace: entered.net,
        pid_namespace: entered.pid,
        mount_namespace: entered.mount,
    };
    let plan_json = serde_json::to_string(&plan)?;

    let mut signals = supervise::catch_signals()?;
    let mut init = Command::new("/proc/self/exe");
    init.arg(HELPER_MAGIC).arg("--init").arg(plan_json).arg("--").arg(program).args(args);
    if let Some(dir) = &tmp_dir {
        init.env("TMPDIR", dir.path());
    }
    let child = init.spawn().map_err(|e| failure!("cannot start the sandbox init stage: {e}"))?;
    let child_pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    // Reaped through waitpid in `wait_relaying`; the handle is not needed.
    drop(child);

    let status = supervise::wait_relaying(&mut signals, child_pid);
    if !entered.pid {
        supervise::sweep_descendants();
    }
    drop(tmp_dir);
    status
}

/// Unshares what is wanted, all at once if possible, else one by one to keep what works.
fn enter_namespaces(net: bool, pid: bool) -> Entered {
    let mut flags = CloneFlags::empty();
    if net {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if pid {
        flags |= CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS;
    }
    if flags.is_empty() {
        return Entered { net: false, pid: false, mount: false };
    }
    let mut entered = if unshare(flags).is_ok() {
        Entered { net, pid, mount: pid }
    } else {
        let net = net && unshare(CloneFlags::CLONE_NEWNET).is_ok();
        let pid = pid && unshare(CloneFlags::CLONE_NEWPID).is_ok();
        let mount = pid && unshare(CloneFlags::CLONE_NEWNS).is_ok();
        Entered { net, pid, mount }
    };
    if entered.mount {
        // Our /proc mount must not propagate back to the host's mount namespace.
        entered.mount =
            mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>).is_ok();
    }
    entered
}
