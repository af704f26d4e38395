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

use rmcp::ServiceError;
use rmcp::model::{CallToolRequestParams, CallToolResponse, ClientRequest, ServerResult};
use serde_json::{Map, Value};
use toolbridge_config::ServerConfig;
use tracing::{Instrument, debug, info_span, warn};

use super::connection::{Connection, StartError, tidy_error};
use super::{CallOptions, Counters, Inner, PoolError, PoolOptions};
use crate::content::convert_result;
use crate::error::ToolError;
use crate::oauth::MAX_AUTHORIZATIONS;
use crate::source::{ToolDescriptor, ToolOutput};

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
    last_error: Option<StartError>,
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
    pub(super) async fn ensure_connection(&self, pool: &Inner, restart: bool) -> Result<Arc<Connection>, StartError> {
        let _starting = self.starting.lock().await;
        let (old, give_up) = {
            let mut state = self.lock();
            if let Some(connection) = state.connection.clone().filter(|c| c.is_alive()) {
                return Ok(connection);
            }
            let give_up = restart && state.failed_restarts >= pool.options.max_restarts.max(1);
            let last = state.last_error.clone().unwrap_or_else(|| StartError::Failed(String::new()));
            (state.connection.take(), give_up.then_some(last))
        };
        if pool.shutdown.is_cancelled() {
            return Err(StartError::Failed("the connection pool is shut down".into()));
        }
        if let Some(old) = old {
            // Whatever is left of the old process group goes now.
            old.kill();
        }
        if let Some(last) = give_up {
            return Err(match last {
                login @ StartError::Login(_) => login,
                StartError::Failed(last) => StartError::Failed(format!(
                    "gave up after {} restart attempts; last error: {last}",
                    pool.options.max_restarts
                )),
            });
        }
        let attempts = if restart { pool.options.max_restarts.max(1) } else { 1 };
        let mut delays = backoff(&pool.options);
        let mut last_error = StartError::Failed(String::new());
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(delays.next().unwrap_or(pool.options.backoff_max)).await;
            }
            let span = info_span!("mcp_start", server = %self.config.name, attempt);
            match Connection::start(&self.config, &pool.tasks, &pool.options, &pool.launcher, &pool.events)
                .instrument(span)
                .await
            {
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
                    let login = matches!(error, StartError::Login(_));
                    last_error = match error {
                        StartError::Failed(message) => StartError::Failed(pool.options.secrets.scrub(&message)),
                        login @ StartError::Login(_) => login,
                    };
                    // The caller reports the final failure (once); each attempt is a detail.
                    debug!(server = %self.config.name, error = %last_error, "MCP server did not start");
                    if restart {
                        self.lock().failed_restarts += 1;
                    }
                    if login {
                        // Trying again cannot log in.
                        break;
                    }
                }
            }
        }
        self.lock().last_error = Some(last_error.clone());
        Err(last_error)
    }

    async fn connection(&self, pool: &Inner) -> Result<Arc<Connection>, StartError> {
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
        let connection = self.connection(pool).await.map_err(PoolError::from)?;
        let stale = connection.tools_stale.swap(false, Ordering::AcqRel);
        if !stale && let Some(tools) = self.lock().tools.clone() {
            return Ok(tools);
        }
        let listed = authorized(&connection, || connection.peer.list_all_tools()).await.map_err(|e| {
            let e = match e {
                Authorized::Login(error) => return PoolError::Login(error),
                Authorized::Service(e) => e,
            };
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
        let connection = self
            .connection(pool)
            .await
            .map_err(|reason| ToolError::Unavailable { server: server(), reason: reason.to_string() })?;
        let limit = options.timeout.unwrap_or(self.config.call_timeout);
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = arguments;
        let cancel = options.cancel.unwrap_or_default();
        let registration = options.responder.map(|responder| connection.relay.register(responder));
        let keep_content = options.keep_content;
        let outcome = {
            let _in_flight = InFlight::enter(self);
            // Dropping the request future (timeout, cancellation, the caller going away) sends
            // notifications/cancelled for it (see `Connection::call_tool`).
            tokio::select! {
                biased;
                response = async {
                    // Only an HTTP server can ask for a login (and a retry): the others take
                    // the parameters as they are.
                    if connection.auth.is_none() {
                        connection.call_tool(params, registration.as_ref()).await.map_err(Authorized::Service)
                    } else {
                        authorized(&connection, || connection.call_tool(params.clone(), registration.as_ref())).await
                    }
                } => Some(response),
                () = tokio::time::sleep(limit) => None,
                () = cancel.cancelled() => return Err(ToolError::Cancelled),
            }
        };
        match outcome {
            Some(Ok(CallToolResponse::Complete(result))) => Ok(convert_result(result, keep_content)),
            Some(Ok(_)) => Err(ToolError::Protocol {
                server: server(),
                message: "the server asked for client input or created a task, which toolbridge does not support"
                    .into(),
            }),
            Some(Err(Authorized::Login(error))) => {
                Err(ToolError::Unavailable { server: server(), reason: error.to_string() })
            }
            Some(Err(Authorized::Service(ServiceError::McpError(error)))) => {
                Err(ToolError::Protocol { server: server(), message: scrub(&error.message) })
            }
            Some(Err(Authorized::Service(error))) => {
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

    /// Sends any request (resources, prompts, completions, logging level, subscriptions) under
    /// the server's call time limit; an OAuth challenge is handled as for a tool call.
    pub(super) async fn request(&self, pool: &Inner, request: ClientRequest) -> Result<ServerResult, ToolError> {
        let server = || self.config.name.clone();
        let connection = self
            .connection(pool)
            .await
            .map_err(|reason| ToolError::Unavailable { server: server(), reason: reason.to_string() })?;
        let limit = self.config.call_timeout;
        let _in_flight = InFlight::enter(self);
        let outcome =
            tokio::time::timeout(limit, authorized(&connection, || connection.peer.send_request(request.clone())))
                .await;
        match outcome {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(Authorized::Login(error))) => {
                Err(ToolError::Unavailable { server: server(), reason: error.to_string() })
            }
            Ok(Err(Authorized::Service(ServiceError::McpError(error)))) => {
                Err(ToolError::Protocol { server: server(), message: pool.options.secrets.scrub(&error.message) })
            }
            Ok(Err(Authorized::Service(error))) => Err(ToolError::Unavailable {
                server: server(),
                reason: pool.options.secrets.scrub(&format!(
                    "the connection was lost during the request ({}){}",
                    tidy_error(&error.to_string()),
                    connection.loss_details()
                )),
            }),
            Err(_) => Err(ToolError::Timeout { tool: request_name(&request), server: Some(server()), limit }),
        }
    }

    /// The server's capabilities, as it declared them at initialize.
    pub(super) async fn capabilities(&self, pool: &Inner) -> Result<rmcp::model::ServerCapabilities, PoolError> {
        let connection = self.connection(pool).await.map_err(PoolError::from)?;
        Ok(connection.peer.peer_info().map(|info| info.capabilities.clone()).unwrap_or_default())
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

/// The method of a request, for messages.
fn request_name(request: &ClientRequest) -> String {
    serde_json::to_value(request)
        .ok()
        .and_then(|v| v.get("method").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "request".to_owned())
}

/// A request that went through [`authorized`].
#[derive(Debug)]
pub(super) enum Authorized {
    /// The request failed.
    Service(ServiceError),
    /// The server wants a login this process cannot run.
    Login(crate::oauth::OAuthError),
}

/// Runs a request; when an HTTP server challenges it (401, or 403 `insufficient_scope`),
/// authorizes again and retries, at most [`MAX_AUTHORIZATIONS`] times.
pub(super) async fn authorized<T, F, Fut>(connection: &Connection, request: F) -> Result<T, Authorized>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ServiceError>>,
{
    let mut authorizations = 0;
    loop {
        let error = match request().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let (Some(auth), Some(challenge)) = (&connection.auth, error.auth_challenge()) else {
            return Err(Authorized::Service(error));
        };
        if !auth.can_authorize() {
            return Err(Authorized::Login(auth.login_required()));
        }
        if authorizations >= MAX_AUTHORIZATIONS {
            return Err(Authorized::Service(error));
        }
        authorizations += 1;
        let challenge = challenge.to_owned();
        match auth.authorize(Some(&challenge)).await {
            Ok(()) => {}
            Err(login @ crate::oauth::OAuthError::LoginRequired { .. }) => return Err(Authorized::Login(login)),
            Err(other) => {
                warn!(error = %other, "OAuth authorization failed");
                return Err(Authorized::Service(error));
            }
        }
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
