//! The call log: one [`ToolCallRecord`] per tool call of an execution, in call order.
//!
//! A call takes its place in the log when it starts ([`CallLog::begin`]), so the order is the
//! order in which calls were issued, however parallel calls finish. A call whose
//! [`PendingCall`] is dropped without being finished (its task was cancelled or aborted) is
//! recorded as `cancelled`: the log is complete whatever happens to the execution.
//!
//! Every execution has one, in its [`ExecutionScope`](crate::ExecutionScope): the tool bridge
//! records into it, and the orchestration reads it back when an implementation fails, panics
//! or is abandoned, so that `tool_execution_messages` is never lost.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::tool_call::{ToolCallRecord, ToolErrorType, ToolSourceKind};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// What is known of a call when it starts.
#[derive(Debug, Clone)]
pub struct CallStart {
    /// Catalogue name.
    pub tool: String,
    /// The provider's call id.
    pub tool_use_id: String,
    /// Where the tool comes from.
    pub source: ToolSourceKind,
    /// The MCP server or skill name.
    pub server: Option<String>,
    /// The arguments as the model sent them.
    pub input: Value,
}

/// How a call ended.
#[derive(Debug, Clone, Default)]
pub struct CallOutcome {
    /// The text given back to the model.
    pub output: String,
    /// Whether the call succeeded.
    pub success: bool,
    /// The error message, when it failed.
    pub error: Option<String>,
    /// The failure (or alteration) kind.
    pub error_type: Option<ToolErrorType>,
    /// Anything else worth keeping.
    pub metadata: Map<String, Value>,
}

impl CallOutcome {
    /// A failed call whose output to the model is the error message.
    pub fn failed(error_type: ToolErrorType, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            output: message.clone(),
            success: false,
            error: Some(message),
            error_type: Some(error_type),
            ..Self::default()
        }
    }
}

/// The log of one execution. Cheap to clone; clones share the log.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    /// One slot per call in call order; `None` while the call runs.
    slots: Arc<Mutex<Vec<Option<ToolCallRecord>>>>,
}

impl CallLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<ToolCallRecord>>> {
        // Every critical section is a single push or assignment: a poisoned lock still holds a
        // consistent vector.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a call: reserves its place in call order.
    pub fn begin(&self, start: CallStart) -> PendingCall {
        let index = {
            let mut slots = self.lock();
            slots.push(None);
            slots.len() - 1
        };
        PendingCall { log: self.clone(), index, start: Some(start), start_time: Utc::now(), started: Instant::now() }
    }

    /// The finished calls, in call order (calls still running are left out).
    pub fn records(&self) -> Vec<ToolCallRecord> {
        self.lock().iter().flatten().cloned().collect()
    }

    /// How many calls started.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no call started.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many calls are still running.
    pub fn pending(&self) -> usize {
        self.lock().iter().filter(|slot| slot.is_none()).count()
    }
}

/// A call that started and has not been recorded yet. Finish it with
/// [`finish`](Self::finish); dropping it records the call as cancelled.
#[derive(Debug)]
pub struct PendingCall {
    log: CallLog,
    index: usize,
    start: Option<CallStart>,
    start_time: DateTime<Utc>,
    started: Instant,
}

impl PendingCall {
    /// The catalogue name of the call.
    pub fn tool(&self) -> &str {
        self.start.as_ref().map_or("", |s| s.tool.as_str())
    }

    /// Records how the call ended and returns the record.
    pub fn finish(mut self, outcome: CallOutcome) -> ToolCallRecord {
        self.record(outcome)
    }

    fn record(&mut self, outcome: CallOutcome) -> ToolCallRecord {
        let start = self.start.take().unwrap_or_else(|| CallStart {
            tool: String::new(),
            tool_use_id: String::new(),
            source: ToolSourceKind::Custom,
            server: None,
            input: Value::Null,
        });
        let duration = self.started.elapsed();
        let end_time = self.start_time + duration;
        let record = ToolCallRecord {
            tool: start.tool,
            tool_use_id: start.tool_use_id,
            source: start.source,
            server: start.server,
            input: start.input,
            output: outcome.output,
            success: outcome.success,
            error: outcome.error,
            error_type: outcome.error_type,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            start_time: self.start_time,
            end_time,
            metadata: outcome.metadata,
        };
        if let Some(slot) = self.log.lock().get_mut(self.index) {
            *slot = Some(record.clone());
        }
        record
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        if self.start.is_some() {
            let message = if std::thread::panicking() {
                "the call was interrupted by a panic"
            } else {
                "the call was cancelled before it finished"
            };
            self.record(CallOutcome::failed(ToolErrorType::Cancelled, message));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn start(tool: &str) -> CallStart {
        CallStart {
            tool: tool.into(),
            tool_use_id: format!("id-{tool}"),
            source: ToolSourceKind::Mcp,
            server: Some("s".into()),
            input: json!({"x": 1}),
        }
    }

    #[test]
    fn order_is_call_order_not_finish_order() {
        let log = CallLog::new();
        let a = log.begin(start("a"));
        let b = log.begin(start("b"));
        assert_eq!(log.pending(), 2);
        b.finish(CallOutcome { output: "B".into(), success: true, ..CallOutcome::default() });
        a.finish(CallOutcome { output: "A".into(), success: true, ..CallOutcome::default() });
        let records = log.records();
        assert_eq!(records.iter().map(|r| r.tool.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(records[0].output, "A");
        assert!(records[0].end_time >= records[0].start_time);
    }

    #[test]
    fn dropped_calls_are_recorded_as_cancelled() {
        let log = CallLog::new();
        drop(log.begin(start("a")));
        let records = log.records();
        assert_eq!(records.len(), 1);
        assert!(!records[0].success);
        assert_eq!(records[0].error_type, Some(ToolErrorType::Cancelled));
        assert_eq!(log.pending(), 0);
    }

    #[tokio::test]
    async fn parallel_calls_keep_their_order() {
        let log = CallLog::new();
        let mut tasks = Vec::new();
        for i in 0..50u64 {
            let pending = log.begin(start(&format!("t{i}")));
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis((50 - i) % 7)).await;
                pending.finish(CallOutcome { output: i.to_string(), success: true, ..CallOutcome::default() });
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let outputs: Vec<String> = log.records().into_iter().map(|r| r.output).collect();
        assert_eq!(outputs, (0..50).map(|i| i.to_string()).collect::<Vec<_>>());
    }
}
