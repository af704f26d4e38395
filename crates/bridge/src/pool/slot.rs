//! One server's place in the pool: its configuration and its state behind one mutex.
//!
//! The state is a `std` mutex, not an async one: every critical section is a few field
//! reads or writes and none is held across an `.await` (mini-redis's `db.rs` reasons the
//! same way). Starting a server is the one long operation; `starting`, an async mutex, makes
//! concurrent users start it once. A call in flight is counted by an [`InFlight`] guard, so
//! the count comes back down however the call ends — finished, timed out, or its future
//! dropped mid-call.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rmcp::ServiceError;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest, ServerResult,
};
use rmcp::service::PeerRequestOptions;
use serde_json::{Map, Value};
use toolbridge_config::ServerConfig;
use tracing::{Instrument, debug, info_span, warn};

use super::connection::{Connection, tidy_error};
use super::{CallOptions, Counters, Inner, PoolError, PoolOptions};
use crate::content::convert_result;
use crate::error::ToolError;
use crate::source::{Progress, ProgressSink, ToolDescriptor, ToolOutput};

/// What changes about a server while the pool runs.
#[derive(Debug)]
struct SlotState {
    /// The live connection (or the dead one, until it is replaced).
    connection: Option<Arc<Connection>>,
    /// Whether the server ever started (a later start is a restart).
    started_once: bool,
    /// Restart attempts since the last successful start.
    failed_restarts: u32,
    /// Why the last start failed.
    last_error: Option<String>,
    /// The tool list, until the server says it changed or restarts.
    tools: Option<Arc<Vec<ToolDescriptor>>>,
    /// Calls that have not finished.
    in_flight: usize,
    /// When a call last started or ended.
    last_used: Instant,
}

/// One server of the pool.
#[derive(Debug)]
pub(super) struct Slot {
    config: ServerConfig,
    starting: tokio::sync::Mutex<()>,
    state: Mutex<SlotState>,
}

/// Counts one call in flight; dropping it (however the call ended) counts it out.
struct InFlight<'a>(&'a Slot);

impl<'a> InFlight<'a> {
    fn enter(slot: &'a Slot) -> Self {
        let mut state = slot.lock();
        state.in_flight += 1;
        state.last_used = Instant::now();
        Self(slot)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        state.last_used = Instant::now();
    }
}

impl Slot {
    pub(super) fn new(config: ServerConfig) -> Self {
        Self {
            config,
            starting: tokio::sync::Mutex::new(()),
            state: Mutex::new(SlotState {
                connection: None,
                started_once: false,
                failed_restarts: 0,
                last_error: None,
                tools: None,
                in_flight: 0,
                last_used: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // Every critical section leaves the state consistent: a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The connection, if it is alive.
    pub(super) fn live(&self) -> Option<Arc<Connection>> {
        self.lock().connection.clone().filter(|c| c.is_alive())
    }

    pub(super) fn touch(&self) {
        self.lock().last_used = Instant::now();
    }

    pub(super) fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Whether the connection is open, unused for `idle` and without a call in flight.
    pub(super) fn idle_for(&self, idle: Duration) -> bool {
        let state = self.lock();
        state.connection.is_some() && state.in_flight == 0 && state.last_used.elapsed() >= idle
    }

    /// Closes the connection, if any; returns whether there was one.
    pub(super) async fn close(&self, grace: Duration) -> bool {
        let connection = self.lock().connection.take();
        match connection {
            Some(connection) => {
                connection.close(grace).await;
                true
            }
            None => false,
        }
    }

    /// A live connection: the current one, or a new one. `restart` allows the bounded
    /// attempts with backoff (for a connection that died); otherwise one attempt.
    pub(super) async fn ensure_connection(&self, pool: &Inner, restart: bool) -> Result<Arc<Connection>, String> {
        let _starting = self.starting.lock().await;
        let (old, give_up) = {
            let mut state = self.lock();
            if let Some(connection) = state.connection.clone().filter(|c| c.is_alive()) {
                return Ok(connection);
            }
            let give_up = restart && state.failed_restarts >= pool.options.max_restarts.max(1);
            let last = state.last_error.clone().unwrap_or_default();
            (state.connection.take(), give_up.then_some(last))
        };
        if pool.shutdown.is_cancelled() {
            return Err("the connection pool is shut down".into());
        }
        if let Some(old) = old {
            // Whatever is left of the old process group goes now.
            old.kill();
        }
        if let Some(last) = give_up {
            return Err(format!("gave up after {} restart attempts; last error: {last}", pool.options.max_restarts));
        }
        let attempts = if restart { pool.options.max_restarts.max(1) } else { 1 };
        let mut delays = backoff(&pool.options);
        let mut last_error = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(delays.next().unwrap_or(pool.options.backoff_max)).await;
            }
            let span = info_span!("mcp_start", server = %self.config.name, attempt);
            match Connection::start(&self.config, &pool.tasks, &pool.options, &pool.launcher).instrument(span).await {
                Ok(connection) => {
                    let connection = Arc::new(connection);
                    Counters::bump(&pool.counters.starts);
                    let mut state = self.lock();
                    if state.started_once {
                        Counters::bump(&pool.counters.restarts);
                    }
                    state.started_once = true;
                    state.failed_restarts = 0;
                    state.tools = None;
                    state.connection = Some(Arc::clone(&connection));
                    state.last_used = Instant::now();
                    debug!(server = %self.config.name, "MCP server started");
                    return Ok(connection);
                }
                Err(error) => {
                    Counters::bump(&pool.counters.start_failures);
                    last_error = pool.options.secrets.scrub(&error.to_string());
                    // The caller reports the final failure (once); each attempt is a detail.
                    debug!(server = %self.config.name, error = %last_error, "MCP server did not start");
                    if restart {
                        self.lock().failed_restarts += 1;
                    }
                }
            }
        }
        self.lock().last_error = Some(last_error.clone());
        Err(last_error)
    }

    async fn connection(&self, pool: &Inner) -> Result<Arc<Connection>, String> {
        let (current, started_once) = {
            let state = self.lock();
            (state.connection.clone(), state.started_once)
        };
        match current {
            Some(connection) if connection.is_alive() => Ok(connection),
            Some(_) => self.ensure_connection(pool, true).await,
            None => self.ensure_connection(pool, started_once).await,
        }
    }

    /// The server's tools, cached until it says they changed (or restarts).
    pub(super) async fn list_tools(&self, pool: &Inner) -> Result<Arc<Vec<ToolDescriptor>>, PoolError> {
        let connection = self.connection(pool).await.map_err(PoolError::Unavailable)?;
        let stale = connection.tools_stale.swap(false, Ordering::AcqRel);
        if !stale && let Some(tools) = self.lock().tools.clone() {
            return Ok(tools);
        }
        let listed = connection.peer.list_all_tools().await.map_err(|e| {
            let reason = match e {
                ServiceError::McpError(error) => format!("server {:?}: {}", self.config.name, error.message),
                other => format!(
                    "server {:?}: {}{}",
                    self.config.name,
                    tidy_error(&other.to_string()),
                    connection.loss_details()
                ),
            };
            PoolError::Unavailable(pool.options.secrets.scrub(&reason))
        })?;
        let tools = Arc::new(
            listed
                .into_iter()
                .map(|tool| ToolDescriptor {
                    name: tool.name.to_string(),
                    description: tool.description.as_deref().unwrap_or_default().to_owned(),
                    input_schema: tool.input_schema,
                })
                .collect(),
        );
        self.lock().tools = Some(Arc::clone(&tools));
        Ok(tools)
    }

    pub(super) async fn call_tool(
        &self,
        pool: &Inner,
        tool: &str,
        arguments: Option<Map<String, Value>>,
        options: CallOptions,
    ) -> Result<ToolOutput, ToolError> {
        let server = || self.config.name.clone();
        let scrub = |text: &str| pool.options.secrets.scrub(text);
        let connection =
            self.connection(pool).await.map_err(|reason| ToolError::Unavailable { server: server(), reason })?;
        let limit = options.timeout.unwrap_or(self.config.call_timeout);
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = arguments;
        let cancel = options.cancel.unwrap_or_default();
        let outcome = {
            let _in_flight = InFlight::enter(self);
            match &options.progress {
                // Dropping the request future (timeout, cancellation, the caller going away)
                // makes rmcp send notifications/cancelled for it.
                None => tokio::select! {
                    biased;
                    response = connection.peer.call_tool_once(params) => Some(response),
                    () = tokio::time::sleep(limit) => None,
                    () = cancel.cancelled() => return Err(ToolError::Cancelled),
                },
                Some(sink) => call_with_progress(&connection, params, limit, &cancel, sink).await?,
            }
        };
        match outcome {
            Some(Ok(CallToolResponse::Complete(result))) => Ok(convert_result(result)),
            Some(Ok(_)) => Err(ToolError::Protocol {
                server: server(),
                message: "the server asked for client input or created a task, which toolbridge does not support"
                    .into(),
            }),
            Some(Err(ServiceError::McpError(error))) => {
                Err(ToolError::Protocol { server: server(), message: scrub(&error.message) })
            }
            Some(Err(error)) => {
                connection.kill();
                // The server's last stderr lines say why it went; wait (briefly) for them.
                connection.stderr_closed(pool.options.close_grace).await;
                Err(ToolError::Unavailable {
                    server: server(),
                    reason: scrub(&format!(
                        "the connection was lost during the call ({}){}",
                        tidy_error(&error.to_string()),
                        connection.loss_details()
                    )),
                })
            }
            None => {
                self.check_hung(pool, &connection);
                Err(ToolError::Timeout { tool: tool.to_owned(), server: Some(server()), limit })
            }
        }
    }

    /// After a timeout: a stdio server that does not even answer a ping within the grace is
    /// hung; its process group is killed so the next call starts a fresh one.
    fn check_hung(&self, pool: &Inner, connection: &Arc<Connection>) {
        if !self.config.is_stdio() {
            return;
        }
        let connection = Arc::clone(connection);
        let grace = pool.options.ping_grace;
        let name = self.config.name.clone();
        pool.tasks.spawn(async move {
            let ping = connection.peer.send_request(rmcp::model::ClientRequest::PingRequest(Default::default()));
            if !matches!(tokio::time::timeout(grace, ping).await, Ok(Ok(_))) {
                warn!(server = %name, "server does not answer after a timed-out call; killing its process group");
                connection.kill();
            }
        });
    }
}

/// The delays between restart attempts: exponential from `backoff_base` to `backoff_max`,
/// with jitter so that restarts of many servers do not line up.
fn backoff(options: &PoolOptions) -> impl Iterator<Item = Duration> {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(options.backoff_base)
        .with_max_delay(options.backoff_max)
        .with_jitter()
        .without_max_times()
        .build()
}

/// A call whose progress someone follows: rmcp gives every request a progress token of its
/// own, which only the request's handle tells, so the request is sent through
/// [`Peer::send_request_with_option`](rmcp::Peer::send_request_with_option) and its
/// notifications are picked out of the connection's by that token. `None` on timeout; a
/// timed-out or cancelled call is cancelled on the server too.
async fn call_with_progress(
    connection: &Connection,
    params: CallToolRequestParams,
    limit: Duration,
    cancel: &tokio_util::sync::CancellationToken,
    sink: &ProgressSink,
) -> Result<Option<Result<CallToolResponse, ServiceError>>, ToolError> {
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let mut handle = match connection.peer.send_request_with_option(request, PeerRequestOptions::no_options()).await {
        Ok(handle) => handle,
        Err(error) => return Ok(Some(Err(error))),
    };
    let mut reports = connection.progress.subscribe(handle.progress_token.clone()).await;
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let stopped = loop {
        tokio::select! {
            biased;
            response = &mut handle.rx => {
                let response = response.unwrap_or(Err(ServiceError::TransportClosed));
                return Ok(Some(response.and_then(|result| match result {
                    ServerResult::CallToolResult(result) => Ok(CallToolResponse::Complete(result)),
                    ServerResult::InputRequiredResult(result) => Ok(CallToolResponse::InputRequired(result)),
                    ServerResult::CreateTaskResult(result) => Ok(CallToolResponse::Task(result)),
                    ServerResult::EmptyResult(_) => Ok(CallToolResponse::Complete(CallToolResult::success(Vec::new()))),
                    _ => Err(ServiceError::UnexpectedResponse),
                })));
            }
            () = &mut deadline => break None,
            () = cancel.cancelled() => break Some(ToolError::Cancelled),
            Some(report) = reports.next() => {
                sink.report(Progress { progress: report.progress, total: report.total, message: report.message });
            }
        }
    };
    let _ = handle.cancel(Some(if stopped.is_some() { "cancelled" } else { "timed out" }.to_owned())).await;
    match stopped {
        Some(error) => Err(error),
        None => Ok(None),
    }
}
