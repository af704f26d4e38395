//! The typed `runtime_config` of `durable_agent_loop`: the agent loop's, plus Temporal's
//! (task queue, timeouts, attempts).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toolbridge_agent::AgentLoopConfig;

/// The Temporal part of a durable execution's `runtime_config`. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct TemporalConfig {
    /// The task queue the execution runs on (default: the runtime's, `--task-queue`).
    #[schemars(length(min = 1, max = 1000))]
    pub task_queue: Option<String>,
    /// A time limit for the whole execution, in milliseconds (default: none). When it is
    /// reached the workflow times out and the execution fails.
    #[schemars(range(min = 1000))]
    pub workflow_timeout_ms: Option<u64>,
    /// A time limit for one model call attempt, in milliseconds (default 300 000).
    #[schemars(range(min = 100, max = 86_400_000))]
    pub model_timeout_ms: Option<u64>,
    /// How many times a model call is attempted (default 3); a configuration error is not
    /// retried.
    #[schemars(range(min = 1, max = 100))]
    pub model_attempts: Option<u32>,
    /// How many times a tool call of a tool marked `idempotent` is attempted when its worker
    /// is lost or the call times out (default 3). Other tools are attempted once.
    #[schemars(range(min = 1, max = 100))]
    pub tool_attempts: Option<u32>,
    /// An activity (model or tool call) not heard from for this long, in milliseconds, is
    /// considered lost with its worker (default 10 000). Cancellation reaches a running tool
    /// call at its next heartbeat, a fraction of this.
    #[schemars(range(min = 500, max = 3_600_000))]
    pub heartbeat_timeout_ms: Option<u64>,
}

/// `runtime_config` of the `durable_agent_loop` runtime: every `agent_loop` field, plus the
/// [`TemporalConfig`] fields. Unknown fields, wrong types and out-of-range values are rejected
/// with the field named.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
// serde cannot deny unknown fields next to `flatten`: the published schema does, and it is
// what validates every execution's config first.
#[schemars(extend("additionalProperties" = false))]
pub struct DurableAgentConfig {
    /// The agent loop's settings.
    #[serde(flatten)]
    pub agent: AgentLoopConfig,
    /// Temporal's.
    #[serde(flatten)]
    pub temporal: TemporalConfig,
}

impl DurableAgentConfig {
    /// Default model-call time limit.
    pub const DEFAULT_MODEL_TIMEOUT: Duration = Duration::from_secs(300);
    /// Default attempts of a model call.
    pub const DEFAULT_MODEL_ATTEMPTS: u32 = 3;
    /// Default attempts of an idempotent tool call.
    pub const DEFAULT_TOOL_ATTEMPTS: u32 = 3;
    /// Default heartbeat timeout.
    pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Fields set in `over` replace those of `self`.
    #[must_use]
    pub fn merged_with(&self, over: &Self) -> Self {
        let (a, b) = (&self.temporal, &over.temporal);
        Self {
            agent: self.agent.merged_with(&over.agent),
            temporal: TemporalConfig {
                task_queue: b.task_queue.clone().or_else(|| a.task_queue.clone()),
                workflow_timeout_ms: b.workflow_timeout_ms.or(a.workflow_timeout_ms),
                model_timeout_ms: b.model_timeout_ms.or(a.model_timeout_ms),
                model_attempts: b.model_attempts.or(a.model_attempts),
                tool_attempts: b.tool_attempts.or(a.tool_attempts),
                heartbeat_timeout_ms: b.heartbeat_timeout_ms.or(a.heartbeat_timeout_ms),
            },
        }
    }

    /// The time limit of one model call attempt.
    pub fn model_timeout(&self) -> Duration {
        self.temporal.model_timeout_ms.map_or(Self::DEFAULT_MODEL_TIMEOUT, Duration::from_millis)
    }

    /// Attempts of a model call.
    pub fn model_attempts(&self) -> u32 {
        self.temporal.model_attempts.unwrap_or(Self::DEFAULT_MODEL_ATTEMPTS)
    }

    /// Attempts of an idempotent tool call.
    pub fn tool_attempts(&self) -> u32 {
        self.temporal.tool_attempts.unwrap_or(Self::DEFAULT_TOOL_ATTEMPTS)
    }

    /// The heartbeat timeout of every activity.
    pub fn heartbeat_timeout(&self) -> Duration {
        self.temporal.heartbeat_timeout_ms.map_or(Self::DEFAULT_HEARTBEAT_TIMEOUT, Duration::from_millis)
    }

    /// The workflow's time limit, if any.
    pub fn workflow_timeout(&self) -> Option<Duration> {
        self.temporal.workflow_timeout_ms.map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use toolbridge_runtime::ConfigValidator;

    #[test]
    fn both_halves_parse_and_validate() {
        let validator = ConfigValidator::<DurableAgentConfig>::new();
        let config = validator
            .parse(Some(&json!({"max_iterations": 3, "task_queue": "q", "heartbeat_timeout_ms": 2000})))
            .unwrap();
        assert_eq!(config.agent.max_iterations, Some(3));
        assert_eq!(config.temporal.task_queue.as_deref(), Some("q"));
        assert_eq!(config.heartbeat_timeout(), Duration::from_secs(2));
        assert_eq!(validator.parse(None).unwrap(), DurableAgentConfig::default());
    }

    #[test]
    fn bad_fields_are_named() {
        let validator = ConfigValidator::<DurableAgentConfig>::new();
        for (value, field) in [
            (json!({"max_iterations": 0}), "max_iterations"),
            (json!({"model_attempts": 0}), "model_attempts"),
            (json!({"heartbeat_timeout_ms": "x"}), "heartbeat_timeout_ms"),
            (json!({"task_qeue": "x"}), "task_qeue"),
        ] {
            let error = validator.parse(Some(&value)).unwrap_err();
            assert!(error.to_string().contains(field), "{value}: {error}");
        }
    }

    #[test]
    fn every_agent_loop_field_is_accepted() {
        let agent = serde_json::to_value(schemars::schema_for!(AgentLoopConfig)).unwrap();
        let durable = serde_json::to_value(schemars::schema_for!(DurableAgentConfig)).unwrap();
        for field in agent["properties"].as_object().unwrap().keys() {
            assert!(durable["properties"].get(field).is_some(), "{field} missing from the durable schema");
        }
    }
}
