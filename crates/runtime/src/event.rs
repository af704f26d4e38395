//! Execution events: what a streaming execution reports as it goes.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event_log::TimedEvent;
use crate::result::FinishReason;
use crate::usage::Usage;

/// Outcome of a tool call, as reported by [`ExecutionEvent::ToolComplete`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    /// The call succeeded.
    Success,
    /// The call failed.
    Failed,
}

/// The most `output` characters a [`ExecutionEvent::ToolComplete`] carries.
pub const TOOL_EVENT_OUTPUT_CHARS: usize = 1000;

/// An event of a running execution. Serialised with a `type` tag whose names match the
/// seed platform's (`content_chunk`, `tool_start`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecutionEvent {
    /// A piece of the response text.
    ContentChunk {
        /// The text.
        text: String,
    },
    /// The model started thinking.
    ThinkingStart,
    /// A piece of the model's thinking.
    ThinkingDelta {
        /// The text.
        text: String,
    },
    /// The model stopped thinking.
    ThinkingComplete,
    /// A tool call started.
    ToolStart {
        /// Catalogue name of the tool.
        tool_name: String,
        /// Arguments as the model sent them.
        tool_args: Value,
        /// The call's id.
        tool_execution_id: String,
    },
    /// A running tool call reported progress (an MCP `notifications/progress`).
    ToolProgress {
        /// Catalogue name of the tool.
        tool_name: String,
        /// The call's id.
        tool_execution_id: String,
        /// How far it is (increases with each notification).
        progress: f64,
        /// Out of how much, when the server knows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<f64>,
        /// What it is doing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A tool call ended.
    ToolComplete {
        /// Catalogue name of the tool.
        tool_name: String,
        /// The call's id.
        tool_execution_id: String,
        /// Success or failure.
        status: ToolStatus,
        /// The output, at most [`TOOL_EVENT_OUTPUT_CHARS`] characters.
        output: Option<String>,
        /// The error, when it failed.
        error: Option<String>,
        /// Wall time of the call.
        duration_ms: u64,
    },
    /// Usage so far.
    Usage {
        /// The usage.
        #[serde(flatten)]
        usage: Usage,
    },
    /// The execution ended.
    Done {
        /// Why it ended.
        finish_reason: FinishReason,
    },
}

impl ExecutionEvent {
    /// A `tool_complete` event, cutting `output` to [`TOOL_EVENT_OUTPUT_CHARS`] characters.
    pub fn tool_complete(
        tool_name: impl Into<String>,
        tool_execution_id: impl Into<String>,
        success: bool,
        output: &str,
        error: Option<String>,
        duration_ms: u64,
    ) -> Self {
        let output = match output.char_indices().nth(TOOL_EVENT_OUTPUT_CHARS) {
            Some((cut, _)) => output[..cut].to_owned(),
            None => output.to_owned(),
        };
        Self::ToolComplete {
            tool_name: tool_name.into(),
            tool_execution_id: tool_execution_id.into(),
            status: if success { ToolStatus::Success } else { ToolStatus::Failed },
            output: Some(output),
            error,
            duration_ms,
        }
    }

    /// The event's wire name, e.g. `tool_start`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ContentChunk { .. } => "content_chunk",
            Self::ThinkingStart => "thinking_start",
            Self::ThinkingDelta { .. } => "thinking_delta",
            Self::ThinkingComplete => "thinking_complete",
            Self::ToolStart { .. } => "tool_start",
            Self::ToolProgress { .. } => "tool_progress",
            Self::ToolComplete { .. } => "tool_complete",
            Self::Usage { .. } => "usage",
            Self::Done { .. } => "done",
        }
    }
}

/// A callback that receives every event of an execution. Called inline: keep it cheap.
///
/// [`new`](Self::new) gets the bare event; [`timed`](Self::timed) gets it with its sequence
/// number and time, as the execution's stored event log has it (through
/// [`RuntimeHandle`](crate::RuntimeHandle), the numbers are the log's).
#[derive(Clone)]
pub struct EventCallback(Sink);

#[derive(Clone)]
enum Sink {
    Plain(Arc<dyn Fn(&ExecutionEvent) + Send + Sync>),
    Timed(Arc<dyn Fn(&TimedEvent) + Send + Sync>, Arc<AtomicU64>),
}

impl EventCallback {
    /// Wraps a closure that takes the bare event.
    pub fn new(callback: impl Fn(&ExecutionEvent) + Send + Sync + 'static) -> Self {
        Self(Sink::Plain(Arc::new(callback)))
    }

    /// Wraps a closure that takes the event with its `seq` and `ts`.
    pub fn timed(callback: impl Fn(&TimedEvent) + Send + Sync + 'static) -> Self {
        Self(Sink::Timed(Arc::new(callback), Arc::new(AtomicU64::new(0))))
    }

    /// Delivers one event (a timed callback used on its own numbers events itself).
    pub fn emit(&self, event: &ExecutionEvent) {
        match &self.0 {
            Sink::Plain(callback) => callback(event),
            Sink::Timed(callback, counter) => {
                let seq = counter.fetch_add(1, Ordering::Relaxed) + 1;
                callback(&TimedEvent { seq, ts: crate::event_log::now(), event: event.clone() });
            }
        }
    }

    /// Delivers an event already numbered (by the handle's event log).
    pub(crate) fn deliver(&self, timed: &TimedEvent) {
        match &self.0 {
            Sink::Plain(callback) => callback(&timed.event),
            Sink::Timed(callback, _) => callback(timed),
        }
    }
}

impl fmt::Debug for EventCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventCallback")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_use_seed_names() {
        let event = ExecutionEvent::ContentChunk { text: "hi".into() };
        assert_eq!(serde_json::to_value(&event).unwrap(), json!({"type": "content_chunk", "text": "hi"}));
        let done = ExecutionEvent::Done { finish_reason: FinishReason::Stop };
        assert_eq!(serde_json::to_value(&done).unwrap(), json!({"type": "done", "finish_reason": "stop"}));
        let usage = ExecutionEvent::Usage { usage: Usage::new(1, 2) };
        let value = serde_json::to_value(&usage).unwrap();
        assert_eq!(value["type"], "usage");
        assert_eq!(value["total_tokens"], 3);
        assert_eq!(serde_json::from_value::<ExecutionEvent>(value).unwrap(), usage);
    }

    #[test]
    fn tool_complete_output_is_capped_on_chars() {
        let long = "é".repeat(TOOL_EVENT_OUTPUT_CHARS + 10);
        let ExecutionEvent::ToolComplete { output, status, .. } =
            ExecutionEvent::tool_complete("t", "1", true, &long, None, 5)
        else {
            panic!("wrong variant");
        };
        assert_eq!(output.unwrap().chars().count(), TOOL_EVENT_OUTPUT_CHARS);
        assert_eq!(status, ToolStatus::Success);
    }
}
