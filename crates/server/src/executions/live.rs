//! One execution running in this server, as its viewers see it: the events so far (in `seq`
//! order) and, once it ends, its result. Viewers never get a queue of their own: each keeps
//! its position in the shared event list and waits on a `watch` for more, so a slow or
//! vanished viewer costs nothing and cannot hold the execution back.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use toolbridge_runtime::{
    EVENT_LOG_DELTAS, ExecutionEvent, ExecutionId, RuntimeExecutionResult, RuntimeHandle, TimedEvent, Usage,
};

/// What is known of a running execution before it ends.
#[derive(Debug, Clone)]
pub(crate) struct Started {
    pub(crate) id: ExecutionId,
    pub(crate) agent_id: String,
    pub(crate) runtime_type: String,
    pub(crate) model: Option<String>,
    pub(crate) prompt: String,
    pub(crate) started_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    events: Vec<Arc<TimedEvent>>,
    result: Option<Arc<RuntimeExecutionResult>>,
    finished_at: Option<DateTime<Utc>>,
}

/// A running (or just finished) execution.
#[derive(Debug)]
pub(crate) struct LiveExecution {
    pub(crate) started: Started,
    pub(crate) handle: RuntimeHandle,
    state: Mutex<State>,
    changed: watch::Sender<()>,
}

/// What a viewer gets when it asks for news.
pub(crate) struct News {
    /// Events after the viewer's position.
    pub(crate) events: Vec<Arc<TimedEvent>>,
    /// The result, once the execution ended and every event was seen.
    pub(crate) result: Option<Arc<RuntimeExecutionResult>>,
}

impl LiveExecution {
    pub(crate) fn new(started: Started, handle: RuntimeHandle) -> Self {
        Self { started, handle, state: Mutex::default(), changed: watch::Sender::new(()) }
    }

    /// Keeps an event (the handle's event callback: called in `seq` order). Past the event
    /// log's bound, text deltas are not kept, as in the stored log.
    pub(crate) fn push(&self, event: &TimedEvent) {
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let delta =
                matches!(event.event, ExecutionEvent::ContentChunk { .. } | ExecutionEvent::ThinkingDelta { .. });
            if delta && state.events.len() >= EVENT_LOG_DELTAS {
                return;
            }
            state.events.push(Arc::new(event.clone()));
        }
        self.changed.send_replace(());
    }

    /// The execution ended.
    pub(crate) fn finish(&self, result: RuntimeExecutionResult) {
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.result = Some(Arc::new(result));
            state.finished_at = Some(Utc::now());
        }
        self.changed.send_replace(());
    }

    /// A receiver to wait on: subscribe *before* reading with [`news`](Self::news), so that
    /// nothing pushed in between is missed.
    pub(crate) fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    /// Events with a `seq` above `after`, and the result once there are none left.
    pub(crate) fn news(&self, after: u64) -> News {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let start = state.events.partition_point(|e| e.seq <= after);
        let events: Vec<_> = state.events[start..].to_vec();
        News { events, result: state.result.clone() }
    }

    /// Waits for the result.
    pub(crate) async fn result(&self) -> Arc<RuntimeExecutionResult> {
        let mut changes = self.subscribe();
        loop {
            if let Some(result) = self.state.lock().unwrap_or_else(PoisonError::into_inner).result.clone() {
                return result;
            }
            // The sender lives in `self`: it cannot be dropped while we borrow it, so this
            // only returns when the state changed.
            let _changed = changes.changed().await;
        }
    }

    /// The result if it ended, with when.
    pub(crate) fn outcome(&self) -> Option<(Arc<RuntimeExecutionResult>, DateTime<Utc>)> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Some((state.result.clone()?, state.finished_at?))
    }

    /// The latest `usage` event (cumulative), while it runs.
    pub(crate) fn usage_so_far(&self) -> Option<Usage> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.events.iter().rev().find_map(|e| match &e.event {
            ExecutionEvent::Usage { usage } => Some(usage.clone()),
            _ => None,
        })
    }

    /// The response streamed so far.
    pub(crate) fn response_so_far(&self) -> String {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .events
            .iter()
            .filter_map(|e| match &e.event {
                ExecutionEvent::ContentChunk { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}
