//! What crosses Temporal: the workflow's input and output, the activities' inputs and outputs,
//! and the event feed the starter queries. All of it is JSON in the workflow's history, so
//! field names are stable (`rename_all = "snake_case"` where an enum is involved).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use toolbridge_agent::AgentLoopConfig;
use toolbridge_providers::{ChatRequest, ToolCall, ToolSpec};
use toolbridge_runtime::{ExecutionEvent, RuntimeExecutionContext, RuntimeExecutionResult, ToolSourceKind, Usage};

use crate::config::DurableAgentConfig;

/// The input of a durable execution's workflow: the execution's context (its `model_id`
/// resolved by the starter) and its effective `runtime_config`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DurableInput {
    /// The execution's context.
    pub context: RuntimeExecutionContext,
    /// The effective `runtime_config`.
    pub config: DurableAgentConfig,
}

/// What a worker needs to build an execution's catalogue: the context without its
/// conversation (prompt, history, system prompt) and the agent loop's settings. Equal scopes
/// share one catalogue on a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolScope {
    /// The context, conversation left out.
    pub context: RuntimeExecutionContext,
    /// The agent loop's settings (output cap, strict schemas, tool time limit).
    pub config: AgentLoopConfig,
}

impl ToolScope {
    /// The tool scope of an execution.
    pub fn of(context: &RuntimeExecutionContext, config: &AgentLoopConfig) -> Self {
        let mut context = context.clone();
        context.prompt = String::new();
        context.conversation_history = Vec::new();
        context.system_prompt = None;
        context.user_metadata = None;
        Self { context, config: config.clone() }
    }

    /// A key that equal scopes share (their JSON text), for caching catalogues.
    pub fn key(&self) -> String {
        let mut keyed = self.context.clone();
        // The same tools whatever execution asks for them.
        keyed.execution_id = Default::default();
        serde_json::to_string(&(keyed, &self.config)).unwrap_or_default()
    }
}

/// One catalogue tool as the workflow needs to know it: where it comes from, and whether a
/// call may be run again after its worker was lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolMeta {
    /// The source's kind.
    pub source: ToolSourceKind,
    /// The MCP server or skill.
    pub server: String,
    /// The tool's name within its source.
    pub original_name: String,
    /// Marked `idempotent` in its server's configuration.
    pub idempotent: bool,
}

/// What the `prepare` activity learned on a worker; recorded once in the history, so that
/// every later step of the workflow sees the same tools.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreparedTools {
    /// The model name sent to the provider.
    pub model: String,
    /// The provider (`openai`, `anthropic`, `scripted`).
    pub model_provider: String,
    /// The tools offered to the model, schemas normalised.
    pub tools: Vec<ToolSpec>,
    /// Every tool of the catalogue by name.
    pub catalogue: BTreeMap<String, ToolMeta>,
    /// The longest time limit of one tool call (the largest server `timeout`, or the
    /// config's `tool_timeout_ms`), in milliseconds.
    pub tool_timeout_ms: u64,
    /// What the result's metadata starts with.
    pub metadata: Map<String, Value>,
}

/// The input of the `model_call` activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelCall {
    /// The model id (`openai:…`, `scripted:PATH`, …).
    pub model_id: String,
    /// The request.
    pub request: ChatRequest,
}

/// The input of the `tool_call` activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolCallInput {
    /// Which catalogue.
    pub scope: ToolScope,
    /// The call, as the model asked for it.
    pub call: ToolCall,
}

/// A page of a running execution's event feed (the workflow's `progress` query).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Events from the requested index on.
    pub events: Vec<ExecutionEvent>,
    /// The index to ask from next.
    pub next: u32,
    /// Usage so far.
    pub usage: Usage,
    /// Whether the loop has ended.
    pub finished: bool,
}

/// Where a durable execution failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureStage {
    /// Building the catalogue or choosing the model, before any model call.
    Prepare,
    /// A model call, after its attempts.
    Model,
}

/// Why a durable execution failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Where.
    pub stage: FailureStage,
    /// The error message.
    pub message: String,
}

/// The output of a durable execution's workflow: its result — complete, cancelled, or what it
/// had done when it failed — and, when it failed, why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkflowOutcome {
    /// The result (on failure: the partial result, its call log complete).
    pub result: RuntimeExecutionResult,
    /// Set when the execution failed.
    pub failure: Option<Failure>,
}

impl WorkflowOutcome {
    /// The result as the runtime contract's orchestration would finish it: a failure becomes
    /// `success = false`, `finish_reason = error` and its message in `error`, the partial
    /// result kept (what `executions show` stores when no starter saw the end).
    pub fn into_result(self) -> RuntimeExecutionResult {
        let mut result = self.result;
        if let Some(failure) = self.failure {
            result.success = false;
            result.finish_reason = Some(toolbridge_runtime::FinishReason::Error);
            result.error = Some(failure.message);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_outcome_becomes_an_error_result_keeping_its_partial() {
        let mut partial = RuntimeExecutionResult::partial("so far");
        partial.tool_execution_messages = Some(Vec::new());
        let outcome = WorkflowOutcome {
            result: partial,
            failure: Some(Failure { stage: FailureStage::Model, message: "model call failed: 500".into() }),
        };
        let result = outcome.into_result();
        assert!(!result.success);
        assert_eq!(result.finish_reason, Some(toolbridge_runtime::FinishReason::Error));
        assert_eq!(result.error.as_deref(), Some("model call failed: 500"));
        assert_eq!(result.response, "so far");
    }

    #[test]
    fn scopes_ignore_the_conversation_and_the_execution() {
        let config = AgentLoopConfig::default();
        let a = RuntimeExecutionContext::new("first prompt").model("scripted:x.json");
        let b = RuntimeExecutionContext::new("another").model("scripted:x.json").history("user", "earlier");
        let (a, b) = (ToolScope::of(&a, &config), ToolScope::of(&b, &config));
        assert_ne!(a.context.execution_id, b.context.execution_id);
        assert_eq!(a.key(), b.key());
        let other = ToolScope::of(&RuntimeExecutionContext::new("x").model("scripted:y.json"), &config);
        assert_ne!(a.key(), other.key());
    }
}
