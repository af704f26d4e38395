//! The direct stdio path of `tools/call` (`pool/wire.rs`) against real testbed processes: every
//! behaviour of rmcp's path kept — progress routed to the call's responder by its token,
//! `notifications/cancelled` on a timeout or a dropped call, connection loss mid-call with the
//! server's last stderr lines.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use toolbridge::{PoolCallOptions as CallOptions, Progress, Responder, ServerHandle, ToolError};

use common::*;

fn args(value: serde_json::Value) -> Option<serde_json::Map<String, serde_json::Value>> {
    match value {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Records the progress it hears.
#[derive(Debug, Default)]
struct Recorder {
    progress: Mutex<Vec<(f64, Option<f64>)>>,
}

#[async_trait::async_trait]
impl Responder for Recorder {
    async fn progress(&self, _server: &str, progress: Progress) {
        self.progress.lock().unwrap().push((progress.progress, progress.total));
    }
}

async fn stats(handle: &ServerHandle) -> serde_json::Value {
    let stats = handle.call_tool("stats", None, CallOptions::default()).await.unwrap();
    serde_json::from_str(&text(&stats)).unwrap()
}

/// How many requests the testbed saw cancelled, once it reaches `expected` or after 3 s.
async fn cancelled_on_server(handle: &ServerHandle, expected: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let cancelled = stats(handle).await["cancelled"].as_u64().unwrap();
        if cancelled >= expected || Instant::now() > deadline {
            return cancelled;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn progress_reaches_each_calls_own_responder() {
    let pool = toolbridge::Pool::default();
    let handle = pool.connect(&testbed_server("p", &[])).await.unwrap();
    let (first, second) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let call = |steps: u32, recorder: &Arc<Recorder>| {
        let options = CallOptions { responder: Some(recorder.clone() as Arc<dyn Responder>), ..CallOptions::default() };
        let handle = handle.clone();
        async move { handle.call_tool("progress", args(json!({"steps": steps})), options).await }
    };
    // Two calls at once on one connection: each hears only its own token's progress.
    let (a, b) = tokio::join!(call(3, &first), call(5, &second));
    assert_eq!(text(&a.unwrap()), "done 3 steps");
    assert_eq!(text(&b.unwrap()), "done 5 steps");
    // Progress notifications are handled on rmcp's loop; the last may land just after the answer.
    let deadline = Instant::now() + Duration::from_secs(3);
    while (first.progress.lock().unwrap().len() < 3 || second.progress.lock().unwrap().len() < 5)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let heard = |r: &Recorder| r.progress.lock().unwrap().clone();
    assert_eq!(heard(&first), vec![(1.0, Some(3.0)), (2.0, Some(3.0)), (3.0, Some(3.0))]);
    assert_eq!(heard(&second).len(), 5);
    assert!(heard(&second).iter().all(|(_, total)| *total == Some(5.0)));
    // Without a responder no token is sent: the server reports nothing, the call still answers.
    let plain = handle.call_tool("progress", args(json!({"steps": 2})), CallOptions::default()).await.unwrap();
    assert_eq!(text(&plain), "done 2 steps");
    pool.shutdown().await;
}

#[tokio::test]
async fn a_timed_out_or_dropped_call_is_cancelled_on_the_server() {
    let pool = toolbridge::Pool::default();
    let handle = pool.connect(&testbed_server("c", &[])).await.unwrap();
    let sleep = || args(json!({"ms": 30_000}));
    let options = CallOptions { timeout: Some(Duration::from_millis(200)), ..CallOptions::default() };
    let error = handle.call_tool("sleep_ms", sleep(), options).await.unwrap_err();
    assert!(matches!(error, ToolError::Timeout { .. }), "{error:?}");
    assert_eq!(cancelled_on_server(&handle, 1).await, 1, "a timeout sends notifications/cancelled");
    // The caller going away (its future dropped) cancels too.
    let dropped =
        tokio::time::timeout(Duration::from_millis(200), handle.call_tool("sleep_ms", sleep(), CallOptions::default()))
            .await;
    assert!(dropped.is_err());
    assert_eq!(cancelled_on_server(&handle, 2).await, 2, "a dropped call sends notifications/cancelled");
    // The connection carries on.
    let echo = handle.call_tool("echo", args(json!({"message": "after"})), CallOptions::default()).await.unwrap();
    assert_eq!(text(&echo), "Echo: after");
    pool.shutdown().await;
}

#[tokio::test]
async fn connection_loss_mid_call_fails_the_call_with_the_servers_last_words() {
    let pool = toolbridge::Pool::default();
    let handle = pool.connect(&testbed_server("x", &[])).await.unwrap();
    let started = Instant::now();
    let error = handle.call_tool("crash", args(json!({"exit_code": 3})), CallOptions::default()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "loss is noticed at once, not at the timeout");
    match &error {
        ToolError::Unavailable { reason, .. } => {
            assert!(reason.contains("connection was lost"), "{reason}");
            assert!(reason.contains("crashing on request"), "the stderr tail is in the error: {reason}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // Calls in flight on the lost connection fail too, and the next call restarts the server.
    let echo = handle.call_tool("echo", args(json!({"message": "back"})), CallOptions::default()).await.unwrap();
    assert_eq!(text(&echo), "Echo: back");
    pool.shutdown().await;
}

#[tokio::test]
async fn many_concurrent_direct_calls_each_get_their_own_answer() {
    let pool = toolbridge::Pool::default();
    let handle = pool.connect(&testbed_server("m", &[])).await.unwrap();
    let calls = (0..200).map(|i| {
        let handle = handle.clone();
        async move {
            let output =
                handle.call_tool("echo", args(json!({"message": format!("m{i}")})), CallOptions::default()).await;
            (i, text(&output.unwrap()))
        }
    });
    for (i, answer) in futures::future::join_all(calls).await {
        assert_eq!(answer, format!("Echo: m{i}"));
    }
    // A tool error result and a JSON-RPC error both come back through the direct path.
    let failed = handle.call_tool("fail", args(json!({"message": "no"})), CallOptions::default()).await.unwrap();
    assert!(failed.is_error, "{failed:?}");
    let unknown = handle.call_tool("no_such_tool", None, CallOptions::default()).await.unwrap_err();
    assert!(matches!(unknown, ToolError::Protocol { .. }), "{unknown:?}");
    pool.shutdown().await;
}
