//! Making, binding and running the server, and stopping it: on shutdown, new executions are
//! refused, running ones cancelled and their records stored, then the listener closes.

use axum::serve::ListenerExt as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio_util::sync::CancellationToken;
use toolbridge::Pool;
use toolbridge::config::Secrets;
use toolbridge_runtime::RuntimeDeps;
use toolbridge_store::Store;

use crate::executions::{Executions, SharedRegistry};
use crate::metrics::Metrics;
use crate::security::{ApiToken, Guard, Limits};
use crate::state::{AppState, Shared};

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A non-loopback address without a token.
    #[error(
        "refusing to listen on {0} without a token: anyone who can reach it could run agents; \
         set TOOLBRIDGE_API_TOKEN or --token-file, or listen on 127.0.0.1"
    )]
    NoToken(SocketAddr),
    /// An empty token.
    #[error("the API token is empty; put a long random string in it")]
    EmptyToken,
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// How the server listens and what it accepts.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The bearer token every API request must carry; `None` only on loopback addresses.
    pub token: Option<ApiToken>,
    /// `Host`/`Origin` names accepted besides loopback ones (a reverse proxy's name).
    pub allowed_hosts: Vec<String>,
    /// Request limits.
    pub limits: Limits,
    /// The most executions running at once (more are answered 503).
    pub max_running: usize,
}

impl ServerOptions {
    /// Options for `listen`, no token, default limits, 1024 executions at most.
    pub fn new(listen: SocketAddr) -> Self {
        Self { listen, token: None, allowed_hosts: Vec::new(), limits: Limits::default(), max_running: 1024 }
    }
}

/// The server, made but not yet listening.
#[derive(Debug)]
pub struct Server {
    state: AppState,
    guard: Guard,
    options: ServerOptions,
}

impl Server {
    /// A server over the CLI's parts. A non-loopback address without a token is refused.
    pub fn new(
        store: Arc<Store>,
        pool: Pool,
        registry: SharedRegistry,
        secrets: Secrets,
        options: ServerOptions,
    ) -> Result<Self, ServerError> {
        if options.token.is_none() && !options.listen.ip().is_loopback() {
            return Err(ServerError::NoToken(options.listen));
        }
        if let Some(token) = &options.token {
            secrets.add(token.expose().to_owned());
        }
        let metrics = Arc::new(Metrics::default());
        let deps = RuntimeDeps::new(store.clone());
        let executions = Arc::new(Executions::new(registry, deps, Arc::clone(&metrics), options.max_running));
        let state = AppState(Arc::new(Shared {
            store,
            pool,
            executions,
            metrics,
            secrets,
            stopping: CancellationToken::new(),
        }));
        let guard = Guard::new(options.token.clone(), &options.allowed_hosts, options.limits);
        Ok(Self { state, guard, options })
    }

    /// The whole application (API, dashboard, guards), for mounting or testing without a
    /// listener.
    pub fn router(&self) -> Router {
        crate::routes::router(self.state.clone(), self.guard.clone(), self.options.limits)
    }

    /// Binds the address.
    pub async fn bind(self) -> Result<BoundServer, ServerError> {
        let addr = self.options.listen;
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener.local_addr()?;
        Ok(BoundServer { server: self, listener, local_addr })
    }
}

/// A server bound to its address.
#[derive(Debug)]
pub struct BoundServer {
    server: Server,
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
}

impl BoundServer {
    /// The address it listens on (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether requests need a token.
    pub fn has_token(&self) -> bool {
        self.server.options.token.is_some()
    }

    /// Serves until `shutdown` completes; then refuses new executions, cancels the running
    /// ones, waits for their records, ends open event streams and returns. The pool is the
    /// caller's to shut down.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let router = self.server.router();
        let state = self.server.state.clone();
        let stopped = async move {
            shutdown.await;
            tracing::info!("shutting down");
            state.executions.shutdown().await;
            state.stopping.cancel();
        };
        axum::serve(self.listener.tap_io(no_delay), router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(stopped)
            .await?;
        Ok(())
    }
}

/// Answers go out as soon as they are written: without `TCP_NODELAY` a response written in
/// two parts (headers, then an SSE event) waits for the client's delayed ACK (~40 ms).
fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}
