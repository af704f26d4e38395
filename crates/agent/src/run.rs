//! One execution of the agent loop: model → tool calls (parallel, bounded) → results → model …
//! until the model stops, the iteration budget is spent (`tool_use`), the token limit is
//! reached (`length`) or the execution is cancelled.

use std::sync::Arc;

use futures::{StreamExt, stream};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use toolbridge::schema::SchemaTarget;
use toolbridge::{CallLog, CallOptions, Catalogue, PreparedCall, RawArguments};
use toolbridge_providers::{ChatRequest, ChatResponse, ModelProvider, StreamAccumulator, StreamDelta, ToolCall};
use toolbridge_runtime::{
    ExecutionEvent, ExecutionScope, FinishReason, RuntimeError, RuntimeExecutionContext, RuntimeExecutionResult, Usage,
};

use crate::config::AgentLoopConfig;
use crate::interaction::{CallResponder, ExecutionInteractions};
use crate::steps::{Conversation, NextStep, TURN_SEPARATOR, first_request, tool_specs};

/// Everything one execution needs, prepared by [`prepare`](crate::prepare) from the context:
/// the model, the catalogue (servers started through the shared pool, policy applied), the
/// schema dialect and the effective configuration.
#[derive(Debug)]
pub struct Prepared {
    /// The model provider.
    pub provider: Arc<dyn ModelProvider>,
    /// The model name sent to it.
    pub model: String,
    /// The execution's tool catalogue.
    pub catalogue: Arc<Catalogue>,
    /// The schema dialect the provider's tool definitions use.
    pub target: SchemaTarget,
    /// The effective `runtime_config`.
    pub config: AgentLoopConfig,
    /// What the result's `metadata` starts with (tools offered, unavailable sources).
    pub metadata: Map<String, Value>,
    /// What MCP servers ask of the execution during its calls (sampling, elicitation).
    pub(crate) interactions: Arc<ExecutionInteractions>,
}

impl Prepared {
    /// The per-call settings of this execution's tool calls.
    pub fn call_options(&self, cancel: Option<toolbridge_runtime::CancellationToken>) -> CallOptions {
        CallOptions { cancel, timeout: self.config.tool_timeout(), schema_target: Some(self.target), responder: None }
    }
}

/// The state of the loop, kept so that a failure or cancellation still returns everything
/// done so far.
struct State {
    log: CallLog,
    conversation: Conversation,
    /// The text streamed so far (the finished turns' and the current turn's).
    streamed: String,
}

impl State {
    fn result(&self, prepared: &Prepared, finish: FinishReason) -> RuntimeExecutionResult {
        let mut metadata = prepared.metadata.clone();
        let samplings = prepared.interactions.samplings();
        if samplings > 0 {
            metadata.insert("sampling_requests".into(), serde_json::json!(samplings));
        }
        // Sampling answered during a call that was still running when the loop ended.
        let mut result = self.conversation.result(&prepared.model, &metadata, self.log.records(), finish);
        result.usage.accumulate(&prepared.interactions.take_usage());
        result
    }
}

fn partial(prepared: &Prepared, streamed: &str, usage: &Usage) -> RuntimeExecutionResult {
    RuntimeExecutionResult {
        response: streamed.to_owned(),
        usage: usage.clone(),
        model: Some(prepared.model.clone()),
        ..RuntimeExecutionResult::default()
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
    let request =
        first_request(&prepared.model, tool_specs(&prepared.catalogue, prepared.target), ctx, &prepared.config);
    let mut state = State {
        log: scope.call_log().clone(),
        conversation: Conversation::new(request, prepared.provider.name())
            .with_argument_limit(prepared.catalogue.options().max_argument_bytes),
        streamed: String::new(),
    };
    let config = &prepared.config;
    let streaming = partials.is_some();
    let call_options = prepared.call_options(Some(scope.cancellation_token().clone()));

    let finish = loop {
        if scope.is_cancelled() {
            break FinishReason::Cancelled;
        }
        state.conversation.begin_turn();
        let call = model_call(
            prepared,
            &state.conversation.request,
            scope,
            &mut state.streamed,
            &state.conversation.usage,
            partials.as_ref(),
            streaming,
        );
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
        let usage = state.conversation.add_usage(&response.usage);
        scope.emit(&ExecutionEvent::Usage { usage: usage.clone() });
        let calls = match state.conversation.apply_reply(&response, config) {
            NextStep::Finish(reason) => break reason,
            NextStep::CallTools(calls) => calls,
        };
        let records = run_tools(prepared, &calls, scope, &call_options, &state.log).await;
        let sampled = prepared.interactions.take_usage();
        if sampled.total_tokens > 0 || sampled.input_tokens > 0 {
            state.conversation.usage.accumulate(&sampled);
            scope.emit(&ExecutionEvent::Usage { usage: state.conversation.usage.clone() });
        }
        state.conversation.apply_tool_results(&calls, &records);
    };
    Ok(state.result(prepared, finish))
}

/// Runs the tool calls of one model reply: each takes its place in the log in the order the
/// model issued them, then they run with bounded concurrency; results come back in that order.
async fn run_tools(
    prepared: &Prepared,
    calls: &[ToolCall],
    scope: &ExecutionScope,
    options: &CallOptions,
    log: &CallLog,
) -> Vec<toolbridge_runtime::ToolCallRecord> {
    let catalogue = &prepared.catalogue;
    let prepared_calls: Vec<_> = calls
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
    streamed: &mut String,
    usage: &Usage,
    partials: Option<&mpsc::Sender<RuntimeExecutionResult>>,
    streaming: bool,
) -> Result<ChatResponse, toolbridge_providers::ProviderError> {
    if !streaming {
        return prepared.provider.complete(request).await;
    }
    let mut deltas = prepared.provider.stream(request).await?;
    let mut accumulator = StreamAccumulator::new();
    let mut turn_has_text = false;
    while let Some(delta) = deltas.next().await {
        let delta = delta?;
        match &delta {
            StreamDelta::Text(text) if !text.is_empty() => {
                if !turn_has_text && !streamed.is_empty() {
                    scope.emit(&ExecutionEvent::ContentChunk { text: TURN_SEPARATOR.to_owned() });
                    streamed.push_str(TURN_SEPARATOR);
                }
                turn_has_text = true;
                scope.emit(&ExecutionEvent::ContentChunk { text: text.clone() });
                streamed.push_str(text);
                if let Some(partials) = partials {
                    // A slow consumer slows the model stream down rather than growing a queue.
                    let _ = partials.send(partial(prepared, streamed, usage)).await;
                }
            }
            StreamDelta::ThinkingStart => scope.emit(&ExecutionEvent::ThinkingStart),
            StreamDelta::ThinkingDelta(text) => scope.emit(&ExecutionEvent::ThinkingDelta { text: text.clone() }),
            StreamDelta::ThinkingEnd { .. } => scope.emit(&ExecutionEvent::ThinkingComplete),
            _ => {}
        }
        accumulator.push(delta);
    }
    accumulator.finish()
}
