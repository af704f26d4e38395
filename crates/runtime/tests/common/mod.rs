//! The test runtime of the contract tests: an echo runtime whose configuration asks for
//! chunks, delays, failures and ignored cancellation, and a journal of the hooks it ran.
#![allow(dead_code)] // each test binary uses its part

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use toolbridge_runtime::*;

/// What the test runtime's hooks saw, in order.
pub(crate) type Journal = Arc<Mutex<Vec<String>>>;

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct EchoConfig {
    /// How many chunks to stream the response in.
    #[schemars(range(min = 1, max = 10))]
    chunks: Option<u32>,
    /// Fail in `after_execute`.
    fail_after: bool,
    /// Milliseconds to wait before answering.
    delay_ms: u64,
    /// Ignore cancellation while waiting.
    ignore_cancel: bool,
}

pub(crate) struct EchoRuntime {
    pub(crate) journal: Journal,
}

impl EchoRuntime {
    fn log(&self, entry: impl Into<String>) {
        self.journal.lock().unwrap().push(entry.into());
    }
}

pub(crate) fn config_of(ctx: &RuntimeExecutionContext) -> EchoConfig {
    parse_runtime_config(ctx.runtime_config.as_ref()).unwrap()
}

#[async_trait]
impl Runtime for EchoRuntime {
    fn runtime_type(&self) -> RuntimeType {
        RuntimeType::new("echo")
    }

    fn capabilities(&self) -> RuntimeCapabilities {
        RuntimeCapabilities {
            streaming: true,
            hooks: true,
            cancellation: true,
            conversation_history: true,
            ..Default::default()
        }
    }

    fn validate_config(&self, ctx: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
        self.log("validate");
        if ctx.model_id.is_none() {
            return Err(RuntimeError::InvalidContext("model_id is required".into()));
        }
        Ok(())
    }

    async fn before_execute(&self, ctx: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
        self.log("before");
        if ctx.prompt == "panic-before" {
            panic!("boom in before_execute");
        }
        Ok(())
    }

    async fn execute_impl(
        &self,
        ctx: &RuntimeExecutionContext,
        scope: &ExecutionScope,
    ) -> Result<RuntimeExecutionResult, RuntimeError> {
        self.log("impl");
        let config = config_of(ctx);
        if config.delay_ms > 0 {
            let sleep = tokio::time::sleep(Duration::from_millis(config.delay_ms));
            if config.ignore_cancel {
                sleep.await;
            } else {
                tokio::select! {
                    () = sleep => {}
                    () = scope.cancelled() => {
                        let mut partial = RuntimeExecutionResult::partial("interrupted");
                        partial.finish_reason = Some(FinishReason::Cancelled);
                        return Ok(partial);
                    }
                }
            }
        }
        if ctx.prompt == "explode" {
            return Err(RuntimeError::execution("the prompt exploded"));
        }
        if ctx.prompt == "panic" {
            record_one_call(scope);
            panic!("boom in execute_impl");
        }
        let history: Vec<String> =
            ctx.conversation_history.iter().map(|m| format!("{}:{}", m.role, m.content_text())).collect();
        let response = if history.is_empty() {
            format!("echo: {}", ctx.prompt)
        } else {
            format!("echo: {} (after {})", ctx.prompt, history.join(" | "))
        };
        Ok(RuntimeExecutionResult::success(response)
            .with_usage(Usage { model_provider: Some("test".into()), ..Usage::new(ctx.prompt.len() as u64, 7) })
            .with_model(ctx.model_id.clone().unwrap_or_default()))
    }

    fn stream_execute_impl(self: Arc<Self>, ctx: Arc<RuntimeExecutionContext>, scope: ExecutionScope) -> ResultStream {
        Box::pin(async_stream::try_stream! {
            self.log("impl");
            let config = config_of(&ctx);
            let chunks = config.chunks.unwrap_or(3) as usize;
            let words: Vec<String> = (0..chunks).map(|i| format!("part{i} ")).collect();
            let mut text = String::new();
            for word in words {
                if config.delay_ms > 0 {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(config.delay_ms)) => {}
                        () = scope.cancelled() => {
                            let mut last = RuntimeExecutionResult::partial(text.clone());
                            last.finish_reason = Some(FinishReason::Cancelled);
                            yield last;
                            return;
                        }
                    }
                }
                scope.emit(&ExecutionEvent::ContentChunk { text: word.clone() });
                text.push_str(&word);
                yield RuntimeExecutionResult::partial(text.clone());
            }
            if ctx.prompt == "explode" {
                Err(RuntimeError::execution("exploded mid-stream"))?;
            }
            if ctx.prompt == "panic" {
                record_one_call(&scope);
                panic!("boom mid-stream");
            }
            let usage = Usage::new(5, chunks as u64);
            scope.emit(&ExecutionEvent::Usage { usage: usage.clone() });
            yield RuntimeExecutionResult::success(text).with_usage(usage);
        })
    }

    async fn after_execute(
        &self,
        ctx: &RuntimeExecutionContext,
        result: &RuntimeExecutionResult,
    ) -> Result<(), RuntimeError> {
        self.log(format!("after:{}", result.finish_reason.map_or("none", FinishReason::as_str)));
        if config_of(ctx).fail_after {
            return Err(RuntimeError::execution("after_execute refused the result"));
        }
        Ok(())
    }

    async fn on_error(&self, _ctx: &RuntimeExecutionContext, error: &RuntimeError) -> RuntimeExecutionResult {
        self.log(format!("on_error:{error}"));
        RuntimeExecutionResult::failure(format!("handled: {error}"))
    }
}

/// A tool call in the execution's log, as a tool bridge would record it.
pub(crate) fn record_one_call(scope: &ExecutionScope) {
    scope
        .call_log()
        .begin(CallStart {
            tool: "t__x".into(),
            tool_use_id: "1".into(),
            source: ToolSourceKind::Mcp,
            server: Some("t".into()),
            input: json!({}),
        })
        .finish(CallOutcome { output: "ok".into(), success: true, ..CallOutcome::default() });
}

pub(crate) struct Fixture {
    pub(crate) registry: RuntimeRegistry,
    pub(crate) deps: RuntimeDeps,
    pub(crate) control_plane: Arc<InMemoryControlPlane>,
    pub(crate) journal: Journal,
}

pub(crate) fn fixture() -> Fixture {
    let journal: Journal = Arc::default();
    let mut registry = RuntimeRegistry::new();
    let j = Arc::clone(&journal);
    registry
        .register(
            RuntimeSpec::new("echo", "echoes the prompt", move |_deps| Ok(EchoRuntime { journal: Arc::clone(&j) }))
                .with_config::<EchoConfig>(),
        )
        .unwrap();
    let control_plane = Arc::new(InMemoryControlPlane::new());
    let deps = RuntimeDeps::new(control_plane.clone());
    Fixture { registry, deps, control_plane, journal }
}

impl Fixture {
    pub(crate) fn runtime(&self) -> RuntimeHandle {
        self.registry.create(&"echo".into(), self.deps.clone()).unwrap()
    }

    pub(crate) fn journal(&self) -> Vec<String> {
        self.journal.lock().unwrap().clone()
    }
}

pub(crate) fn ctx(prompt: &str) -> RuntimeExecutionContext {
    RuntimeExecutionContext::new(prompt).model("test-model")
}

/// Answers only after a delay, whatever the token says: a runtime that must ask another
/// process to stop and wait for its answer.
pub(crate) struct SlowToStop {
    pub(crate) grace: Duration,
}

#[async_trait]
impl Runtime for SlowToStop {
    fn runtime_type(&self) -> RuntimeType {
        RuntimeType::new("slow")
    }

    fn capabilities(&self) -> RuntimeCapabilities {
        RuntimeCapabilities::default()
    }

    fn cancel_grace(&self) -> Duration {
        self.grace
    }

    async fn execute_impl(
        &self,
        _ctx: &RuntimeExecutionContext,
        scope: &ExecutionScope,
    ) -> Result<RuntimeExecutionResult, RuntimeError> {
        scope.cancelled().await;
        tokio::time::sleep(CANCEL_GRACE * 2).await;
        let mut result = RuntimeExecutionResult::partial("stopped in my own time");
        result.finish_reason = Some(FinishReason::Cancelled);
        Ok(result)
    }
}

/// Starts `context` on `runtime` in a task and returns once its execution is registered (so
/// that it can be cancelled).
pub(crate) async fn start(
    runtime: &RuntimeHandle,
    context: RuntimeExecutionContext,
) -> (tokio::task::JoinHandle<RuntimeExecutionResult>, ExecutionId) {
    let id = context.execution_id.clone();
    let task = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.execute(&context).await }
    });
    while !runtime.deps().cancellation.is_active(&id) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (task, id)
}
