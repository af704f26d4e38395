//! One execution of the agent loop: model → tool calls (parallel, bounded) → results → model …
//! until the model stops, the iteration budget is spent (`tool_use`), the token limit is
//! reached (`length`) or the execution is cancelled.

use std::sync::Arc;

use futures::{StreamExt, stream};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use toolbridge::schema::SchemaTarget;
use toolbridge::{CallLog, CallOptions, Catalogue, PreparedCall, RawArguments};
use toolbridge_providers::{
    ChatRequest, ChatResponse, FinishKind, Message, ModelProvider, RequestOptions, StreamAccumulator, StreamDelta,
    ToolSpec,
};
use toolbridge_runtime::{
    ExecutionEvent, ExecutionScope, FinishReason, ModelConfig, RuntimeError, RuntimeExecutionContext,
    RuntimeExecutionResult, Usage,
};
use tracing::debug;

use crate::config::AgentLoopConfig;
use crate::interaction::{CallResponder, ExecutionInteractions};
use crate::messages::{assistant_tool_message, initial_messages, tool_result_message};

/// Everything one execution needs, prepared by the runtime.
pub(crate) struct Prepared {
    pub(crate) provider: Arc<dyn ModelProvider>,
    pub(crate) model: String,
    pub(crate) catalogue: Arc<Catalogue>,
    pub(crate) target: SchemaTarget,
    pub(crate) config: AgentLoopConfig,
    pub(crate) metadata: Map<String, Value>,
    /// What MCP servers ask of the execution during its calls (sampling, elicitation).
    pub(crate) interactions: Arc<ExecutionInteractions>,
}

/// Between the texts of two model turns, in the streamed chunks and in the final response
/// alike.
const TURN_SEPARATOR: &str = "\n\n";

/// The state of the loop, kept so that a failure or cancellation still returns everything
/// done so far.
struct State {
    log: CallLog,
    usage: Usage,
    tool_messages: Vec<Value>,
    /// The text of every finished model turn, joined by [`TURN_SEPARATOR`]: what was streamed.
    response: String,
    /// The text streamed so far (the finished turns' and the current turn's).
    streamed: String,
    iterations: u32,
}

impl State {
    /// Adds a finished turn's text to the response.
    fn add_turn_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if !self.response.is_empty() {
            self.response.push_str(TURN_SEPARATOR);
        }
        self.response.push_str(text);
    }
}

impl State {
    fn result(&self, prepared: &Prepared, finish: FinishReason) -> RuntimeExecutionResult {
        let mut metadata = prepared.metadata.clone();
        metadata.insert("iterations".into(), json!(self.iterations));
        let samplings = prepared.interactions.samplings();
        if samplings > 0 {
            metadata.insert("sampling_requests".into(), json!(samplings));
        }
        // Sampling answered during a call that was still running when the loop ended.
        let mut usage = self.usage.clone();
        usage.accumulate(&prepared.interactions.take_usage());
        let mut result = RuntimeExecutionResult {
            response: self.response.clone(),
            usage,
            success: !matches!(finish, FinishReason::Error | FinishReason::Cancelled),
            finish_reason: Some(finish),
            model: Some(prepared.model.clone()),
            tool_execution_messages: Some(self.log.records()),
            tool_messages: Some(self.tool_messages.clone()),
            metadata,
            ..RuntimeExecutionResult::default()
        };
        if finish == FinishReason::Cancelled {
            result.mark_cancelled();
        }
        result
    }

    fn partial(&self, prepared: &Prepared) -> RuntimeExecutionResult {
        RuntimeExecutionResult {
            response: self.streamed.clone(),
            usage: self.usage.clone(),
            model: Some(prepared.model.clone()),
            ..RuntimeExecutionResult::default()
        }
    }
}

/// Where partial results go when streaming.
pub(crate) type Partials = Option<mpsc::Sender<RuntimeExecutionResult>>;

/// Runs the loop. Errors carry the partial result (call log, usage) with them.
pub(crate) async fn run(
    prepared: &Prepared,
    ctx: &RuntimeExecutionContext,
    scope: &ExecutionScope,
    partials: Partials,
) -> Result<RuntimeExecutionResult, RuntimeError> {
    let mut state = State {
        log: scope.call_log().clone(),
        usage: Usage { model_provider: Some(prepared.provider.name().to_owned()), ..Usage::default() },
        tool_messages: Vec::new(),
        response: String::new(),
        streamed: String::new(),
        iterations: 0,
    };
    let tools: Vec<ToolSpec> = prepared
        .catalogue
        .provider_tools(prepared.target)
        .into_iter()
        .map(|tool| ToolSpec {
            name: tool.name,
            description: tool.description,
            parameters: tool.parameters,
            strict: tool.strict,
        })
        .collect();
    let (system_prompt, messages) =
        initial_messages(ctx.system_prompt.as_deref(), &ctx.conversation_history, &ctx.prompt);
    let config = &prepared.config;
    let mut request = ChatRequest {
        model: prepared.model.clone(),
        system_prompt,
        messages,
        tools,
        options: request_options(config, ctx.model_config.as_ref()),
    };
    let streaming = partials.is_some();
    let call_options = CallOptions {
        cancel: Some(scope.cancellation_token().clone()),
        timeout: config.tool_timeout(),
        schema_target: Some(prepared.target),
        responder: None,
    };

    let finish = loop {
        if scope.is_cancelled() {
            break FinishReason::Cancelled;
        }
        state.iterations += 1;
        let call = model_call(prepared, &request, scope, &mut state, partials.as_ref(), streaming);
        let response = tokio::select! {
            biased;
            () = scope.cancelled() => break FinishReason::Cancelled,
            response = call => response,
        };
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                let partial = state.result(prepared, FinishReason::Error);
                return Err(RuntimeError::execution(format!("model call failed: {error}")).with_partial(partial));
            }
        };
        state.add_turn_text(&response.content);
        let over_budget = config.max_total_tokens.is_some_and(|limit| state.usage.total_tokens >= limit);
        if response.tool_calls.is_empty() {
            break if matches!(response.finish, FinishKind::Length) || over_budget {
                FinishReason::Length
            } else {
                FinishReason::Stop
            };
        }
        let limit = prepared.catalogue.options().max_argument_bytes;
        state.tool_messages.push(assistant_tool_message(&response.content, &response.tool_calls, limit));
        request.messages.push(Message::Assistant {
            content: (!response.content.is_empty()).then(|| response.content.clone()),
            tool_calls: response.tool_calls.clone(),
            thinking: response.thinking.clone(),
        });
        if state.iterations >= config.max_iterations() {
            debug!(iterations = state.iterations, "iteration budget spent while the model still wants tools");
            break FinishReason::ToolUse;
        }
        if over_budget {
            break FinishReason::Length;
        }
        let results = run_tools(prepared, &response, scope, &call_options, &state.log).await;
        let sampled = prepared.interactions.take_usage();
        if sampled.total_tokens > 0 || sampled.input_tokens > 0 {
            state.usage.accumulate(&sampled);
            scope.emit(&ExecutionEvent::Usage { usage: state.usage.clone() });
        }
        for (call, record) in response.tool_calls.iter().zip(results) {
            state.tool_messages.push(tool_result_message(call, &record.output, !record.success));
            request.messages.push(Message::Tool {
                tool_call_id: call.id.clone(),
                name: call.name.clone(),
                content: record.output,
                is_error: !record.success,
            });
        }
    };
    Ok(state.result(prepared, finish))
}

/// Runs the tool calls of one model reply: each takes its place in the log in the order the
/// model issued them, then they run with bounded concurrency; results come back in that order.
async fn run_tools(
    prepared: &Prepared,
    response: &ChatResponse,
    scope: &ExecutionScope,
    options: &CallOptions,
    log: &CallLog,
) -> Vec<toolbridge_runtime::ToolCallRecord> {
    let catalogue = &prepared.catalogue;
    let prepared_calls: Vec<_> = response
        .tool_calls
        .iter()
        .map(|call| {
            if scope.has_listener() {
                let tool_args =
                    serde_json::from_str(&call.arguments).unwrap_or_else(|_| Value::String(call.arguments.clone()));
                scope.emit(&ExecutionEvent::ToolStart {
                    tool_name: call.name.clone(),
                    tool_args,
                    tool_execution_id: call.id.clone(),
                });
            }
            let responder = CallResponder {
                execution: Arc::clone(&prepared.interactions),
                scope: scope.clone(),
                tool_name: call.name.clone(),
                tool_execution_id: call.id.clone(),
            };
            let options = CallOptions { responder: Some(Arc::new(responder)), ..options.clone() };
            (catalogue.begin(log, &call.name, RawArguments::Json(&call.arguments), &call.id), options)
        })
        .collect();
    let runs: Vec<_> =
        prepared_calls.into_iter().map(|(call, options)| async move { run_one(call, &options, scope).await }).collect();
    stream::iter(runs).buffered(prepared.config.max_parallel_tools()).collect().await
}

/// The sampling settings of every model request: `model_config`'s, else the agent's
/// `runtime_config`'s.
fn request_options(config: &AgentLoopConfig, model: Option<&ModelConfig>) -> RequestOptions {
    let model = model.cloned().unwrap_or_default();
    RequestOptions {
        temperature: model.temperature.or(config.temperature),
        max_tokens: model.max_tokens.or(config.max_tokens),
        top_p: model.top_p,
        stop: model.stop,
        seed: model.seed,
        presence_penalty: model.presence_penalty,
        frequency_penalty: model.frequency_penalty,
        parallel_tool_calls: config.parallel_tool_calls,
    }
}

async fn run_one(
    call: PreparedCall<'_>,
    options: &CallOptions,
    scope: &ExecutionScope,
) -> toolbridge_runtime::ToolCallRecord {
    let record = call.run(options).await;
    scope.emit(&ExecutionEvent::tool_complete(
        record.tool.clone(),
        record.tool_use_id.clone(),
        record.success,
        &record.output,
        record.error.clone(),
        record.duration_ms,
    ));
    record
}

/// One model call: streamed (events and partial results) when streaming, else one request.
async fn model_call(
    prepared: &Prepared,
    request: &ChatRequest,
    scope: &ExecutionScope,
    state: &mut State,
    partials: Option<&mpsc::Sender<RuntimeExecutionResult>>,
    streaming: bool,
) -> Result<ChatResponse, toolbridge_providers::ProviderError> {
    let response = if streaming {
        let mut deltas = prepared.provider.stream(request).await?;
        let mut accumulator = StreamAccumulator::new();
        let mut turn_has_text = false;
        while let Some(delta) = deltas.next().await {
            let delta = delta?;
            match &delta {
                StreamDelta::Text(text) if !text.is_empty() => {
                    if !turn_has_text && !state.streamed.is_empty() {
                        scope.emit(&ExecutionEvent::ContentChunk { text: TURN_SEPARATOR.to_owned() });
                        state.streamed.push_str(TURN_SEPARATOR);
                    }
                    turn_has_text = true;
                    scope.emit(&ExecutionEvent::ContentChunk { text: text.clone() });
                    state.streamed.push_str(text);
                    if let Some(partials) = partials {
                        // A slow consumer slows the model stream down rather than growing a queue.
                        let _ = partials.send(state.partial(prepared)).await;
                    }
                }
                StreamDelta::ThinkingStart => scope.emit(&ExecutionEvent::ThinkingStart),
                StreamDelta::ThinkingDelta(text) => scope.emit(&ExecutionEvent::ThinkingDelta { text: text.clone() }),
                StreamDelta::ThinkingEnd { .. } => scope.emit(&ExecutionEvent::ThinkingComplete),
                _ => {}
            }
            accumulator.push(delta);
        }
        accumulator.finish()?
    } else {
        prepared.provider.complete(request).await?
    };
    let usage = Usage {
        input_tokens: response.usage.input_tokens,
        output_tokens: response.usage.output_tokens,
        total_tokens: response.usage.total_tokens,
        cache_read_tokens: response.usage.cache_read_tokens,
        model_provider: Some(prepared.provider.name().to_owned()),
        extra: Map::new(),
    };
    state.usage.accumulate(&usage);
    scope.emit(&ExecutionEvent::Usage { usage: state.usage.clone() });
    Ok(response)
}
