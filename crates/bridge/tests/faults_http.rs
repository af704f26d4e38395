//! MCP over streamable HTTP, faulty servers: every failure is a clear error within its time
//! limit, never a hang or a crash, and the pool recovers once the server does.
//!
//! The faulty server is written here (axum, or raw TCP for byte-level faults) because a real
//! MCP server library will not misbehave on demand. It speaks just enough JSON-RPC for the
//! handshake and `tools/list` and `tools/call`.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use toolbridge::config::ServerConfig;
use toolbridge::{Pool, PoolCallOptions as CallOptions, PoolOptions};

/// How the server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Every request gets HTTP 500.
    Status500,
    /// The handshake works; `tools/call` gets 500 until the server recovers.
    CallStatus500,
    /// The handshake works; `tools/call` starts an SSE answer and the connection is cut.
    CutCall,
    /// The handshake works; `tools/call` never gets response headers.
    HangCall,
    /// The handshake works; `tools/call` answers with a JSON body of this many megabytes.
    HugeCall(usize),
    /// Every response is an HTML page with status 200.
    Html,
}

#[derive(Debug)]
struct Faulty {
    fault: Fault,
    /// `tools/call` requests seen.
    calls: AtomicUsize,
    /// Answer `tools/call` properly from this call on (0: never).
    recover_after: usize,
}

fn ok(id: &Value, result: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string())
        .into_response()
}

async fn mcp(State(state): State<Arc<Faulty>>, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let method = request.get("method").and_then(Value::as_str).unwrap_or_default();
    match state.fault {
        Fault::Status500 => return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
        Fault::Html => {
            return ([(header::CONTENT_TYPE, "text/html")], "<html><body>Welcome to nginx!</body></html>")
                .into_response();
        }
        _ => {}
    }
    match method {
        "initialize" => ok(
            &id,
            &json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "faulty", "version": "0.0.0"}
            }),
        ),
        "tools/list" => {
            ok(&id, &json!({"tools": [{"name": "echo", "inputSchema": {"type": "object"}, "description": "echo"}]}))
        }
        "tools/call" => {
            let n = state.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if state.recover_after > 0 && n >= state.recover_after {
                return ok(&id, &json!({"content": [{"type": "text", "text": "ok"}]}));
            }
            match state.fault {
                Fault::CallStatus500 => (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded").into_response(),
                Fault::CutCall => {
                    // Headers and half an SSE event, then the stream fails: hyper cuts the connection.
                    let chunks: Vec<Result<String, std::io::Error>> = vec![
                        Ok("event: message\ndata: {\"jsonrpc\": \"2.0\", \"id\": ".to_owned()),
                        Err(std::io::Error::other("cut")),
                    ];
                    Response::builder()
                        .header(header::CONTENT_TYPE, "text/event-stream")
                        .body(Body::from_stream(futures::stream::iter(chunks)))
                        .unwrap_or_default()
                }
                Fault::HangCall => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    StatusCode::GATEWAY_TIMEOUT.into_response()
                }
                Fault::HugeCall(megabytes) => {
                    ok(&id, &json!({"content": [{"type": "text", "text": "x".repeat(megabytes * 1024 * 1024)}]}))
                }
                Fault::Status500 | Fault::Html => unreachable!("answered above"),
            }
        }
        // Notifications (`notifications/initialized`, `notifications/cancelled`).
        _ => StatusCode::ACCEPTED.into_response(),
    }
}

/// A faulty MCP server on 127.0.0.1; its URL and state.
async fn faulty(fault: Fault, recover_after: usize) -> (String, Arc<Faulty>) {
    let state = Arc::new(Faulty { fault, calls: AtomicUsize::new(0), recover_after });
    let app = axum::Router::new()
        .route("/mcp", axum::routing::post(mcp).get(|| async { StatusCode::METHOD_NOT_ALLOWED }))
        .with_state(Arc::clone(&state));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/mcp"), state)
}

fn server(url: &str, startup: Duration, call: Duration) -> ServerConfig {
    let mut server = ServerConfig::http("remote", url);
    server.startup_timeout = startup;
    server.call_timeout = call;
    server
}

fn pool() -> Pool {
    Pool::new(PoolOptions { backoff_base: Duration::from_millis(10), ..PoolOptions::default() })
}

fn args() -> Option<serde_json::Map<String, Value>> {
    json!({"message": "hi"}).as_object().cloned()
}

#[tokio::test]
async fn status_500_fails_the_start_clearly() {
    let (url, _) = faulty(Fault::Status500, 0).await;
    let pool = pool();
    let started = Instant::now();
    let error = pool.connect(&server(&url, Duration::from_secs(5), Duration::from_secs(5))).await.unwrap_err();
    let message = error.to_string();
    eprintln!("500 at start: {message}");
    assert!(message.contains("\"remote\"") && message.contains(&url) && message.contains("500"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    pool.shutdown().await;
}

#[tokio::test]
async fn connection_refused_fails_at_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let pool = pool();
    let started = Instant::now();
    let error = pool.connect(&server(&url, Duration::from_secs(5), Duration::from_secs(5))).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("\"remote\"") && message.contains(&url), "{message}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    pool.shutdown().await;
}

/// Accepts connections and closes them at once (a reset, for the client).
async fn resetting() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 64];
            let _ = socket.read(&mut buffer).await;
            drop(socket);
        }
    });
    addr
}

#[tokio::test]
async fn connection_reset_fails_clearly() {
    let addr = resetting().await;
    let url = format!("http://{addr}/mcp");
    let pool = pool();
    let started = Instant::now();
    let error = pool.connect(&server(&url, Duration::from_secs(5), Duration::from_secs(5))).await.unwrap_err();
    assert!(error.to_string().contains("\"remote\""), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    pool.shutdown().await;
}

/// Accepts connections and never answers (slow headers, forever).
async fn silent() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

#[tokio::test]
async fn no_response_headers_at_start_times_out_within_the_startup_timeout() {
    let addr = silent().await;
    let url = format!("http://{addr}/mcp");
    let pool = pool();
    let started = Instant::now();
    let error = pool.connect(&server(&url, Duration::from_millis(800), Duration::from_secs(5))).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(error.to_string().contains("did not answer initialize within 800ms"), "{error}");
    assert!(elapsed >= Duration::from_millis(800) && elapsed < Duration::from_secs(3), "took {elapsed:?}");
    pool.shutdown().await;
}

#[tokio::test]
async fn no_response_headers_on_a_call_times_out_and_sends_cancelled() {
    let (url, _) = faulty(Fault::HangCall, 0).await;
    let pool = pool();
    let handle = pool.connect(&server(&url, Duration::from_secs(5), Duration::from_millis(500))).await.unwrap();
    let started = Instant::now();
    let error = handle.call_tool("echo", args(), CallOptions::default()).await.unwrap_err();
    assert_eq!(error.error_type().as_str(), "timeout", "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    pool.shutdown().await;
}

#[tokio::test]
async fn a_500_on_a_call_is_an_error_and_the_next_call_works_once_the_server_recovers() {
    let (url, state) = faulty(Fault::CallStatus500, 2).await;
    let pool = pool();
    let handle = pool.connect(&server(&url, Duration::from_secs(5), Duration::from_secs(5))).await.unwrap();
    let started = Instant::now();
    let error = handle.call_tool("echo", args(), CallOptions::default()).await.unwrap_err();
    let message = error.to_string();
    eprintln!("500 on a call: {} {message}", error.error_type().as_str());
    assert!(message.contains("\"remote\"") && message.contains("500"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    let result = handle.call_tool("echo", args(), CallOptions::default()).await.unwrap();
    assert_eq!(common::text(&result), "ok");
    assert_eq!(state.calls.load(Ordering::SeqCst), 2);
    pool.shutdown().await;
}

#[tokio::test]
async fn a_stream_dropped_mid_response_is_an_error_not_a_hang() {
    let (url, state) = faulty(Fault::CutCall, 2).await;
    let pool = pool();
    let handle = pool.connect(&server(&url, Duration::from_secs(5), Duration::from_secs(5))).await.unwrap();
    let started = Instant::now();
    let outcome = handle.call_tool("echo", args(), CallOptions::default()).await;
    let elapsed = started.elapsed();
    let error = outcome.unwrap_err();
    eprintln!("dropped stream: {} after {elapsed:?}: {error}", error.error_type().as_str());
    assert!(matches!(error.error_type().as_str(), "server_unavailable" | "timeout"), "{error}");
    assert!(error.to_string().contains("\"remote\""), "{error}");
    // rmcp retries or waits for a resumption on a cut stream; the call limit bounds it.
    assert!(elapsed < Duration::from_secs(7), "took {elapsed:?}");
    // The next call (on a fresh connection if the old one was dropped) works.
    let result = handle.call_tool("echo", args(), CallOptions::default()).await.unwrap();
    assert_eq!(common::text(&result), "ok");
    assert!(state.calls.load(Ordering::SeqCst) >= 2);
    pool.shutdown().await;
}

#[tokio::test]
async fn an_oversized_response_is_refused_at_the_limit() {
    let (url, _) = faulty(Fault::HugeCall(40), 0).await;
    let pool = pool();
    let handle = pool.connect(&server(&url, Duration::from_secs(5), Duration::from_secs(20))).await.unwrap();
    let started = Instant::now();
    let outcome = handle.call_tool("echo", args(), CallOptions::default()).await;
    eprintln!("40 MB response after {:?}: {:?}", started.elapsed(), outcome.as_ref().map(|r| common::text(r).len()));
    // Refused at rmcp's 16 MiB limit for one HTTP response (as our stdio limit), not buffered.
    let error = outcome.unwrap_err();
    assert_eq!(error.error_type().as_str(), "server_unavailable");
    assert!(error.to_string().contains("exceeded the maximum size of 16777216 bytes"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    pool.shutdown().await;
}

#[tokio::test]
async fn a_wrong_content_type_fails_the_start_clearly() {
    let (url, _) = faulty(Fault::Html, 0).await;
    let pool = pool();
    let started = Instant::now();
    let error = pool.connect(&server(&url, Duration::from_secs(5), Duration::from_secs(5))).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("\"remote\"") && message.contains(&url), "{message}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    pool.shutdown().await;
}

/// A raw HTTP answer with a chosen content type to `tools/call` after a proper handshake is
/// covered by [`Fault::Html`] at start; here the same at call time, through a raw socket so
/// that not even the status line is valid.
#[tokio::test]
async fn garbage_instead_of_http_fails_clearly() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 1024];
            let _ = socket.read(&mut buffer).await;
            let _ = socket.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        }
    });
    let url = format!("http://{addr}/mcp");
    let pool = pool();
    let started = Instant::now();
    let error = pool.connect(&server(&url, Duration::from_secs(5), Duration::from_secs(5))).await.unwrap_err();
    assert!(error.to_string().contains("\"remote\""), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    pool.shutdown().await;
}
