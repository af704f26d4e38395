//! The word-count runtime: a toy "framework" implementing the runtime contract. Shared by the
//! `custom_runtime` example (the contract end to end) and the CLI's `custom_cli` example (a
//! CLI of one's own with this runtime registered).

use std::sync::Arc;

use toolbridge_runtime::*;

/// A runtime's typed `runtime_config`: its schema is published by the registry and every
/// execution's config is validated against it.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct WordCountConfig {
    /// Count only words at least this long.
    #[schemars(range(min = 1, max = 20))]
    pub(crate) min_len: Option<usize>,
    /// Words not to count.
    pub(crate) stop_words: Vec<String>,
}

/// A toy "framework": counts the words of the prompt and of the history.
pub(crate) struct WordCountRuntime;

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

/// How the runtime registers itself: `Cli::new().runtime::<WordCountRuntime>()` and
/// `registry.register(WordCountRuntime::spec())` both use this.
impl RuntimeFactory for WordCountRuntime {
    fn spec() -> RuntimeSpec {
        RuntimeSpec::new("word_count", "Counts words; shows the runtime contract end to end", |_deps| {
            Ok(WordCountRuntime)
        })
        .with_config::<WordCountConfig>()
    }
}
