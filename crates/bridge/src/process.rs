//! Child processes, each owned by exactly one [`ChildProcess`] whose drop ends its whole
//! process group.
//!
//! A process is spawned as the leader of a new process group (process-wrap) and handed to a
//! supervising task, the only code that reaps it. The task waits for the leader to exit
//! *without reaping it* (a pidfd, or `waitid(WNOWAIT)` where pidfds are missing), kills the rest
//! of the group while the leader is still a zombie — so the group id cannot have been recycled
//! — and only then reaps. A kill on request (a timeout, a hung server, the owner dropped) is
//! sent at once, under the same lock that marks the leader reaped, so it too can never reach a
//! recycled group. Everyone but the owner holds at most a [`Killer`].
//!
//! Every child is launched by a [`Launcher`]: through the sandbox helper when one is
//! available — confined by the configured sandbox, or only *contained* (its whole tree ends
//! with it, `setsid` or not) when none is configured — with an allow-listed environment.
//!
//! [`run`] is how a skill runs a command: output read with a cap on what is kept (the rest
//! counted), under a time limit and cancellation.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop, ProcessGroup};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use toolbridge_config::sandbox::SandboxPolicy;
use toolbridge_sandbox::{Helper, SandboxError, SandboxReport, sandboxed_command};

use crate::error::{Boundary, ToolError};
use crate::source::ToolOutput;

/// How children are started: through the sandbox helper when there is one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Launcher {
    helper: Option<Helper>,
}

/// Why a child could not be prepared.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LaunchError {
    /// The sandbox is configured but cannot be applied.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// A sandbox is configured and no helper is available to apply it.
    #[error(
        "a sandbox is configured but the sandbox helper ({}) was not found next to this program or on PATH",
        toolbridge_sandbox::HELPER_BINARY
    )]
    NoHelper,
}

impl LaunchError {
    /// As a tool call's error.
    pub(crate) fn into_tool_error(self) -> ToolError {
        ToolError::Confined { boundary: Boundary::Sandbox, reason: self.to_string() }
    }
}

impl Launcher {
    /// A launcher using `helper`, or the helper found next to this program (see
    /// [`Helper::discover`]).
    pub(crate) fn new(helper: Option<Helper>) -> Self {
        Self { helper: helper.or_else(Helper::discover) }
    }

    /// A command for `program args` with exactly `env` as its environment: confined by
    /// `policy`, or only contained when `policy` is `None`; and what the sandbox enforces.
    /// Without a helper an unsandboxed command runs directly (its process group is still
    /// killed as a whole).
    pub(crate) fn command(
        &self,
        program: &OsStr,
        args: &[impl AsRef<OsStr>],
        env: &[(OsString, OsString)],
        cwd: Option<&Path>,
        policy: Option<&SandboxPolicy>,
    ) -> Result<(tokio::process::Command, Option<SandboxReport>), LaunchError> {
        match (&self.helper, policy) {
            (Some(helper), policy) => {
                let policy = policy.cloned().unwrap_or_else(SandboxPolicy::containment);
                let (command, report) = sandboxed_command(&policy, helper, program, args, env, cwd)?;
                Ok((tokio::process::Command::from(command), Some(report)))
            }
            (None, Some(_)) => Err(LaunchError::NoHelper),
            (None, None) => {
                let mut command = tokio::process::Command::new(program);
                command.args(args).env_clear().envs(env.iter().map(|(k, v)| (k, v)));
                if let Some(cwd) = cwd {
                    command.current_dir(cwd);
                }
                Ok((command, None))
            }
        }
    }

    /// What launching under `policy` would enforce (for listings).
    pub(crate) fn plan(&self, policy: Option<&SandboxPolicy>) -> Option<SandboxReport> {
        self.helper.as_ref()?;
        let policy = policy.cloned().unwrap_or_else(SandboxPolicy::containment);
        Some(SandboxReport::plan(&policy, &toolbridge_sandbox::probe()))
    }
}

/// A child process (and its process group). Dropping it kills the group.
#[derive(Debug)]
pub(crate) struct ChildProcess {
    group: Arc<Group>,
    exit: watch::Receiver<Exit>,
}

/// Where the child is: running, or reaped (with its status when it could be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Running,
    Reaped(Option<ExitStatus>),
}

/// The process group, and whether its leader was reaped (after which its id may be reused
/// and must not be signalled).
#[derive(Debug)]
struct Group {
    pid: u32,
    reaped: Mutex<bool>,
    /// Tells the supervisor to kill and reap.
    kill: CancellationToken,
}

impl Group {
    /// Kills every process of the group now, unless the leader was already reaped.
    fn kill(&self) {
        let reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
        if !*reaped && let Ok(pid) = i32::try_from(self.pid) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        drop(reaped);
        self.kill.cancel();
    }
}

/// The pipes of a spawned child.
#[derive(Debug)]
pub(crate) struct Pipes {
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) stdout: Option<ChildStdout>,
    pub(crate) stderr: Option<ChildStderr>,
}

/// Kills a [`ChildProcess`]'s group without owning it. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Killer(Arc<Group>);

impl Killer {
    /// Kills the process group (idempotent; returns at once).
    pub(crate) fn kill(&self) {
        self.0.kill();
    }
}

impl ChildProcess {
    /// Spawns `command` as the leader of a new process group. Must be called inside a Tokio
    /// runtime.
    pub(crate) fn spawn(command: tokio::process::Command) -> io::Result<(Self, Pipes)> {
        let mut wrapped = CommandWrap::from(command);
        wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
        let mut child = wrapped.spawn()?;
        let pid = child.id().ok_or_else(|| io::Error::other("the child exited before its pid was read"))?;
        let pipes = Pipes { stdin: child.stdin().take(), stdout: child.stdout().take(), stderr: child.stderr().take() };
        let group = Arc::new(Group { pid, reaped: Mutex::new(false), kill: CancellationToken::new() });
        let (report, exit) = watch::channel(Exit::Running);
        tokio::spawn(supervise(child, Arc::clone(&group), report));
        Ok((Self { group, exit }, pipes))
    }

    /// The process id (also the process group id).
    pub(crate) fn id(&self) -> u32 {
        self.group.pid
    }

    /// A handle that can kill the process group.
    pub(crate) fn killer(&self) -> Killer {
        Killer(Arc::clone(&self.group))
    }

    /// Kills the process group now ([`exited`](Self::exited) tells when it is reaped).
    pub(crate) fn kill(&self) {
        self.group.kill();
    }

    /// Waits until the process has exited and been reaped (its group killed); its status,
    /// when it could be read.
    pub(crate) async fn exited(&self) -> Option<ExitStatus> {
        let mut exit = self.exit.clone();
        match exit.wait_for(|exit| *exit != Exit::Running).await.map(|exit| *exit) {
            Ok(Exit::Reaped(status)) => status,
            // The supervisor is gone (the runtime shut down): process-wrap killed the group.
            Ok(Exit::Running) | Err(_) => None,
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.group.kill();
    }
}

/// The only code that reaps the child.
async fn supervise(mut child: Box<dyn ChildWrapper>, group: Arc<Group>, report: watch::Sender<Exit>) {
    tokio::select! {
        () = group.kill.cancelled() => {}
        () = leader_exit(group.pid) => {}
    }
    {
        // The leader is alive or an unreaped zombie: the group id is still ours.
        let mut reaped = group.reaped.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = child.start_kill();
        *reaped = true;
    }
    let status = child.wait().await.ok();
    report.send_replace(Exit::Reaped(status));
}

/// Completes when process `pid` (our child) has exited, without reaping it.
async fn leader_exit(pid: u32) {
    let Some(raw) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return;
    };
    match rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) {
        // `AsyncFd::new` is deprecated because a raw fd it borrows may be closed under the
        // reactor; an `OwnedFd` moved into it cannot be, and the safe replacement is `unsafe`.
        #[allow(deprecated)]
        Ok(fd) => match tokio::io::unix::AsyncFd::new(fd) {
            // A pidfd becomes readable when the process exits.
            Ok(fd) => {
                let _ = fd.readable().await;
            }
            Err(_) => wait_without_reaping(pid).await,
        },
        Err(_) => wait_without_reaping(pid).await,
    }
}

/// The fallback for kernels without pidfds: `waitid(WEXITED | WNOWAIT)` on a blocking thread.
async fn wait_without_reaping(pid: u32) {
    use nix::sys::wait::{Id, WaitPidFlag, waitid};
    let Ok(raw) = i32::try_from(pid) else { return };
    let _ = tokio::task::spawn_blocking(move || {
        waitid(Id::Pid(nix::unistd::Pid::from_raw(raw)), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
    })
    .await;
}

/// Limits of one command run by a skill.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) max_output_bytes: usize,
}

/// How long a command's pipes may stay open after it exited (a descendant that escaped its
/// process group holds them) before we stop reading.
const PIPE_GRACE: Duration = Duration::from_millis(200);

/// What was read of one pipe: at most the cap kept, everything counted.
#[derive(Debug, Default)]
struct Captured {
    kept: Vec<u8>,
    total: usize,
}

/// Reads all of `reader` into `into`, keeping at most `cap` bytes (the rest is drained and
/// counted). What was read stays in `into` if the read is abandoned.
async fn read_capped(reader: Option<impl AsyncRead + Unpin>, cap: usize, into: &mut Captured) {
    let Some(mut reader) = reader else { return };
    let mut buffer = [0u8; 8192];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                into.total += n;
                let room = cap.saturating_sub(into.kept.len());
                into.kept.extend_from_slice(&buffer[..n.min(room)]);
            }
        }
    }
}

/// What a skill's command runs with.
#[derive(Debug, Clone)]
pub(crate) struct Run<'a> {
    pub(crate) launcher: &'a Launcher,
    pub(crate) policy: Option<&'a SandboxPolicy>,
    pub(crate) cwd: &'a Path,
    pub(crate) env: &'a [(OsString, OsString)],
    pub(crate) limits: Limits,
}

/// Runs `program args…` (stdin closed) as `how` says. stdout and stderr come back together
/// (at most `max_output_bytes` of them kept, the true size in `original_bytes`), with the exit
/// status as a trailer that survives any cap. A non-zero exit is an error output the model
/// sees. Whatever happens, nothing the command started outlives the call.
pub(crate) async fn run(
    program: &str,
    args: &[&str],
    how: &Run<'_>,
    cancel: &CancellationToken,
) -> Result<ToolOutput, ToolError> {
    let limits = how.limits;
    let (mut command, _) = how
        .launcher
        .command(OsStr::new(program), args, how.env, Some(how.cwd), how.policy)
        .map_err(LaunchError::into_tool_error)?;
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let (child, pipes) =
        ChildProcess::spawn(command).map_err(|e| ToolError::failed_with(format!("cannot start {program}"), e))?;
    let cap = limits.max_output_bytes;
    let (mut out, mut err) = (Captured::default(), Captured::default());
    let finished = async {
        let held_open = {
            let reading = async {
                tokio::join!(read_capped(pipes.stdout, cap, &mut out), read_capped(pipes.stderr, cap, &mut err))
            };
            tokio::pin!(reading);
            tokio::select! {
                _ = &mut reading => false,
                _ = child.exited() => {
                    // The command is done; its pipes close unless a descendant escaped the group.
                    tokio::time::timeout(PIPE_GRACE, &mut reading).await.is_err()
                }
            }
        };
        (held_open, child.exited().await)
    };
    let outcome = tokio::select! {
        outcome = finished => Ok(outcome),
        () = tokio::time::sleep(limits.timeout) => Err(ToolError::Timeout { tool: program.to_owned(), server: None, limit: limits.timeout }),
        () = cancel.cancelled() => Err(ToolError::Cancelled),
    };
    child.kill();
    let (held_open, status) = outcome?;
    let mut text = String::from_utf8_lossy(&out.kept).into_owned();
    let mut total = out.total;
    if err.total > 0 {
        const MARKER: &str = "[stderr]\n";
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
            total += 1;
        }
        text.push_str(MARKER);
        text.push_str(&String::from_utf8_lossy(&err.kept));
        total += MARKER.len() + err.total;
    }
    let code = status.and_then(|s| s.code());
    if code == Some(i32::from(toolbridge_sandbox::HELPER_FAILURE_EXIT_CODE))
        && let Some(line) = text.lines().find(|l| l.starts_with(toolbridge_sandbox::HELPER_MESSAGE_PREFIX))
    {
        // The sandbox could not be set up: the command never ran.
        return Err(ToolError::Confined { boundary: Boundary::Sandbox, reason: line.to_owned() });
    }
    let mut trailer = match code {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".to_owned(),
    };
    if held_open {
        trailer.push_str(" (a process it started kept its output open and was stopped)");
    }
    Ok(ToolOutput {
        original_bytes: (total > text.len()).then_some(total),
        text,
        is_error: code != Some(0),
        trailer: Some(trailer),
        structured: None,
        content: None,
    })
}
