//! The whole catalogue re-exported as one MCP server — a gateway — over stdio or streamable
//! HTTP, whatever transport each upstream server speaks.
//!
//! Tools are listed under their catalogue names, or their own names when one server is served
//! ([`Prefix`]; policy-denied ones left out), and calls go through [`Catalogue::call`]'s
//! pipeline — through the pool for MCP tools, policy applied, arguments validated — with the
//! upstream server's content passed on as it came. The upstream servers' resources, resource
//! templates, prompts, completions, subscriptions and logging are re-exported next to the
//! tools; during a call, their progress, log lines, sampling and elicitation requests are
//! relayed to the client that made it. Over HTTP the server binds
//! where it is told (loopback by default in the CLI), validates `Host` and `Origin` against
//! loopback names plus [`HttpServeOptions::allowed_hosts`] (DNS-rebinding protection), and
//! requires `Authorization: Bearer TOKEN` when a token is set.

mod endpoint;
mod gateway;
mod handler;
mod relay;
mod resource;
mod upstream;

pub use endpoint::ExecutionEndpoint;
pub use resource::ResourceServer;

use axum::serve::ListenerExt as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::catalogue::Catalogue;
use gateway::{Gateway, Shared};

/// How the gateway names tools and prompts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Prefix {
    /// Unprefixed when the catalogue has one source (one server fronted transparently), else
    /// prefixed.
    #[default]
    Auto,
    /// Always `source__name`.
    Always,
    /// Always the source's own names (a name two sources share is served from the first).
    Never,
}

impl std::str::FromStr for Prefix {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            other => Err(format!("unknown prefix mode {other:?}; expected never, auto or always")),
        }
    }
}

/// What both transports share.
#[derive(Debug, Clone, Default)]
pub struct GatewayOptions {
    /// How tools and prompts are named.
    pub prefix: Prefix,
}

/// Builds the gateway and starts relaying upstream events to its sessions until `stop`.
async fn gateway(catalogue: Arc<Catalogue>, options: &GatewayOptions, stop: &CancellationToken) -> Arc<Shared> {
    let shared = Arc::new(Shared::new(catalogue, options.prefix).await);
    if let Some(events) = shared.events() {
        tokio::spawn(relay::pump_events(events, Arc::clone(&shared.sessions), stop.clone()));
    }
    shared
}

/// HTTP serving options.
#[derive(Debug, Clone)]
pub struct HttpServeOptions {
    /// Require `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Accept these `Host`/`Origin` names besides loopback ones (e.g. behind a proxy).
    pub allowed_hosts: Vec<String>,
    /// The most MCP sessions open at once; a new one beyond it is refused with 503
    /// ([`default_max_sessions`] by default).
    pub max_sessions: usize,
    /// A session with no request for this long is closed (default 5 minutes).
    pub session_idle_timeout: Duration,
    /// Be an OAuth protected resource of an external authorization server: publish its
    /// metadata, challenge requests without a valid token, validate tokens by introspection.
    pub oauth: Option<ResourceServer>,
}

impl Default for HttpServeOptions {
    fn default() -> Self {
        Self {
            token: None,
            allowed_hosts: Vec::new(),
            max_sessions: default_max_sessions(),
            session_idle_timeout: Duration::from_secs(300),
            oauth: None,
        }
    }
}

/// Memory one open session may take (measured: ~60 KB with a client that initialised and
/// sent nothing more; see RELIABILITY.md), rounded up.
const SESSION_BYTES: u64 = 64 * 1024;

/// Sessions sized to the machine: an eighth of its memory at [`SESSION_BYTES`] a session,
/// between 16 and 4096.
pub fn default_max_sessions() -> usize {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(1 << 30, |kb| kb * 1024);
    usize::try_from((total / 8 / SESSION_BYTES).clamp(16, 4096)).unwrap_or(4096)
}

/// A serving failure.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {message}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        message: String,
    },
    /// The MCP session failed.
    #[error("MCP server error: {0}")]
    Protocol(String),
    /// An I/O failure.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves over stdin/stdout until the client disconnects or `shutdown` completes.
pub async fn serve_stdio(
    catalogue: Arc<Catalogue>,
    options: GatewayOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let stop = CancellationToken::new();
    let _stop_pump = stop.clone().drop_guard();
    let shared = gateway(catalogue, &options, &stop).await;
    let mut shutdown = std::pin::pin!(shutdown);
    // The handshake too gives way to `shutdown`: a client that never initialises cannot keep
    // the server from stopping.
    let service = tokio::select! {
        service = Gateway::session(&shared).serve(rmcp::transport::stdio()) => {
            service.map_err(|e| ServeError::Protocol(e.to_string()))?
        }
        () = &mut shutdown => return Ok(()),
    };
    let cancel = service.cancellation_token();
    tokio::select! {
        outcome = service.waiting() => outcome.map(|_| ()).map_err(|e| ServeError::Protocol(e.to_string())),
        () = shutdown => {
            cancel.cancel();
            Ok(())
        }
    }
}

const LOOPBACK: &[&str] = &["localhost", "127.0.0.1", "::1", "[::1]"];

/// Serves streamable HTTP at `http://ADDR/mcp` until `shutdown` completes; `on_bound` is told
/// the bound address (useful with port 0).
pub async fn serve_http(
    catalogue: Arc<Catalogue>,
    addr: SocketAddr,
    gateway_options: GatewayOptions,
    options: HttpServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| ServeError::Bind { addr, message: e.to_string() })?;
    let bound = listener.local_addr()?;
    let stop = CancellationToken::new();
    let shared = gateway(catalogue, &gateway_options, &stop).await;
    let guard = options.oauth.clone().map(|settings| resource::Guard::new(settings, &format!("http://{bound}")));
    let mut router = router(move || Gateway::session(&shared), options, &stop);
    if let Some(guard) = guard {
        // The metadata is public: outside the token checks.
        let metadata = axum::Json(guard.metadata());
        let at = reqwest::Url::parse(&guard.metadata_url()).map(|u| u.path().to_owned()).unwrap_or_default();
        let document = metadata.clone();
        router = router
            .layer(axum::middleware::from_fn(move |request: Request, next: Next| {
                Arc::clone(&guard).check(request, next)
            }))
            .route(&at, axum::routing::get(move || async move { metadata }))
            .route("/.well-known/oauth-protected-resource", axum::routing::get(move || async move { document }));
    }
    on_bound(bound);
    let stopper = stop.clone();
    axum::serve(listener.tap_io(no_delay), router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopper.cancel();
        })
        .await?;
    Ok(())
}

/// The streamable-HTTP service at `/mcp` of the handlers `session` makes (one per session):
/// Host/Origin checked, sessions bounded, the bearer token required when set. Its sessions end
/// when `stop` is cancelled.
fn router<S, F>(session: F, options: HttpServeOptions, stop: &CancellationToken) -> axum::Router
where
    S: rmcp::ServerHandler,
    F: Fn() -> S + Send + Sync + 'static,
{
    let hosts: Vec<String> =
        LOOPBACK.iter().map(|h| (*h).to_owned()).chain(options.allowed_hosts.iter().cloned()).collect();
    let origins: Vec<String> =
        hosts.iter().flat_map(|h| ["http", "https"].map(|scheme| format!("{scheme}://{h}:*"))).collect();
    let mut config = StreamableHttpServerConfig::default().with_allowed_hosts(hosts).with_allowed_origins(origins);
    config.cancellation_token = stop.child_token();
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(options.session_idle_timeout);
    let sessions = Arc::new(sessions);
    let service = StreamableHttpService::new(move || Ok(session()), Arc::clone(&sessions), config);
    let token = options.token.map(Arc::<str>::from);
    let max_sessions = options.max_sessions;
    axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn(move |request: Request, next: Next| {
            let sessions = Arc::clone(&sessions);
            async move { limit_sessions(&sessions, max_sessions, request, next).await }
        }))
        .layer(axum::middleware::from_fn(move |request: Request, next: Next| {
            let token = token.clone();
            async move { authorize(token.as_deref(), request, next).await }
        }))
}

/// A request that would open a session (no `Mcp-Session-Id`) is refused once `max` are open.
async fn limit_sessions(sessions: &LocalSessionManager, max: usize, request: Request, next: Next) -> Response {
    let opens_session =
        request.method() == axum::http::Method::POST && !request.headers().contains_key("mcp-session-id");
    if opens_session && sessions.sessions.read().await.len() >= max {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "5")],
            format!("too many MCP sessions (the limit is {max}, `--max-sessions`); close one or retry later"),
        )
            .into_response();
    }
    next.run(request).await
}

async fn authorize(token: Option<&str>, request: Request, next: Next) -> Response {
    if let Some(expected) = token {
        let given = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                "missing or wrong bearer token",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Answers go out as soon as they are written: without `TCP_NODELAY` a response written in
/// two parts (headers, then an SSE event) waits for the client's delayed ACK (~40 ms).
fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}
