//! The supervised MCP connection pool, shared by every execution.
//!
//! - One live connection per distinct server configuration ([`ServerConfig::pool_key`]: a hash
//!   of the whole configuration, env values and headers included), started once however many
//!   executions ask for it at the same time, and shared: concurrent calls are multiplexed on
//!   the one connection (rmcp's peer), never serialised.
//! - A connection found dead (transport closed, child exited) is restarted on next use with
//!   exponential backoff and jitter, at most [`PoolOptions::max_restarts`] times in a row; then
//!   calls fail with `server_unavailable` and the last reason (with the server's stderr tail).
//! - A call that runs out of time or is cancelled sends `notifications/cancelled`; when a stdio
//!   server then does not even answer a ping, its whole process group is killed.
//! - Connections unused for [`PoolOptions::idle_timeout`] are closed by a task the pool owns;
//!   `notifications/tools/list_changed` invalidates the server's cached tool list;
//!   [`Pool::shutdown`] closes everything and kills every process group.

mod connection;
mod stdio;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use rmcp::ServiceError;
use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, Tool};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::config::{PoolKey, ServerConfig, TransportConfig};
use connection::Connection;

/// Default [`PoolOptions::max_message_bytes`]: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Close connections unused for this long (`None`: never). Default 10 minutes.
    pub idle_timeout: Option<Duration>,
    /// Restart attempts in a row before a server is reported unavailable. Default 3.
    pub max_restarts: u32,
    /// First backoff delay between restart attempts. Default 100 ms.
    pub backoff_base: Duration,
    /// Longest backoff delay. Default 5 s.
    pub backoff_max: Duration,
    /// How long a closing server gets to exit before its process group is killed. Default 1 s.
    pub close_grace: Duration,
    /// How long a server that timed out gets to answer a ping before it is killed. Default 2 s.
    pub ping_grace: Duration,
    /// Answer servers' form elicitations by accepting the schema's defaults. Default false:
    /// elicitations are declined (no human is in the loop of a tool bridge).
    pub accept_elicitation_defaults: bool,
    /// The largest message a stdio server may send (one JSON-RPC line). A bigger one ends the
    /// connection at once with a clear error (the server is restarted on next use) instead of
    /// being buffered. Default 16 MiB, as rmcp's streamable HTTP client allows per event.
    pub max_message_bytes: usize,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            idle_timeout: Some(Duration::from_secs(600)),
            max_restarts: 3,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            close_grace: Duration::from_secs(1),
            ping_grace: Duration::from_secs(2),
            accept_elicitation_defaults: false,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// A server could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    /// It did not start, or could not be restarted.
    #[error("{0}")]
    Unavailable(String),
    /// The pool was shut down.
    #[error("the connection pool is shut down")]
    ShutDown,
    /// The server answered with an error.
    #[error("server {server:?}: {message}")]
    Protocol {
        /// The server.
        server: String,
        /// Its error.
        message: String,
    },
}

/// Why a tool call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// It did not finish in time (`notifications/cancelled` was sent).
    #[error("{tool:?} on server {server:?} did not answer within {after:?}")]
    Timeout {
        /// The server.
        server: String,
        /// The tool.
        tool: String,
        /// The limit.
        after: Duration,
    },
    /// The caller cancelled it (`notifications/cancelled` was sent).
    #[error("{tool:?} on server {server:?} was cancelled")]
    Cancelled {
        /// The server.
        server: String,
        /// The tool.
        tool: String,
    },
    /// The server is gone or cannot be (re)started.
    #[error("server {server:?} is unavailable: {reason}")]
    ServerUnavailable {
        /// The server.
        server: String,
        /// Why.
        reason: String,
    },
    /// The server answered with a JSON-RPC error.
    #[error("server {server:?} refused the call: {message}")]
    Protocol {
        /// The server.
        server: String,
        /// Its error.
        message: String,
    },
}

impl CallError {
    /// The call record's `error_type` for this error.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "timeout",
            Self::Cancelled { .. } => "cancelled",
            Self::ServerUnavailable { .. } => "server_unavailable",
            Self::Protocol { .. } => "tool_error",
        }
    }
}

/// Per-call settings.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Time limit (default: the server's `timeout`).
    pub timeout: Option<Duration>,
    /// Cancels the call when it fires.
    pub cancel: Option<CancellationToken>,
}

/// Pool counters, for the CLI and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PoolStats {
    /// Connections alive now.
    pub live_servers: usize,
    /// Server starts (first starts and restarts).
    pub starts: u64,
    /// Restarts after a connection died.
    pub restarts: u64,
    /// Start attempts that failed.
    pub start_failures: u64,
    /// `connect` calls answered by a live connection.
    pub hits: u64,
    /// Tool calls.
    pub calls: u64,
    /// Tool calls that failed (timeouts, cancellations, unavailable servers, protocol errors).
    pub call_failures: u64,
    /// Connections closed for idleness.
    pub evictions: u64,
}

#[derive(Debug, Default)]
struct Counters {
    starts: AtomicU64,
    restarts: AtomicU64,
    start_failures: AtomicU64,
    hits: AtomicU64,
    calls: AtomicU64,
    call_failures: AtomicU64,
    evictions: AtomicU64,
}

#[derive(Debug)]
struct Slot {
    config: ServerConfig,
    /// The live connection; swapped under `start`.
    connection: std::sync::RwLock<Option<Arc<Connection>>>,
    /// Serialises starts so that concurrent users start the server once.
    start: tokio::sync::Mutex<()>,
    /// Restart attempts since the last successful start.
    failed_restarts: AtomicU32,
    /// Whether the server ever started (a later start is a restart).
    started_once: AtomicBool,
    last_error: Mutex<Option<String>>,
    tools: Mutex<Option<Arc<Vec<Tool>>>>,
    in_flight: AtomicUsize,
    last_used: Mutex<Instant>,
}

impl Slot {
    fn current(&self) -> Option<Arc<Connection>> {
        self.connection.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }
}

#[derive(Debug)]
struct Inner {
    options: PoolOptions,
    slots: Mutex<HashMap<PoolKey, Arc<Slot>>>,
    counters: Counters,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    evictor: OnceLock<()>,
}

/// The connection pool. Cheap to clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

impl Default for Pool {
    fn default() -> Self {
        Self::new(PoolOptions::default())
    }
}

impl Pool {
    /// A pool with the given options. Its background work (idle eviction, stderr readers)
    /// starts with the first connection, inside the caller's Tokio runtime.
    pub fn new(options: PoolOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                options,
                slots: Mutex::default(),
                counters: Counters::default(),
                tasks: TaskTracker::new(),
                shutdown: CancellationToken::new(),
                evictor: OnceLock::new(),
            }),
        }
    }

    /// The pool's options.
    pub fn options(&self) -> &PoolOptions {
        &self.inner.options
    }

    /// A handle on a server, started if it is not running (one attempt; a failure is
    /// returned, and the next use tries again).
    pub async fn connect(&self, server: &ServerConfig) -> Result<ServerHandle, PoolError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(PoolError::ShutDown);
        }
        self.start_evictor();
        let key = server.pool_key();
        let slot = {
            let mut slots = self.inner.slots.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(slots.entry(key).or_insert_with(|| {
                Arc::new(Slot {
                    config: server.clone(),
                    connection: std::sync::RwLock::new(None),
                    start: tokio::sync::Mutex::new(()),
                    failed_restarts: AtomicU32::new(0),
                    started_once: AtomicBool::new(false),
                    last_error: Mutex::new(None),
                    tools: Mutex::new(None),
                    in_flight: AtomicUsize::new(0),
                    last_used: Mutex::new(Instant::now()),
                })
            }))
        };
        let handle = ServerHandle { slot, pool: self.clone() };
        if handle.slot.current().is_some_and(|c| c.is_alive()) {
            self.inner.counters.hits.fetch_add(1, Ordering::Relaxed);
            handle.slot.touch();
            return Ok(handle);
        }
        handle.ensure_connection(false).await.map_err(PoolError::Unavailable)?;
        Ok(handle)
    }

    /// Connects to every server at once; the result for each server, in order.
    pub async fn connect_all(&self, servers: &[ServerConfig]) -> Vec<(String, Result<ServerHandle, PoolError>)> {
        futures::future::join_all(
            servers.iter().map(|server| async move { (server.name.clone(), self.connect(server).await) }),
        )
        .await
    }

    /// Counters and the number of live connections.
    pub fn stats(&self) -> PoolStats {
        let live_servers = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|slot| slot.current().is_some_and(|c| c.is_alive()))
            .count();
        let c = &self.inner.counters;
        PoolStats {
            live_servers,
            starts: c.starts.load(Ordering::Relaxed),
            restarts: c.restarts.load(Ordering::Relaxed),
            start_failures: c.start_failures.load(Ordering::Relaxed),
            hits: c.hits.load(Ordering::Relaxed),
            calls: c.calls.load(Ordering::Relaxed),
            call_failures: c.call_failures.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
        }
    }

    /// Closes every connection (servers get [`PoolOptions::close_grace`] to exit, then their
    /// process groups are killed) and stops the pool's tasks. Later `connect`s fail.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        let slots: Vec<Arc<Slot>> =
            self.inner.slots.lock().unwrap_or_else(PoisonError::into_inner).drain().map(|(_, slot)| slot).collect();
        let grace = self.inner.options.close_grace;
        futures::future::join_all(slots.iter().map(|slot| async move {
            let connection = slot.connection.write().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(connection) = connection {
                connection.close(grace).await;
            }
        }))
        .await;
        self.inner.tasks.close();
        // Stderr readers end when the processes are gone; do not wait forever on a stuck one.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.inner.tasks.wait()).await;
    }

    fn start_evictor(&self) {
        let Some(idle) = self.inner.options.idle_timeout else { return };
        self.inner.evictor.get_or_init(|| {
            let weak = Arc::downgrade(&self.inner);
            let shutdown = self.inner.shutdown.clone();
            let period = (idle / 4).clamp(Duration::from_millis(20), Duration::from_secs(30));
            self.inner.tasks.spawn(async move {
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(period) => {}
                    }
                    let Some(inner) = weak.upgrade() else { return };
                    let idle_slots: Vec<Arc<Slot>> = inner
                        .slots
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .values()
                        .filter(|slot| {
                            slot.in_flight.load(Ordering::Acquire) == 0
                                && slot.current().is_some()
                                && slot.last_used.lock().unwrap_or_else(PoisonError::into_inner).elapsed() >= idle
                        })
                        .cloned()
                        .collect();
                    for slot in idle_slots {
                        let connection = slot.connection.write().unwrap_or_else(PoisonError::into_inner).take();
                        if let Some(connection) = connection {
                            info!(server = %slot.config.name, "closing idle MCP connection");
                            inner.counters.evictions.fetch_add(1, Ordering::Relaxed);
                            connection.close(inner.options.close_grace).await;
                        }
                    }
                }
            });
        });
    }
}

/// A server in the pool. Cheap to clone. Calls go through the live connection; a dead one is
/// restarted on use.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    slot: Arc<Slot>,
    pool: Pool,
}

impl ServerHandle {
    /// The server's name.
    pub fn name(&self) -> &str {
        &self.slot.config.name
    }

    /// The server's configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.slot.config
    }

    /// The process id of a stdio server's current process (its process group id too).
    pub fn pid(&self) -> Option<i32> {
        self.slot.current().and_then(|c| c.group.as_ref().map(connection::ProcessGroupGuard::pid))
    }

    /// A live connection: the current one, or a new one. `restart` allows the bounded
    /// attempts with backoff (for a connection that died); otherwise one attempt.
    async fn ensure_connection(&self, restart: bool) -> Result<Arc<Connection>, String> {
        let inner = &self.pool.inner;
        let slot = &self.slot;
        let _starting = slot.start.lock().await;
        if let Some(connection) = slot.current().filter(|c| c.is_alive()) {
            return Ok(connection);
        }
        if inner.shutdown.is_cancelled() {
            return Err("the connection pool is shut down".into());
        }
        if let Some(old) = slot.connection.write().unwrap_or_else(PoisonError::into_inner).take() {
            // Whatever is left of the old process group goes now.
            old.kill();
        }
        let attempts = if restart { inner.options.max_restarts.max(1) } else { 1 };
        if restart && slot.failed_restarts.load(Ordering::Relaxed) >= inner.options.max_restarts.max(1) {
            let last = slot.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone().unwrap_or_default();
            return Err(format!("gave up after {} restart attempts; last error: {last}", inner.options.max_restarts));
        }
        let mut last_error = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff(&inner.options, attempt)).await;
            }
            let span = info_span!("mcp_start", server = %slot.config.name, attempt);
            match Connection::start(&slot.config, &inner.tasks, &inner.options).instrument(span).await {
                Ok(connection) => {
                    let connection = Arc::new(connection);
                    inner.counters.starts.fetch_add(1, Ordering::Relaxed);
                    if slot.started_once.swap(true, Ordering::AcqRel) {
                        inner.counters.restarts.fetch_add(1, Ordering::Relaxed);
                    }
                    slot.failed_restarts.store(0, Ordering::Relaxed);
                    *slot.tools.lock().unwrap_or_else(PoisonError::into_inner) = None;
                    *slot.connection.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&connection));
                    slot.touch();
                    debug!(server = %slot.config.name, "MCP server started");
                    return Ok(connection);
                }
                Err(error) => {
                    inner.counters.start_failures.fetch_add(1, Ordering::Relaxed);
                    last_error = slot.config.redact(&error.0);
                    warn!(server = %slot.config.name, error = %last_error, "MCP server did not start");
                    if restart {
                        slot.failed_restarts.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        *slot.last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(last_error.clone());
        Err(last_error)
    }

    async fn live(&self) -> Result<Arc<Connection>, String> {
        match self.slot.current() {
            Some(connection) if connection.is_alive() => Ok(connection),
            Some(_) => self.ensure_connection(true).await,
            None => self.ensure_connection(self.slot.started_once.load(Ordering::Acquire)).await,
        }
    }

    /// The server's tools, cached until it says they changed (or restarts).
    pub async fn list_tools(&self) -> Result<Arc<Vec<Tool>>, PoolError> {
        let connection = self.live().await.map_err(PoolError::Unavailable)?;
        let stale = connection.tools_stale.swap(false, Ordering::AcqRel);
        if !stale && let Some(tools) = self.slot.tools.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return Ok(tools);
        }
        let tools = connection.peer.list_all_tools().await.map_err(|e| match e {
            ServiceError::McpError(error) => {
                PoolError::Protocol { server: self.name().to_owned(), message: self.slot.config.redact(&error.message) }
            }
            other => PoolError::Unavailable(self.slot.config.redact(&format!(
                "server {:?}: {other}{}",
                self.name(),
                connection.loss_details()
            ))),
        })?;
        let tools = Arc::new(tools);
        *self.slot.tools.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&tools));
        Ok(tools)
    }

    /// Calls a tool. On timeout or cancellation `notifications/cancelled` is sent; a stdio
    /// server that then does not answer a ping is killed (and restarted on next use).
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: Option<Map<String, Value>>,
        options: CallOptions,
    ) -> Result<CallToolResult, CallError> {
        let inner = &self.pool.inner;
        inner.counters.calls.fetch_add(1, Ordering::Relaxed);
        let result = self.call_inner(tool, arguments, options).await;
        if result.is_err() {
            inner.counters.call_failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    async fn call_inner(
        &self,
        tool: &str,
        arguments: Option<Map<String, Value>>,
        options: CallOptions,
    ) -> Result<CallToolResult, CallError> {
        let server = || self.name().to_owned();
        let connection =
            self.live().await.map_err(|reason| CallError::ServerUnavailable { server: server(), reason })?;
        let limit = options.timeout.unwrap_or(self.slot.config.call_timeout);
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = arguments;
        let cancel = options.cancel.unwrap_or_default();
        self.slot.in_flight.fetch_add(1, Ordering::AcqRel);
        // Dropping the request future (timeout, cancellation) makes rmcp send
        // notifications/cancelled for it.
        let outcome = tokio::select! {
            biased;
            response = connection.peer.call_tool_once(params) => Some(response),
            () = tokio::time::sleep(limit) => None,
            () = cancel.cancelled() => {
                self.slot.in_flight.fetch_sub(1, Ordering::AcqRel);
                self.slot.touch();
                return Err(CallError::Cancelled { server: server(), tool: tool.to_owned() });
            }
        };
        self.slot.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.slot.touch();
        match outcome {
            Some(Ok(CallToolResponse::Complete(result))) => Ok(result),
            Some(Ok(_)) => Err(CallError::Protocol {
                server: server(),
                message: "the server asked for client input or created a task, which toolbridge does not support"
                    .into(),
            }),
            Some(Err(ServiceError::McpError(error))) => {
                Err(CallError::Protocol { server: server(), message: self.slot.config.redact(&error.message) })
            }
            Some(Err(error)) => {
                connection.kill();
                // Let the stderr reader catch the last lines before reporting.
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(CallError::ServerUnavailable {
                    server: server(),
                    reason: self.slot.config.redact(&format!(
                        "the connection was lost during the call ({}){}",
                        connection::tidy_error(&error.to_string()),
                        connection.loss_details()
                    )),
                })
            }
            None => {
                self.check_hung(&connection);
                Err(CallError::Timeout { server: server(), tool: tool.to_owned(), after: limit })
            }
        }
    }

    /// After a timeout: a server that does not even answer a ping within the grace is hung;
    /// its process group is killed so the next call starts a fresh one.
    fn check_hung(&self, connection: &Arc<Connection>) {
        if !matches!(self.slot.config.transport, TransportConfig::Stdio(_)) {
            return;
        }
        let connection = Arc::clone(connection);
        let grace = self.pool.inner.options.ping_grace;
        let name = self.slot.config.name.clone();
        self.pool.inner.tasks.spawn(async move {
            let ping = connection.peer.send_request(rmcp::model::ClientRequest::PingRequest(Default::default()));
            if !matches!(tokio::time::timeout(grace, ping).await, Ok(Ok(_))) {
                warn!(server = %name, "server does not answer after a timed-out call; killing its process group");
                connection.kill();
            }
        });
    }
}

fn backoff(options: &PoolOptions, attempt: u32) -> Duration {
    let exponential = options.backoff_base.saturating_mul(1u32 << attempt.min(16));
    let capped = exponential.min(options.backoff_max);
    // Jitter: 50–100 % of the delay, so restarts of many servers do not line up.
    let jitter = 0.5 + rand::random::<f64>() * 0.5;
    capped.mul_f64(jitter)
}
