//! One execution's catalogue served to a runtime in another process (a runtime plugin): a
//! streamable-HTTP MCP endpoint on 127.0.0.1, on a port of its own, behind a one-time bearer
//! token, open exactly as long as the execution.
//!
//! Every call through it takes the catalogue's path (policy, validation, the pool, output
//! caps), lands in the execution's call log and emits its `tool_start` / `tool_complete`
//! events: the log is complete whatever the runtime reports. Closing it cancels the calls
//! still running (they are logged `cancelled`) and releases the port.

use axum::serve::ListenerExt as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use toolbridge_runtime::{CallLog, ExecutionScope};
use tracing::warn;

use super::handler::{CatalogueServer, Execution};
use super::{HttpServeOptions, ServeError, router};
use crate::catalogue::Catalogue;

/// How long [`ExecutionEndpoint::close`] waits for cancelled calls and open connections.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Sessions one execution may open (a runtime normally opens one).
const MAX_SESSIONS: usize = 64;

/// The tool endpoint of one execution. Close it with [`close`](Self::close) when the
/// execution ends; dropping it stops serving without waiting.
#[derive(Debug)]
pub struct ExecutionEndpoint {
    url: String,
    token: String,
    log: CallLog,
    /// Ends the calls still running.
    calls: CancellationToken,
    /// Stops the server.
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl ExecutionEndpoint {
    /// Serves `catalogue` for the execution of `scope` on a free loopback port. Calls are
    /// logged in the scope's call log; the scope's cancellation cancels them.
    pub async fn open(catalogue: Arc<Catalogue>, scope: ExecutionScope) -> Result<Self, ServeError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| ServeError::Bind { addr, message: e.to_string() })?;
        let bound = listener.local_addr()?;
        let token = one_time_token();
        let log = scope.call_log().clone();
        let calls = scope.cancellation_token().child_token();
        let stop = CancellationToken::new();
        let server = CatalogueServer::new(catalogue).for_execution(Execution::new(scope, calls.clone()));
        let options = HttpServeOptions {
            token: Some(token.clone()),
            allowed_hosts: Vec::new(),
            max_sessions: MAX_SESSIONS,
            // The endpoint lives as long as the execution: sessions do not expire before.
            session_idle_timeout: Duration::from_secs(24 * 3600),
            oauth: None,
        };
        let router = router(move || server.clone(), options, &stop);
        let shutdown = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener.tap_io(no_delay), router).with_graceful_shutdown(shutdown).await {
                warn!(%error, "execution tool endpoint stopped with an error");
            }
        });
        Ok(Self { url: format!("http://{bound}/mcp"), token, log, calls, stop, task: Some(task) })
    }

    /// The endpoint, e.g. `http://127.0.0.1:41234/mcp`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The header every request must carry: `("Authorization", "Bearer …")`. The token is
    /// valid for this endpoint only.
    pub fn authorization(&self) -> (String, String) {
        ("Authorization".to_owned(), format!("Bearer {}", self.token))
    }

    /// Stops serving: calls still running are cancelled and logged as such (waiting up to 2 s
    /// for them), open sessions end, the port is released.
    pub async fn close(mut self) {
        // Calls first, so that their (cancelled) answers still reach the client; then the
        // sessions and the listener.
        self.calls.cancel();
        let deadline = Instant::now() + CLOSE_WAIT;
        while self.log.pending() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for ExecutionEndpoint {
    fn drop(&mut self) {
        self.calls.cancel();
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// 244 random bits from the OS (two v4 UUIDs), as hex.
fn one_time_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Answers go out as soon as they are written: without `TCP_NODELAY` a response written in
/// two parts (headers, then an SSE event) waits for the client's delayed ACK (~40 ms).
fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}
