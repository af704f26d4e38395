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
//! - Connections unused for [`PoolOptions::idle_timeout`] (and with no call in flight) are
//!   closed by a task the pool owns; `notifications/tools/list_changed` invalidates the
//!   server's cached tool list; [`Pool::shutdown`] closes everything and kills every process
//!   group.
//!
//! - A stdio server's `tools/call` takes the direct path of [`wire`]: written from the caller's
//!   task and answered by the reader, with rmcp's types, while rmcp's service loop keeps every
//!   other message (server requests, notifications, other requests).
//!
//! Each server's state is one [`slot::Slot`] behind one mutex; each stdio server's process is
//! owned by its transport (see [`crate::process`]).

mod connection;
mod handler;
mod request;
mod slot;
mod sse;
mod stdio;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use toolbridge_config::{PoolKey, Secrets, ServerConfig};
use tracing::info;

use crate::error::ToolError;
use crate::interaction::{Responder, ServerEvent};
use crate::oauth::{Authorizer, MemoryTokenStore, OAuthError, TokenStore};
use crate::process::Launcher;
use crate::source::{ToolDescriptor, ToolOutput};
use slot::Slot;
use toolbridge_sandbox::{Helper as SandboxHelper, SandboxReport};

/// How many server events a [`Pool::events`] receiver may fall behind.
const EVENT_BUFFER: usize = 256;

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
    /// How long a closing stdio server gets to exit after its stdin is closed, before its
    /// process group is killed. Default 1 s.
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
    /// The secrets scrubbed from servers' stderr and from every error the pool reports; each
    /// server's own secrets are added when it is first used.
    pub secrets: Secrets,
    /// Where OAuth credentials of HTTP servers live (default: in memory, for this pool only).
    pub token_store: Arc<dyn TokenStore>,
    /// Who sends a person through an OAuth authorization when a server asks for one
    /// (default: nobody — such a server fails with the `toolbridge auth login` command to run).
    pub authorizer: Option<Arc<dyn Authorizer>>,
    /// How to run the sandbox helper that confines (or only contains) every stdio server and
    /// skill command: `None` looks for `toolbridge-sandbox-exec` next to this program. The
    /// `toolbridge` CLI is its own helper ([`SandboxHelper::CurrentExe`]).
    pub sandbox_helper: Option<SandboxHelper>,
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
            secrets: Secrets::new(),
            token_store: Arc::new(MemoryTokenStore::new()),
            authorizer: None,
            sandbox_helper: None,
        }
    }
}

/// A server could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    /// It did not start, or could not be restarted.
    #[error("{0}")]
    Unavailable(String),
    /// It needs an OAuth login this process cannot run.
    #[error(transparent)]
    Login(OAuthError),
    /// The pool was shut down.
    #[error("the connection pool is shut down")]
    ShutDown,
}

/// Per-call settings.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Time limit (default: the server's `timeout`).
    pub timeout: Option<Duration>,
    /// Cancels the call when it fires.
    pub cancel: Option<CancellationToken>,
    /// Answers the server's sampling and elicitation requests during the call, and hears its
    /// progress and log messages.
    pub responder: Option<Arc<dyn Responder>>,
    /// Keep the result's content blocks as the server sent them ([`ToolOutput::content`]).
    pub keep_content: bool,
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

/// Counters shared by the pool's slots (plain atomics: they are statistics, read together by
/// nobody that needs them consistent).
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

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Inner {
    options: PoolOptions,
    launcher: Launcher,
    slots: Mutex<HashMap<PoolKey, Arc<Slot>>>,
    counters: Counters,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    evictor: OnceLock<()>,
    events: tokio::sync::broadcast::Sender<ServerEvent>,
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
                launcher: Launcher::new(options.sandbox_helper.clone()),
                options,
                slots: Mutex::default(),
                counters: Counters::default(),
                tasks: TaskTracker::new(),
                shutdown: CancellationToken::new(),
                evictor: OnceLock::new(),
                events: tokio::sync::broadcast::Sender::new(EVENT_BUFFER),
            }),
        }
    }

    /// Notifications from servers that no call waits for (resource updates, list changes, log
    /// lines between calls). A receiver that falls more than 256 events behind loses the oldest.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<ServerEvent> {
        self.inner.events.subscribe()
    }

    /// The pool's options.
    pub fn options(&self) -> &PoolOptions {
        &self.inner.options
    }

    /// How the pool (and the skills built with it) start child processes.
    pub(crate) fn launcher(&self) -> &Launcher {
        &self.inner.launcher
    }

    /// A handle on a server, started if it is not running (one attempt; a failure is
    /// returned, and the next use tries again).
    pub async fn connect(&self, server: &ServerConfig) -> Result<ServerHandle, PoolError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(PoolError::ShutDown);
        }
        self.start_evictor();
        let slot = {
            let mut slots = self.inner.slots.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(slots.entry(server.pool_key()).or_insert_with(|| {
                server.register_secrets(&self.inner.options.secrets);
                Arc::new(Slot::new(server.clone()))
            }))
        };
        let handle = ServerHandle { slot, pool: self.clone() };
        if handle.slot.live().is_some() {
            Counters::bump(&self.inner.counters.hits);
            handle.slot.touch();
            return Ok(handle);
        }
        handle.slot.ensure_connection(&self.inner, false).await.map_err(PoolError::from)?;
        Ok(handle)
    }

    /// Logs in to an HTTP server with OAuth: `authorizer` sends the person through the
    /// authorization; the tokens are kept in [`PoolOptions::token_store`].
    pub async fn login(
        &self,
        server: &ServerConfig,
        authorizer: Arc<dyn Authorizer>,
    ) -> Result<crate::oauth::LoginSummary, OAuthError> {
        connection::login(server, Arc::clone(&self.inner.options.token_store), authorizer).await
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
            .filter(|slot| slot.live().is_some())
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

    /// Closes every connection (stdio servers get [`PoolOptions::close_grace`] to exit, then
    /// their process groups are killed) and stops the pool's tasks. Later `connect`s fail.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        let slots: Vec<Arc<Slot>> =
            self.inner.slots.lock().unwrap_or_else(PoisonError::into_inner).drain().map(|(_, slot)| slot).collect();
        let grace = self.inner.options.close_grace;
        futures::future::join_all(slots.iter().map(|slot| slot.close(grace))).await;
        self.inner.tasks.close();
        // Stderr readers end when the processes are gone; a stuck one is not waited for.
        let _ = tokio::time::timeout(grace, self.inner.tasks.wait()).await;
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
                        .filter(|slot| slot.idle_for(idle))
                        .cloned()
                        .collect();
                    for slot in idle_slots {
                        if slot.close(inner.options.close_grace).await {
                            info!(server = %slot.config().name, "closed an idle MCP connection");
                            Counters::bump(&inner.counters.evictions);
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
        &self.slot.config().name
    }

    /// The server's configuration.
    pub fn config(&self) -> &ServerConfig {
        self.slot.config()
    }

    /// The server's tools, cached until it says they changed (or restarts).
    pub async fn list_tools(&self) -> Result<Arc<Vec<ToolDescriptor>>, PoolError> {
        self.slot.list_tools(&self.pool.inner).await
    }

    /// Calls a tool. On timeout or cancellation `notifications/cancelled` is sent; a stdio
    /// server that then does not answer a ping is killed (and restarted on next use).
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: Option<Map<String, Value>>,
        options: CallOptions,
    ) -> Result<ToolOutput, ToolError> {
        let inner = &self.pool.inner;
        Counters::bump(&inner.counters.calls);
        let result = self.slot.call_tool(inner, tool, arguments, options).await;
        if result.is_err() {
            Counters::bump(&inner.counters.call_failures);
        }
        result
    }

    /// Sends any MCP request (resources, prompts, completions, logging level, subscriptions)
    /// and returns the server's answer, under the server's call time limit.
    pub async fn request(&self, request: rmcp::model::ClientRequest) -> Result<rmcp::model::ServerResult, ToolError> {
        self.slot.request(&self.pool.inner, request).await
    }

    /// The pool's server events ([`Pool::events`]).
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<ServerEvent> {
        self.pool.events()
    }

    /// The server's capabilities, as it declared them at initialize.
    pub async fn capabilities(&self) -> Result<rmcp::model::ServerCapabilities, PoolError> {
        self.slot.capabilities(&self.pool.inner).await
    }

    /// Tool calls on this server that have not finished.
    pub fn in_flight(&self) -> usize {
        self.slot.in_flight()
    }

    /// What the sandbox of a stdio server's current process enforces.
    pub fn sandbox(&self) -> Option<SandboxReport> {
        self.slot.live().and_then(|c| c.sandbox.clone())
    }
}
