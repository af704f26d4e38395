//! Server-Sent Events framing: each event as `id: <seq>`, `event: <type>`, `data: <the event
//! with seq and ts>`; the last message is `event: result` whose data the route decides (the
//! whole execution for `/events`, the result for `POST /executions?stream=true`). A viewer
//! that reconnects with `Last-Event-ID` gets only what came after.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use futures::Stream;
use serde::Serialize;
use toolbridge::config::Secrets;
use toolbridge_runtime::{RuntimeExecutionResult, TimedEvent};

use crate::executions::live::LiveExecution;

/// A stream of SSE messages.
pub(crate) type EventStream = Sse<KeepAliveStream<BoxedEvents>>;

type BoxedEvents = std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>>;

/// JSON with the process's secrets scrubbed.
///
/// Written straight to text when no secret can be in it (every answer of the API goes through
/// here, and a detour through a `Value` tree costs more than the rest of a small answer): a
/// text without a backslash holds every string value verbatim, so a secret in a value shows
/// in the text as it is. Otherwise the tree is scrubbed value by value.
pub(crate) fn scrubbed_json(value: &impl Serialize, secrets: &Secrets) -> String {
    if let Ok(text) = serde_json::to_string(value)
        && (secrets.is_empty() || (!text.contains('\\') && !secrets.appears_in(&text)))
    {
        return text;
    }
    match serde_json::to_value(value) {
        Ok(mut value) => {
            if !secrets.is_empty() {
                secrets.scrub_json(&mut value);
            }
            value.to_string()
        }
        Err(error) => serde_json::json!({"error": {"code": "internal", "message": error.to_string()}}).to_string(),
    }
}

/// One execution event as an SSE message.
pub(crate) fn event_message(event: &TimedEvent, secrets: &Secrets) -> Event {
    Event::default().id(event.seq.to_string()).event(event.event.name()).data(scrubbed_json(event, secrets))
}

/// The final message.
pub(crate) fn result_message(data: String) -> Event {
    Event::default().event("result").data(data)
}

/// Wraps a message stream with keep-alive comments (proxies close idle streams).
pub(crate) fn respond(stream: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> EventStream {
    Sse::new(Box::pin(stream) as BoxedEvents).keep_alive(KeepAlive::default())
}

/// A running execution's events after `after`, followed live until it ends, then `finale`'s
/// data as `result`. Dropping the stream (the client left) leaves the execution running.
pub(crate) fn follow<F, Fut>(
    live: Arc<LiveExecution>,
    after: u64,
    secrets: Secrets,
    finale: F,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static
where
    F: FnOnce(Arc<RuntimeExecutionResult>) -> Fut + Send + 'static,
    Fut: Future<Output = String> + Send + 'static,
{
    async_stream::stream! {
        let mut changes = live.subscribe();
        let mut after = after;
        loop {
            changes.borrow_and_update();
            let news = live.news(after);
            for event in &news.events {
                after = event.seq;
                yield Ok(event_message(event, &secrets));
            }
            if news.events.is_empty() {
                if let Some(result) = news.result {
                    yield Ok(result_message(finale(result).await));
                    break;
                }
                if changes.changed().await.is_err() {
                    break;
                }
            }
        }
    }
}

/// A finished execution's stored events after `after`, then `result`.
pub(crate) fn replay(
    events: &[TimedEvent],
    after: u64,
    result: String,
    secrets: &Secrets,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let messages: Vec<_> = events
        .iter()
        .filter(|e| e.seq > after)
        .map(|e| Ok(event_message(e, secrets)))
        .chain(std::iter::once(Ok(result_message(result))))
        .collect();
    futures::stream::iter(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed_on_both_ways_to_text() {
        let secrets = Secrets::new();
        let plain = serde_json::json!({"a": "x", "n": [1, 2]});
        assert_eq!(scrubbed_json(&plain, &secrets), plain.to_string());
        secrets.add("tok-123456");
        secrets.add("quo\"ted-secret");
        // No secret: the text as serialised.
        assert_eq!(scrubbed_json(&plain, &secrets), plain.to_string());
        // A plain secret inside a value, and one that JSON escapes.
        let leaky = serde_json::json!({"out": "Bearer tok-123456 ok", "err": ["said quo\"ted-secret"]});
        let text = scrubbed_json(&leaky, &secrets);
        assert!(!text.contains("tok-123456") && !text.contains("ted-secret"), "{text}");
        let plain_leak = serde_json::json!({"out": "tok-123456"});
        assert!(!scrubbed_json(&plain_leak, &secrets).contains("tok-123456"));
    }
}
