//! Durable executions against a Temporal dev server (started by the tests; installed by
//! `scripts/setup-temporal.sh`), with real worker processes, the real testbed MCP server and a
//! scripted model.
#![cfg(feature = "temporal")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use toolbridge_runtime::{EventCallback, ExecutionEvent, FinishReason, ToolErrorType};
use toolbridge_test_support::temporal::DevServer;

use common::{WorkerProcess, context, lines, queue, runtimes, testbed_servers, transcript, wait_for_line};

/// Fast loss detection for the tests: a worker that stops heartbeating is lost after 2 s.
fn fast() -> serde_json::Value {
    json!({"heartbeat_timeout_ms": 2000})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_tool_execution_completes_on_a_worker_with_the_in_process_shape() {
    let server = DevServer::shared();
    let queue = queue("multi");
    let _worker = WorkerProcess::start(server, &queue);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("side-effects.txt");
    let script = transcript(
        dir.path(),
        &json!([
            {"content": "Let me look.", "tool_calls": [
                {"name": "testbed__echo", "arguments": {"message": "hi"}},
                {"name": "testbed__add", "arguments": {"a": 2, "b": 3}},
            ]},
            {"tool_calls": [{"name": "testbed__append", "arguments": {"path": file, "line": "one"}}]},
            {"tool_calls": [{"name": "testbed__nope", "arguments": {}}]},
            {"content": "Done: {{last_tool_result}}"},
        ]),
    );
    let pool = toolbridge::Pool::default();
    let (durable, local) = runtimes(server, &queue, &pool);

    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let callback = EventCallback::new(move |event: &ExecutionEvent| sink.lock().unwrap().push(event.clone()));
    let mut stream = durable.stream_execute(context("go", &script, testbed_servers(&json!({}))), Some(callback));
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item);
    }
    let remote = items.pop().unwrap();
    assert!(remote.success, "{remote:?}");
    assert_eq!(remote.finish_reason, Some(FinishReason::Stop));
    assert!(items.iter().all(|partial| partial.finish_reason.is_none()), "partials come first");

    let in_process = local.execute(&context("go", &script, testbed_servers(&json!({})))).await;
    assert!(in_process.success, "{in_process:?}");
    assert_eq!(remote.response, in_process.response);
    assert_eq!(remote.usage, in_process.usage);
    assert_eq!(remote.tool_messages, in_process.tool_messages);
    assert_eq!(remote.model, in_process.model);
    for key in ["iterations", "tools_offered", "mcp_servers"] {
        assert_eq!(remote.metadata.get(key), in_process.metadata.get(key), "metadata.{key}");
    }
    let calls = |result: &toolbridge_runtime::RuntimeExecutionResult| {
        result
            .tool_execution_messages
            .clone()
            .unwrap()
            .into_iter()
            .map(|r| (r.tool, r.tool_use_id, r.source, r.server, r.input, r.output, r.success, r.error_type))
            .collect::<Vec<_>>()
    };
    assert_eq!(calls(&remote), calls(&in_process));
    assert_eq!(calls(&remote).len(), 4);
    assert_eq!(calls(&remote)[3].7, Some(ToolErrorType::UnknownTool));
    assert_eq!(lines(&file), ["one", "one"], "one append per execution, none repeated");

    let events = events.lock().unwrap().clone();
    let named = |name: &str| events.iter().filter(|e| e.name() == name).count();
    assert_eq!(named("tool_start"), 4);
    assert_eq!(named("tool_complete"), 4);
    assert_eq!(named("usage"), 4);
    assert_eq!(named("done"), 1);
    let streamed: String = events
        .iter()
        .filter_map(|e| match e {
            ExecutionEvent::ContentChunk { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, remote.response);
    assert_eq!(durable.get_usage(&remote_id(&remote)).await.unwrap().total_tokens, remote.usage.total_tokens);
    pool.shutdown().await;
}

fn remote_id(result: &toolbridge_runtime::RuntimeExecutionResult) -> toolbridge_runtime::ExecutionId {
    toolbridge_runtime::ExecutionId::new(result.run_id.clone().unwrap())
}

/// Runs an execution whose third tool call is slow, kills its worker during that call, starts
/// another: the execution completes, the calls done before are not run again, and the log is
/// complete and in order. Returns the result and the side-effect file's lines.
async fn kill_the_worker_mid_call(idempotent: bool) -> (toolbridge_runtime::RuntimeExecutionResult, Vec<String>) {
    let server = DevServer::shared();
    let queue = queue(if idempotent { "kill-idem" } else { "kill" });
    let mut first = WorkerProcess::start(server, &queue);
    let dir = tempfile::tempdir().unwrap();
    let (file, started) = (dir.path().join("effects.txt"), dir.path().join("started.txt"));
    let append = |line: &str, delay: Option<u64>| json!({"name": "testbed__append", "arguments": {"path": file, "line": line, "delay_ms": delay, "started": started}});
    let script = transcript(
        dir.path(),
        &json!([
            {"tool_calls": [append("a", None)]},
            {"tool_calls": [append("b", None)]},
            {"tool_calls": [append("slow", Some(3000))]},
            {"tool_calls": [append("c", None)]},
            {"content": "all done"},
        ]),
    );
    let pool = toolbridge::Pool::default();
    let (durable, _) = runtimes(server, &queue, &pool);
    let servers = testbed_servers(&if idempotent { json!({"idempotent": ["app*"]}) } else { json!({}) });
    let mut ctx = context("go", &script, servers);
    ctx.runtime_config = Some(fast());
    let running = tokio::spawn(async move { durable.execute(&ctx).await });

    let started_path = started.clone();
    tokio::task::spawn_blocking(move || wait_for_line(&started_path, "slow")).await.unwrap();
    first.kill9();
    assert_eq!(lines(&file), ["a", "b"], "the slow call had not written yet");
    let _second = WorkerProcess::start(server, &queue);
    let result = tokio::time::timeout(Duration::from_secs(90), running).await.expect("completes").unwrap();
    pool.shutdown().await;
    (result, lines(&file))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_replaced_and_completed_calls_are_not_repeated() {
    let (result, effects) = kill_the_worker_mid_call(false).await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.finish_reason, Some(FinishReason::Stop));
    assert_eq!(effects, ["a", "b", "c"], "a and b ran once; the lost call was not run again");
    let log = result.tool_execution_messages.unwrap();
    let lines: Vec<&str> = log.iter().map(|r| r.input["line"].as_str().unwrap()).collect();
    assert_eq!(lines, ["a", "b", "slow", "c"], "the log is complete and in call order");
    assert!(log[0].success && log[1].success && log[3].success);
    let lost = &log[2];
    assert!(!lost.success);
    assert_eq!(lost.error_type, Some(ToolErrorType::Timeout));
    assert!(lost.output.contains("not marked idempotent"), "{}", lost.output);
    assert_eq!(lost.metadata["durable"]["retried"], false);
    assert_eq!(
        log.iter().map(|r| r.tool_use_id.as_str()).collect::<Vec<_>>(),
        ["call_0_0", "call_1_0", "call_2_0", "call_3_0"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_call_lost_with_its_worker_runs_again_elsewhere() {
    let (result, effects) = kill_the_worker_mid_call(true).await;
    assert!(result.success, "{result:?}");
    assert_eq!(effects, ["a", "b", "slow", "c"], "the lost call ran again, once, on the new worker");
    let log = result.tool_execution_messages.unwrap();
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|r| r.success), "{log:?}");
    assert_eq!(log[2].metadata["attempt"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_during_a_tool_call_stops_the_call() {
    let server = DevServer::shared();
    let queue = queue("cancel");
    let _worker = WorkerProcess::start(server, &queue);
    let dir = tempfile::tempdir().unwrap();
    let (file, started) = (dir.path().join("effects.txt"), dir.path().join("started.txt"));
    let script = transcript(
        dir.path(),
        &json!([
            {"tool_calls": [{"name": "testbed__append", "arguments": {"path": file, "line": "x", "delay_ms": 30000, "started": started}}]},
            {"content": "never"},
        ]),
    );
    let pool = toolbridge::Pool::default();
    let (durable, _) = runtimes(server, &queue, &pool);
    let mut ctx = context("go", &script, testbed_servers(&json!({})));
    ctx.runtime_config = Some(fast());
    let id = ctx.execution_id.clone();
    let runner = durable.clone();
    let running = tokio::spawn(async move { runner.execute(&ctx).await });
    let started_path = started.clone();
    tokio::task::spawn_blocking(move || wait_for_line(&started_path, "x")).await.unwrap();
    let cancelled_at = Instant::now();
    assert!(durable.cancel(&id).await);
    let result = tokio::time::timeout(Duration::from_secs(30), running).await.expect("ends").unwrap();
    assert!(cancelled_at.elapsed() < Duration::from_secs(10), "took {:?}", cancelled_at.elapsed());
    assert_eq!(result.finish_reason, Some(FinishReason::Cancelled));
    assert!(!result.success);
    let log = result.tool_execution_messages.unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].error_type, Some(ToolErrorType::Cancelled));
    std::thread::sleep(Duration::from_millis(300));
    assert!(lines(&file).is_empty(), "the call stopped before writing");
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_twenty_executions() {
    let server = DevServer::shared();
    let queue = queue("share");
    let _workers = [WorkerProcess::start(server, &queue), WorkerProcess::start(server, &queue)];
    let dir = tempfile::tempdir().unwrap();
    let script = transcript(
        dir.path(),
        &json!([
            {"tool_calls": [{"name": "testbed__pid", "arguments": {}}]},
            {"tool_calls": [{"name": "testbed__sleep_ms", "arguments": {"ms": 200}}]},
            {"content": "{{last_tool_result}}"},
        ]),
    );
    let pool = toolbridge::Pool::default();
    let (durable, _) = runtimes(server, &queue, &pool);
    let runs = (0..20).map(|i| {
        let durable = durable.clone();
        let ctx = context(&format!("run {i}"), &script, testbed_servers(&json!({})));
        tokio::spawn(async move { durable.execute(&ctx).await })
    });
    let results = futures::future::join_all(runs).await;
    let mut pids = std::collections::BTreeSet::new();
    for result in results {
        let result = result.unwrap();
        assert!(result.success, "{result:?}");
        let log = result.tool_execution_messages.unwrap();
        pids.insert(log[0].output.clone());
    }
    assert_eq!(pids.len(), 2, "both workers ran tool calls (one testbed process each): {pids:?}");
    pool.shutdown().await;
}

#[test]
fn a_worker_that_cannot_reach_the_server_says_so_and_exits() {
    let port = toolbridge_test_support::temporal::free_port();
    let started = Instant::now();
    let Err(error) = WorkerProcess::start_with(&format!("127.0.0.1:{port}"), "nowhere", &[]) else {
        panic!("a worker started without a server");
    };
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert!(error.contains(&format!("cannot reach the Temporal server at 127.0.0.1:{port}")), "{error}");
}
