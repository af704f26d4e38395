//! The stdio wire under rmcp: one writer and one line reader for a server's pipes, and the
//! direct path for `tools/call`.
//!
//! rmcp's service loop makes a call a chain of task hops — the caller's request goes through a
//! channel to the loop, which spawns a task to write it; the answer is parsed as an untagged
//! message enum (each variant tried in turn, failing through serde's error path) and handed
//! back through the loop and a oneshot. Here a stdio `tools/call` takes a
//! shorter road with rmcp's own message types: the caller serialises its request into the
//! wire's reused buffer and writes it in one `write`; the reader (still polled by rmcp's loop,
//! which keeps handling everything else: server requests, notifications, other requests)
//! parses a line that answers a direct call straight into `JsonRpcResponse<CallToolResult>`
//! and completes the caller's oneshot itself. Every other line goes to rmcp as before —
//! progress notifications too: a direct call's progress token is its own id, registered with
//! the call's responder, so they reach it through rmcp's handler.
//!
//! Direct calls use numeric ids from [`DIRECT_ID_BASE`] up, far above the ids rmcp counts from
//! zero, so the two never meet; numbers, not strings, because some servers only echo numbers.

use std::collections::HashMap;
use std::io;
use std::sync::{Mutex, PoisonError};

use rmcp::RoleClient;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult, CancelledNotificationParam,
    ClientJsonRpcMessage, ClientRequest, ErrorData, JsonRpcMessage, JsonRpcResponse, NumberOrString, ProgressToken,
    RequestId, RequestParamsMeta, ServerJsonRpcMessage, ServerResult,
};
use rmcp::service::ServiceError;
use rmcp::transport::DynamicTransportError;
use serde::Serialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::interaction::CallRegistration;

/// The first id of a direct call (2^48: exact in every JSON number implementation).
const DIRECT_ID_BASE: i64 = 1 << 48;

/// A write buffer grown past this by one large message is not kept for the next one.
const KEEP_BUFFER_BYTES: usize = 64 * 1024;

/// What answers a direct call: the server's result, or its JSON-RPC error.
type Answer = Result<ServerResult, ErrorData>;

/// The writing half and the direct calls waiting for an answer, shared by the transport (rmcp's
/// sends, the reader) and the connection (direct calls).
pub(crate) struct Wire<W> {
    writer: tokio::sync::Mutex<Writer<W>>,
    pending: Mutex<Pending>,
}

impl<W> std::fmt::Debug for Wire<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire").finish_non_exhaustive()
    }
}

struct Writer<W> {
    /// `None` once closed (by rmcp's close, or after a message was cut off mid-write).
    sink: Option<W>,
    /// One message at a time is serialised here; its capacity is reused.
    buffer: Vec<u8>,
}

#[derive(Default)]
struct Pending {
    next: i64,
    calls: HashMap<i64, oneshot::Sender<Answer>>,
    /// The reader has stopped: no answer will come.
    closed: bool,
}

/// How a line was dealt with.
// Returned by value once per line and matched at once: boxing the message would cost an
// allocation per message for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Routed {
    /// It answered a direct call.
    Answered,
    /// A message for rmcp's loop.
    Message(ServerJsonRpcMessage),
    /// Nothing to deliver (blank, unparsable, or a notification nobody understands).
    Skipped,
    /// Well-formed JSON that is no JSON-RPC message we know: answered with "invalid request".
    Invalid,
}

impl<W: AsyncWrite + Unpin + Send> Wire<W> {
    pub(crate) fn new(sink: W) -> Self {
        Self {
            writer: tokio::sync::Mutex::new(Writer { sink: Some(sink), buffer: Vec::new() }),
            pending: Mutex::default(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // Each critical section is one map operation: a poisoned lock still holds a usable map.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes one message and its newline with a single `write` (when the pipe has room). A
    /// message cut off halfway (the future dropped while the pipe was full) would corrupt the
    /// stream, so then the writer is closed: the server sees the end of its input.
    pub(crate) async fn send(&self, message: &impl Serialize) -> io::Result<()> {
        let mut writer = self.writer.lock().await;
        let Writer { sink, buffer } = &mut *writer;
        if sink.is_none() {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "the server's input is closed"));
        }
        buffer.clear();
        serde_json::to_writer(&mut *buffer, message)?;
        buffer.push(b'\n');
        let mut guard = CutOff { sink, written: 0 };
        while guard.written < buffer.len() {
            let Some(stream) = guard.sink.as_mut() else { break };
            match stream.write(&buffer[guard.written..]).await {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => guard.written += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        guard.written = 0;
        if buffer.capacity() > KEEP_BUFFER_BYTES {
            *buffer = Vec::new();
        }
        Ok(())
    }

    /// Closes the writing half (a well-behaved server exits on the end of its input).
    pub(crate) async fn close(&self) -> io::Result<()> {
        let sink = self.writer.lock().await.sink.take();
        match sink {
            Some(mut sink) => sink.shutdown().await,
            None => Ok(()),
        }
    }

    /// The reader stopped: every direct call waiting fails (its sender is dropped) and new ones
    /// are refused.
    pub(crate) fn reader_closed(&self) {
        let calls = {
            let mut pending = self.pending();
            pending.closed = true;
            std::mem::take(&mut pending.calls)
        };
        drop(calls);
    }

    /// Deals with one line (without its newline) read from the server.
    pub(crate) fn route(&self, line: &[u8]) -> Routed {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Routed::Skipped;
        }
        if !self.pending().calls.is_empty()
            && let Ok(response) = serde_json::from_slice::<JsonRpcResponse<CallToolResult>>(line)
        {
            let result = ServerResult::CallToolResult(response.result);
            // Otherwise not ours (a CallToolResult-shaped answer to one of rmcp's requests, or
            // a late one): rmcp's own parse below decides what it is.
            if self.answer(&response.id, Ok(result)).is_none() {
                return Routed::Answered;
            }
        }
        match serde_json::from_slice::<ServerJsonRpcMessage>(line) {
            Ok(JsonRpcMessage::Response(response)) => match self.answer(&response.id, Ok(response.result)) {
                None => Routed::Answered,
                Some(Ok(result)) => Routed::Message(JsonRpcMessage::response(result, response.id)),
                Some(Err(_)) => Routed::Skipped,
            },
            Ok(JsonRpcMessage::Error(error)) => {
                let ours = error.id.as_ref().is_some_and(|id| self.answer(id, Err(error.error.clone())).is_none());
                if ours { Routed::Answered } else { Routed::Message(JsonRpcMessage::Error(error)) }
            }
            Ok(message) => Routed::Message(message),
            Err(error) if error.is_data() => {
                // A notification nobody understands (a non-standard method, or an extension's)
                // is ignored, as rmcp does; anything else is a protocol error.
                let notification = serde_json::from_slice::<serde_json::Value>(line)
                    .is_ok_and(|value| value.get("method").is_some() && value.get("id").is_none());
                debug!(%error, "unexpected message from the server");
                if notification { Routed::Skipped } else { Routed::Invalid }
            }
            Err(error) => {
                // Not JSON: there is no id to answer, and answering could start an echo storm.
                debug!(%error, "unparsable line from the server");
                Routed::Skipped
            }
        }
    }

    /// Completes the direct call `id` with `answer`; gives the answer back when no direct call
    /// has that id.
    fn answer(&self, id: &RequestId, answer: Answer) -> Option<Answer> {
        let sender = match id {
            NumberOrString::Number(id) if *id >= DIRECT_ID_BASE => self.pending().calls.remove(id),
            _ => None,
        };
        match sender {
            Some(sender) => {
                // The caller may have gone (timed out): then nobody wants the answer.
                let _ = sender.send(answer);
                None
            }
            None => Some(answer),
        }
    }

    /// Registers a direct call: its id and where its answer will come.
    fn register(&self) -> Option<(i64, oneshot::Receiver<Answer>)> {
        let mut pending = self.pending();
        if pending.closed {
            return None;
        }
        let id = DIRECT_ID_BASE + pending.next;
        pending.next += 1;
        let (sender, receiver) = oneshot::channel();
        pending.calls.insert(id, sender);
        Some((id, receiver))
    }

    /// `tools/call` on the direct path. With a registration, the request carries a progress
    /// token (its own id, which no rmcp token can equal) and the registration is keyed by it,
    /// so the progress notifications rmcp's handler receives reach the call's responder.
    /// Dropping the future before the answer (a timeout, a cancellation) sends
    /// `notifications/cancelled` for it through `peer`, as rmcp does for its own requests.
    pub(crate) async fn call_tool<T>(
        &self,
        mut params: CallToolRequestParams,
        registration: Option<&CallRegistration>,
        peer: &rmcp::Peer<RoleClient>,
        tasks: &TaskTracker,
    ) -> Result<CallToolResponse, ServiceError>
    where
        T: rmcp::transport::Transport<RoleClient, Error = io::Error> + 'static,
    {
        let Some((id, answer)) = self.register() else {
            return Err(ServiceError::TransportClosed);
        };
        if let Some(registration) = registration {
            let token = ProgressToken(NumberOrString::Number(id));
            params.set_progress_token(token.clone());
            registration.set_progress_token(token);
        }
        let mut abandon = Abandon { wire: self, id, peer, tasks, armed: true };
        let request = ClientJsonRpcMessage::request(
            ClientRequest::CallToolRequest(CallToolRequest::new(params)),
            RequestId::Number(id),
        );
        if let Err(error) = self.send(&request).await {
            abandon.armed = false;
            self.pending().calls.remove(&id);
            return Err(ServiceError::TransportSend(DynamicTransportError::new::<T, RoleClient>(error)));
        }
        let answer = answer.await;
        abandon.armed = false;
        match answer {
            Ok(Ok(ServerResult::CallToolResult(result))) => Ok(CallToolResponse::Complete(result)),
            Ok(Ok(ServerResult::InputRequiredResult(result))) => Ok(CallToolResponse::InputRequired(result)),
            Ok(Ok(ServerResult::CreateTaskResult(result))) => Ok(CallToolResponse::Task(result)),
            Ok(Ok(ServerResult::EmptyResult(_))) => Ok(CallToolResponse::Complete(CallToolResult::success(Vec::new()))),
            Ok(Ok(_)) => Err(ServiceError::UnexpectedResponse),
            Ok(Err(error)) => Err(ServiceError::McpError(error)),
            // The reader stopped before the answer came.
            Err(_) => Err(ServiceError::TransportClosed),
        }
    }
}

/// Closes the writer when dropped with part of a message written.
struct CutOff<'a, W> {
    sink: &'a mut Option<W>,
    written: usize,
}

impl<W> Drop for CutOff<'_, W> {
    fn drop(&mut self) {
        if self.written > 0 {
            self.sink.take();
        }
    }
}

/// A direct call whose caller went away before its answer: forgotten, and cancelled on the
/// server.
struct Abandon<'a, W: AsyncWrite + Unpin + Send> {
    wire: &'a Wire<W>,
    id: i64,
    peer: &'a rmcp::Peer<RoleClient>,
    tasks: &'a TaskTracker,
    armed: bool,
}

impl<W: AsyncWrite + Unpin + Send> Drop for Abandon<'_, W> {
    fn drop(&mut self) {
        if !self.armed || self.wire.pending().calls.remove(&self.id).is_none() {
            return;
        }
        // Outside a runtime (it is being torn down) there is nobody left to tell.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let peer = self.peer.clone();
        let params = CancelledNotificationParam::new(
            Some(RequestId::Number(self.id)),
            Some("the call was cancelled or timed out".to_owned()),
        );
        self.tasks.spawn_on(
            async move {
                let _ = peer.notify_cancelled(params).await;
            },
            &runtime,
        );
    }
}

/// Reads newline-terminated lines, cancel-safely: a line cut by a dropped read stays buffered
/// for the next one. A line that is whole in the reader's buffer is handed out from there,
/// without a copy.
pub(crate) struct Lines<R> {
    read: R,
    /// The beginning of a line that spans reads.
    partial: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    pub(crate) fn new(read: R) -> Self {
        Self { read, partial: Vec::new() }
    }

    /// Reads the next line and hands it (without its newline) to `deal`; `None` at the end of
    /// the stream or on a read error (a trailing line without a newline is incomplete and
    /// dropped).
    pub(crate) async fn next<T>(&mut self, deal: impl FnOnce(&[u8]) -> T) -> Option<io::Result<T>> {
        loop {
            let available = match self.read.fill_buf().await {
                Ok(available) => available,
                Err(error) => return Some(Err(error)),
            };
            if available.is_empty() {
                return None;
            }
            match memchr::memchr(b'\n', available) {
                Some(end) if self.partial.is_empty() => {
                    let dealt = deal(&available[..end]);
                    self.read.consume(end + 1);
                    return Some(Ok(dealt));
                }
                Some(end) => {
                    self.partial.extend_from_slice(&available[..end]);
                    self.read.consume(end + 1);
                    let dealt = deal(&self.partial);
                    self.partial.clear();
                    if self.partial.capacity() > KEEP_BUFFER_BYTES {
                        self.partial = Vec::new();
                    }
                    return Some(Ok(dealt));
                }
                None => {
                    let read = available.len();
                    self.partial.extend_from_slice(available);
                    self.read.consume(read);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire() -> Wire<tokio::io::Sink> {
        Wire::new(tokio::io::sink())
    }

    fn answer_line(id: i64, text: &str) -> Vec<u8> {
        serde_json::json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": text}]}})
            .to_string()
            .into_bytes()
    }

    #[tokio::test]
    async fn an_answer_completes_its_call_and_only_its_call() {
        let wire = wire();
        let (first, first_answer) = wire.register().unwrap();
        let (second, mut second_answer) = wire.register().unwrap();
        assert!(matches!(wire.route(&answer_line(first, "one")), Routed::Answered));
        match first_answer.await.unwrap() {
            Ok(ServerResult::CallToolResult(result)) => assert_eq!(result.content.len(), 1),
            other => panic!("{other:?}"),
        }
        assert!(second_answer.try_recv().is_err(), "the other call still waits");
        // A JSON-RPC error for a direct call is that call's answer.
        let error = serde_json::json!({"jsonrpc": "2.0", "id": second, "error": {"code": -32602, "message": "no"}});
        assert!(matches!(wire.route(error.to_string().as_bytes()), Routed::Answered));
        assert!(matches!(second_answer.await.unwrap(), Err(e) if e.message == "no"));
    }

    #[test]
    fn an_answer_for_an_unknown_id_goes_to_rmcp() {
        let wire = wire();
        let (id, mut waiting) = wire.register().unwrap();
        // rmcp's own ids (small numbers), a direct id nobody waits for (a late answer after a
        // cancellation) and a string id are all left to rmcp, which drops what it does not know.
        for unknown in [answer_line(0, "rmcp's"), answer_line(id + 7, "late")] {
            assert!(matches!(wire.route(&unknown), Routed::Message(JsonRpcMessage::Response(_))));
        }
        let string_id = br#"{"jsonrpc":"2.0","id":"abc","result":{}}"#;
        assert!(matches!(wire.route(string_id), Routed::Message(JsonRpcMessage::Response(_))));
        assert!(waiting.try_recv().is_err(), "the direct call still waits for its own answer");
    }

    #[test]
    fn other_messages_pass_through_and_junk_is_dropped() {
        let wire = wire();
        let _waiting = wire.register().unwrap();
        let progress =
            br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}"#;
        assert!(matches!(wire.route(progress), Routed::Message(JsonRpcMessage::Notification(_))));
        let ping = br#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#;
        assert!(matches!(wire.route(ping), Routed::Message(JsonRpcMessage::Request(_))));
        assert!(matches!(wire.route(b"not json"), Routed::Skipped));
        assert!(matches!(wire.route(b"   "), Routed::Skipped));
        // A non-standard notification is rmcp's to handle (as a custom one).
        let custom = br#"{"jsonrpc":"2.0","method":"x/custom"}"#;
        assert!(matches!(wire.route(custom), Routed::Message(JsonRpcMessage::Notification(_))));
        assert!(matches!(wire.route(br#"{"hello":1}"#), Routed::Invalid));
    }

    #[tokio::test]
    async fn a_closed_reader_fails_waiting_and_new_calls() {
        let wire = wire();
        let (_, waiting) = wire.register().unwrap();
        wire.reader_closed();
        assert!(waiting.await.is_err(), "the waiting call hears that no answer will come");
        assert!(wire.register().is_none(), "no new call is registered on a dead wire");
    }

    #[tokio::test]
    async fn lines_span_reads_and_are_handed_out_whole() {
        let (mut tx, rx) = tokio::io::duplex(8);
        let writer = tokio::spawn(async move {
            tx.write_all(b"first line\nsecond, longer than the buffer\n").await.unwrap();
        });
        let mut lines = Lines::new(tokio::io::BufReader::with_capacity(8, rx));
        let first = lines.next(<[u8]>::to_vec).await.unwrap().unwrap();
        let second = lines.next(<[u8]>::to_vec).await.unwrap().unwrap();
        assert_eq!(first, b"first line");
        assert_eq!(second, b"second, longer than the buffer");
        writer.await.unwrap();
        assert!(lines.next(<[u8]>::to_vec).await.is_none());
    }
}
