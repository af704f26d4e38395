//! How executions look on the wire: a summary line for listings, the whole execution for
//! `GET /executions/{id}` and the final `result` message of `/events`. Times are RFC 3339 in
//! UTC with milliseconds.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use toolbridge_runtime::{ExecutionStatus, RuntimeExecutionResult, ToolCallRecord, Usage};
use toolbridge_store::{ExecutionSummary, StoredExecution};

use crate::executions::live::LiveExecution;

/// A time as the API writes it.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One line of `GET /executions`.
#[derive(Debug, Serialize)]
pub(crate) struct SummaryView {
    id: String,
    agent_id: String,
    runtime_type: String,
    model: Option<String>,
    status: ExecutionStatus,
    finish_reason: Option<String>,
    prompt: String,
    started_at: String,
    finished_at: Option<String>,
    duration_ms: Option<u64>,
    error: Option<String>,
    tool_calls: usize,
    total_tokens: u64,
}

impl From<ExecutionSummary> for SummaryView {
    fn from(s: ExecutionSummary) -> Self {
        let finished = s.finished_at.is_some();
        Self {
            id: s.id,
            agent_id: s.agent_id,
            runtime_type: s.runtime_type,
            model: s.model,
            status: s.status,
            finish_reason: s.finish_reason,
            prompt: s.prompt,
            started_at: time(s.started_at),
            finished_at: s.finished_at.map(time),
            duration_ms: finished.then_some(s.duration_ms),
            error: s.error,
            tool_calls: s.tool_calls,
            total_tokens: s.total_tokens,
        }
    }
}

/// The whole execution: the summary's fields, then the result's (its tool-call log under
/// `tool_calls`). While it runs, the result's fields hold what is known so far.
#[derive(Debug, Serialize)]
pub(crate) struct ExecutionView {
    id: String,
    agent_id: String,
    runtime_type: String,
    model: Option<String>,
    status: ExecutionStatus,
    finish_reason: Option<String>,
    prompt: String,
    started_at: String,
    finished_at: Option<String>,
    duration_ms: Option<u64>,
    error: Option<String>,
    success: Option<bool>,
    response: String,
    usage: Usage,
    tool_calls: Vec<ToolCallRecord>,
    tool_messages: Option<Vec<Value>>,
    run_id: Option<String>,
    metadata: Map<String, Value>,
}

impl ExecutionView {
    pub(crate) fn stored(stored: StoredExecution) -> Self {
        let StoredExecution { summary, result, tool_calls, usage, .. } = stored;
        let finished = summary.finished_at.is_some();
        Self {
            id: summary.id,
            agent_id: summary.agent_id,
            runtime_type: summary.runtime_type,
            model: summary.model,
            status: summary.status,
            finish_reason: summary.finish_reason,
            prompt: summary.prompt,
            started_at: time(summary.started_at),
            finished_at: summary.finished_at.map(time),
            duration_ms: finished.then_some(summary.duration_ms),
            error: summary.error,
            success: finished.then_some(result.success),
            response: result.response,
            usage,
            tool_calls,
            tool_messages: result.tool_messages,
            run_id: result.run_id,
            metadata: result.metadata,
        }
    }

    pub(crate) fn live(live: &LiveExecution) -> Self {
        let started = &live.started;
        let outcome = live.outcome();
        let (status, result, finished_at) = match &outcome {
            Some((result, at)) => (ExecutionStatus::of(result), Some(result.as_ref()), Some(*at)),
            None => (ExecutionStatus::Running, None, None),
        };
        let duration_ms =
            finished_at.map(|at| u64::try_from((at - started.started_at).num_milliseconds().max(0)).unwrap_or(0));
        let fallback = RuntimeExecutionResult::default();
        let shown = result.unwrap_or(&fallback);
        Self {
            id: started.id.to_string(),
            agent_id: started.agent_id.clone(),
            runtime_type: started.runtime_type.clone(),
            model: shown.model.clone().or_else(|| started.model.clone()),
            status,
            finish_reason: shown.finish_reason.map(|f| f.as_str().to_owned()),
            prompt: started.prompt.clone(),
            started_at: time(started.started_at),
            finished_at: finished_at.map(time),
            duration_ms,
            error: shown.error.clone(),
            success: result.map(|r| r.success),
            response: if result.is_some() { shown.response.clone() } else { live.response_so_far() },
            usage: if result.is_some() { shown.usage.clone() } else { live.usage_so_far().unwrap_or_default() },
            tool_calls: shown.tool_execution_messages.clone().unwrap_or_default(),
            tool_messages: shown.tool_messages.clone(),
            run_id: shown.run_id.clone(),
            metadata: shown.metadata.clone(),
        }
    }
}

/// What `POST /executions` answers (and the last message of its stream): the
/// `RuntimeExecutionResult` with the execution's id.
#[derive(Debug, Serialize)]
pub(crate) struct ResultView<'a> {
    pub(crate) execution_id: &'a str,
    #[serde(flatten)]
    pub(crate) result: &'a RuntimeExecutionResult,
}
