//! The stdio transport: the server as a process-group leader owned by the transport (see
//! [`crate::process`]), its stdout read as newline-delimited JSON-RPC with a bound on one
//! message, its stderr drained (scrubbed of secrets) into a tail.
//!
//! rmcp's own child-process transport silently drops a line longer than its limit and keeps
//! the connection open, so the request that line answered waits until its timeout. Here a
//! message over [`PoolOptions::max_message_bytes`](super::PoolOptions::max_message_bytes)
//! ends the connection at once with a reason the caller sees; the next call restarts the
//! server. Memory stays bounded either way: nothing past the limit is buffered.

use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{ClientJsonRpcMessage, ErrorData};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, ReadBuf};
use tokio::process::{ChildStdin, ChildStdout};
use tokio_util::task::TaskTracker;
use toolbridge_config::{ServerConfig, StdioConfig};
use tracing::{debug, warn};

use super::connection::{StartError, StderrTail};
use super::wire::{Lines, Routed, Wire};
use super::{PoolOptions, SandboxReport};
use crate::process::{ChildProcess, Killer, Launcher};

/// Why a connection ended, when we ended it (read by the error paths).
pub(crate) type LossReason = Arc<OnceLock<String>>;

/// A child's stdout that fails with `InvalidData` once one line grows past `limit` bytes, so
/// an oversized message closes the transport instead of being dropped and waited on.
#[derive(Debug)]
struct LineLimit<R> {
    inner: R,
    limit: usize,
    /// Bytes of the current (unterminated) line seen so far.
    line: usize,
    reason: LossReason,
}

impl<R: AsyncRead + Unpin> AsyncRead for LineLimit<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let fresh = &buf.filled()[before..];
                let mut start = 0;
                let mut longest = this.line;
                for newline in memchr::memchr_iter(b'\n', fresh) {
                    longest = longest.max(this.line.saturating_add(newline - start));
                    this.line = 0;
                    start = newline + 1;
                }
                this.line = this.line.saturating_add(fresh.len() - start);
                if longest.max(this.line) > this.limit {
                    let message = format!(
                        "the server sent a message larger than {} bytes (the limit for one stdio message, \
                         `max_message_bytes`)",
                        this.limit
                    );
                    let _ = this.reason.set(message.clone());
                    // An error read delivers no bytes.
                    buf.set_filled(before);
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, message)));
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// Newline-delimited JSON-RPC over a child's pipes for rmcp's service loop, owning the
/// child: dropping the transport (the service loop ended) kills its process group. Its
/// [`Wire`] is shared with the connection, whose tool calls take the direct path.
pub(crate) struct StdioTransport {
    lines: Lines<BufReader<LineLimit<ChildStdout>>>,
    wire: Arc<Wire<ChildStdin>>,
    child: ChildProcess,
    grace: Duration,
}

impl std::fmt::Debug for StdioTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdioTransport").field("pid", &self.child.id()).finish()
    }
}

impl StdioTransport {
    /// The wire, for direct calls.
    pub(crate) fn wire(&self) -> Arc<Wire<ChildStdin>> {
        Arc::clone(&self.wire)
    }
}

impl Transport<RoleClient> for StdioTransport {
    type Error = io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), io::Error>> + Send + 'static {
        let wire = Arc::clone(&self.wire);
        async move { wire.send(&item).await }
    }

    /// The next message for rmcp; answers to direct calls are delivered on the way.
    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            let wire = &self.wire;
            match self.lines.next(|line| wire.route(line)).await {
                Some(Ok(Routed::Message(message))) => return Some(message),
                Some(Ok(Routed::Answered | Routed::Skipped)) => {}
                Some(Ok(Routed::Invalid)) => {
                    let error = ClientJsonRpcMessage::error(ErrorData::invalid_request("Invalid request", None), None);
                    if self.wire.send(&error).await.is_err() {
                        self.wire.reader_closed();
                        return None;
                    }
                }
                Some(Err(error)) => {
                    // An oversized message says why in the connection's loss reason.
                    debug!(%error, "stopped reading the server's stdout");
                    self.wire.reader_closed();
                    return None;
                }
                None => {
                    self.wire.reader_closed();
                    return None;
                }
            }
        }
    }

    /// Closes stdin (a well-behaved server exits on EOF), waits up to the pool's close grace,
    /// then kills the process group.
    async fn close(&mut self) -> Result<(), io::Error> {
        let closed = self.wire.close().await;
        if tokio::time::timeout(self.grace, self.child.exited()).await.is_err() {
            self.child.kill();
            self.child.exited().await;
        }
        closed
    }
}

impl Drop for StdioTransport {
    fn drop(&mut self) {
        // The service loop is gone: no answer will be read.
        self.wire.reader_closed();
    }
}

/// Spawns a stdio server (through the sandbox helper: confined as configured, or only
/// contained) as the leader of a new process group, with the allow-listed environment plus
/// its `env`, and its stderr drained into `stderr_tail` (and `debug` logs, secrets scrubbed)
/// by a task of `tasks`.
pub(crate) fn spawn(
    server: &ServerConfig,
    config: &StdioConfig,
    options: &PoolOptions,
    launcher: &Launcher,
    stderr_tail: &Arc<StderrTail>,
    reason: &LossReason,
    tasks: &TaskTracker,
) -> Result<(StdioTransport, Killer, Option<SandboxReport>), StartError> {
    let name = server.name.as_str();
    // The helper would say so too, but only once it runs: name the problem the same way for
    // every launch, before anything starts.
    if let Some(problem) = missing_program(&config.command) {
        return Err(StartError::Failed(format!("server {name:?}: command {:?} {problem}", config.command)));
    }
    let configured: Vec<(String, String)> =
        config.env.iter().map(|(key, value)| (key.clone(), value.expose().to_owned())).collect();
    let env = toolbridge_sandbox::child_env(&configured, server.inherit_env);
    let (mut command, sandbox) = launcher
        .command(config.command.as_ref(), &config.args, &env, config.cwd.as_deref(), server.sandbox.as_ref())
        .map_err(|e| StartError::Failed(format!("server {name:?}: {e}")))?;
    if let Some(report) = sandbox.as_ref().filter(|r| r.confined && !r.not_enforced.is_empty()) {
        warn!(server = %name, not_enforced = ?report.not_enforced, "sandbox limits on this host");
    }
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let (child, pipes) = ChildProcess::spawn(command).map_err(|e| {
        StartError::Failed(match e.kind() {
            io::ErrorKind::NotFound => {
                format!("server {name:?}: command {:?} not found (check `command` and PATH)", config.command)
            }
            io::ErrorKind::PermissionDenied => {
                format!("server {name:?}: command {:?} is not executable", config.command)
            }
            _ => format!("server {name:?}: cannot start {:?}: {e}", config.command),
        })
    })?;
    let (Some(stdin), Some(stdout)) = (pipes.stdin, pipes.stdout) else {
        return Err(StartError::Failed(format!("server {name:?}: the child's stdin/stdout pipes are missing")));
    };
    if let Some(stderr) = pipes.stderr {
        let tail = Arc::clone(stderr_tail);
        let server = name.to_owned();
        // A server may print its own credentials: they never reach logs or errors.
        let secrets = options.secrets.clone();
        tasks.spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        let line = if secrets.appears_in(&line) { secrets.scrub(&line) } else { line };
                        debug!(target: "toolbridge::server_stderr", server = %server, "{line}");
                        tail.push(line);
                    }
                    Ok(None) => break,
                    Err(error) => {
                        warn!(server = %server, error = %error, "stopped reading the server's stderr");
                        break;
                    }
                }
            }
            tail.close();
        });
    } else {
        stderr_tail.close();
    }
    let stdout = LineLimit { inner: stdout, limit: options.max_message_bytes, line: 0, reason: Arc::clone(reason) };
    let lines = Lines::new(BufReader::new(stdout));
    let killer = child.killer();
    Ok((StdioTransport { lines, wire: Arc::new(Wire::new(stdin)), child, grace: options.close_grace }, killer, sandbox))
}

/// Why `command` cannot be run, when that can be told before running it: an absolute path
/// that is missing or not executable, or a bare name not on `PATH` (a relative path depends on
/// the child's working directory and is left to the launch).
fn missing_program(command: &str) -> Option<&'static str> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::path::Path::new(command);
    let executable =
        |path: &std::path::Path| path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if path.is_absolute() {
        return match path.metadata() {
            Err(_) => Some("not found (check `command` and PATH)"),
            Ok(_) if !executable(path) => Some("is not executable"),
            Ok(_) => None,
        };
    }
    if path.components().count() > 1 {
        return None;
    }
    let on_path = std::env::var_os("PATH")
        .is_some_and(|dirs| std::env::split_paths(&dirs).any(|dir| executable(&dir.join(path))));
    (!on_path).then_some("not found (check `command` and PATH)")
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    async fn read_all(input: &[u8], limit: usize) -> (io::Result<Vec<u8>>, Option<String>) {
        let reason = LossReason::default();
        let mut reader = LineLimit { inner: input, limit, line: 0, reason: Arc::clone(&reason) };
        let mut out = Vec::new();
        let result = reader.read_to_end(&mut out).await.map(|_| out);
        (result, reason.get().cloned())
    }

    #[tokio::test]
    async fn lines_within_the_limit_pass_through() {
        let input = b"12345\n123456789\n1234";
        let (result, reason) = read_all(input, 10).await;
        assert_eq!(result.unwrap(), input.to_vec());
        assert!(reason.is_none());
    }

    /// Yields its input in the given chunk sizes, as a pipe might.
    struct Chunked {
        data: Vec<u8>,
        sizes: Vec<usize>,
        at: usize,
        turn: usize,
    }

    impl AsyncRead for Chunked {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            let this = &mut *self;
            let size = this.sizes[this.turn % this.sizes.len()].min(buf.remaining()).min(this.data.len() - this.at);
            buf.put_slice(&this.data[this.at..this.at + size]);
            this.at += size;
            this.turn += 1;
            Poll::Ready(Ok(()))
        }
    }

    proptest::proptest! {
        /// However the bytes are split into reads, the stream fails exactly when some line is
        /// longer than the limit, and otherwise passes every byte through unchanged.
        #[test]
        fn fails_exactly_on_a_long_line(
            data in proptest::collection::vec(proptest::prop_oneof![9 => proptest::strategy::Just(b'x'), 1 => proptest::strategy::Just(b'\n')], 0..400),
            sizes in proptest::collection::vec(1usize..64, 1..8),
            limit in 1usize..40,
        ) {
            let longest = data.split(|b| *b == b'\n').map(<[u8]>::len).max().unwrap_or(0);
            let reason = LossReason::default();
            let inner = Chunked { data: data.clone(), sizes, at: 0, turn: 0 };
            let mut reader = LineLimit { inner, limit, line: 0, reason: Arc::clone(&reason) };
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let mut out = Vec::new();
            let result = runtime.block_on(reader.read_to_end(&mut out));
            if longest > limit {
                proptest::prop_assert!(result.is_err());
                proptest::prop_assert!(reason.get().is_some());
            } else {
                proptest::prop_assert!(result.is_ok());
                proptest::prop_assert_eq!(out, data);
            }
        }
    }

    #[tokio::test]
    async fn a_line_over_the_limit_fails_with_the_reason() {
        let (result, reason) = read_all(b"ok\n12345678901\n", 10).await;
        let error = result.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(reason.unwrap().contains("larger than 10 bytes"));
    }
}
