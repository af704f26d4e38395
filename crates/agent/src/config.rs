//! The agent loop's typed `runtime_config`.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `runtime_config` of the `agent_loop` runtime. Every field is optional; unknown fields,
/// wrong types and out-of-range values are rejected with the field named.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AgentLoopConfig {
    /// The most model calls in one execution (default 10). When the budget is spent while
    /// the model still asks for tools, the execution ends with `finish_reason = tool_use`.
    #[schemars(range(min = 1, max = 1000))]
    pub max_iterations: Option<u32>,
    /// Let the model ask for several tools at once, run in parallel (default true).
    pub parallel_tool_calls: Option<bool>,
    /// The most tool calls running at once (default 8).
    #[schemars(range(min = 1, max = 256))]
    pub max_parallel_tools: Option<u32>,
    /// A time limit for each tool call, in milliseconds (default: the server's `timeout`,
    /// 60 s).
    #[schemars(range(min = 1, max = 86_400_000))]
    pub tool_timeout_ms: Option<u64>,
    /// The most bytes of tool output the model gets from one call (default 100 000).
    #[schemars(range(min = 64, max = 100_000_000))]
    pub tool_output_limit: Option<usize>,
    /// Sampling temperature.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub temperature: Option<f32>,
    /// The most tokens per model reply.
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_tokens: Option<u32>,
    /// The most tokens (input + output) of the whole execution; when reached the execution
    /// ends with `finish_reason = length`.
    #[schemars(range(min = 1))]
    pub max_total_tokens: Option<u64>,
    /// Send OpenAI tool schemas in strict mode (default false).
    pub strict_tools: Option<bool>,
}

impl AgentLoopConfig {
    /// Default iteration budget.
    pub const DEFAULT_MAX_ITERATIONS: u32 = 10;
    /// Default tool concurrency.
    pub const DEFAULT_MAX_PARALLEL_TOOLS: u32 = 8;

    /// The iteration budget.
    pub fn max_iterations(&self) -> u32 {
        self.max_iterations.unwrap_or(Self::DEFAULT_MAX_ITERATIONS)
    }

    /// How many tool calls may run at once.
    pub fn max_parallel_tools(&self) -> usize {
        if self.parallel_tool_calls == Some(false) {
            1
        } else {
            self.max_parallel_tools.unwrap_or(Self::DEFAULT_MAX_PARALLEL_TOOLS) as usize
        }
    }

    /// The time limit of each tool call, if the config sets one.
    pub fn tool_timeout(&self) -> Option<Duration> {
        self.tool_timeout_ms.map(Duration::from_millis)
    }

    /// Fields set in `over` replace those of `self`.
    #[must_use]
    pub fn merged_with(&self, over: &Self) -> Self {
        Self {
            max_iterations: over.max_iterations.or(self.max_iterations),
            parallel_tool_calls: over.parallel_tool_calls.or(self.parallel_tool_calls),
            max_parallel_tools: over.max_parallel_tools.or(self.max_parallel_tools),
            tool_timeout_ms: over.tool_timeout_ms.or(self.tool_timeout_ms),
            tool_output_limit: over.tool_output_limit.or(self.tool_output_limit),
            temperature: over.temperature.or(self.temperature),
            max_tokens: over.max_tokens.or(self.max_tokens),
            max_total_tokens: over.max_total_tokens.or(self.max_total_tokens),
            strict_tools: over.strict_tools.or(self.strict_tools),
        }
    }
}
