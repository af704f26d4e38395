//! One execution's catalogue served over streamable HTTP (`serve::ExecutionEndpoint`), the way
//! a runtime plugin reaches its tools: a real MCP client (the bridge's own pool) connects with
//! the one-time token; calls go through the catalogue (policy, validation), land in the
//! execution's call log and emit tool events; closing cancels what still runs and frees the
//! port.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use toolbridge::config::{McpServers, ProcessEnv, ServerConfig, parse_policy};
use toolbridge::serve::ExecutionEndpoint;
use toolbridge::{CatalogueBuilder, Policy, Pool, PoolCallOptions, ToolErrorType};
use toolbridge_runtime::{
    CancellationToken, EventCallback, ExecutionEvent, ExecutionId, ExecutionScope, InMemoryControlPlane,
};

use common::*;

fn scope(events: &Arc<Mutex<Vec<ExecutionEvent>>>) -> ExecutionScope {
    let sink = Arc::clone(events);
    let callback = EventCallback::new(move |event: &ExecutionEvent| sink.lock().unwrap().push(event.clone()));
    ExecutionScope::new(
        ExecutionId::random(),
        CancellationToken::new(),
        Some(callback),
        Arc::new(InMemoryControlPlane::new()),
    )
}

/// The endpoint as a client's server config, with the given `Authorization` header.
fn client_config(url: &str, authorization: Option<&str>) -> ServerConfig {
    let mut server = json!({"url": url});
    if let Some(value) = authorization {
        server["headers"] = json!({"Authorization": value});
    }
    let servers = McpServers::from_json(&json!({"endpoint": server}), "test").unwrap();
    servers.resolve("test", &ProcessEnv).unwrap().remove(0)
}

fn args(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

async fn endpoint(pool: &Pool, events: &Arc<Mutex<Vec<ExecutionEvent>>>) -> (ExecutionEndpoint, ExecutionScope) {
    let policy = Policy::compile(&parse_policy(json!({"deny": ["testbed__crash"]}), "test").unwrap()).unwrap();
    let catalogue = CatalogueBuilder::new(pool.clone())
        .servers([testbed_server("testbed", &[])])
        .policy(policy)
        .build()
        .await
        .unwrap();
    let scope = scope(events);
    let endpoint = ExecutionEndpoint::open(Arc::new(catalogue), scope.clone()).await.unwrap();
    (endpoint, scope)
}

#[tokio::test]
async fn calls_through_the_endpoint_are_logged_and_evented() {
    let pool = Pool::default();
    let events = Arc::default();
    let (endpoint, scope) = endpoint(&pool, &events).await;
    assert!(endpoint.url().starts_with("http://127.0.0.1:"), "{}", endpoint.url());
    let (header, value) = endpoint.authorization();
    assert_eq!(header, "Authorization");

    let client = Pool::default();
    let server = client.connect(&client_config(endpoint.url(), Some(&value))).await.unwrap();
    let tools = server.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"testbed__echo"), "{names:?}");
    assert!(!names.contains(&"testbed__crash"), "policy-denied tools are not offered: {names:?}");

    let output =
        server.call_tool("testbed__echo", args(json!({"message": "hi"})), PoolCallOptions::default()).await.unwrap();
    assert_eq!(text(&output), "Echo: hi");
    // Denied and invalid calls are refused, and logged all the same.
    let denied = server.call_tool("testbed__crash", None, PoolCallOptions::default()).await.unwrap();
    assert!(denied.is_error && denied.text.contains("denied by policy"), "{denied:?}");
    let invalid =
        server.call_tool("testbed__add", args(json!({"a": "two"})), PoolCallOptions::default()).await.unwrap();
    assert!(invalid.is_error, "{invalid:?}");

    let log = scope.call_log().records();
    let summary: Vec<_> = log.iter().map(|r| (r.tool.as_str(), r.success, r.error_type)).collect();
    assert_eq!(
        summary,
        [
            ("testbed__echo", true, None),
            ("testbed__crash", false, Some(ToolErrorType::PolicyDenied)),
            ("testbed__add", false, Some(ToolErrorType::InvalidArguments)),
        ]
    );
    assert_eq!(log[0].input, json!({"message": "hi"}));
    assert_eq!(log[0].tool_use_id, "mcp-1");
    let names: Vec<&str> = events.lock().unwrap().iter().map(ExecutionEvent::name).collect();
    assert_eq!(names, ["tool_start", "tool_complete", "tool_start", "tool_complete", "tool_start", "tool_complete"]);

    client.shutdown().await;
    endpoint.close().await;
    pool.shutdown().await;
}

#[tokio::test]
async fn the_token_is_required() {
    let pool = Pool::default();
    let events = Arc::default();
    let (endpoint, _scope) = endpoint(&pool, &events).await;
    let client = Pool::default();
    for authorization in [None, Some("Bearer not-the-token")] {
        let refused = client.connect(&client_config(endpoint.url(), authorization)).await;
        let error = refused.expect_err("no session without the token").to_string();
        // Without a header the server looks like one that wants an OAuth login; with a wrong
        // one, the configured credential is named as refused.
        let expected =
            if authorization.is_some() { "refused the Authorization header" } else { "needs an OAuth login" };
        assert!(error.contains(expected), "{error}");
    }
    endpoint.close().await;
    pool.shutdown().await;
}

#[tokio::test]
async fn closing_cancels_running_calls_and_frees_the_port() {
    let pool = Pool::default();
    let events = Arc::default();
    let (endpoint, scope) = endpoint(&pool, &events).await;
    let url = endpoint.url().to_owned();
    let (_, value) = endpoint.authorization();
    let client = Pool::default();
    let server = client.connect(&client_config(&url, Some(&value))).await.unwrap();
    let call = tokio::spawn({
        let server = server.clone();
        async move { server.call_tool("testbed__sleep_ms", args(json!({"ms": 30_000})), PoolCallOptions::default()).await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while scope.call_log().pending() == 0 {
        assert!(Instant::now() < deadline, "the call never reached the endpoint");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    endpoint.close().await;
    assert!(started.elapsed() < Duration::from_secs(3), "closed in {:?}", started.elapsed());
    let log = scope.call_log().records();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].error_type, Some(ToolErrorType::Cancelled), "{log:?}");
    let answer = tokio::time::timeout(Duration::from_secs(3), call).await.expect("the client's call ends too");
    let answer = answer.unwrap().expect("the cancelled call's answer");
    assert!(answer.is_error && answer.text.contains("cancel"), "{answer:?}");
    // The port is free: nothing answers there any more.
    let refused = tokio::net::TcpStream::connect(url.trim_start_matches("http://").trim_end_matches("/mcp")).await;
    assert!(refused.is_err(), "still listening after close");
    client.shutdown().await;
    pool.shutdown().await;
}
