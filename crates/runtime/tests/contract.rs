//! The seed's runtime test list, against a small test runtime driven through the public
//! interface (`RuntimeRegistry` → `RuntimeHandle`); cancellation is in `cancellation.rs`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures::StreamExt;
use serde_json::json;
use toolbridge_runtime::*;

#[tokio::test]
async fn execute_success() {
    let f = fixture();
    let result = f.runtime().execute(&ctx("hello")).await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.response, "echo: hello");
    assert_eq!(result.finish_reason, Some(FinishReason::Stop));
    assert_eq!(result.usage.total_tokens, 12);
    assert_eq!(result.model.as_deref(), Some("test-model"));
}

#[tokio::test]
async fn execute_error_handling_goes_through_on_error() {
    let f = fixture();
    let result = f.runtime().execute(&ctx("explode")).await;
    assert!(!result.success);
    assert_eq!(result.finish_reason, Some(FinishReason::Error));
    assert_eq!(result.error.as_deref(), Some("handled: the prompt exploded"));
    assert_eq!(f.journal(), ["validate", "before", "impl", "on_error:the prompt exploded"]);
}

#[tokio::test]
async fn missing_model_is_a_validation_error() {
    let f = fixture();
    let result = f.runtime().execute(&RuntimeExecutionContext::new("hi")).await;
    assert!(!result.success);
    assert!(result.error.unwrap().contains("model_id is required"));
    assert_eq!(f.journal(), ["validate", "on_error:invalid execution context: model_id is required"]);
}

#[tokio::test]
async fn hooks_run_in_order() {
    let f = fixture();
    let result = f.runtime().execute(&ctx("x")).await;
    assert!(result.success);
    assert_eq!(f.journal(), ["validate", "before", "impl", "after:stop"]);
}

#[tokio::test]
async fn after_execute_error_is_routed_to_on_error() {
    let f = fixture();
    let result = f.runtime().execute(&ctx("x").runtime_config(json!({"fail_after": true}))).await;
    assert!(!result.success);
    assert_eq!(f.journal(), ["validate", "before", "impl", "after:stop", "on_error:after_execute refused the result"]);
}

#[tokio::test]
async fn a_panicking_implementation_is_handled_like_an_error() {
    let f = fixture();
    let result = f.runtime().execute(&ctx("panic")).await;
    assert!(!result.success);
    assert_eq!(result.finish_reason, Some(FinishReason::Error));
    assert_eq!(result.error.as_deref(), Some("handled: the runtime panicked: boom in execute_impl"));
    assert_eq!(result.tool_execution_messages.as_ref().map(Vec::len), Some(1), "the partial tool log is kept");
    assert_eq!(f.journal(), ["validate", "before", "impl", "on_error:the runtime panicked: boom in execute_impl"]);
    assert_eq!(f.control_plane.records().len(), 1, "the record is stored");

    let result = f.runtime().execute(&ctx("panic-before")).await;
    assert_eq!(result.error.as_deref(), Some("handled: the runtime panicked: boom in before_execute"));
    assert_eq!(f.control_plane.records().len(), 2);

    let chunks: Vec<_> = f.runtime().stream_execute(ctx("panic"), None).collect().await;
    let last = chunks.last().unwrap();
    assert_eq!(last.finish_reason, Some(FinishReason::Error));
    assert_eq!(last.error.as_deref(), Some("handled: the runtime panicked: boom mid-stream"));
    assert_eq!(last.tool_execution_messages.as_ref().map(Vec::len), Some(1));
    assert_eq!(last.response, "part0 part1 part2 ", "the streamed response so far is kept");
    assert_eq!(f.control_plane.records().len(), 3);
}

#[tokio::test]
async fn run_id_and_user_metadata() {
    let f = fixture();
    let mut context = ctx("x");
    context.user_metadata = Some(serde_json::from_value(json!({"ticket": "T-1"})).unwrap());
    let result = f.runtime().execute(&context).await;
    assert_eq!(result.run_id.as_deref(), Some(context.execution_id.as_str()), "run_id defaults to the execution id");
    assert_eq!(result.metadata["user_metadata"], json!({"ticket": "T-1"}));
    let (_, _, stored) = f.control_plane.records().pop().unwrap();
    assert_eq!(stored.metadata["user_metadata"], json!({"ticket": "T-1"}), "kept in the stored record");
}

#[tokio::test]
async fn stream_execute_yields_partials_then_final_with_usage() {
    let f = fixture();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let callback = EventCallback::new(move |event| sink.lock().unwrap().push(event.clone()));
    let chunks: Vec<_> =
        f.runtime().stream_execute(ctx("s").runtime_config(json!({"chunks": 3})), Some(callback)).collect().await;
    assert_eq!(chunks.len(), 4, "{chunks:?}");
    assert!(chunks[..3].iter().all(|c| c.finish_reason.is_none()));
    assert_eq!(chunks[1].response, "part0 part1 ");
    let last = chunks.last().unwrap();
    assert_eq!(last.finish_reason, Some(FinishReason::Stop));
    assert!(last.usage.total_tokens > 0);
    let names: Vec<&str> = events.lock().unwrap().iter().map(ExecutionEvent::name).collect();
    assert_eq!(names, ["content_chunk", "content_chunk", "content_chunk", "usage", "done"]);
    assert_eq!(f.journal(), ["validate", "before", "impl", "after:stop"]);
}

#[tokio::test]
async fn stream_error_mid_stream_ends_with_error_result() {
    let f = fixture();
    let chunks: Vec<_> = f.runtime().stream_execute(ctx("explode"), None).collect().await;
    let last = chunks.last().unwrap();
    assert!(!last.success);
    assert_eq!(last.finish_reason, Some(FinishReason::Error));
    assert_eq!(last.error.as_deref(), Some("handled: exploded mid-stream"));
}

#[tokio::test]
async fn conversation_history_is_passed_through() {
    let f = fixture();
    let context = ctx("and now?").history("user", "hi").history("assistant", "hello");
    let result = f.runtime().execute(&context).await;
    assert_eq!(result.response, "echo: and now? (after user:hi | assistant:hello)");
}

#[tokio::test]
async fn capabilities_and_runtime_type() {
    let f = fixture();
    let runtime = f.runtime();
    assert_eq!(runtime.runtime_type().as_str(), "echo");
    let caps = runtime.capabilities();
    assert!(caps.streaming && caps.hooks && caps.cancellation && caps.conversation_history);
    assert!(!caps.mcp && !caps.tools && !caps.custom_tools);
}

#[tokio::test]
async fn invalid_runtime_config_is_rejected_naming_the_field() {
    let f = fixture();
    let result = f.runtime().execute(&ctx("x").runtime_config(json!({"chunks": 0}))).await;
    assert!(!result.success);
    let error = result.error.unwrap();
    assert!(error.contains("runtime_config.chunks"), "{error}");
    let result = f.runtime().execute(&ctx("x").runtime_config(json!({"chunkz": 2}))).await;
    assert!(result.error.unwrap().contains("chunkz"));
    assert!(!f.journal().contains(&"impl".to_owned()), "the implementation never ran");

    let err = f.registry.validate_config(&"echo".into(), Some(&json!({"delay_ms": "soon"}))).unwrap_err();
    assert!(err.to_string().contains("runtime_config.delay_ms"), "{err}");
    let err = f.registry.validate_config(&"echo".into(), Some(&json!({"chunks": 11}))).unwrap_err();
    assert!(err.to_string().contains("runtime_config.chunks"), "{err}");
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RequiredConfig {
    /// Must be given.
    #[allow(dead_code)]
    required_field: String,
}

/// The seed's example: a runtime whose own `validate_config` checks the config.
struct Strict;

#[async_trait]
impl Runtime for Strict {
    fn runtime_type(&self) -> RuntimeType {
        RuntimeType::new("strict")
    }

    fn capabilities(&self) -> RuntimeCapabilities {
        RuntimeCapabilities::default()
    }

    fn validate_config(&self, ctx: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
        match ctx.runtime_config.as_ref().and_then(|c| c.get("required_field")).and_then(|v| v.as_str()) {
            Some("") => Err(RuntimeError::InvalidContext("required_field is missing".into())),
            _ => Ok(()),
        }
    }

    async fn execute_impl(
        &self,
        _ctx: &RuntimeExecutionContext,
        _scope: &ExecutionScope,
    ) -> Result<RuntimeExecutionResult, RuntimeError> {
        Ok(RuntimeExecutionResult::success("ok"))
    }
}

#[tokio::test]
async fn required_fields_and_validate_config_are_checked_at_create_time() {
    let mut registry = RuntimeRegistry::new();
    registry
        .register(RuntimeSpec::new("strict", "needs config", |_| Ok(Strict)).with_config::<RequiredConfig>())
        .unwrap();
    let agent = |config: Option<serde_json::Value>| {
        let mut agent = AgentDefinition::named("a");
        agent.runtime = RuntimeType::new("strict");
        agent.runtime_config = config;
        agent
    };
    let err = registry.validate_agent(&agent(None)).unwrap_err().to_string();
    assert!(err.contains("required_field"), "an absent config is validated as {{}}: {err}");
    let err = registry.validate_agent(&agent(Some(json!({"required_field": ""})))).unwrap_err().to_string();
    assert!(err.contains("required_field is missing"), "the runtime's own validate_config ran: {err}");
    registry.validate_agent(&agent(Some(json!({"required_field": "x"})))).unwrap();

    let runtime = registry.create(&"strict".into(), RuntimeDeps::default()).unwrap();
    let result = runtime.execute(&RuntimeExecutionContext::new("hi")).await;
    let error = result.error.unwrap();
    assert!(error.contains("runtime_config") && error.contains("required_field"), "{error}");
}

#[tokio::test]
async fn get_usage_after_execution() {
    let f = fixture();
    let runtime = f.runtime();
    let context = ctx("four");
    let result = runtime.execute(&context).await;
    let usage = runtime.get_usage(&context.execution_id).await.unwrap();
    assert_eq!(usage, result.usage);
    assert_eq!(usage.model_provider.as_deref(), Some("test"));
    assert_eq!(f.control_plane.get_usage(&context.execution_id).await.unwrap(), Some(usage));
    assert!(runtime.get_usage(&"unknown".into()).await.is_none());
}

#[tokio::test]
async fn every_outcome_is_recorded_and_metadata_cached() {
    let f = fixture();
    let runtime = f.runtime();
    let ok = ctx("a");
    runtime.execute(&ok).await;
    runtime.execute(&ctx("explode")).await;
    let _: Vec<_> = runtime.stream_execute(ctx("b"), None).collect().await;
    let records = f.control_plane.records();
    assert_eq!(records.len(), 3);
    assert_eq!(records.iter().filter(|(_, _, r)| r.success).count(), 2);
    let meta = f.control_plane.get_metadata(&ok.execution_id).await.unwrap().unwrap();
    assert_eq!(meta["runtime_type"], "echo");
}

#[tokio::test]
async fn duplicate_execution_ids_are_refused() {
    let f = fixture();
    let runtime = f.runtime();
    let context = ctx("slow").runtime_config(json!({"delay_ms": 300}));
    let twin = context.clone();
    let first = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.execute(&context).await }
    });
    while !f.deps.cancellation.is_active(&twin.execution_id) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = runtime.execute(&twin).await;
    assert!(!second.success);
    assert!(second.error.unwrap().contains("already running"));
    assert!(first.await.unwrap().success);
}

#[test]
fn registry_behaviour() {
    let mut f = fixture();
    let err = f
        .registry
        .register(RuntimeSpec::new("echo", "again", |_| Ok(EchoRuntime { journal: Arc::default() })))
        .unwrap_err();
    assert!(err.to_string().contains("already registered"));
    assert!(
        f.registry
            .register(RuntimeSpec::new("default", "alias", |_| Ok(EchoRuntime { journal: Arc::default() })))
            .is_err()
    );

    let err = f.registry.create(&"nope".into(), f.deps.clone()).unwrap_err();
    assert_eq!(err.to_string(), "unknown runtime type `nope`; known runtimes: echo");
    assert!(f.registry.get(&"default".into()).is_err(), "default resolves to agent_loop, not registered here");

    assert_eq!(f.registry.list_available(), vec![RuntimeType::new("echo")]);
    let info = f.registry.runtime_info_all();
    let echo = &info["echo"];
    assert_eq!(echo.description, "echoes the prompt");
    let schema = &echo.runtime_config_schema;
    assert_eq!(schema["properties"]["chunks"]["maximum"], 10, "{schema}");
    assert_eq!(schema["additionalProperties"], false);
    let as_json = serde_json::to_value(&info).unwrap();
    assert!(as_json["echo"]["capabilities"]["streaming"].is_boolean());
    // One source of capabilities: the runtime's own.
    assert_eq!(echo.capabilities, f.runtime().capabilities());
    assert!(echo.capabilities.streaming && echo.capabilities.hooks);
    assert!(!echo.requires_model);
}

struct PartialFailure;

#[async_trait]
impl Runtime for PartialFailure {
    fn runtime_type(&self) -> RuntimeType {
        RuntimeType::new("partial")
    }

    fn capabilities(&self) -> RuntimeCapabilities {
        RuntimeCapabilities::default()
    }

    async fn execute_impl(
        &self,
        _ctx: &RuntimeExecutionContext,
        _scope: &ExecutionScope,
    ) -> Result<RuntimeExecutionResult, RuntimeError> {
        let now = chrono::Utc::now();
        let mut partial = RuntimeExecutionResult::partial("half done").with_usage(Usage::new(3, 4));
        partial.tool_execution_messages = Some(vec![ToolCallRecord {
            tool: "t__x".into(),
            tool_use_id: "1".into(),
            source: ToolSourceKind::Mcp,
            server: Some("t".into()),
            input: json!({}),
            output: "ok".into(),
            success: true,
            error: None,
            error_type: None,
            duration_ms: 1,
            start_time: now,
            end_time: now,
            metadata: serde_json::Map::new(),
        }]);
        Err(RuntimeError::execution("model went away").with_partial(partial))
    }
}

#[tokio::test]
async fn errors_keep_the_partial_tool_log_and_usage() {
    let runtime = RuntimeHandle::new(PartialFailure, RuntimeDeps::default());
    let result = runtime.execute(&ctx("x")).await;
    assert!(!result.success);
    assert_eq!(result.error.as_deref(), Some("model went away"));
    assert_eq!(result.finish_reason, Some(FinishReason::Error));
    assert_eq!(result.tool_execution_messages.unwrap().len(), 1);
    assert_eq!(result.usage.total_tokens, 7);
    assert_eq!(result.response, "half done");
}

#[tokio::test]
async fn every_execution_records_its_events_numbered_and_ending_with_done() {
    let f = fixture();
    let runtime = f.runtime();
    // Streamed, with a timed callback: it sees the numbers the record keeps.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let callback = EventCallback::timed(move |timed| sink.lock().unwrap().push((timed.seq, timed.event.name())));
    let streamed = ctx("s").runtime_config(json!({"chunks": 2}));
    let _: Vec<_> = runtime.stream_execute(streamed.clone(), Some(callback)).collect().await;
    let events = f.control_plane.events(&streamed.execution_id);
    let recorded: Vec<_> = events.iter().map(|e| (e.seq, e.event.name())).collect();
    assert_eq!(recorded, [(1, "content_chunk"), (2, "content_chunk"), (3, "usage"), (4, "done")]);
    assert_eq!(*seen.lock().unwrap(), recorded);
    assert!(events.windows(2).all(|pair| pair[0].ts <= pair[1].ts));
    // Not streamed, no callback: the events are recorded all the same, `done` last.
    let plain = ctx("p");
    runtime.execute(&plain).await;
    let names: Vec<_> = f.control_plane.events(&plain.execution_id).iter().map(|e| e.event.name()).collect();
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    // A failed execution too.
    let failed = ctx("explode");
    runtime.execute(&failed).await;
    let events = f.control_plane.events(&failed.execution_id);
    assert!(
        matches!(events.last().map(|e| &e.event), Some(ExecutionEvent::Done { finish_reason: FinishReason::Error })),
        "{events:?}"
    );
}

#[test]
fn a_dynamic_spec_validates_with_the_schema_it_was_given() {
    let schema = json!({"type": "object", "required": ["greeting"]});
    let mut registry = RuntimeRegistry::new();
    registry
        .register(
            RuntimeSpec::new("dyn", "schema known at run time", |_deps| Ok(SlowToStop { grace: CANCEL_GRACE }))
                .with_dynamic_config(schema.clone(), |config| match config.and_then(|c| c.get("greeting")) {
                    Some(_) => Ok(()),
                    None => Err(ConfigError {
                        errors: vec![FieldError { field: "greeting".into(), message: "required".into() }],
                    }),
                })
                .plugin(),
        )
        .unwrap();
    assert_eq!(registry.runtime_info_all()["dyn"].runtime_config_schema, schema);
    let error = registry.validate_config(&"dyn".into(), Some(&json!({}))).unwrap_err();
    assert!(error.to_string().contains("runtime_config.greeting: required"), "{error}");
    registry.validate_config(&"dyn".into(), Some(&json!({"greeting": "hi"}))).unwrap();
    assert!(registry.create(&"dyn".into(), RuntimeDeps::default()).is_ok());
    assert_eq!(registry.runtime_info_all()["dyn"].kind, RuntimeKind::Plugin);
}
