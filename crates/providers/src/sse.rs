//! Server-sent events to deltas: the loop both providers share. Each event's `data` goes to the
//! provider's `on_data`, which adds deltas and says whether the reply is complete; a stream that
//! ends (or fails) before that is an error, never a silently short reply.

use std::collections::VecDeque;

use futures::{Stream, StreamExt};

use crate::error::ProviderError;
use crate::types::StreamDelta;

/// What an event means for the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// More events are expected.
    More,
    /// The reply is complete.
    Done,
}

/// Turns `events` into deltas with `on_data`, which keeps its own `state` between events.
/// `end` names what a complete stream ends with, for the error when it does not.
pub(crate) fn deltas<S, T>(
    events: S,
    state: T,
    end: &'static str,
    on_data: fn(&str, &mut T, &mut Vec<StreamDelta>) -> Result<Flow, ProviderError>,
) -> impl Stream<Item = Result<StreamDelta, ProviderError>> + Send
where
    S: Stream<Item = Result<sse_stream::Sse, sse_stream::Error>> + Send + 'static,
    T: Send + 'static,
{
    let init = (Box::pin(events), state, VecDeque::<StreamDelta>::new(), false);
    futures::stream::unfold(init, move |(mut events, mut state, mut queue, done)| async move {
        loop {
            if let Some(delta) = queue.pop_front() {
                return Some((Ok(delta), (events, state, queue, done)));
            }
            if done {
                return None;
            }
            let error = match events.next().await {
                None => ProviderError::Stream(format!("the stream ended before {end}")),
                Some(Err(e)) => ProviderError::Stream(e.to_string()),
                Some(Ok(event)) => {
                    let Some(data) = event.data else { continue };
                    let mut deltas = Vec::new();
                    match on_data(&data, &mut state, &mut deltas) {
                        Ok(flow) => {
                            queue.extend(deltas);
                            if flow == Flow::Done {
                                return queue.pop_front().map(|delta| (Ok(delta), (events, state, queue, true)));
                            }
                            continue;
                        }
                        Err(error) => error,
                    }
                }
            };
            return Some((Err(error), (events, state, queue, true)));
        }
    })
}
