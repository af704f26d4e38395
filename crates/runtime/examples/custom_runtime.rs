//! The extension story of the runtime contract, end to end: implement a runtime, register it,
//! create it from the registry, execute it, stream it, read its usage.
//!
//! ```sh
//! cargo run -p toolbridge-runtime --example custom_runtime
//! ```

use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;
use toolbridge_runtime::*;

/// A runtime's typed `runtime_config`: its schema is published by the registry and every
/// execution's config is validated against it.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
struct WordCountConfig {
    /// Count only words at least this long.
    #[schemars(range(min = 1, max = 20))]
    min_len: Option<usize>,
    /// Words not to count.
    stop_words: Vec<String>,
}

/// A toy "framework": counts the words of the prompt and of the history.
struct WordCountRuntime;

impl WordCountRuntime {
    fn count(ctx: &RuntimeExecutionContext) -> Result<(usize, usize), RuntimeError> {
        let config: WordCountConfig = parse_runtime_config(ctx.runtime_config.as_ref())?;
        let min_len = config.min_len.unwrap_or(1);
        let words = ctx
            .prompt
            .split_whitespace()
            .filter(|w| w.len() >= min_len && !config.stop_words.iter().any(|s| s == w))
            .count();
        let history = ctx.conversation_history.iter().map(|m| m.content_text().split_whitespace().count()).sum();
        Ok((words, history))
    }
}

#[async_trait]
impl Runtime for WordCountRuntime {
    fn runtime_type(&self) -> RuntimeType {
        RuntimeType::new("word_count")
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

    /// Checks what the schema cannot say (it also runs at `agent create`, with an empty prompt).
    fn validate_config(&self, ctx: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
        let config: WordCountConfig = parse_runtime_config(ctx.runtime_config.as_ref())?;
        if config.stop_words.iter().any(|w| w.trim().is_empty()) {
            return Err(RuntimeError::InvalidContext("runtime_config.stop_words: empty words are not allowed".into()));
        }
        Ok(())
    }

    async fn execute_impl(
        &self,
        ctx: &RuntimeExecutionContext,
        _scope: &ExecutionScope,
    ) -> Result<RuntimeExecutionResult, RuntimeError> {
        let (words, history) = Self::count(ctx)?;
        let response = format!("{words} words in the prompt, {history} in the history");
        let usage = Usage { model_provider: Some("word_count".into()), ..Usage::new(words as u64, 1) };
        Ok(RuntimeExecutionResult::success(response).with_usage(usage))
    }

    fn stream_execute_impl(self: Arc<Self>, ctx: Arc<RuntimeExecutionContext>, scope: ExecutionScope) -> ResultStream {
        Box::pin(async_stream::try_stream! {
            let mut so_far = String::new();
            for (i, word) in ctx.prompt.split_whitespace().enumerate() {
                if scope.is_cancelled() {
                    break;
                }
                let chunk = format!("{}:{word} ", i + 1);
                scope.emit(&ExecutionEvent::ContentChunk { text: chunk.clone() });
                so_far.push_str(&chunk);
                yield RuntimeExecutionResult::partial(so_far.clone());
            }
            let (words, _) = Self::count(&ctx)?;
            yield RuntimeExecutionResult::success(so_far).with_usage(Usage::new(words as u64, words as u64));
        })
    }

    async fn after_execute(
        &self,
        ctx: &RuntimeExecutionContext,
        result: &RuntimeExecutionResult,
    ) -> Result<(), RuntimeError> {
        tracing::info!(execution_id = %ctx.execution_id, tokens = result.usage.total_tokens, "word count done");
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Register the runtime: its type, description, constructor and typed config (its
    //    capabilities are its own, read from it).
    let mut registry = RuntimeRegistry::new();
    registry.register(
        RuntimeSpec::new("word_count", "Counts words; shows the runtime contract end to end", |_deps| {
            Ok(WordCountRuntime)
        })
        .with_config::<WordCountConfig>(),
    )?;
    println!("available runtimes: {:?}", registry.list_available());
    println!("runtime info: {}", serde_json::to_string_pretty(&registry.runtime_info_all())?);

    // 2. Create it with injected deps (control plane + cancellation manager).
    let control_plane = Arc::new(InMemoryControlPlane::new());
    let deps = RuntimeDeps::new(control_plane.clone());
    let runtime = registry.create(&"word_count".into(), deps)?;

    // 3. Execute.
    let context = RuntimeExecutionContext::new("the quick brown fox jumps")
        .history("user", "earlier question")
        .runtime_config(json!({"min_len": 4}));
    let result = runtime.execute(&context).await;
    println!("execute → {}", serde_json::to_string_pretty(&result)?);
    println!("get_usage → {:?}", runtime.get_usage(&context.execution_id).await);

    // 4. Stream, with an event callback.
    let events = EventCallback::new(|event| println!("  event: {}", serde_json::to_string(event).unwrap_or_default()));
    let mut stream = runtime.stream_execute(RuntimeExecutionContext::new("streams arrive in pieces"), Some(events));
    while let Some(partial) = stream.next().await {
        println!(
            "stream → response={:?} finish_reason={:?} usage.total_tokens={}",
            partial.response, partial.finish_reason, partial.usage.total_tokens
        );
    }

    // 5. Bad config is refused with the field named; every execution was recorded.
    let bad = runtime.execute(&RuntimeExecutionContext::new("x").runtime_config(json!({"min_len": 0}))).await;
    println!("bad config → success={} error={:?}", bad.success, bad.error);
    let mut agent = AgentDefinition::named("counter");
    agent.runtime = RuntimeType::new("word_count");
    agent.runtime_config = Some(json!({"stop_words": [""]}));
    println!(
        "agent with a bad config → {}",
        registry.validate_agent(&agent).map_or_else(|e| e.to_string(), |()| "ok".into())
    );
    println!("records stored: {}", control_plane.records().len());
    Ok(())
}
