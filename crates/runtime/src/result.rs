//! The output of an execution.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::tool_call::ToolCallRecord;
use crate::usage::Usage;

/// Why an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished its answer.
    Stop,
    /// The token limit was reached.
    Length,
    /// The iteration budget was spent while the model still wanted tools.
    ToolUse,
    /// The execution failed.
    Error,
    /// The execution was cancelled.
    Cancelled,
}

impl FinishReason {
    /// The wire name, e.g. `tool_use`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolUse => "tool_use",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of an execution (also each partial result of a stream): the seed's
/// `RuntimeExecutionResult`, with its field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeExecutionResult {
    /// The agent's response text.
    #[serde(default)]
    pub response: String,
    /// Token usage.
    #[serde(default)]
    pub usage: Usage,
    /// Whether the execution succeeded.
    pub success: bool,
    /// Why it ended; `None` on partial stream results.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Run identifier.
    #[serde(default)]
    pub run_id: Option<String>,
    /// The model used.
    #[serde(default)]
    pub model: Option<String>,
    /// The tool-call log, in call order.
    #[serde(default)]
    pub tool_execution_messages: Option<Vec<ToolCallRecord>>,
    /// Provider-level messages: assistant tool calls and tool results.
    #[serde(default)]
    pub tool_messages: Option<Vec<Value>>,
    /// The error message, when it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Anything else (iterations, tools offered, pool hits, …).
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

impl Default for RuntimeExecutionResult {
    fn default() -> Self {
        Self {
            response: String::new(),
            usage: Usage::default(),
            success: true,
            finish_reason: None,
            run_id: None,
            model: None,
            tool_execution_messages: None,
            tool_messages: None,
            error: None,
            metadata: Map::new(),
        }
    }
}

impl RuntimeExecutionResult {
    /// A successful, finished result with the given response.
    pub fn success(response: impl Into<String>) -> Self {
        Self { response: response.into(), finish_reason: Some(FinishReason::Stop), ..Self::default() }
    }

    /// A partial (unfinished) stream result with the response so far.
    pub fn partial(response: impl Into<String>) -> Self {
        Self { response: response.into(), ..Self::default() }
    }

    /// A failed result: `success=false`, `finish_reason=error`, `error` set.
    pub fn failure(error: impl Into<String>) -> Self {
        Self { success: false, finish_reason: Some(FinishReason::Error), error: Some(error.into()), ..Self::default() }
    }

    /// A cancelled result: `success=false`, `finish_reason=cancelled`.
    pub fn cancelled() -> Self {
        Self {
            success: false,
            finish_reason: Some(FinishReason::Cancelled),
            error: Some("execution cancelled".to_owned()),
            ..Self::default()
        }
    }

    /// Marks this result as cancelled, keeping what it already holds (response, tool log,
    /// usage).
    pub fn mark_cancelled(&mut self) {
        self.success = false;
        self.finish_reason = Some(FinishReason::Cancelled);
        if self.error.is_none() {
            self.error = Some("execution cancelled".to_owned());
        }
    }

    /// Sets the usage.
    #[must_use]
    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }

    /// Sets the model.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// True once the result carries a finish reason (the last item of a stream).
    pub fn is_final(&self) -> bool {
        self.finish_reason.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_shaped_result_round_trips() {
        let value = json!({
            "response": "hi", "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3, "cache_read_tokens": 0},
            "success": true, "finish_reason": "tool_use", "run_id": "r", "model": "m",
            "tool_execution_messages": [], "tool_messages": [{"role": "tool"}], "error": null,
            "metadata": {"iterations": 2}
        });
        let result: RuntimeExecutionResult = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(result.finish_reason, Some(FinishReason::ToolUse));
        assert_eq!(serde_json::to_value(&result).unwrap(), value);
    }

    #[test]
    fn failure_and_cancelled_are_marked() {
        let failed = RuntimeExecutionResult::failure("boom");
        assert!(!failed.success);
        assert_eq!(failed.finish_reason, Some(FinishReason::Error));
        let mut partial = RuntimeExecutionResult::partial("so far");
        partial.mark_cancelled();
        assert_eq!(partial.response, "so far");
        assert_eq!(partial.finish_reason, Some(FinishReason::Cancelled));
    }
}
