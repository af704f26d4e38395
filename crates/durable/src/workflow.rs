//! The agent loop as a Temporal workflow.
//!
//! The workflow holds the loop's state — the conversation (messages, iteration, usage), the
//! call log, the event feed — and runs the agent crate's pure steps between activities
//! (`prepare`, `model_call`, `tool_call`). It is deterministic: no clock but the workflow's,
//! no randomness, no I/O; every model reply and tool record comes from an activity whose
//! result is in the history, so a replay on another worker rebuilds the same state without
//! running a completed model or tool call again.
//!
//! A tool call is attempted more than once only when its tool is marked `idempotent`; one
//! whose worker was lost otherwise ends as a failed record saying so, and the model carries on
//! with that. Cancelling the workflow cancels the running activities (tool calls see it at
//! their next heartbeat and stop) and ends the execution `cancelled`, its call log complete:
//! the workflow still completes normally, so that the starter gets the result.

// The SDK's macros generate undocumented marker types (one per activity, query, run).
#![allow(missing_docs, missing_debug_implementations)]

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityCancellationType, ActivityExecutionError, ActivityOptions, WorkflowContext, WorkflowContextView,
    WorkflowResult,
};
use toolbridge_agent::steps::{Conversation, NextStep, first_request};
use toolbridge_providers::{ChatResponse, ToolCall};
use toolbridge_runtime::{
    ExecutionEvent, FinishReason, RuntimeExecutionResult, ToolCallRecord, ToolErrorType, ToolSourceKind, Usage,
};

use crate::activities::AgentActivities;
use crate::config::DurableAgentConfig;
use crate::wire::{
    DurableInput, Failure, FailureStage, ModelCall, PreparedTools, Progress, ToolCallInput, ToolMeta, ToolScope,
    WorkflowOutcome,
};

/// The most events one `progress` answer carries.
const PAGE: usize = 500;

/// Time limit of one `prepare` attempt: servers start (30 s by default) and list their tools.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(180);

/// What a tool-call attempt may take beyond the tool's own time limit (the call itself is
/// bounded by the catalogue; this bounds a stuck worker).
const TOOL_MARGIN: Duration = Duration::from_secs(30);

/// The workflow of one durable execution, and what its queries read.
#[workflow]
#[derive(Debug, Default)]
pub struct AgentWorkflow {
    events: Vec<ExecutionEvent>,
    usage: Usage,
    finished: bool,
}

#[workflow_methods]
impl AgentWorkflow {
    /// Runs the agent loop.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: DurableInput) -> WorkflowResult<WorkflowOutcome> {
        let outcome = drive(ctx, input).await;
        ctx.state_mut(|state| state.finished = true);
        Ok(outcome)
    }

    /// The event feed from index `from` on, with the usage so far.
    #[query]
    pub fn progress(&self, _ctx: &WorkflowContextView, from: u32) -> Progress {
        let from = (from as usize).min(self.events.len());
        let events: Vec<ExecutionEvent> = self.events[from..].iter().take(PAGE).cloned().collect();
        let next = u32::try_from(from + events.len()).unwrap_or(u32::MAX);
        Progress { events, next, usage: self.usage.clone(), finished: self.finished }
    }

    /// The usage so far.
    #[query]
    pub fn usage(&self, _ctx: &WorkflowContextView) -> Usage {
        self.usage.clone()
    }
}

type Ctx = WorkflowContext<AgentWorkflow>;

fn now(ctx: &Ctx) -> DateTime<Utc> {
    ctx.workflow_time().map_or_else(|| DateTime::<Utc>::from(SystemTime::UNIX_EPOCH), DateTime::<Utc>::from)
}

fn emit(ctx: &Ctx, events: impl IntoIterator<Item = ExecutionEvent>) {
    ctx.state_mut(|state| state.events.extend(events));
}

async fn drive(ctx: &Ctx, input: DurableInput) -> WorkflowOutcome {
    let DurableInput { context, config } = input;
    let scope = ToolScope::of(&context, &config.agent);
    let prepared = match ctx.execute_activity(AgentActivities::prepare, scope.clone(), prepare_options(&config)).await {
        Ok(prepared) => prepared,
        Err(ActivityExecutionError::Cancelled(_)) => {
            return WorkflowOutcome { result: unstarted(&context, FinishReason::Cancelled), failure: None };
        }
        Err(error) => {
            let failure = Failure { stage: FailureStage::Prepare, message: activity_message(&error) };
            return WorkflowOutcome { result: unstarted(&context, FinishReason::Error), failure: Some(failure) };
        }
    };
    let request = first_request(&prepared.model, prepared.tools.clone(), &context, &config.agent);
    let mut conversation = Conversation::new(request, &prepared.model_provider);
    let mut log: Vec<ToolCallRecord> = Vec::new();
    let model_id = context.model_id.clone().unwrap_or_default();

    let finish = loop {
        if ctx.cancellation_token().is_cancelled() {
            break FinishReason::Cancelled;
        }
        conversation.begin_turn();
        let call = ModelCall { model_id: model_id.clone(), request: conversation.request.clone() };
        let reply = match ctx.execute_activity(AgentActivities::model_call, call, model_options(&config)).await {
            Ok(reply) => reply,
            Err(ActivityExecutionError::Cancelled(_)) => break FinishReason::Cancelled,
            Err(error) => {
                let message = format!("model call failed: {}", activity_message(&error));
                let result = conversation.result(&prepared.model, &prepared.metadata, log, FinishReason::Error);
                return WorkflowOutcome { result, failure: Some(Failure { stage: FailureStage::Model, message }) };
            }
        };
        let usage = conversation.add_usage(&reply.usage).clone();
        let before = conversation.response.len();
        let next = conversation.apply_reply(&reply, &config.agent);
        let chunk = conversation.response[before..].to_owned();
        ctx.state_mut(|state| {
            state.events.extend(turn_events(&reply, chunk));
            state.events.push(ExecutionEvent::Usage { usage: usage.clone() });
            state.usage = usage;
        });
        let calls = match next {
            NextStep::Finish(reason) => break reason,
            NextStep::CallTools(calls) => calls,
        };
        emit(
            ctx,
            calls.iter().map(|call| ExecutionEvent::ToolStart {
                tool_name: call.name.clone(),
                tool_args: serde_json::from_str(&call.arguments)
                    .unwrap_or_else(|_| Value::String(call.arguments.clone())),
                tool_execution_id: call.id.clone(),
            }),
        );
        let records = run_tools(ctx, &prepared, &scope, &config, &calls).await;
        conversation.apply_tool_results(&calls, &records);
        log.extend(records);
    };
    WorkflowOutcome { result: conversation.result(&prepared.model, &prepared.metadata, log, finish), failure: None }
}

/// The result of an execution that ended before its first model call.
fn unstarted(context: &toolbridge_runtime::RuntimeExecutionContext, finish: FinishReason) -> RuntimeExecutionResult {
    let mut result = RuntimeExecutionResult {
        success: false,
        finish_reason: Some(finish),
        model: context.model_id.clone(),
        tool_execution_messages: Some(Vec::new()),
        tool_messages: Some(Vec::new()),
        ..RuntimeExecutionResult::default()
    };
    if finish == FinishReason::Cancelled {
        result.mark_cancelled();
    }
    result
}

/// The events of one model turn: its thinking, then its text (one chunk per turn).
fn turn_events(reply: &ChatResponse, chunk: String) -> Vec<ExecutionEvent> {
    let mut events = Vec::new();
    if let Some(thinking) = &reply.thinking {
        events.push(ExecutionEvent::ThinkingStart);
        events.push(ExecutionEvent::ThinkingDelta { text: thinking.text.clone() });
        events.push(ExecutionEvent::ThinkingComplete);
    }
    if !chunk.is_empty() {
        events.push(ExecutionEvent::ContentChunk { text: chunk });
    }
    events
}

/// The tool calls of one model reply, at most `max_parallel_tools` at a time, each an
/// activity; their records come back in the order the model asked for them.
async fn run_tools(
    ctx: &Ctx,
    prepared: &PreparedTools,
    scope: &ToolScope,
    config: &DurableAgentConfig,
    calls: &[ToolCall],
) -> Vec<ToolCallRecord> {
    let runs = calls.iter().map(|call| {
        let meta = prepared.catalogue.get(&call.name).cloned();
        let idempotent = meta.as_ref().is_some_and(|m| m.idempotent);
        let options = tool_options(config, idempotent, prepared.tool_timeout_ms);
        let input = ToolCallInput { scope: scope.clone(), call: call.clone() };
        async move {
            let started = now(ctx);
            let record = match ctx.execute_activity(AgentActivities::tool_call, input, options).await {
                Ok(record) => record,
                Err(error) => lost_call(call, meta.as_ref(), &error, idempotent, started, now(ctx), config),
            };
            emit(
                ctx,
                [ExecutionEvent::tool_complete(
                    record.tool.clone(),
                    record.tool_use_id.clone(),
                    record.success,
                    &record.output,
                    record.error.clone(),
                    record.duration_ms,
                )],
            );
            record
        }
    });
    window(runs, config.agent.max_parallel_tools()).await
}

/// Runs the futures with at most `limit` in flight, starting each as a slot frees, in order;
/// the outputs come back in that order. (`StreamExt::buffered` would do, but its inner wakers
/// are not the SDK's, which its non-determinism detector refuses; `select_all` polls every
/// future with the workflow's own waker.)
async fn window<F: std::future::Future>(futures: impl IntoIterator<Item = F>, limit: usize) -> Vec<F::Output> {
    let mut pending = futures.into_iter().enumerate();
    let mut running = Vec::new();
    let mut outputs = Vec::new();
    loop {
        while running.len() < limit.max(1) {
            let Some((index, future)) = pending.next() else { break };
            running.push(Box::pin(async move { (index, future.await) }));
        }
        if running.is_empty() {
            break;
        }
        let ((index, output), _, rest) = futures::future::select_all(running).await;
        outputs.push((index, output));
        running = rest;
    }
    outputs.sort_by_key(|(index, _)| *index);
    outputs.into_iter().map(|(_, output)| output).collect()
}

/// The record of a call whose activity did not return one: cancelled, or lost with its
/// worker (and not retried, or retried in vain).
fn lost_call(
    call: &ToolCall,
    meta: Option<&ToolMeta>,
    error: &ActivityExecutionError,
    idempotent: bool,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    config: &DurableAgentConfig,
) -> ToolCallRecord {
    let cause = activity_message(error);
    let (error_type, message) = match error {
        ActivityExecutionError::Cancelled(_) => {
            (ToolErrorType::Cancelled, "the call was cancelled before it finished".to_owned())
        }
        _ if idempotent => (
            timeout_or_unavailable(error),
            format!(
                "`{}` failed on all {} attempts (the tool is marked idempotent): {cause}",
                call.name,
                config.tool_attempts()
            ),
        ),
        _ => (
            timeout_or_unavailable(error),
            format!(
                "`{}` did not finish: {cause}. The tool is not marked idempotent, so the call was not run again; \
                 it may or may not have taken effect",
                call.name
            ),
        ),
    };
    let mut metadata = Map::new();
    metadata.insert("durable".into(), json!({"retried": idempotent, "cause": cause}));
    if let Some(meta) = meta {
        metadata.insert("original_name".into(), Value::String(meta.original_name.clone()));
    }
    ToolCallRecord {
        tool: call.name.clone(),
        tool_use_id: call.id.clone(),
        source: meta.map_or(ToolSourceKind::Unknown, |m| m.source),
        server: meta.map(|m| m.server.clone()),
        input: serde_json::from_str(&call.arguments).unwrap_or_else(|_| Value::String(call.arguments.clone())),
        output: message.clone(),
        success: false,
        error: Some(message),
        error_type: Some(error_type),
        duration_ms: u64::try_from((end_time - start_time).num_milliseconds()).unwrap_or(0),
        start_time,
        end_time,
        metadata,
    }
}

fn timeout_or_unavailable(error: &ActivityExecutionError) -> ToolErrorType {
    match error {
        ActivityExecutionError::Failed(failed) if failed.as_timeout().is_some() => ToolErrorType::Timeout,
        _ => ToolErrorType::ServerUnavailable,
    }
}

/// The message of a failed activity, with its cause (a timeout says which).
fn activity_message(error: &ActivityExecutionError) -> String {
    match error {
        ActivityExecutionError::Failed(failed) => {
            if let Some(timeout) = failed.as_timeout() {
                return match timeout.timeout_type() {
                    temporalio_sdk::TimeoutType::Heartbeat => {
                        "its worker stopped answering (heartbeat timeout): the worker was lost".to_owned()
                    }
                    other => format!("it timed out ({other:?})"),
                };
            }
            let mut message = failed.failure().message.clone();
            let mut cause = failed.failure().cause.as_deref();
            while let Some(failure) = cause {
                if !failure.message.is_empty() && !message.contains(&failure.message) {
                    message = if message.is_empty() {
                        failure.message.clone()
                    } else {
                        format!("{message}: {}", failure.message)
                    };
                }
                cause = failure.cause.as_deref();
            }
            message
        }
        other => other.to_string(),
    }
}

fn retry(attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(500))
        .maximum_interval(Duration::from_secs(10))
        .maximum_attempts(attempts)
        .build()
}

fn prepare_options(config: &DurableAgentConfig) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(PREPARE_TIMEOUT)
        .heartbeat_timeout(config.heartbeat_timeout())
        .retry_policy(retry(3))
        .build()
}

fn model_options(config: &DurableAgentConfig) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(config.model_timeout())
        .heartbeat_timeout(config.heartbeat_timeout())
        .retry_policy(retry(config.model_attempts()))
        .build()
}

fn tool_options(config: &DurableAgentConfig, idempotent: bool, tool_timeout_ms: u64) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_millis(tool_timeout_ms) + TOOL_MARGIN)
        .heartbeat_timeout(config.heartbeat_timeout())
        .retry_policy(retry(if idempotent { config.tool_attempts() } else { 1 }))
        // The workflow waits for the call to acknowledge a cancellation, so the record is the
        // call's own (the tool saw it), not a guess.
        .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
        .build()
}

#[cfg(test)]
mod tests {
    use super::window;
    use std::time::Duration;

    #[tokio::test]
    async fn the_window_bounds_concurrency_and_keeps_the_order() {
        let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let futures = (0..10u64).map(|i| {
            let (running, most) = (running.clone(), most.clone());
            async move {
                let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10 * (10 - i))).await;
                running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                i
            }
        });
        assert_eq!(window(futures, 3).await, (0..10).collect::<Vec<_>>());
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert!(window(Vec::<std::future::Ready<u8>>::new(), 3).await.is_empty());
    }
}
