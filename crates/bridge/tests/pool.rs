//! The supervised pool against real testbed-mcp processes and real HTTP.

mod common;

use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::sync::CancellationToken;
use toolbridge::config::{SecretValue, ServerConfig, TransportConfig};
use toolbridge::{Pool, PoolCallOptions as CallOptions, PoolOptions, ServerHandle, ToolError};

use common::*;

fn args(value: serde_json::Value) -> Option<serde_json::Map<String, serde_json::Value>> {
    match value {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

async fn pid_of(handle: &ServerHandle) -> i32 {
    let result = handle.call_tool("pid", None, CallOptions::default()).await.expect("pid");
    text(&result).parse().expect("a pid")
}

/// How many requests the testbed saw cancelled, once it reaches `expected` (the notification
/// is asynchronous) or after a few seconds.
async fn cancelled_on_server(handle: &ServerHandle, expected: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let stats = handle.call_tool("stats", None, CallOptions::default()).await.unwrap();
        let stats: serde_json::Value = serde_json::from_str(&text(&stats)).unwrap();
        let cancelled = stats["cancelled"].as_u64().unwrap();
        if cancelled >= expected || Instant::now() > deadline {
            return cancelled;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn concurrent_calls_share_one_connection() {
    let pool = Pool::default();
    let handle = pool.connect(&testbed_server("t", &[])).await.unwrap();
    let pid = pid_of(&handle).await;
    let calls = (0..100).map(|i| {
        let handle = handle.clone();
        async move {
            text(
                &handle
                    .call_tool("echo", args(json!({"message": format!("m{i}")})), CallOptions::default())
                    .await
                    .unwrap(),
            )
        }
    });
    let answers = futures::future::join_all(calls).await;
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer, &format!("Echo: m{i}"));
    }
    assert_eq!(pid_of(&handle).await, pid, "one process served everything");
    assert_eq!(pool.stats().starts, 1);
    pool.shutdown().await;
    assert!(gone_within(pid, Duration::from_secs(3)), "server {pid} left behind");
}

#[tokio::test]
async fn same_config_shares_a_process_and_other_env_does_not() {
    let pool = Pool::default();
    let a = testbed_server("t", &[]);
    let mut b = testbed_server("t", &[]);
    if let TransportConfig::Stdio(stdio) = &mut b.transport {
        stdio.env.insert("TESTBED_MARK".into(), SecretValue::new("b"));
    }
    let (first, second, other) = tokio::join!(pool.connect(&a), pool.connect(&a), pool.connect(&b));
    let (first, second, other) = (first.unwrap(), second.unwrap(), other.unwrap());
    let (p1, p2, p3) = (pid_of(&first).await, pid_of(&second).await, pid_of(&other).await);
    assert_eq!(p1, p2);
    assert_ne!(p1, p3);
    let mark = other.call_tool("env", args(json!({"name": "TESTBED_MARK"})), CallOptions::default()).await.unwrap();
    assert_eq!(text(&mark), "b", "configured env reaches the child");
    assert_eq!(pool.stats().starts, 2);
    pool.shutdown().await;
    assert!(gone_within(p1, Duration::from_secs(3)) && gone_within(p3, Duration::from_secs(3)));
}

#[tokio::test]
async fn crash_mid_call_fails_fast_and_the_next_call_restarts() {
    let pool = Pool::default();
    let handle = pool.connect(&testbed_server("t", &[])).await.unwrap();
    let before = pid_of(&handle).await;
    let started = Instant::now();
    let error = handle.call_tool("crash", None, CallOptions::default()).await.unwrap_err();
    assert!(matches!(error, ToolError::Unavailable { .. }), "{error}");
    assert!(error.to_string().contains("crashing on request"), "stderr tail in: {error}");
    assert!(started.elapsed() < Duration::from_secs(5), "detected, not waited on");
    let after = pid_of(&handle).await;
    assert_ne!(before, after, "a new process");
    assert_eq!(pool.stats().restarts, 1);
    pool.shutdown().await;
    assert!(gone_within(after, Duration::from_secs(3)));
}

#[tokio::test]
async fn hang_times_out_and_the_hung_server_is_replaced() {
    let pool = Pool::new(PoolOptions { ping_grace: Duration::from_millis(300), ..PoolOptions::default() });
    let handle = pool.connect(&testbed_server("t", &[])).await.unwrap();
    let pid = pid_of(&handle).await;
    let started = Instant::now();
    let options = CallOptions { timeout: Some(Duration::from_millis(300)), ..CallOptions::default() };
    let error = handle.call_tool("hang", None, options).await.unwrap_err();
    assert!(matches!(error, ToolError::Timeout { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The testbed answers pings while `hang` is pending, so it is not killed: calls still work.
    assert_eq!(
        text(&handle.call_tool("echo", args(json!({"message": "still"})), CallOptions::default()).await.unwrap()),
        "Echo: still"
    );
    assert_eq!(pid_of(&handle).await, pid);
    pool.shutdown().await;
    assert!(gone_within(pid, Duration::from_secs(3)));
}

#[tokio::test]
async fn cancellation_stops_the_wait() {
    let pool = Pool::default();
    let handle = pool.connect(&testbed_server("t", &[])).await.unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let options = CallOptions { cancel: Some(cancel), ..CallOptions::default() };
    let error = handle.call_tool("sleep_ms", args(json!({"ms": 20000})), options).await.unwrap_err();
    assert!(matches!(error, ToolError::Cancelled), "{error}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        text(&handle.call_tool("echo", args(json!({"message": "ok"})), CallOptions::default()).await.unwrap()),
        "Echo: ok"
    );
    assert_eq!(cancelled_on_server(&handle, 1).await, 1, "the server was sent notifications/cancelled");
    // A timeout cancels on the server too.
    let options = CallOptions { timeout: Some(Duration::from_millis(200)), ..CallOptions::default() };
    let error = handle.call_tool("sleep_ms", args(json!({"ms": 20000})), options).await.unwrap_err();
    assert!(matches!(error, ToolError::Timeout { .. }), "{error}");
    assert_eq!(cancelled_on_server(&handle, 2).await, 2);
    pool.shutdown().await;
}

#[tokio::test]
async fn never_init_reports_the_stderr_tail_within_the_startup_timeout() {
    let pool = Pool::default();
    let mut server = testbed_server("stuck", &["--never-init", "--stderr-lines", "2"]);
    server.startup_timeout = Duration::from_millis(700);
    let started = Instant::now();
    let error = pool.connect(&server).await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(error.contains("did not answer initialize"), "{error}");
    assert!(error.contains("stderr line 1"), "{error}");
    pool.shutdown().await;
}

#[tokio::test]
async fn missing_command_is_named() {
    let pool = Pool::default();
    let error = pool.connect(&ServerConfig::stdio("x", "/no/such/binary", &[])).await.unwrap_err().to_string();
    assert!(error.contains("/no/such/binary") && error.contains("not found"), "{error}");
    pool.shutdown().await;
}

#[tokio::test]
async fn list_changed_refreshes_the_tools() {
    let pool = Pool::default();
    let handle = pool.connect(&testbed_server("t", &[])).await.unwrap();
    let before = handle.list_tools().await.unwrap();
    assert!(!before.iter().any(|t| t.name == "fresh"));
    handle.call_tool("notify_list_changed", args(json!({"name": "fresh"})), CallOptions::default()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let tools = handle.list_tools().await.unwrap();
        if tools.iter().any(|t| t.name == "fresh") {
            break;
        }
        assert!(Instant::now() < deadline, "the tool list was not refreshed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pool.shutdown().await;
}

#[tokio::test]
async fn shutdown_kills_grandchildren() {
    let pool = Pool::default();
    let handle = pool.connect(&testbed_server("t", &[])).await.unwrap();
    let server_pid = pid_of(&handle).await;
    let grandchild: i32 =
        text(&handle.call_tool("spawn_grandchild", None, CallOptions::default()).await.unwrap()).parse().unwrap();
    assert!(alive(grandchild));
    pool.shutdown().await;
    assert!(gone_within(grandchild, Duration::from_secs(3)), "grandchild {grandchild} survived");
    assert!(gone_within(server_pid, Duration::from_secs(3)));
}

#[tokio::test]
async fn idle_connections_are_evicted_and_come_back() {
    let pool = Pool::new(PoolOptions { idle_timeout: Some(Duration::from_millis(200)), ..PoolOptions::default() });
    let handle = pool.connect(&testbed_server("t", &[])).await.unwrap();
    let pid = pid_of(&handle).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(gone_within(pid, Duration::from_secs(3)), "idle server closed");
    assert_eq!(pool.stats().evictions, 1);
    let again = pid_of(&handle).await;
    assert_ne!(again, pid);
    pool.shutdown().await;
    assert!(gone_within(again, Duration::from_secs(3)));
}

#[tokio::test]
async fn eight_servers_start_in_parallel() {
    let pool = Pool::default();
    let servers: Vec<ServerConfig> =
        (0..8).map(|i| testbed_server(&format!("s{i}"), &["--init-delay-ms", "500"])).collect();
    let started = Instant::now();
    let results = pool.connect_all(&servers).await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(|(_, r)| r.is_ok()));
    assert!(elapsed < Duration::from_millis(2500), "8 × 500 ms in parallel took {elapsed:?}");
    assert_eq!(pool.stats().live_servers, 8);
    pool.shutdown().await;
}

#[tokio::test]
async fn a_failing_server_does_not_stop_the_others() {
    let pool = Pool::default();
    let servers = vec![testbed_server("good", &[]), ServerConfig::stdio("bad", "/no/such/binary", &[])];
    let results = pool.connect_all(&servers).await;
    assert!(results[0].1.is_ok());
    assert!(results[1].1.as_ref().unwrap_err().to_string().contains("bad"));
    pool.shutdown().await;
}

#[tokio::test]
async fn http_with_a_bearer_header() {
    let mut child = tokio::process::Command::new(testbed())
        .args(["--http", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let url = loop {
        let line = lines.next_line().await.unwrap().expect("the server printed its address");
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_owned();
        }
    };
    let mut server = ServerConfig::http("remote", url);
    if let TransportConfig::Http(http) = &mut server.transport {
        http.headers.insert("Authorization".into(), SecretValue::new("Bearer test-token"));
    }
    let pool = Pool::default();
    let handle = pool.connect(&server).await.unwrap();
    let result = handle.call_tool("echo", args(json!({"message": "over http"})), CallOptions::default()).await.unwrap();
    assert_eq!(text(&result), "Echo: over http");
    assert!(handle.list_tools().await.unwrap().iter().any(|t| t.name == "add"));
    pool.shutdown().await;
    child.kill().await.unwrap();
}

/// A call whose future is dropped mid-call (an execution abandoned after the cancel grace)
/// counts itself out: the connection is still evicted when idle.
#[tokio::test]
async fn a_dropped_call_does_not_keep_its_connection_busy() {
    let pool = Pool::new(PoolOptions { idle_timeout: Some(Duration::from_millis(300)), ..PoolOptions::default() });
    let handle = pool.connect(&testbed_server("t", &[])).await.unwrap();
    let call = handle.call_tool("hang", None, CallOptions::default());
    // The future is dropped from outside the pool, as an abandoned execution's would be.
    assert!(tokio::time::timeout(Duration::from_millis(200), call).await.is_err());
    assert_eq!(handle.in_flight(), 0, "the in-flight count came back down");
    let deadline = Instant::now() + Duration::from_secs(5);
    while pool.stats().evictions == 0 {
        assert!(Instant::now() < deadline, "the idle connection was never evicted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pool.shutdown().await;
}
