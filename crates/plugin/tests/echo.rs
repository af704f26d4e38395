//! The echo plugin (examples/plugins/echo_runtime.py) through the public API: initialize,
//! config validation, executions with and without a tool call through the endpoint,
//! streaming, cancellation, concurrency, shutdown.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use toolbridge_plugin::{NoTools, PluginProcess, PluginRuntime, spec};
use toolbridge_runtime::{
    EventCallback, ExecutionEvent, FinishReason, RuntimeDeps, RuntimeExecutionContext, RuntimeRegistry, ToolErrorType,
};

use common::*;

#[tokio::test]
async fn initialize_reports_capabilities_and_config_schema() {
    let process = PluginProcess::start("echo_py", &echo_command(), &quick_options()).await.unwrap();
    let info = process.info();
    assert!(info.description().contains("Echoes the prompt"), "{info:?}");
    let caps = info.capabilities();
    assert!(caps.streaming && caps.tools && caps.mcp && caps.cancellation);
    assert!(!caps.hooks && !caps.custom_tools && !caps.conversation_history);
    assert!(!info.requires_model());
    assert_eq!(info.config_schema()["required"], json!(["greeting"]));
    assert!(process.is_alive());
    let pid = process.pid().unwrap();
    assert!(alive(pid));
    drop(process);
    assert!(group_gone_within(pid, Duration::from_secs(5)), "dropping the process kills its group");
}

#[tokio::test]
async fn the_registry_publishes_the_plugins_schema_and_validates_with_it() {
    let host = toolbridge_plugin::PluginHost::new("echo_py", echo_command(), quick_options());
    let info = host.start().await.unwrap();
    let mut registry = RuntimeRegistry::new();
    registry.register(spec("echo_py", host.clone(), info, Arc::new(NoTools))).unwrap();
    let all = registry.runtime_info_all();
    assert_eq!(all["echo_py"].runtime_config_schema["required"], json!(["greeting"]));
    assert!(all["echo_py"].capabilities.streaming);

    // Schema-invalid: the field is named, by the registry's own check (agent create time).
    let error = registry.validate_config(&"echo_py".into(), Some(&json!({"greeting": 5}))).unwrap_err();
    assert!(error.to_string().contains("runtime_config.greeting: 5 is not of type"), "{error}");
    let error = registry.validate_config(&"echo_py".into(), None).unwrap_err();
    assert!(error.to_string().contains("runtime_config.greeting: is required"), "{error}");

    let runtime = registry.create(&"echo_py".into(), RuntimeDeps::default()).unwrap();
    let result = runtime.execute(&context("hello")).await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.response, "Hi, hello");
    assert_eq!(result.finish_reason, Some(FinishReason::Stop));
    assert_eq!(result.usage.total_tokens, 3);
    assert!(result.tool_execution_messages.is_none(), "no tools, no log");
    host.shutdown().await;
}

#[tokio::test]
async fn validate_config_valid_schema_invalid_and_plugin_rejected() {
    let (host, runtime) = echo_runtime(Arc::new(NoTools)).await;
    let plugin = PluginRuntime::new(host.clone(), host.start().await.unwrap(), Arc::new(NoTools));

    plugin.check_config(Some(&json!({"greeting": "Hello"}))).await.unwrap();

    let error = plugin.check_config(Some(&json!({"greeting": "Hi", "colour": "red"}))).await.unwrap_err();
    assert!(error.to_string().contains("colour"), "unknown field named: {error}");
    let error = plugin.check_config(Some(&json!({}))).await.unwrap_err();
    assert_eq!(error.to_string(), "invalid runtime_config.greeting: is required");

    let error = plugin.check_config(Some(&json!({"greeting": "  "}))).await.unwrap_err();
    assert_eq!(error.to_string(), "invalid runtime_config.greeting: must not be empty", "the plugin's message");

    // The same checks guard every execution.
    let rejected = runtime.execute(&RuntimeExecutionContext::new("x").runtime_config(json!({"greeting": ""}))).await;
    assert!(!rejected.success);
    assert_eq!(rejected.error.as_deref(), Some("invalid runtime_config.greeting: must not be empty"));
    let invalid = runtime.execute(&RuntimeExecutionContext::new("x")).await;
    assert_eq!(invalid.error.as_deref(), Some("invalid runtime_config.greeting: is required"));
    assert_eq!(invalid.finish_reason, Some(FinishReason::Error));
    host.shutdown().await;
}

#[tokio::test]
async fn execute_calls_a_tool_through_the_endpoint() {
    let (host, runtime) = echo_runtime(catalogue_tools()).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let callback = {
        let events = Arc::clone(&events);
        EventCallback::new(move |event: &ExecutionEvent| events.lock().unwrap().push(event.clone()))
    };
    let with_tool = tool_context(
        "use a tool",
        json!({"greeting": "Hi", "tool": "echo", "arguments": {"message": "through the endpoint"}}),
    );
    let items: Vec<_> = runtime.stream_execute(with_tool, Some(callback)).collect().await;
    let result = items.last().unwrap().clone();
    assert!(result.success, "{result:?}");
    assert_eq!(result.response, "Hi, use a tool\nEcho: through the endpoint");
    // toolbridge's own log of the call made through the endpoint.
    let log = result.tool_execution_messages.expect("the endpoint's log");
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].tool, "testbed__echo");
    assert_eq!(log[0].server.as_deref(), Some("testbed"));
    assert_eq!(log[0].input, json!({"message": "through the endpoint"}));
    assert_eq!(log[0].output, "Echo: through the endpoint");
    assert!(log[0].success);
    // tool_start / tool_complete come from toolbridge, around the call.
    let names: Vec<&str> = events.lock().unwrap().iter().map(ExecutionEvent::name).collect();
    let start = names.iter().position(|n| *n == "tool_start").expect("tool_start");
    assert_eq!(names.get(start + 1), Some(&"tool_complete"), "{names:?}");

    // The prompt can name the tool too.
    let result = runtime.execute(&with_testbed(context(r#"/tool add {"a": 2, "b": 40}"#))).await;
    assert!(result.response.ends_with("\n42"), "{result:?}");
    assert_eq!(result.tool_execution_messages.unwrap()[0].tool, "testbed__add");
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugins_own_tool_log_is_ignored() {
    let (host, runtime) = runtime_for(faulty_command("own-log"), quick_options(), catalogue_tools()).await;
    let result = runtime.execute(&with_testbed(context(r#"/tool echo {"message": "m"}"#))).await;
    assert!(result.success, "{result:?}");
    let log = result.tool_execution_messages.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].tool, "testbed__echo", "toolbridge's log, not the plugin's");
    host.shutdown().await;
}

#[tokio::test]
async fn streaming_forwards_events_in_order_and_accumulates_the_response() {
    let (host, runtime) = echo_runtime(Arc::new(NoTools)).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let callback = {
        let events = Arc::clone(&events);
        EventCallback::new(move |event: &ExecutionEvent| events.lock().unwrap().push(event.clone()))
    };
    let items: Vec<_> = runtime.stream_execute(context("one two three"), Some(callback)).collect().await;

    let events = events.lock().unwrap().clone();
    let names: Vec<&str> = events.iter().map(ExecutionEvent::name).collect();
    assert_eq!(names, ["content_chunk", "content_chunk", "content_chunk", "content_chunk", "usage", "done"]);
    let text: String = events
        .iter()
        .filter_map(|event| match event {
            ExecutionEvent::ContentChunk { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Hi, one two three");
    assert_eq!(events.last(), Some(&ExecutionEvent::Done { finish_reason: FinishReason::Stop }));

    let partials: Vec<&str> = items[..items.len() - 1].iter().map(|item| item.response.as_str()).collect();
    assert_eq!(partials, ["Hi,", "Hi, one", "Hi, one two", "Hi, one two three"]);
    assert!(items[..items.len() - 1].iter().all(|item| item.finish_reason.is_none()));
    let last = items.last().unwrap();
    assert_eq!(last.finish_reason, Some(FinishReason::Stop));
    assert_eq!(last.response, "Hi, one two three");
    assert_eq!(last.usage.total_tokens, 7);
    host.shutdown().await;
}

#[tokio::test]
async fn cancel_mid_tool_call_ends_cancelled_within_the_wait() {
    let (host, runtime) = echo_runtime(catalogue_tools()).await;
    let sleepy = tool_context("sleepy", json!({"greeting": "Hi", "tool": "sleep_ms", "arguments": {"ms": 30_000}}));
    let id = sleepy.execution_id.clone();
    let task = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.execute(&sleepy).await }
    });
    // Let the plugin reach the tool call.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    assert!(runtime.cancel(&id).await, "the plugin knew the execution");
    let result = task.await.unwrap();
    let took = started.elapsed();
    assert_eq!(result.finish_reason, Some(FinishReason::Cancelled), "{result:?}");
    assert!(!result.success);
    assert!(took < Duration::from_secs(5), "cancelled in {took:?}");
    let log = result.tool_execution_messages.expect("the log is kept");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].error_type, Some(ToolErrorType::Cancelled), "{log:?}");

    // The plugin still serves, and it told the MCP server the call was cancelled.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = runtime.execute(&with_testbed(context("/tool stats {}"))).await;
        assert!(stats.success, "{stats:?}");
        if stats.response.contains(r#""cancelled":1"#) {
            break;
        }
        assert!(Instant::now() < deadline, "the testbed never saw the cancellation: {}", stats.response);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    host.shutdown().await;
}

#[tokio::test]
async fn twenty_concurrent_executions_share_one_process() {
    let (host, runtime) = echo_runtime(catalogue_tools()).await;
    let pid = host.pid().unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let runtime = runtime.clone();
            tokio::spawn(async move {
                let context = tool_context(
                    &format!("n{i}"),
                    json!({"greeting": "Hi", "tool": "echo", "arguments": {"message": format!("m{i}")}}),
                );
                (i, runtime.execute(&context).await)
            })
        })
        .collect();
    for task in tasks {
        let (i, result) = task.await.unwrap();
        assert!(result.success, "{i}: {result:?}");
        assert_eq!(result.response, format!("Hi, n{i}\nEcho: m{i}"));
        let log = result.tool_execution_messages.unwrap();
        assert_eq!(log.len(), 1, "each execution logs its own call");
        assert_eq!(log[0].input, json!({"message": format!("m{i}")}));
    }
    assert_eq!(host.pid(), Some(pid), "one process served them all");
    host.shutdown().await;
}

#[tokio::test]
async fn shutdown_and_drop_leave_no_process() {
    let (host, runtime) = echo_runtime(Arc::new(NoTools)).await;
    assert!(runtime.execute(&context("x")).await.success);
    let pid = host.pid().unwrap();
    let started = Instant::now();
    host.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2), "a well-behaved plugin exits on its own");
    assert!(group_gone_within(pid, Duration::from_secs(2)), "process group gone after shutdown");
    let error = runtime.execute(&context("y")).await;
    assert!(error.error.unwrap().contains("was shut down"));

    let (host, runtime) = echo_runtime(Arc::new(NoTools)).await;
    let pid = host.pid().unwrap();
    drop((host, runtime));
    assert!(group_gone_within(pid, Duration::from_secs(2)), "process group gone after the host is dropped");
}

#[tokio::test]
async fn shutdown_lets_the_plugin_end_its_executions_in_flight() {
    let (host, runtime) = echo_runtime(catalogue_tools()).await;
    let sleepy = tool_context("sleepy", json!({"greeting": "Hi", "tool": "sleep_ms", "arguments": {"ms": 30_000}}));
    let task = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.execute(&sleepy).await }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = host.pid().unwrap();
    host.shutdown().await;
    let result = tokio::time::timeout(Duration::from_secs(5), task).await.expect("no hang").unwrap();
    // The echo plugin cancels what runs when told to shut down, and still answers it.
    assert_eq!(result.finish_reason, Some(FinishReason::Cancelled), "{result:?}");
    assert_eq!(result.tool_execution_messages.map(|log| log.len()), Some(1));
    assert!(group_gone_within(pid, Duration::from_secs(2)));
}

#[tokio::test]
async fn cancelling_a_stream_ends_it_cancelled_with_done() {
    let (host, runtime) = echo_runtime(catalogue_tools()).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let callback = {
        let events = Arc::clone(&events);
        EventCallback::new(move |event: &ExecutionEvent| events.lock().unwrap().push(event.clone()))
    };
    let sleepy = tool_context("sleepy", json!({"greeting": "Hi", "tool": "sleep_ms", "arguments": {"ms": 30_000}}));
    let id = sleepy.execution_id.clone();
    let stream = runtime.stream_execute(sleepy, Some(callback));
    let collected = tokio::spawn(stream.collect::<Vec<_>>());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    assert!(runtime.cancel(&id).await);
    let items = tokio::time::timeout(Duration::from_secs(6), collected).await.expect("no hang").unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let last = items.last().unwrap();
    assert_eq!(last.finish_reason, Some(FinishReason::Cancelled), "{last:?}");
    assert_eq!(last.tool_execution_messages.as_ref().map(Vec::len), Some(1), "the plugin's own final answer");
    assert_eq!(events.lock().unwrap().last(), Some(&ExecutionEvent::Done { finish_reason: FinishReason::Cancelled }));
    host.shutdown().await;
}
