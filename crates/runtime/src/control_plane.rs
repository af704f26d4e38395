//! The control plane: where runtimes cache metadata, read agent data and report usage and
//! execution records. The seed injects a control-plane client into every runtime; so do we.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::context::{ExecutionId, RuntimeExecutionContext};
use crate::event_log::TimedEvent;
use crate::result::RuntimeExecutionResult;
use crate::runtime_type::RuntimeType;
use crate::usage::Usage;

/// A control-plane failure (storage, network, …).
#[derive(Debug, thiserror::Error)]
#[error("control plane: {message}")]
pub struct ControlPlaneError {
    /// What went wrong.
    pub message: String,
    /// The underlying error, if any.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl ControlPlaneError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), source: None }
    }

    /// An error with a message and its cause.
    pub fn with_source(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self { message: message.into(), source: Some(Box::new(source)) }
    }
}

/// Where an execution stands, as a control plane records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Started and not finished.
    Running,
    /// Finished successfully.
    Success,
    /// Finished with an error.
    Error,
    /// Cancelled.
    Cancelled,
    /// Its process died before it finished (a control plane decides this, e.g. from the
    /// recorded process id).
    Interrupted,
}

impl ExecutionStatus {
    /// The status of a finished execution's result.
    pub fn of(result: &RuntimeExecutionResult) -> Self {
        match result.finish_reason {
            Some(crate::result::FinishReason::Cancelled) => Self::Cancelled,
            _ if result.success => Self::Success,
            _ => Self::Error,
        }
    }

    /// The wire name (`running`, `success`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    /// Whether the execution has ended.
    pub const fn is_finished(self) -> bool {
        !matches!(self, Self::Running)
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ExecutionStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "running" => Self::Running,
            "success" => Self::Success,
            "error" => Self::Error,
            "cancelled" => Self::Cancelled,
            "interrupted" => Self::Interrupted,
            other => {
                return Err(format!(
                    "unknown status {other:?}; expected running, success, error, cancelled or interrupted"
                ));
            }
        })
    }
}

/// An execution that is starting, handed to [`ControlPlane::record_start`].
#[derive(Debug, Clone, Copy)]
pub struct ExecutionStart<'a> {
    /// The runtime that runs it.
    pub runtime_type: &'a RuntimeType,
    /// Its input.
    pub context: &'a RuntimeExecutionContext,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// Everything about one finished execution, handed to [`ControlPlane::record_execution`].
#[derive(Debug, Clone, Copy)]
pub struct ExecutionRecord<'a> {
    /// The runtime that ran it.
    pub runtime_type: &'a RuntimeType,
    /// Its input.
    pub context: &'a RuntimeExecutionContext,
    /// Its output (success, failure or cancellation alike).
    pub result: &'a RuntimeExecutionResult,
    /// Its events, in `seq` order, ending with `done` (text deltas past the log's bound are
    /// left out).
    pub events: &'a [TimedEvent],
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
}

/// The control plane a runtime talks to.
///
/// The orchestration calls [`record_start`](Self::record_start) when an execution starts, and
/// [`report_usage`](Self::report_usage) and [`record_execution`](Self::record_execution) when
/// it ends, whatever the outcome. A failure to record the start is logged; a failure to record
/// the end is logged and reported to the caller in the result's `metadata.record_error`, since
/// the record is then lost.
#[async_trait]
pub trait ControlPlane: Send + Sync + Debug {
    /// Caches metadata about an execution.
    async fn cache_metadata(&self, execution_id: &ExecutionId, metadata: Value) -> Result<(), ControlPlaneError>;
    /// Metadata cached for an execution.
    async fn get_metadata(&self, execution_id: &ExecutionId) -> Result<Option<Value>, ControlPlaneError>;
    /// Caches data for an agent.
    async fn cache_agent_data(&self, agent_id: &str, data: Value) -> Result<(), ControlPlaneError>;
    /// Data cached for an agent.
    async fn get_cached_data(&self, agent_id: &str) -> Result<Option<Value>, ControlPlaneError>;
    /// Reports the usage of a finished execution.
    async fn report_usage(&self, execution_id: &ExecutionId, usage: &Usage) -> Result<(), ControlPlaneError>;
    /// Usage reported for an execution.
    async fn get_usage(&self, execution_id: &ExecutionId) -> Result<Option<Usage>, ControlPlaneError>;
    /// Records that an execution started (so that one whose process dies still has a record).
    /// The default caches its summary as metadata.
    async fn record_start(&self, start: ExecutionStart<'_>) -> Result<(), ControlPlaneError> {
        let context = start.context;
        let metadata = serde_json::json!({
            "runtime_type": start.runtime_type,
            "agent_id": context.agent_id,
            "model_id": context.model_id,
            "started_at": start.started_at.to_rfc3339(),
        });
        self.cache_metadata(&context.execution_id, metadata).await
    }
    /// Stores the record of a finished execution. The default keeps nothing.
    async fn record_execution(&self, record: ExecutionRecord<'_>) -> Result<(), ControlPlaneError> {
        let _ = record;
        Ok(())
    }
}

/// A [`ControlPlane`] kept in memory: for tests, examples and embedding without storage. It
/// keeps every record for the life of the process; long-running embedders should use a real
/// store (the SQLite one of `toolbridge-store`) or their own implementation.
#[derive(Debug, Default)]
pub struct InMemoryControlPlane {
    metadata: Mutex<HashMap<ExecutionId, Value>>,
    agent_data: Mutex<HashMap<String, Value>>,
    usage: Mutex<HashMap<ExecutionId, Usage>>,
    records: Mutex<Vec<(RuntimeType, RuntimeExecutionContext, RuntimeExecutionResult)>>,
    events: Mutex<HashMap<ExecutionId, Vec<TimedEvent>>>,
}

impl InMemoryControlPlane {
    /// An empty control plane.
    pub fn new() -> Self {
        Self::default()
    }

    /// The execution records stored so far, oldest first.
    pub fn records(&self) -> Vec<(RuntimeType, RuntimeExecutionContext, RuntimeExecutionResult)> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The events recorded with an execution's record.
    pub fn events(&self, execution_id: &ExecutionId) -> Vec<TimedEvent> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).get(execution_id).cloned().unwrap_or_default()
    }
}

#[async_trait]
impl ControlPlane for InMemoryControlPlane {
    async fn cache_metadata(&self, execution_id: &ExecutionId, metadata: Value) -> Result<(), ControlPlaneError> {
        self.metadata.lock().unwrap_or_else(PoisonError::into_inner).insert(execution_id.clone(), metadata);
        Ok(())
    }

    async fn get_metadata(&self, execution_id: &ExecutionId) -> Result<Option<Value>, ControlPlaneError> {
        Ok(self.metadata.lock().unwrap_or_else(PoisonError::into_inner).get(execution_id).cloned())
    }

    async fn cache_agent_data(&self, agent_id: &str, data: Value) -> Result<(), ControlPlaneError> {
        self.agent_data.lock().unwrap_or_else(PoisonError::into_inner).insert(agent_id.to_owned(), data);
        Ok(())
    }

    async fn get_cached_data(&self, agent_id: &str) -> Result<Option<Value>, ControlPlaneError> {
        Ok(self.agent_data.lock().unwrap_or_else(PoisonError::into_inner).get(agent_id).cloned())
    }

    async fn report_usage(&self, execution_id: &ExecutionId, usage: &Usage) -> Result<(), ControlPlaneError> {
        self.usage.lock().unwrap_or_else(PoisonError::into_inner).insert(execution_id.clone(), usage.clone());
        Ok(())
    }

    async fn get_usage(&self, execution_id: &ExecutionId) -> Result<Option<Usage>, ControlPlaneError> {
        Ok(self.usage.lock().unwrap_or_else(PoisonError::into_inner).get(execution_id).cloned())
    }

    async fn record_execution(&self, record: ExecutionRecord<'_>) -> Result<(), ControlPlaneError> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner).push((
            record.runtime_type.clone(),
            record.context.clone(),
            record.result.clone(),
        ));
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(record.context.execution_id.clone(), record.events.to_vec());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn in_memory_round_trips() {
        let cp = InMemoryControlPlane::new();
        let id = ExecutionId::new("e");
        cp.cache_metadata(&id, json!({"kind": "AGENT"})).await.unwrap();
        assert_eq!(cp.get_metadata(&id).await.unwrap(), Some(json!({"kind": "AGENT"})));
        cp.cache_agent_data("a", json!(1)).await.unwrap();
        assert_eq!(cp.get_cached_data("a").await.unwrap(), Some(json!(1)));
        assert_eq!(cp.get_cached_data("b").await.unwrap(), None);
        cp.report_usage(&id, &Usage::new(1, 2)).await.unwrap();
        assert_eq!(cp.get_usage(&id).await.unwrap().unwrap().total_tokens, 3);
    }
}
