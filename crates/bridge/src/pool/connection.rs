//! One live MCP connection: spawning (stdio) or connecting (streamable HTTP), the initialize
//! handshake under a time limit, and the stderr tail. A stdio server's process is owned by its
//! transport (see [`crate::process`]); the connection holds only a [`Killer`] for it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResponse};
use rmcp::service::{RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{Peer, RoleClient, ServiceExt};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use toolbridge_config::{HttpConfig, ServerConfig, TransportConfig};

use super::handler::Handler;
use super::sse::{self, SseClientTransport};
use super::stdio::{self, LossReason, StdioTransport};
use super::wire::Wire;
use super::{PoolOptions, SandboxReport};
use crate::interaction::{CallRegistration, Relay, ServerEvent};
use crate::oauth::{HttpAuth, MAX_AUTHORIZATIONS, OAuthError};
use crate::process::{Killer, Launcher};

/// How much longer than the transport's own grace the session's close may take.
const CLOSE_MARGIN: Duration = Duration::from_millis(500);

/// Lines of a server's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 20;
/// Bytes of a server's stderr kept for error messages.
const STDERR_TAIL_BYTES: usize = 4096;

/// The last lines a server wrote to stderr, and whether its stderr has closed.
#[derive(Debug)]
pub(crate) struct StderrTail {
    lines: Mutex<VecDeque<String>>,
    closed: watch::Sender<bool>,
}

impl Default for StderrTail {
    fn default() -> Self {
        Self { lines: Mutex::default(), closed: watch::Sender::new(false) }
    }
}

impl StderrTail {
    /// The reader saw the end of the server's stderr.
    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Waits (at most `limit`) for the server's stderr to close, i.e. for its last words.
    pub(crate) async fn closed(&self, limit: Duration) {
        let mut closed = self.closed.subscribe();
        let _ = tokio::time::timeout(limit, closed.wait_for(|closed| *closed)).await;
    }

    pub(crate) fn push(&self, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.push_back(line);
        while lines.len() > STDERR_TAIL_LINES || lines.iter().map(String::len).sum::<usize>() > STDERR_TAIL_BYTES {
            if lines.pop_front().is_none() {
                break;
            }
        }
    }

    /// `; last stderr: a | b` or nothing.
    pub(crate) fn suffix(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.is_empty() {
            String::new()
        } else {
            format!("; last stderr: {}", lines.iter().map(String::as_str).collect::<Vec<_>>().join(" | "))
        }
    }
}

/// A started, initialised connection.
#[derive(Debug)]
pub(crate) struct Connection {
    service: tokio::sync::Mutex<Option<RunningService<RoleClient, Handler>>>,
    pub(crate) peer: Peer<RoleClient>,
    /// Kills a stdio server's process group (its transport owns the process).
    process: Option<Killer>,
    /// What the sandbox of a stdio server enforces.
    pub(crate) sandbox: Option<SandboxReport>,
    pub(crate) stderr: Arc<StderrTail>,
    pub(crate) tools_stale: Arc<AtomicBool>,
    /// Set when we ended the connection ourselves (e.g. an oversized message).
    reason: LossReason,
    dead: AtomicBool,
    /// An HTTP server's OAuth state (its transport sends through it).
    pub(crate) auth: Option<Arc<HttpAuth>>,
    /// The calls running on this connection, for the server's requests and notifications.
    pub(crate) relay: Arc<Relay>,
    /// A stdio connection's wire, when tool calls may take the direct path (see
    /// [`super::wire`]).
    direct: Option<Direct>,
}

/// What a direct call needs besides the peer.
#[derive(Debug)]
struct Direct {
    wire: Arc<Wire<tokio::process::ChildStdin>>,
    /// Where a cancelled call's notification is sent from.
    tasks: TaskTracker,
}

/// Why a server could not be started.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum StartError {
    /// It failed (the message says how).
    #[error("{0}")]
    Failed(String),
    /// It needs an OAuth login this process cannot run.
    #[error(transparent)]
    Login(OAuthError),
}

impl StartError {
    fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

impl From<StartError> for super::PoolError {
    fn from(error: StartError) -> Self {
        match error {
            StartError::Failed(message) => Self::Unavailable(message),
            StartError::Login(error) => Self::Login(error),
        }
    }
}

impl Connection {
    /// Whether the connection can still carry requests.
    pub(crate) fn is_alive(&self) -> bool {
        !self.dead.load(Ordering::Acquire) && !self.peer.is_transport_closed()
    }

    /// Why the connection was lost, for error messages: our own reason if we ended it, then
    /// the server's last stderr lines.
    pub(crate) fn loss_details(&self) -> String {
        match self.reason.get() {
            Some(reason) => format!(": {reason}{}", self.stderr.suffix()),
            None => self.stderr.suffix(),
        }
    }

    /// `tools/call`: on the direct path for a stdio server that speaks the initialize lifecycle
    /// (see [`super::wire`]), through rmcp's peer otherwise. With a registration, the call's
    /// responder hears the progress the server reports against the request's token. Dropping
    /// the future before the answer cancels the call on the server (`notifications/cancelled`).
    pub(crate) async fn call_tool(
        &self,
        params: CallToolRequestParams,
        registration: Option<&CallRegistration>,
    ) -> Result<CallToolResponse, ServiceError> {
        match &self.direct {
            Some(direct) => {
                direct.wire.call_tool::<StdioTransport>(params, registration, &self.peer, &direct.tasks).await
            }
            None => super::request::call_tool_once(&self.peer, params, registration).await,
        }
    }

    /// Marks the connection dead and kills a stdio server's process group.
    pub(crate) fn kill(&self) {
        self.dead.store(true, Ordering::Release);
        if let Some(process) = &self.process {
            process.kill();
        }
    }

    /// Waits (at most `limit`) for the server's stderr to close, so that error messages carry
    /// its last words.
    pub(crate) async fn stderr_closed(&self, limit: Duration) {
        if self.process.is_some() {
            self.stderr.closed(limit).await;
        }
    }

    /// Closes the session: a stdio server's stdin is closed and it gets `grace` to exit before
    /// its process group is killed (by its transport).
    pub(crate) async fn close(&self, grace: Duration) {
        self.dead.store(true, Ordering::Release);
        let service = self.service.lock().await.take();
        if let Some(mut service) = service {
            // The transport waits at most `grace` itself; the margin lets a close that is going
            // as planned finish. Past it, the process group is killed below — an expected end,
            // not worth rmcp's `close_with_timeout` warning, so the wait is ours.
            if tokio::time::timeout(grace + CLOSE_MARGIN, service.close()).await.is_err() {
                tracing::debug!("the MCP session did not close within its grace; ending it");
            }
        }
        self.kill();
    }

    /// Starts a server and completes the initialize handshake within its `startup_timeout`.
    pub(crate) async fn start(
        server: &ServerConfig,
        tasks: &TaskTracker,
        options: &PoolOptions,
        launcher: &Launcher,
        events: &tokio::sync::broadcast::Sender<ServerEvent>,
    ) -> Result<Self, StartError> {
        let tools_stale = Arc::new(AtomicBool::new(false));
        let base = match &server.transport {
            TransportConfig::Stdio(stdio) => stdio.cwd.clone(),
            TransportConfig::Http(_) | TransportConfig::Sse(_) => None,
        }
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
        let handler = Handler {
            tools_stale: Arc::clone(&tools_stale),
            accept_elicitation_defaults: options.accept_elicitation_defaults,
            features: Arc::new(server.features.clone()),
            roots: Arc::new(server.features.root_uris(&base)),
            relay: Arc::new(Relay::new(&server.name, events.clone())),
        };
        let stderr = Arc::new(StderrTail::default());
        let reason = LossReason::default();
        let limit = server.startup_timeout;
        let name = &server.name;
        match &server.transport {
            TransportConfig::Stdio(stdio) => {
                let spawned = stdio::spawn(server, stdio, options, launcher, &stderr, &reason, tasks)?;
                let (transport, process, sandbox) = spawned;
                let wire = transport.wire();
                match tokio::time::timeout(limit, handler.serve(transport)).await {
                    Ok(Ok(service)) => {
                        let mut connection = Self::new(service, Some(process), stderr, tools_stale, reason);
                        connection.sandbox = sandbox;
                        // From 2026-07-28 on, requests carry the lifecycle in their `_meta`,
                        // which rmcp's peer adds: those sessions keep rmcp's path.
                        let legacy_lifecycle =
                            connection.peer.peer_info().is_some_and(|info| info.protocol_version.has_initialize());
                        if legacy_lifecycle {
                            connection.direct = Some(Direct { wire, tasks: tasks.clone() });
                        }
                        Ok(connection)
                    }
                    Ok(Err(error)) => {
                        process.kill();
                        // The server's last words say why; wait (briefly) for them.
                        stderr.closed(options.close_grace).await;
                        Err(StartError::failed(format!(
                            "server {name:?} failed during initialize: {}{}",
                            tidy_error(&error.to_string()),
                            reason.get().map(|r| format!(": {r}")).unwrap_or_default() + &stderr.suffix()
                        )))
                    }
                    Err(_) => {
                        process.kill();
                        stderr.closed(options.close_grace).await;
                        Err(StartError::failed(format!(
                            "server {name:?} did not answer initialize within {limit:?}{}",
                            stderr.suffix()
                        )))
                    }
                }
            }
            TransportConfig::Sse(http) => {
                let client = http_client(name, http)?;
                let deadline = tokio::time::Instant::now() + limit;
                let service = serve_sse(handler, client, http, name, limit, deadline).await?;
                Ok(Self::new(service, None, stderr, tools_stale, reason))
            }
            TransportConfig::Http(http) => {
                let client = http_client(name, http)?;
                let mut deadline = tokio::time::Instant::now() + limit;
                let auth = HttpAuth::new(
                    server,
                    http,
                    client.clone(),
                    Arc::clone(&options.token_store),
                    options.authorizer.clone(),
                )
                .await
                .map_err(|e| StartError::failed(options.secrets.scrub(&e.to_string())))?;
                let auth = Arc::new(auth);
                let mut authorizations = 0;
                loop {
                    let transport = StreamableHttpClientTransport::with_client(
                        auth.client(),
                        StreamableHttpClientTransportConfig::with_uri(http.url.as_str()),
                    );
                    let error = match tokio::time::timeout_at(deadline, handler.clone().serve(transport)).await {
                        Ok(Ok(service)) => {
                            let mut connection = Self::new(service, None, stderr, tools_stale, reason);
                            connection.auth = Some(auth);
                            return Ok(connection);
                        }
                        // The spec's backwards compatibility: a 4xx to the POST may be a server
                        // that speaks only the legacy transport (a 401 is a login, not that).
                        Ok(Err(error)) if error.auth_challenge().is_none() && sse::is_legacy_answer(&error) => {
                            tracing::debug!(server = %name, %error, "streamable HTTP refused; trying the legacy HTTP+SSE transport");
                            let service =
                                serve_sse(handler, client, http, name, limit, deadline).await.map_err(|sse_error| {
                                    let sse_error = sse_error.to_string();
                                    StartError::failed(format!(
                                        "server {name:?} at {}: initialize failed: {}; nor is it an SSE server: {}",
                                        http.url,
                                        tidy_error(&error.to_string()),
                                        sse_error.trim_start_matches(&format!("server {name:?} at {}: ", http.url))
                                    ))
                                })?;
                            return Ok(Self::new(service, None, stderr, tools_stale, reason));
                        }
                        Ok(Err(error)) => error,
                        Err(_) => {
                            return Err(StartError::failed(format!(
                                "server {name:?} at {} did not answer initialize within {limit:?}",
                                http.url
                            )));
                        }
                    };
                    let Some(challenge) = error.auth_challenge().map(str::to_owned) else {
                        return Err(StartError::failed(format!(
                            "server {name:?} at {}: initialize failed: {}",
                            http.url,
                            tidy_error(&error.to_string())
                        )));
                    };
                    if http.oauth.is_none() && http.headers.keys().any(|k| k.eq_ignore_ascii_case("authorization")) {
                        // A static credential from the config, refused: no login would help.
                        return Err(StartError::failed(format!(
                            "server {name:?} at {} refused the Authorization header of its config (HTTP 401); \
                             check the token",
                            http.url
                        )));
                    }
                    if !auth.can_authorize() {
                        return Err(StartError::Login(auth.login_required()));
                    }
                    if authorizations >= MAX_AUTHORIZATIONS {
                        return Err(StartError::failed(format!(
                            "server {name:?} still refuses after {MAX_AUTHORIZATIONS} OAuth authorizations"
                        )));
                    }
                    authorizations += 1;
                    auth.authorize(Some(&challenge)).await.map_err(|e| match e {
                        OAuthError::LoginRequired { .. } => StartError::Login(e),
                        other => StartError::failed(options.secrets.scrub(&other.to_string())),
                    })?;
                    // The handshake's time limit starts again after an authorization (which
                    // may have waited on a person).
                    deadline = tokio::time::Instant::now() + limit;
                }
            }
        }
    }

    fn new(
        service: RunningService<RoleClient, Handler>,
        process: Option<Killer>,
        stderr: Arc<StderrTail>,
        tools_stale: Arc<AtomicBool>,
        reason: LossReason,
    ) -> Self {
        let peer = service.peer().clone();
        let relay = Arc::clone(&service.service().relay);
        Self {
            service: tokio::sync::Mutex::new(Some(service)),
            peer,
            process,
            sandbox: None,
            stderr,
            tools_stale,
            reason,
            dead: AtomicBool::new(false),
            auth: None,
            relay,
            direct: None,
        }
    }
}

/// Runs an OAuth login for `server` (an HTTP server): the server is first asked without a
/// token, so that its challenge seeds discovery and scopes; the tokens land in `store`.
pub(crate) async fn login(
    server: &ServerConfig,
    store: Arc<dyn crate::oauth::TokenStore>,
    authorizer: Arc<dyn crate::oauth::Authorizer>,
) -> Result<crate::oauth::LoginSummary, OAuthError> {
    let fail = |message: String| OAuthError::Failed { server: server.name.clone(), message };
    let TransportConfig::Http(http) = &server.transport else {
        return Err(fail("only an HTTP server logs in with OAuth; this one is a stdio server".into()));
    };
    let client = http_client(&server.name, http).map_err(|e| fail(e.to_string()))?;
    let auth = HttpAuth::new(server, http, client.clone(), Arc::clone(&store), Some(authorizer)).await?;
    let probe = StreamableHttpClientTransport::with_client(
        client,
        StreamableHttpClientTransportConfig::with_uri(http.url.as_str()),
    );
    let challenge = match tokio::time::timeout(server.startup_timeout, ().serve(probe)).await {
        Ok(Ok(service)) => {
            // The server did not ask for a token to start; it may still on other requests.
            let _ = service.cancel().await;
            None
        }
        Ok(Err(error)) => error.auth_challenge().map(str::to_owned),
        Err(_) => None,
    };
    auth.authorize(challenge.as_deref()).await?;
    let stored = store.load(&server.name, &http.url).await?;
    stored
        .as_deref()
        .and_then(crate::oauth::describe_credentials)
        .ok_or_else(|| fail("the authorization completed but no credentials were stored".into()))
}

/// The HTTP client of a server: its configured headers on every request (marked sensitive).
/// Connects to a legacy HTTP+SSE server and completes the handshake by `deadline`.
async fn serve_sse(
    handler: Handler,
    client: reqwest::Client,
    http: &HttpConfig,
    name: &str,
    limit: Duration,
    deadline: tokio::time::Instant,
) -> Result<RunningService<RoleClient, Handler>, StartError> {
    let connect = async {
        let transport = SseClientTransport::connect(client, &http.url)
            .await
            .map_err(|error| StartError::failed(format!("server {name:?} at {}: {error}", http.url)))?;
        handler.serve(transport).await.map_err(|error| {
            StartError::failed(format!(
                "server {name:?} at {}: initialize failed: {}",
                http.url,
                tidy_error(&error.to_string())
            ))
        })
    };
    tokio::time::timeout_at(deadline, connect).await.unwrap_or_else(|_| {
        Err(StartError::failed(format!("server {name:?} at {} did not answer initialize within {limit:?}", http.url)))
    })
}

/// The HTTP client of a server: its headers on every request.
fn http_client(name: &str, config: &HttpConfig) -> Result<reqwest::Client, StartError> {
    let mut headers = reqwest::header::HeaderMap::new();
    for (key, value) in &config.headers {
        let header = reqwest::header::HeaderName::from_bytes(key.as_bytes())
            .map_err(|_| StartError::failed(format!("server {name:?}: invalid header name {key:?}")))?;
        let mut value = reqwest::header::HeaderValue::from_str(value.expose())
            .map_err(|_| StartError::failed(format!("server {name:?}: invalid value for header {key:?}")))?;
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .map_err(|e| StartError::failed(format!("server {name:?}: cannot build the HTTP client: {e}")))
}

/// rmcp's transport errors name the transport's full generic type
/// (`Transport [rmcp::transport::worker::WorkerTransport<…>] error: HTTP 500`); users need
/// only what went wrong.
pub(crate) fn tidy_error(text: &str) -> String {
    const START: &str = "Transport [";
    const END: &str = "] error: ";
    let mut text = text.to_owned();
    while let Some(start) = text.find(START) {
        let Some(end) = text[start..].find(END) else { break };
        text.replace_range(start..start + end + END.len(), "");
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn transport_type_names_are_dropped() {
        let raw = "Send message error Transport [rmcp::transport::worker::WorkerTransport<rmcp::X<reqwest::Client>>] \
                   error: HTTP 500, when send initialize request";
        assert_eq!(super::tidy_error(raw), "Send message error HTTP 500, when send initialize request");
    }
}
