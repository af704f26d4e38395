//! Fault cases of RELIABILITY.md against real testbed processes.

mod common;

use std::time::{Duration, Instant};

use serde_json::json;
use toolbridge::{
    CallLog, CallOptions, CatalogueBuilder, CatalogueOptions, Pool, PoolCallOptions, RawArguments, ToolErrorType,
};

use common::*;

#[tokio::test]
async fn garbage_on_stdout_before_serving() {
    let pool = Pool::default();
    let outcome = pool.connect(&testbed_server("g", &["--garbage-stdout"])).await;
    match outcome {
        // Either the client skips the garbage and works…
        Ok(handle) => {
            let result = handle
                .call_tool("echo", json!({"message": "x"}).as_object().cloned(), PoolCallOptions::default())
                .await
                .unwrap();
            assert_eq!(text(&result), "Echo: x");
        }
        // …or it fails to start with a clear error; it must not hang.
        Err(error) => assert!(error.to_string().contains("\"g\""), "{error}"),
    }
    pool.shutdown().await;
}

#[tokio::test]
async fn stderr_flood_is_drained_and_bounded() {
    let pool = Pool::default();
    let started = Instant::now();
    let handle = pool.connect(&testbed_server("noisy", &["--stderr-lines", "200000"])).await.unwrap();
    let result = handle
        .call_tool("echo", json!({"message": "still here"}).as_object().cloned(), PoolCallOptions::default())
        .await
        .unwrap();
    assert_eq!(text(&result), "Echo: still here");
    assert!(started.elapsed() < Duration::from_secs(20), "a full stderr pipe must not block the server");
    pool.shutdown().await;
}

#[tokio::test]
async fn a_10_mb_output_is_capped_for_the_model() {
    let pool = Pool::default();
    let catalogue = CatalogueBuilder::new(pool.clone())
        .servers([testbed_server("big", &[])])
        .options(CatalogueOptions::default())
        .build()
        .await
        .unwrap();
    let log = CallLog::new();
    // 10 MB: under the 16 MiB message limit (see `a_100_mb_output_fails_fast_and_the_server_comes_back`).
    let args = json!({"bytes": 10_000_000});
    let record =
        catalogue.call(&log, "big__big_output", RawArguments::Value(&args), "b", &CallOptions::default()).await;
    assert!(record.success, "{:?}", record.error);
    assert_eq!(record.error_type, Some(ToolErrorType::OutputTruncated));
    assert!(record.output.len() < 101_000, "{} bytes reached the model", record.output.len());
    assert_eq!(record.metadata["original_bytes"], 10_000_000);
    pool.shutdown().await;
}

#[tokio::test]
async fn a_100_mb_output_fails_fast_and_the_server_comes_back() {
    let pool = Pool::default();
    let catalogue = CatalogueBuilder::new(pool.clone()).servers([testbed_server("huge", &[])]).build().await.unwrap();
    let log = CallLog::new();
    let started = Instant::now();
    let args = json!({"bytes": 100_000_000});
    let record =
        catalogue.call(&log, "huge__big_output", RawArguments::Value(&args), "h", &CallOptions::default()).await;
    let elapsed = started.elapsed();
    assert!(!record.success);
    assert_eq!(record.error_type, Some(ToolErrorType::ServerUnavailable));
    let error = record.error.clone().unwrap_or_default();
    assert!(error.contains("larger than 16777216 bytes") && error.contains("max_message_bytes"), "{error}");
    // Fails as soon as the limit is crossed, not at the 60 s call timeout.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    // The connection was replaced: the next call works on a fresh server.
    let args = json!({"message": "back"});
    let record = catalogue.call(&log, "huge__echo", RawArguments::Value(&args), "e", &CallOptions::default()).await;
    assert!(record.success, "{:?}", record.error);
    assert_eq!(record.output, "Echo: back");
    assert_eq!(pool.stats().restarts, 1);
    pool.shutdown().await;
}

#[tokio::test]
async fn oversized_arguments_are_refused_before_reaching_the_server() {
    let pool = Pool::default();
    let catalogue = CatalogueBuilder::new(pool.clone()).servers([testbed_server("t", &[])]).build().await.unwrap();
    let log = CallLog::new();
    let big = "x".repeat(20 * 1024 * 1024);
    let started = Instant::now();
    // As a value (an embedding platform) and as raw JSON text (a model's tool call).
    let args = json!({"message": big});
    let from_value = catalogue.call(&log, "t__echo", RawArguments::Value(&args), "v", &CallOptions::default()).await;
    let text = args.to_string();
    let from_json = catalogue.call(&log, "t__echo", RawArguments::Json(&text), "j", &CallOptions::default()).await;
    for record in [&from_value, &from_json] {
        assert_eq!(record.error_type, Some(ToolErrorType::InvalidArguments));
        assert!(record.output.contains("20971534 bytes, over the limit of 8388608 bytes"), "{}", record.output);
        // The log keeps the beginning, not 20 MB.
        let input = record.input.as_str().unwrap();
        assert!(input.len() < 1200 && input.starts_with("[20971534 bytes of arguments, not kept] {\"message\":\"xxx"));
    }
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    // Nothing reached the server, which still answers.
    let args = json!({"message": "small"});
    let record = catalogue.call(&log, "t__echo", RawArguments::Value(&args), "s", &CallOptions::default()).await;
    assert_eq!(record.output, "Echo: small");
    assert_eq!(pool.stats().calls, 1);
    pool.shutdown().await;
}

#[tokio::test]
async fn list_changed_storm() {
    let pool = Pool::default();
    let handle = pool.connect(&testbed_server("storm", &[])).await.unwrap();
    for i in 0..50 {
        let name = format!("dyn_{i}");
        handle
            .call_tool("notify_list_changed", json!({"name": name}).as_object().cloned(), PoolCallOptions::default())
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let tools = handle.list_tools().await.unwrap();
        if tools.iter().filter(|t| t.name.starts_with("dyn_")).count() == 50 {
            break;
        }
        assert!(Instant::now() < deadline, "the tool list did not settle");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pool.shutdown().await;
}

#[tokio::test]
async fn a_server_ignoring_cancellation_does_not_block_the_caller() {
    let pool = Pool::default();
    let handle = pool.connect(&testbed_server("stubborn", &[])).await.unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let error = handle
        .call_tool("hang", None, PoolCallOptions { cancel: Some(cancel), ..PoolCallOptions::default() })
        .await
        .unwrap_err();
    assert!(matches!(error, toolbridge::ToolError::Cancelled), "{error}");
    assert!(started.elapsed() < Duration::from_secs(1));
    let result = handle
        .call_tool("echo", json!({"message": "ok"}).as_object().cloned(), PoolCallOptions::default())
        .await
        .unwrap();
    assert_eq!(text(&result), "Echo: ok");
    pool.shutdown().await;
}
