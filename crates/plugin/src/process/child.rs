//! The plugin's process: spawned through process-wrap as the leader of a new process group,
//! owned by one [`ChildGuard`] whose `Drop` kills the whole group (the plugin and anything it
//! started: a Python runtime's worker processes, a tool it shelled out to), and its stderr
//! drained into `tracing` and a bounded tail that error messages quote.

use std::collections::VecDeque;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop, ProcessGroup};
use tokio::io::BufReader;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::watch;
use tracing::{debug, warn};

use super::lines::{Overflow, next_line};
use crate::command::PluginCommand;
use crate::error::PluginError;

/// Lines of stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 20;
/// Bytes of stderr kept for error messages.
const STDERR_TAIL_BYTES: usize = 4096;
/// Bytes of one stderr line read (the rest of the line is dropped).
const STDERR_LINE_BYTES: usize = 8192;
/// Bytes of one line kept in the tail, so that one long line cannot push out the others.
const STDERR_TAIL_LINE_BYTES: usize = 1024;

/// A process group, by id: signals only, no ownership (that is [`ChildGuard`]'s).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group {
    pgid: i32,
}

impl Group {
    /// Sends `signal` to every process of the group; a group already gone is not an error.
    fn signal(self, signal: Signal) {
        if self.pgid > 1 {
            let _ = killpg(Pid::from_raw(self.pgid), signal);
        }
    }

    /// SIGKILL to the whole group.
    pub(crate) fn kill(self) {
        self.signal(Signal::SIGKILL);
    }

    /// SIGTERM to the whole group.
    pub(crate) fn terminate(self) {
        self.signal(Signal::SIGTERM);
    }

    /// Whether some process of the group still exists (zombies included).
    pub(crate) fn exists(self) -> bool {
        self.pgid > 1 && killpg(Pid::from_raw(self.pgid), None::<Signal>) != Err(Errno::ESRCH)
    }
}

/// The one owner of a plugin process. Dropping it kills the process group.
#[derive(Debug)]
pub(crate) struct ChildGuard {
    child: Box<dyn ChildWrapper>,
    group: Group,
}

impl ChildGuard {
    /// The process group.
    pub(crate) fn group(&self) -> Group {
        self.group
    }

    /// The exit status of the plugin process (the group leader), if it has exited. Reaps it.
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        // The leader only: process-wrap's group-wide wait would block on a surviving grandchild.
        self.child.inner_mut().try_wait().ok().flatten()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.group.kill();
        // Also marks tokio's child for reaping, so no zombie is left behind.
        let _ = self.child.start_kill();
    }
}

/// The last lines a plugin wrote to stderr.
#[derive(Debug, Default)]
pub(crate) struct StderrTail {
    lines: Mutex<VecDeque<String>>,
}

impl StderrTail {
    fn push(&self, mut line: String) {
        if line.len() > STDERR_TAIL_LINE_BYTES {
            let mut cut = STDERR_TAIL_LINE_BYTES;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.push_back(line);
        while lines.len() > STDERR_TAIL_LINES || lines.iter().map(String::len).sum::<usize>() > STDERR_TAIL_BYTES {
            if lines.pop_front().is_none() {
                break;
            }
        }
    }

    /// `; last stderr: a | b`, or nothing.
    pub(crate) fn suffix(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.is_empty() {
            String::new()
        } else {
            format!("; last stderr: {}", lines.iter().map(String::as_str).collect::<Vec<_>>().join(" | "))
        }
    }
}

/// A started process and its pipes.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) guard: ChildGuard,
    pub(crate) pid: Option<u32>,
    pub(crate) stdin: ChildStdin,
    pub(crate) stdout: ChildStdout,
    pub(crate) stderr: Option<ChildStderr>,
}

/// Starts the plugin as the leader of a new process group, all three pipes captured.
pub(crate) fn spawn(plugin: &str, command: &PluginCommand) -> Result<Spawned, PluginError> {
    let error = |message: String| PluginError::Spawn { plugin: plugin.to_owned(), message };
    if let Some(cwd) = &command.cwd
        && !cwd.is_dir()
    {
        return Err(error(format!("working directory {} does not exist", cwd.display())));
    }
    let mut inner = tokio::process::Command::new(&command.program);
    inner.args(&command.args).envs(&command.env).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(cwd) = &command.cwd {
        inner.current_dir(cwd);
    }
    let mut wrapped = CommandWrap::from(inner);
    wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
    let program = command.program.display();
    let mut child = wrapped.spawn().map_err(|e| {
        error(match e.kind() {
            io::ErrorKind::NotFound => format!("command {program:?} not found (check the path, or that it is on PATH)"),
            io::ErrorKind::PermissionDenied => format!(
                "command {program:?} is not executable (make it executable, or run it through its interpreter, \
                 e.g. `python3 {program}`)"
            ),
            _ if e.raw_os_error() == Some(Errno::ENOEXEC as i32) => format!(
                "command {program:?} cannot be executed (a script without a `#!` line?): run it through its \
                 interpreter, e.g. `python3 {program}`"
            ),
            _ => format!("cannot start {program:?}: {e}"),
        })
    })?;
    let pid = child.id();
    let pgid = pid.and_then(|pid| i32::try_from(pid).ok()).unwrap_or(0);
    let stdin = child.stdin().take();
    let stdout = child.stdout().take();
    let stderr = child.stderr().take();
    let guard = ChildGuard { child, group: Group { pgid } };
    let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
        return Err(error("the child's stdin/stdout pipes are missing".to_owned()));
    };
    Ok(Spawned { guard, pid, stdin, stdout, stderr })
}

/// Drains a plugin's stderr into `debug` logs and `tail` until it closes, then flags `done`.
/// Values of the plugin's `--env` (often API keys) never reach the logs or error messages.
pub(crate) async fn drain_stderr(
    plugin: Arc<str>,
    stderr: ChildStderr,
    secrets: Vec<String>,
    tail: Arc<StderrTail>,
    done: watch::Sender<bool>,
) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        match next_line(&mut reader, &mut line, STDERR_LINE_BYTES, Overflow::Truncate).await {
            Ok(true) => {
                let mut text = String::from_utf8_lossy(&line).into_owned();
                for secret in &secrets {
                    if text.contains(secret.as_str()) {
                        text = text.replace(secret.as_str(), "[redacted]");
                    }
                }
                debug!(target: "toolbridge_plugin::stderr", plugin = %plugin, "{text}");
                tail.push(text);
            }
            Ok(false) => break,
            Err(error) => {
                warn!(plugin = %plugin, error = ?error, "stopped reading the plugin's stderr");
                break;
            }
        }
    }
    done.send_replace(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines_within_bounds() {
        let tail = StderrTail::default();
        assert_eq!(tail.suffix(), "");
        for i in 0..50 {
            tail.push(format!("line {i}"));
        }
        let suffix = tail.suffix();
        assert!(suffix.starts_with("; last stderr: line 30 |") && suffix.ends_with("line 49"), "{suffix}");
        tail.push("é".repeat(10_000));
        let suffix = tail.suffix();
        assert!(suffix.len() < STDERR_TAIL_BYTES + 100 && suffix.ends_with("éé…"), "a long line is cut, not lost");
    }
}
