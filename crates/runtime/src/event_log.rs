//! An execution's event log: every event the handle emits or forwards, numbered and timed,
//! handed to the control plane with the execution's record so that a finished execution's
//! events can be replayed (by the HTTP API's `/events`, for executions run anywhere).
//!
//! The log is bounded: past [`EVENT_LOG_DELTAS`] events, text deltas (`content_chunk`,
//! `thinking_delta`) are still numbered and delivered live but no longer kept; the structural
//! events (tool calls, usage, `done`) always are — there are as many as the execution made
//! tool calls and model turns.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{EventCallback, ExecutionEvent};

/// How many events a log keeps before it stops keeping text deltas.
pub const EVENT_LOG_DELTAS: usize = 10_000;

/// One event of an execution with its sequence number (from 1, strictly increasing within the
/// execution) and the time it was emitted. Serialised flat: `{"seq", "ts", "type", …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimedEvent {
    /// The event's number within its execution, from 1.
    pub seq: u64,
    /// When it was emitted.
    pub ts: DateTime<Utc>,
    /// The event.
    #[serde(flatten)]
    pub event: ExecutionEvent,
}

/// Now, to the millisecond (what the wire format shows).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

#[derive(Debug, Default)]
struct LogState {
    last_seq: u64,
    events: Vec<TimedEvent>,
    dropped: u64,
}

/// The recording side: what the handle puts between the runtime and the caller's callback.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventLog {
    state: Arc<Mutex<LogState>>,
}

impl EventLog {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A callback that numbers, times and keeps every event, then hands it to `forward`. The
    /// forwarding happens under the log's lock, so `forward` sees events in `seq` order even
    /// when a runtime emits from several tasks; it must not emit on the same execution.
    pub(crate) fn callback(&self, forward: Option<EventCallback>) -> EventCallback {
        let state = Arc::clone(&self.state);
        EventCallback::new(move |event| {
            let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
            state.last_seq += 1;
            let timed = TimedEvent { seq: state.last_seq, ts: now(), event: event.clone() };
            if let Some(forward) = &forward {
                forward.deliver(&timed);
            }
            let delta = matches!(event, ExecutionEvent::ContentChunk { .. } | ExecutionEvent::ThinkingDelta { .. });
            if delta && state.events.len() >= EVENT_LOG_DELTAS {
                state.dropped += 1;
            } else {
                state.events.push(timed);
            }
        })
    }

    /// The events kept so far (the log keeps them: a late `done` still lands), and how many
    /// deltas were not kept.
    pub(crate) fn snapshot(&self) -> (Vec<TimedEvent>, u64) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.events.clone(), state.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::FinishReason;
    use serde_json::json;

    #[test]
    fn numbers_times_keeps_and_forwards_in_order() {
        let log = EventLog::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let forward = EventCallback::timed(move |timed| sink.lock().unwrap().push(timed.seq));
        let callback = log.callback(Some(forward));
        callback.emit(&ExecutionEvent::ContentChunk { text: "a".into() });
        callback.emit(&ExecutionEvent::Done { finish_reason: FinishReason::Stop });
        let (events, dropped) = log.snapshot();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert!(events[0].ts <= events[1].ts);
        assert_eq!(dropped, 0);
        assert_eq!(*seen.lock().unwrap(), [1, 2]);
    }

    #[test]
    fn a_plain_callback_gets_the_bare_event() {
        let log = EventLog::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let callback = log.callback(Some(EventCallback::new(move |e| sink.lock().unwrap().push(e.name()))));
        callback.emit(&ExecutionEvent::ThinkingStart);
        assert_eq!(*seen.lock().unwrap(), ["thinking_start"]);
    }

    #[test]
    fn deltas_beyond_the_bound_are_not_kept_but_structure_is() {
        let log = EventLog::new();
        let callback = log.callback(None);
        for _ in 0..EVENT_LOG_DELTAS + 5 {
            callback.emit(&ExecutionEvent::ContentChunk { text: "x".into() });
        }
        callback.emit(&ExecutionEvent::Done { finish_reason: FinishReason::Stop });
        let (events, dropped) = log.snapshot();
        assert_eq!(dropped, 5);
        assert_eq!(events.len(), EVENT_LOG_DELTAS + 1);
        let last = events.last().unwrap();
        assert_eq!(last.seq, (EVENT_LOG_DELTAS + 6) as u64, "numbering counts every event");
    }

    #[test]
    fn serialises_flat_with_seq_and_ts() {
        let timed = TimedEvent {
            seq: 3,
            ts: DateTime::parse_from_rfc3339("2025-01-02T03:04:05.678Z").unwrap().with_timezone(&Utc),
            event: ExecutionEvent::ContentChunk { text: "hi".into() },
        };
        let value = serde_json::to_value(&timed).unwrap();
        assert_eq!(value, json!({"seq": 3, "ts": "2025-01-02T03:04:05.678Z", "type": "content_chunk", "text": "hi"}));
        assert_eq!(serde_json::from_value::<TimedEvent>(value).unwrap(), timed);
    }
}
