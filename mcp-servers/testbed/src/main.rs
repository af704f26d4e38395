/*! testbed-mcp: an MCP server with deterministic tools and fault injection, for toolbridge's
tests and benchmarks. Serves stdio by default, streamable HTTP with `--http ADDR`, the legacy
HTTP+SSE transport with `--sse ADDR`. */

mod fixtures;
mod generated;
mod oauth;
mod server;
mod sse;

use axum::serve::ListenerExt as _;
use std::net::SocketAddr;

use clap::Parser;

/// An MCP server with deterministic tools and fault injection.
#[derive(Debug, Clone, Parser)]
#[command(name = "testbed-mcp", version, about)]
pub(crate) struct Flags {
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:0); the endpoint is /mcp.
    #[arg(long, value_name = "ADDR", conflicts_with = "sse")]
    http: Option<SocketAddr>,
    /// Serve the legacy HTTP+SSE transport on this address: `GET /sse`, `POST /messages`.
    #[arg(long, value_name = "ADDR")]
    sse: Option<SocketAddr>,
    /// Wait this long before answering initialize.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub(crate) init_delay_ms: u64,
    /// Never answer initialize.
    #[arg(long)]
    pub(crate) never_init: bool,
    /// Write non-JSON lines to stdout before serving (stdio only).
    #[arg(long)]
    garbage_stdout: bool,
    /// Exit with status 1 after this many answered tool calls.
    #[arg(long, value_name = "N")]
    pub(crate) crash_after: Option<usize>,
    /// Also expose N generated tools gen_0..gen_{N-1} with varied schemas.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) tools: usize,
    /// Write N lines to stderr at startup.
    #[arg(long, default_value_t = 0, value_name = "N")]
    stderr_lines: usize,
    /// Also serve the MCP conformance suite's fixtures: its `test_*` tools, resources, resource
    /// template, prompts, completions and logging.
    #[arg(long)]
    pub(crate) fixtures: bool,
    /// Protect the HTTP endpoint with OAuth, with an authorization server on the same origin.
    #[arg(long, requires = "http")]
    oauth: bool,
    /// Seconds an access token lives (with --oauth).
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    token_ttl: u64,
    /// The scope every request needs (with --oauth).
    #[arg(long, default_value = "mcp:read", value_name = "SCOPE")]
    scope: String,
    /// An extra scope `tools/call` needs: step-up (with --oauth).
    #[arg(long, value_name = "SCOPE")]
    call_scope: Option<String>,
    /// A pre-registered confidential client `ID:SECRET` (client credentials; with --oauth).
    #[arg(long, value_name = "ID:SECRET")]
    oauth_client: Option<String>,
    /// The server name reported in initialize.
    #[arg(long, default_value = "testbed-mcp")]
    pub(crate) name: String,
}

fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    for i in 0..flags.stderr_lines {
        eprintln!("testbed: stderr line {i}");
    }
    // A current-thread runtime: the benchmarks measure the client, not the server's scheduling.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run(flags))
}

async fn run(flags: Flags) -> anyhow::Result<()> {
    let server = server::Testbed::new(flags.clone());
    if let Some(addr) = flags.sse {
        return sse::serve_sse(server, addr).await;
    }
    match flags.http {
        Some(addr) => serve_http(server, addr, &flags).await,
        None => {
            if flags.garbage_stdout {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                writeln!(out, "this is not JSON-RPC")?;
                writeln!(out, "{{\"neither\": \"is this\"")?;
                out.flush()?;
            }
            use rmcp::ServiceExt;
            let service = server.serve(rmcp::transport::stdio()).await?;
            service.waiting().await?;
            Ok(())
        }
    }
}

async fn serve_http(server: server::Testbed, addr: SocketAddr, flags: &Flags) -> anyhow::Result<()> {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let mut router = axum::Router::new().nest_service("/mcp", service);
    if flags.oauth {
        let oauth = oauth::Oauth::new(oauth::Settings {
            token_ttl: flags.token_ttl,
            scope: flags.scope.clone(),
            call_scope: flags.call_scope.clone(),
            client: flags
                .oauth_client
                .as_deref()
                .and_then(|c| c.split_once(':'))
                .map(|(i, s)| (i.to_owned(), s.to_owned())),
        });
        oauth.set_origin(format!("http://{bound}"));
        let guard = oauth.clone();
        router = router
            .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
                let guard = guard.clone();
                async move { guard.guard(request, next).await }
            }))
            .merge(oauth.routes());
    }
    eprintln!("listening on http://{bound}/mcp");
    axum::serve(listener.tap_io(no_delay), router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Answers go out as soon as they are written: without `TCP_NODELAY` a response written in
/// two parts (headers, then an SSE event) waits for the client's delayed ACK (~40 ms).
fn no_delay(stream: &mut tokio::net::TcpStream) {
    // Best effort: a socket that refuses it still works, only slower.
    let _ = stream.set_nodelay(true);
}
