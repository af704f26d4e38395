//! The seed's runtime test list, end to end: the agent loop with the scripted provider or the
//! fake model server over real HTTP, and the testbed MCP server as a real child process.

mod common;

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use toolbridge_providers::fake::{FakeConfig, FakeMode, FakeModelServer, FakeStep, FakeToolCall, FakeTurn};
use toolbridge_runtime::{
    EventCallback, ExecutionEvent, FinishReason, RuntimeExecutionContext, ToolErrorType, ToolSourceKind,
};

use common::*;

fn transcript(turns: &Value) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.json");
    std::fs::write(&path, turns.to_string()).unwrap();
    let model = format!("scripted:{}", path.display());
    (dir, model)
}

fn ctx(prompt: &str, model: &str) -> RuntimeExecutionContext {
    RuntimeExecutionContext::new(prompt).model(model)
}

fn turn(content: &str) -> FakeTurn {
    FakeTurn { content: Some(content.into()), ..FakeTurn::default() }
}

fn tool_turn(calls: &[(&str, Value)]) -> FakeTurn {
    FakeTurn {
        tool_calls: calls.iter().map(|(n, a)| FakeToolCall { name: (*n).into(), arguments: a.to_string() }).collect(),
        ..FakeTurn::default()
    }
}

#[tokio::test]
async fn execute_success_without_tools() {
    let pool = pool();
    let (_dir, model) = transcript(&json!([{"content": "hello there"}]));
    let (runtime, _) = agent_runtime(&pool, "http://127.0.0.1:9");
    let result = runtime.execute(&ctx("hi", &model)).await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.response, "hello there");
    assert_eq!(result.finish_reason, Some(FinishReason::Stop));
    assert!(result.usage.total_tokens > 0);
    assert_eq!(result.usage.model_provider.as_deref(), Some("scripted"));
    assert_eq!(result.tool_execution_messages.as_deref().map(<[_]>::len), Some(0));
    pool.shutdown().await;
}

#[tokio::test]
async fn execute_with_mcp_tools_records_calls_in_order() {
    let pool = pool();
    let (_dir, model) = transcript(&json!([
        {"tool_calls": [
            {"name": "testbed__add", "arguments": {"a": 2, "b": 3}},
            {"name": "testbed__echo", "arguments": {"message": "hi"}},
            {"name": "testbed__sleep_ms", "arguments": {"ms": 50}}
        ]},
        {"content": "done: {{last_tool_result}}"}
    ]));
    let (runtime, _) = agent_runtime(&pool, "http://127.0.0.1:9");
    let mut context = ctx("add", &model);
    context.mcp_servers = testbed_servers(&[]);
    let result = runtime.execute(&context).await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.response, "done: slept 50 ms");
    let log = result.tool_execution_messages.unwrap();
    let names: Vec<&str> = log.iter().map(|r| r.tool.as_str()).collect();
    assert_eq!(names, ["testbed__add", "testbed__echo", "testbed__sleep_ms"]);
    assert_eq!(log[0].output, "5");
    assert_eq!(log[1].output, "Echo: hi");
    assert!(log.iter().all(|r| r.success && r.source == ToolSourceKind::Mcp && r.server.as_deref() == Some("testbed")));
    assert_eq!(log[0].metadata["original_name"], "add");
    let tool_messages = result.tool_messages.unwrap();
    assert_eq!(tool_messages.len(), 4, "one assistant message and three tool results");
    assert_eq!(result.metadata["iterations"], 2);
    pool.shutdown().await;
}

#[tokio::test]
async fn second_execution_reuses_the_pooled_server() {
    let pool = pool();
    let (_dir, model) = transcript(
        &json!([{"tool_calls": [{"name": "testbed__pid", "arguments": {}}]}, {"content": "{{last_tool_result}}"}]),
    );
    let (runtime, _) = agent_runtime(&pool, "http://127.0.0.1:9");
    let mut context = ctx("pid", &model);
    context.mcp_servers = testbed_servers(&[]);
    let first = runtime.execute(&context).await;
    let mut again = ctx("pid", &model);
    again.mcp_servers = testbed_servers(&[]);
    let second = runtime.execute(&again).await;
    assert!(first.success && second.success);
    assert_eq!(first.response, second.response, "same server process");
    pool.shutdown().await;
}

#[tokio::test]
async fn error_handling_keeps_the_tool_log() {
    let pool = pool();
    let server = FakeModelServer::start(FakeConfig {
        mode: FakeMode::Sequence(vec![
            FakeStep::Turn(tool_turn(&[("testbed__echo", json!({"message": "x"}))])),
            FakeStep::Error {
                status: 400,
                body: json!({"error": {"message": "bad request: boom"}}).to_string(),
                retry_after: None,
            },
        ]),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let (runtime, control_plane) = agent_runtime(&pool, &server.openai_base_url());
    let mut context = ctx("x", "openai:test-model");
    context.mcp_servers = testbed_servers(&[]);
    let result = runtime.execute(&context).await;
    assert!(!result.success);
    assert_eq!(result.finish_reason, Some(FinishReason::Error));
    assert!(result.error.as_deref().unwrap().contains("boom"), "{:?}", result.error);
    assert_eq!(result.tool_execution_messages.unwrap().len(), 1, "the call before the failure is kept");
    assert_eq!(control_plane.records().len(), 1, "the failed execution is recorded");
    server.shutdown().await;
    pool.shutdown().await;
}

#[tokio::test]
async fn missing_model_is_an_error_result() {
    let pool = pool();
    let (runtime, _) = agent_runtime(&pool, "http://127.0.0.1:9");
    let result = runtime.execute(&RuntimeExecutionContext::new("hi")).await;
    assert!(!result.success);
    let error = result.error.unwrap();
    assert!(error.contains("no model") && error.contains("TOOLBRIDGE_MODEL"), "says how to give one: {error}");
    assert!(runtime.requires_model());
}

#[tokio::test]
async fn stream_execute_over_http_ends_with_stop_and_usage() {
    let pool = pool();
    let server = FakeModelServer::start(FakeConfig {
        mode: FakeMode::Transcript(vec![
            tool_turn(&[("testbed__add", json!({"a": 1, "b": 2}))]),
            turn("the answer is three"),
        ]),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let (runtime, _) = agent_runtime(&pool, &server.openai_base_url());
    let mut context = ctx("add", "openai:test-model");
    context.mcp_servers = testbed_servers(&[]);
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = events.clone();
    let callback = EventCallback::new(move |e| sink.lock().unwrap().push(e.clone()));
    let chunks: Vec<_> = runtime.stream_execute(context, Some(callback)).collect().await;
    let last = chunks.last().unwrap();
    assert_eq!(last.finish_reason, Some(FinishReason::Stop), "{last:?}");
    assert!(last.usage.total_tokens > 0);
    assert_eq!(last.response, "the answer is three");
    assert!(chunks.len() > 1, "partial results before the last");
    let names: Vec<&str> = events.lock().unwrap().iter().map(ExecutionEvent::name).collect();
    for expected in ["tool_start", "tool_complete", "content_chunk", "usage", "done"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert_eq!(names.last(), Some(&"done"));
    server.shutdown().await;
    pool.shutdown().await;
}

#[tokio::test]
async fn conversation_history_and_system_prompt_reach_the_model() {
    let pool = pool();
    let server =
        FakeModelServer::start(FakeConfig { mode: FakeMode::Transcript(vec![turn("ok")]), ..FakeConfig::default() })
            .await
            .unwrap();
    let (runtime, _) = agent_runtime(&pool, &server.openai_base_url());
    let context = ctx("and now?", "openai:test-model")
        .system_prompt("be brief")
        .history("user", "hi")
        .history("assistant", "hello");
    let result = runtime.execute(&context).await;
    assert!(result.success, "{result:?}");
    let request = server.requests().pop().unwrap();
    let messages = request["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(messages[0]["content"], "be brief");
    assert_eq!(messages[3]["content"], "and now?");
    server.shutdown().await;
}

#[tokio::test]
async fn capabilities_and_config_validation() {
    let pool = pool();
    let (runtime, _) = agent_runtime(&pool, "http://127.0.0.1:9");
    let caps = runtime.capabilities();
    assert!(
        caps.streaming
            && caps.tools
            && caps.mcp
            && caps.hooks
            && caps.cancellation
            && caps.conversation_history
            && caps.custom_tools
    );
    assert_eq!(runtime.runtime_type().as_str(), "agent_loop");
    let (_dir, model) = transcript(&json!([{"content": "x"}]));
    for (config, field) in [
        (json!({"max_iterations": 0}), "max_iterations"),
        (json!({"temperature": "hot"}), "temperature"),
        (json!({"max_iteratons": 3}), "max_iteratons"),
    ] {
        let result = runtime.execute(&ctx("x", &model).runtime_config(config)).await;
        assert!(!result.success);
        assert!(result.error.as_deref().unwrap().contains(field), "{:?} should name {field}", result.error);
    }
}

#[tokio::test]
async fn unknown_tools_and_invalid_arguments_are_recovered_from() {
    let pool = pool();
    let (_dir, model) = transcript(&json!([
        {"tool_calls": [
            {"name": "testbed__nope", "arguments": {}},
            {"name": "testbed__add", "arguments": {"a": "two", "b": 3}},
            {"name": "testbed__echo", "arguments_raw": "{\"message\": "}
        ]},
        {"tool_calls": [{"name": "testbed__add", "arguments": {"a": 2, "b": 3}}]},
        {"content": "fixed: {{last_tool_result}}"}
    ]));
    let (runtime, _) = agent_runtime(&pool, "http://127.0.0.1:9");
    let mut context = ctx("go", &model);
    context.mcp_servers = testbed_servers(&[]);
    let result = runtime.execute(&context).await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.response, "fixed: 5");
    let log = result.tool_execution_messages.unwrap();
    assert_eq!(log[0].error_type, Some(ToolErrorType::UnknownTool));
    assert!(log[0].output.contains("testbed__echo"), "lists available tools: {}", log[0].output);
    assert_eq!(log[1].error_type, Some(ToolErrorType::InvalidArguments));
    assert!(log[1].output.contains('a'), "{}", log[1].output);
    assert_eq!(log[2].error_type, Some(ToolErrorType::InvalidArguments));
    assert!(log[3].success);
    pool.shutdown().await;
}

#[tokio::test]
async fn max_iterations_ends_with_tool_use() {
    let pool = pool();
    let (_dir, model) = transcript(&json!([
        {"tool_calls": [{"name": "testbed__echo", "arguments": {"message": "1"}}]},
        {"tool_calls": [{"name": "testbed__echo", "arguments": {"message": "2"}}]},
        {"tool_calls": [{"name": "testbed__echo", "arguments": {"message": "3"}}]},
        {"content": "never reached"}
    ]));
    let (runtime, _) = agent_runtime(&pool, "http://127.0.0.1:9");
    let mut context = ctx("loop", &model).runtime_config(json!({"max_iterations": 2}));
    context.mcp_servers = testbed_servers(&[]);
    let result = runtime.execute(&context).await;
    assert_eq!(result.finish_reason, Some(FinishReason::ToolUse), "{result:?}");
    assert_eq!(result.tool_execution_messages.unwrap().len(), 1);
    assert_eq!(result.metadata["iterations"], 2);
    pool.shutdown().await;
}

#[tokio::test]
async fn cancellation_mid_tool_call() {
    let pool = pool();
    let (_dir, model) = transcript(&json!([
        {"tool_calls": [{"name": "testbed__sleep_ms", "arguments": {"ms": 30000}}]},
        {"content": "never"}
    ]));
    let (runtime, control_plane) = agent_runtime(&pool, "http://127.0.0.1:9");
    let mut context = ctx("sleep", &model);
    context.mcp_servers = testbed_servers(&[]);
    let id = context.execution_id.clone();
    let task = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.execute(&context).await }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    assert!(runtime.cancel(&id).await);
    let result = task.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "cancelled in {:?}", started.elapsed());
    assert_eq!(result.finish_reason, Some(FinishReason::Cancelled));
    let log = result.tool_execution_messages.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].error_type, Some(ToolErrorType::Cancelled));
    assert_eq!(control_plane.records().len(), 1);
    pool.shutdown().await;
}

#[tokio::test]
async fn retries_on_429() {
    let pool = pool();
    let server = FakeModelServer::start(FakeConfig {
        mode: FakeMode::Sequence(vec![
            FakeStep::Error { status: 429, body: "slow down".into(), retry_after: Some(1) },
            FakeStep::Turn(turn("made it")),
        ]),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let (runtime, _) = agent_runtime(&pool, &server.openai_base_url());
    let started = Instant::now();
    let result = runtime.execute(&ctx("x", "openai:test-model")).await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.response, "made it");
    assert!(started.elapsed() >= Duration::from_millis(900), "Retry-After honoured");
    assert_eq!(server.request_count(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn skills_and_policy_apply() {
    let pool = pool();
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("a.txt"), "alpha").unwrap();
    let (_dir, model) = transcript(&json!([
        {"tool_calls": [
            {"name": "files__read_file", "arguments": {"path": "a.txt"}},
            {"name": "testbed__echo", "arguments": {"message": "denied?"}}
        ]},
        {"content": "{{last_tool_result}}"}
    ]));
    let (runtime, _) = agent_runtime(&pool, "http://127.0.0.1:9");
    let mut context = ctx("read", &model);
    context.mcp_servers = testbed_servers(&[]);
    context.skills = toolbridge::config::parse_skills(
        &json!([{"name": "files", "type": "file_system", "configuration": {"base_dir": workspace.path()}}]),
        "test",
    )
    .unwrap();
    context.policy = Some(
        toolbridge::config::parse_policy(
            json!({"deny": [{"sources": ["testbed"], "when": {"environments": ["production"]}}]}),
            "test",
        )
        .unwrap(),
    );
    let result = runtime.execute(&context).await;
    let log = result.tool_execution_messages.unwrap();
    assert!(log[0].success, "{:?}", log[0]);
    assert!(log[0].output.contains("alpha"));
    assert_eq!(log[0].source, ToolSourceKind::Skill);
    assert_eq!(log[1].error_type, Some(ToolErrorType::PolicyDenied));
    assert_eq!(result.metadata["tools_offered"].as_u64().map(|n| n > 0), Some(true));
    pool.shutdown().await;
}

#[tokio::test]
async fn cancellation_mid_model_call() {
    let pool = pool();
    let server = FakeModelServer::start(FakeConfig {
        mode: FakeMode::Sequence(vec![FakeStep::Delay {
            ms: 20_000,
            then: Box::new(FakeStep::Turn(turn("too late"))),
        }]),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let (runtime, control_plane) = agent_runtime(&pool, &server.openai_base_url());
    let context = ctx("slow model", "openai:test-model");
    let id = context.execution_id.clone();
    let task = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.execute(&context).await }
    });
    while server.request_count() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    assert!(runtime.cancel(&id).await);
    let result = task.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "cancelled in {:?}", started.elapsed());
    assert_eq!(result.finish_reason, Some(FinishReason::Cancelled));
    assert_eq!(control_plane.records().len(), 1);
    server.shutdown().await;
}

/// `model_config` reaches the provider on every model request, over the agent's
/// `runtime_config` for the settings both have.
#[tokio::test]
async fn model_config_is_sent_with_every_request() {
    let pool = pool();
    let server = FakeModelServer::start(FakeConfig {
        mode: FakeMode::Transcript(vec![tool_turn(&[("testbed__echo", json!({"message": "x"}))]), turn("done")]),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let (runtime, _) = agent_runtime(&pool, &server.openai_base_url());
    let mut context = ctx("go", "openai:test-model").runtime_config(json!({"temperature": 1.5, "max_tokens": 10}));
    context.mcp_servers = testbed_servers(&[]);
    context.model_config =
        Some(serde_json::from_value(json!({"temperature": 0.25, "top_p": 0.5, "stop": ["END"], "seed": 7})).unwrap());
    let result = runtime.execute(&context).await;
    assert!(result.success, "{result:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "two model turns");
    for request in &requests {
        assert_eq!(request["temperature"], 0.25, "model_config wins over runtime_config: {request}");
        assert_eq!(request["top_p"], 0.5);
        assert_eq!(request["stop"], json!(["END"]));
        assert_eq!(request["seed"], 7);
        assert_eq!(request["max_tokens"], 10, "runtime_config's own settings still apply");
    }
    server.shutdown().await;
    pool.shutdown().await;
}

/// What was streamed and the final `response` agree when the model talks in several turns.
#[tokio::test]
async fn streamed_text_and_the_final_response_agree_across_turns() {
    let pool = pool();
    let first = FakeTurn {
        content: Some("Let me look.".into()),
        tool_calls: vec![FakeToolCall { name: "testbed__echo".into(), arguments: json!({"message": "x"}).to_string() }],
        ..FakeTurn::default()
    };
    let server = FakeModelServer::start(FakeConfig {
        mode: FakeMode::Transcript(vec![first, turn("Done: x.")]),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let (runtime, _) = agent_runtime(&pool, &server.openai_base_url());
    let mut context = ctx("go", "openai:test-model");
    context.mcp_servers = testbed_servers(&[]);
    let streamed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = streamed.clone();
    let callback = EventCallback::new(move |event| {
        if let ExecutionEvent::ContentChunk { text } = event {
            sink.lock().unwrap().push_str(text);
        }
    });
    let chunks: Vec<_> = runtime.stream_execute(context.clone(), Some(callback)).collect().await;
    let last = chunks.last().unwrap();
    let streamed = streamed.lock().unwrap().clone();
    assert_eq!(last.response, streamed, "the result says what was streamed");
    assert_eq!(last.response, "Let me look.\n\nDone: x.");
    assert_eq!(chunks[chunks.len() - 2].response, last.response, "the last partial and the result agree");
    // Not streamed: the same response.
    let mut again = context;
    again.execution_id = toolbridge_runtime::ExecutionId::random();
    assert_eq!(runtime.execute(&again).await.response, "Let me look.\n\nDone: x.");
    server.shutdown().await;
    pool.shutdown().await;
}
