//! Waiting for a child while relaying signals to it, and sweeping what it left behind.
//!
//! Signals are caught by handlers (signal-hook's self-pipe) and handled on the one thread
//! that also reaps, so child exits and forwarded signals are seen in order. Handlers, not
//! a blocked mask and a `signalfd`: the standard library passes the signal mask on to
//! spawned children, and a program started with SIGTERM blocked would never see it,
//! while handlers are reset to the default by `exec`.

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{Failure, failure};

/// Starts catching the forwarded signals (SIGTERM, SIGINT, SIGHUP, SIGQUIT) and SIGCHLD.
/// Call before spawning the child, so that no exit or signal goes unseen.
pub(super) fn catch_signals() -> Result<Signals, Failure> {
    Signals::new([SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD])
        .map_err(|e| failure!("cannot install signal handlers: {e}"))
}

/// Waits until `main` exits, relaying forwarded signals to it and reaping any other child
/// (orphans reparented to us). Returns the shell-style status: the exit code, or 128 + the
/// signal number.
pub(super) fn wait_relaying(signals: &mut Signals, main: Pid) -> Result<u8, Failure> {
    loop {
        // Reap first: a child may have exited before the handlers saw anything to report.
        if let Some(code) = reap(main)? {
            return Ok(code);
        }
        for signo in signals.wait() {
            if signo == SIGCHLD {
                continue;
            }
            if let Ok(signal) = Signal::try_from(signo) {
                // The program may already be gone; its exit shows up in `reap`.
                let _ = kill(main, signal);
            }
        }
    }
}

/// Reaps every exited child; `Some(status)` once `main` is among them.
fn reap(main: Pid) -> Result<Option<u8>, Failure> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(status) if status.pid() == Some(main) => {
                if let Some(code) = exit_code(status) {
                    return Ok(Some(code));
                }
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) => {
                return Err(failure!("lost track of the program (no child to wait for)"));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// The shell-style status of a terminated child, `None` for stop/continue reports.
pub(super) fn exit_code(status: WaitStatus) -> Option<u8> {
    match status {
        WaitStatus::Exited(_, code) => Some(u8::try_from(code & 0xff).unwrap_or(u8::MAX)),
        WaitStatus::Signaled(_, signal, _) => Some(u8::try_from(128 + signal as i32).unwrap_or(u8::MAX)),
        _ => None,
    }
}

/// Kills and reaps every remaining child until none is left. Meant for a child
/// subreaper: killing a child reparents its own children to us, so the loop walks down the
/// whole tree, whatever `setsid` or double forks it went through.
pub(super) fn sweep_descendants() {
    let me = nix::unistd::getpid();
    // Each round kills one generation; the bound only guards against a /proc that lies.
    for _ in 0..10_000 {
        let children = children_of(me);
        if children.is_empty() {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Err(Errno::ECHILD) => return,
                Ok(WaitStatus::StillAlive) => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                _ => {}
            }
            continue;
        }
        for &child in &children {
            let _ = kill(child, Signal::SIGKILL);
        }
        for &child in &children {
            let _ = waitpid(child, None);
        }
    }
}

/// Pids whose parent is `parent`, from `/proc/*/stat`.
fn children_of(parent: Pid) -> Vec<Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| parent_of(pid) == Some(parent.as_raw()))
        .map(Pid::from_raw)
        .collect()
}

/// The parent pid in `/proc/PID/stat`: the second field after the command name, which is
/// parenthesised and may itself contain spaces and parentheses.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_self_is_our_parent() {
        let me = nix::unistd::getpid().as_raw();
        assert_eq!(parent_of(me), Some(nix::unistd::getppid().as_raw()));
    }

    #[test]
    fn exit_codes_follow_the_shell() {
        let pid = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(exit_code(WaitStatus::Signaled(pid, Signal::SIGTERM, false)), Some(143));
        assert_eq!(exit_code(WaitStatus::StillAlive), None);
    }
}
