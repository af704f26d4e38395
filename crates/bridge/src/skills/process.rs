//! Running a command for a skill: in its own process group, with a time limit, cancellation
//! and an output cap. On timeout or cancellation the whole group is killed, so nothing the
//! command started survives it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessGroup};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

use super::{SkillError, SkillOutput};

/// Limits of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) max_output_bytes: usize,
}

/// Reads all of `reader`, keeping at most `cap` bytes (the rest is drained and counted).
async fn read_capped(reader: Option<impl AsyncRead + Unpin>, cap: usize) -> (Vec<u8>, usize) {
    let Some(mut reader) = reader else { return (Vec::new(), 0) };
    let mut kept = Vec::new();
    let mut total = 0usize;
    let mut buffer = [0u8; 8192];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n;
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..n.min(room)]);
            }
        }
    }
    (kept, total)
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
}

/// Runs `program args…` in `cwd`; stdout and stderr are returned together, capped, followed by
/// the exit status. A non-zero exit is an error output the model sees.
pub(crate) async fn run(
    program: &str,
    args: &[&str],
    cwd: &Path,
    limits: Limits,
    cancel: &CancellationToken,
) -> Result<SkillOutput, SkillError> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).current_dir(cwd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut wrapped = CommandWrap::from(command);
    wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
    let mut child = wrapped.spawn().map_err(|e| SkillError::Io(format!("cannot start {program}: {e}")))?;
    let pid = child.id();
    let stdout = child.stdout().take();
    let stderr = child.stderr().take();
    let cap = limits.max_output_bytes;
    let output = async { tokio::join!(read_capped(stdout, cap), read_capped(stderr, cap)) };
    let finished = async {
        let (out, err) = output.await;
        let status = child.wait().await;
        (out, err, status)
    };
    let outcome = tokio::select! {
        outcome = finished => Ok(outcome),
        () = tokio::time::sleep(limits.timeout) => Err(SkillError::Timeout(format!("the command did not finish within {:?}; it was killed", limits.timeout))),
        () = cancel.cancelled() => Err(SkillError::Cancelled),
    };
    // Whatever the outcome, nothing of the group outlives the call.
    kill_group(pid);
    let ((stdout, out_total), (stderr, err_total), status) = outcome?;
    let status = status.map_err(|e| SkillError::Io(e.to_string()))?;
    let mut text = String::from_utf8_lossy(&stdout).into_owned();
    if !stderr.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("[stderr]\n");
        text.push_str(&String::from_utf8_lossy(&stderr));
    }
    if out_total + err_total > stdout.len() + stderr.len() {
        text.push_str(&format!(
            "\n[output truncated: {} of {} bytes shown]",
            stdout.len() + stderr.len(),
            out_total + err_total
        ));
    }
    let code = status.code();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    match code {
        Some(code) => text.push_str(&format!("exit code {code}")),
        None => text.push_str("killed by a signal"),
    }
    Ok(SkillOutput { text, is_error: code != Some(0) })
}
