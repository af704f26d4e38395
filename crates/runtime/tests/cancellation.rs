//! Cancellation: mid-execution, mid-stream, an implementation that ignores the token, a
//! runtime that asks for a longer grace; `after_execute` runs either way.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use serde_json::json;
use toolbridge_runtime::*;

#[tokio::test]
async fn cancel_mid_execution() {
    let f = fixture();
    let runtime = f.runtime();
    let context = ctx("slow").runtime_config(json!({"delay_ms": 10_000}));
    let (task, id) = start(&runtime, context).await;
    let started = Instant::now();
    assert!(runtime.cancel(&id).await);
    let result = task.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(result.finish_reason, Some(FinishReason::Cancelled));
    assert!(!result.success);
    assert_eq!(result.response, "interrupted", "the runtime's own partial result is kept");
    assert!(!f.deps.cancellation.is_active(&id), "token cleaned up");
    assert!(!runtime.cancel(&id).await, "nothing left to cancel");
    assert_eq!(f.control_plane.records().len(), 1, "a cancelled execution is still recorded");
}

#[tokio::test]
async fn cancel_an_implementation_that_ignores_the_token() {
    let f = fixture();
    let runtime = f.runtime();
    let context = ctx("stubborn").runtime_config(json!({"delay_ms": 30_000, "ignore_cancel": true}));
    let (task, id) = start(&runtime, context).await;
    let started = Instant::now();
    assert!(runtime.cancel(&id).await);
    let result = task.await.unwrap();
    assert!(started.elapsed() < CANCEL_GRACE + Duration::from_millis(500));
    assert_eq!(result.finish_reason, Some(FinishReason::Cancelled));
}

#[tokio::test]
async fn cancel_mid_stream_keeps_partial_response() {
    let f = fixture();
    let runtime = f.runtime();
    let context = ctx("stream").runtime_config(json!({"chunks": 10, "delay_ms": 50}));
    let id = context.execution_id.clone();
    let mut stream = runtime.stream_execute(context, None);
    let first = stream.next().await.unwrap();
    assert_eq!(first.response, "part0 ");
    assert!(runtime.cancel(&id).await);
    let rest: Vec<_> = stream.collect().await;
    let last = rest.last().unwrap();
    assert_eq!(last.finish_reason, Some(FinishReason::Cancelled));
    assert!(last.response.starts_with("part0 "));
    assert!(!f.deps.cancellation.is_active(&id));
    assert_eq!(f.journal().last().map(String::as_str), Some("after:cancelled"), "after_execute ran");
}

/// One rule for both: `after_execute` runs after a cancelled `execute` and after a cancelled
/// `stream_execute`.
#[tokio::test]
async fn after_execute_runs_after_cancellation_both_ways() {
    let f = fixture();
    let runtime = f.runtime();
    let context = ctx("slow").runtime_config(json!({"delay_ms": 10_000}));
    let (task, id) = start(&runtime, context).await;
    runtime.cancel(&id).await;
    assert_eq!(task.await.unwrap().finish_reason, Some(FinishReason::Cancelled));
    assert_eq!(f.journal(), ["validate", "before", "impl", "after:cancelled"]);
}

#[tokio::test]
async fn a_runtime_can_ask_for_a_longer_cancel_grace() {
    for (grace, keeps_own_result) in [(CANCEL_GRACE * 4, true), (CANCEL_GRACE, false)] {
        let runtime = RuntimeHandle::new(SlowToStop { grace }, RuntimeDeps::default());
        let context = ctx("x");
        let (task, id) = start(&runtime, context).await;
        runtime.cancel(&id).await;
        let result = task.await.unwrap();
        assert_eq!(result.finish_reason, Some(FinishReason::Cancelled));
        assert_eq!(result.response == "stopped in my own time", keeps_own_result, "grace {grace:?}: {result:?}");
    }
}
