//! The state a plugin process shares with its I/O tasks: requests waiting for an answer (by
//! id), executions waiting for events (by execution id), and why the process ended. Plus the
//! two tasks that move bytes: the stdout reader, which routes every incoming message, and the
//! stdin writer, which writes one message per write, in order.
//!
//! Events are routed with backpressure: the reader waits while an execution's buffer
//! ([`event_buffer`](crate::PluginOptions::event_buffer) events) is full, which keeps memory
//! bounded and never drops a chunk of streamed text. The execution drains its buffer as fast as
//! its caller takes events, so only a caller that stops reading a stream without dropping it can
//! hold up the plugin's other executions.
//!
//! One `std::sync::Mutex` guards the state: it is held for map lookups only, never across an
//! `.await`, so a blocking mutex is cheaper than an async one and cannot deadlock the reader.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::{mpsc, oneshot, watch};
use toolbridge_runtime::{ExecutionEvent, ExecutionId};
use tracing::{debug, error, info, warn};

use super::child::Group;
use super::lines::{LineError, Overflow, next_line};
use crate::protocol::{ErrorResponse, EventParams, Incoming, LogLevel, LogParams, METHOD_NOT_FOUND, Method, RpcError};

/// A read buffer above this size is given back after the line it held.
const KEEP_LINE_BUFFER: usize = 1024 * 1024;

/// Why a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// Its stdout closed (it exited, or closed stdout).
    Eof,
    /// It broke the protocol; we killed it. The text says how.
    Violation(String),
    /// Reading its stdout failed.
    Io(String),
    /// We shut it down.
    ShutDown,
}

/// Where an execution's events go, and whether `cancel` was already sent for it.
#[derive(Debug)]
struct Route {
    events: mpsc::Sender<ExecutionEvent>,
    cancel_sent: Arc<AtomicBool>,
}

/// Ids of requests given up on remembered (so their late answers are expected, not strange).
const FORGOTTEN_IDS: usize = 1024;

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    pending: HashMap<u64, oneshot::Sender<Result<Value, RpcError>>>,
    /// Requests whose answer nobody waits for any more.
    forgotten: HashSet<u64>,
    routes: HashMap<ExecutionId, Route>,
    end: Option<End>,
}

/// The state shared by a process and its tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    plugin: Arc<str>,
    state: Mutex<State>,
    ended: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(plugin: Arc<str>) -> Self {
        Self { plugin, state: Mutex::new(State { next_id: 1, ..State::default() }), ended: watch::Sender::new(false) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why the process ended, if it did.
    pub(crate) fn end(&self) -> Option<End> {
        self.state().end.clone()
    }

    /// A receiver that sees `true` once the process ended.
    pub(crate) fn ended(&self) -> watch::Receiver<bool> {
        self.ended.subscribe()
    }

    /// Records the end (the first reason wins) and lets go of every waiter: pending requests
    /// see their answer channel close, executions their event channel.
    pub(crate) fn finish(&self, end: End) {
        let (pending, routes) = {
            let mut state = self.state();
            if state.end.is_none() {
                state.end = Some(end);
            }
            (std::mem::take(&mut state.pending), std::mem::take(&mut state.routes))
        };
        drop((pending, routes));
        self.ended.send_replace(true);
    }

    /// Takes a request id and registers its waiter; `None` once the process ended.
    pub(crate) fn register(self: &Arc<Self>, method: Method) -> Option<Pending> {
        let mut state = self.state();
        if state.end.is_some() {
            return None;
        }
        let id = state.next_id;
        state.next_id += 1;
        let (sender, answer) = oneshot::channel();
        state.pending.insert(id, sender);
        Some(Pending { id, method, answer, finished: false, shared: Arc::clone(self) })
    }

    /// Takes a request id whose answer nobody will wait for; `None` once the process ended.
    pub(crate) fn register_forgotten(&self) -> Option<u64> {
        let mut state = self.state();
        if state.end.is_some() {
            return None;
        }
        let id = state.next_id;
        state.next_id += 1;
        forget(&mut state, id);
        Some(id)
    }

    /// Registers an execution's event channel; `Err(())` if the id is already running,
    /// `Ok(None)` once the process ended.
    pub(crate) fn open_execution(
        self: &Arc<Self>,
        execution_id: &ExecutionId,
        buffer: usize,
    ) -> Result<Option<ExecutionSlot>, ()> {
        let mut state = self.state();
        if state.end.is_some() {
            return Ok(None);
        }
        if state.routes.contains_key(execution_id) {
            return Err(());
        }
        let (events, receiver) = mpsc::channel(buffer.max(1));
        let cancel_sent = Arc::new(AtomicBool::new(false));
        state.routes.insert(execution_id.clone(), Route { events, cancel_sent: Arc::clone(&cancel_sent) });
        Ok(Some(ExecutionSlot {
            shared: Arc::clone(self),
            execution_id: execution_id.clone(),
            events: receiver,
            cancel_sent,
        }))
    }

    /// Claims the right to send `cancel` for a running execution: `None` if it is not running
    /// here, `Some(false)` if `cancel` was already sent, `Some(true)` if the caller sends it.
    pub(crate) fn claim_cancel(&self, execution_id: &ExecutionId) -> Option<bool> {
        let state = self.state();
        let route = state.routes.get(execution_id)?;
        Some(!route.cancel_sent.swap(true, Ordering::AcqRel))
    }

    /// Handles one line from stdout. An error is a protocol violation that ends the process.
    async fn dispatch(&self, line: &[u8], replies: &mpsc::WeakSender<Vec<u8>>) -> Result<(), String> {
        let message = Incoming::parse(line).map_err(|error| {
            format!("it broke the protocol (stdout is for protocol messages only: log to stderr): {error}")
        })?;
        let plugin = &*self.plugin;
        match message {
            Incoming::Response { id, outcome } => {
                let (waiter, forgotten) = {
                    let mut state = self.state();
                    let waiter = state.pending.remove(&id);
                    (waiter, state.forgotten.remove(&id))
                };
                match waiter {
                    Some(waiter) => {
                        let _ = waiter.send(outcome);
                    }
                    None if forgotten => debug!(plugin, id, "ignored a late answer to a request given up on"),
                    None => warn!(plugin, id, "ignored an answer to a request toolbridge did not send"),
                }
            }
            Incoming::ForeignResponse { id } => {
                warn!(plugin, id = %id, "ignored an answer whose id is not one toolbridge sent");
            }
            Incoming::Notification { method, params } => match method.as_str() {
                "event" => self.route_event(params).await,
                "log" => log(plugin, params),
                other => debug!(plugin, method = other, "ignored an unknown notification"),
            },
            Incoming::Request { id, method } => {
                warn!(plugin, method = %method, "the plugin sent a request; the protocol has none");
                let answer = ErrorResponse {
                    jsonrpc: "2.0",
                    id: &id,
                    error: RpcError {
                        code: METHOD_NOT_FOUND,
                        message: format!("method not found: {method}"),
                        data: None,
                    },
                };
                if let (Some(writer), Ok(mut line)) = (replies.upgrade(), serde_json::to_vec(&answer)) {
                    line.push(b'\n');
                    // Never wait on the writer from the reader: a plugin blocked writing to us
                    // would then never read its stdin.
                    let _ = writer.try_send(line);
                }
            }
        }
        Ok(())
    }

    async fn route_event(&self, params: Value) {
        let plugin = &*self.plugin;
        let params: EventParams = match serde_json::from_value(params) {
            Ok(params) => params,
            Err(error) => {
                warn!(plugin, error = %error, "ignored an `event` notification that is not an execution event");
                return;
            }
        };
        let route = self.state().routes.get(&params.execution_id).map(|route| route.events.clone());
        match route {
            // Backpressure: the execution forwards events as fast as its listener takes them.
            Some(events) => {
                let _ = events.send(params.event).await;
            }
            None => debug!(plugin, execution_id = %params.execution_id, "ignored an event of an execution not running"),
        }
    }
}

fn log(plugin: &str, params: Value) {
    match serde_json::from_value::<LogParams>(params) {
        Ok(LogParams { level, message }) => match level {
            LogLevel::Error => error!(target: "toolbridge_plugin::log", plugin, "{message}"),
            LogLevel::Warn => warn!(target: "toolbridge_plugin::log", plugin, "{message}"),
            LogLevel::Info => info!(target: "toolbridge_plugin::log", plugin, "{message}"),
            LogLevel::Debug => debug!(target: "toolbridge_plugin::log", plugin, "{message}"),
        },
        Err(error) => warn!(plugin, error = %error, "ignored a malformed `log` notification"),
    }
}

fn forget(state: &mut State, id: u64) {
    if state.forgotten.len() >= FORGOTTEN_IDS {
        state.forgotten.clear();
    }
    state.forgotten.insert(id);
}

/// A request waiting for its answer. Dropping it forgets the request (a late answer is then
/// ignored).
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) id: u64,
    pub(crate) method: Method,
    answer: oneshot::Receiver<Result<Value, RpcError>>,
    /// The receiver completed: it must not be polled again.
    finished: bool,
    shared: Arc<Shared>,
}

impl Pending {
    /// The answer; `None` if the process ended first (and on every call after the first
    /// completed one). Cancel-safe.
    pub(crate) async fn answer(&mut self) -> Option<Result<Value, RpcError>> {
        if self.finished {
            return None;
        }
        let answer = (&mut self.answer).await.ok();
        self.finished = true;
        answer
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        if state.pending.remove(&self.id).is_some() {
            forget(&mut state, self.id);
        }
    }
}

/// One execution's place on a process: its events arrive on `events`. Dropping it stops the
/// routing (later events for the id are ignored).
#[derive(Debug)]
pub(crate) struct ExecutionSlot {
    shared: Arc<Shared>,
    execution_id: ExecutionId,
    pub(crate) events: mpsc::Receiver<ExecutionEvent>,
    cancel_sent: Arc<AtomicBool>,
}

impl ExecutionSlot {
    /// The execution's id.
    pub(crate) fn execution_id(&self) -> &ExecutionId {
        &self.execution_id
    }
}

impl Drop for ExecutionSlot {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        if state.routes.get(&self.execution_id).is_some_and(|route| Arc::ptr_eq(&route.cancel_sent, &self.cancel_sent))
        {
            state.routes.remove(&self.execution_id);
        }
    }
}

/// Reads stdout line by line and dispatches each message until the stream ends or the plugin
/// breaks the protocol (then its process group is killed), and records why.
pub(crate) async fn read_stdout(
    stdout: ChildStdout,
    shared: Arc<Shared>,
    limit: usize,
    group: Group,
    replies: mpsc::WeakSender<Vec<u8>>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::new();
    let end = loop {
        match next_line(&mut reader, &mut line, limit, Overflow::Fail).await {
            Ok(false) => break End::Eof,
            Ok(true) if line.iter().all(u8::is_ascii_whitespace) => {}
            Ok(true) => {
                if let Err(violation) = shared.dispatch(&line, &replies).await {
                    break End::Violation(violation);
                }
                if line.capacity() > KEEP_LINE_BUFFER {
                    line = Vec::new();
                }
            }
            Err(LineError::TooLong) => {
                break End::Violation(format!(
                    "it wrote a message longer than {limit} bytes on stdout (the limit for one message)"
                ));
            }
            Err(LineError::Io(error)) => break End::Io(format!("reading its stdout failed: {error}")),
        }
    };
    if matches!(end, End::Violation(_)) {
        group.kill();
    }
    shared.finish(end);
}

/// Writes queued messages to stdin, each in one write, until the queue is closed (then stdin
/// is closed: the plugin reads end-of-file) or the pipe breaks.
pub(crate) async fn write_stdin(plugin: Arc<str>, mut stdin: ChildStdin, mut queue: mpsc::Receiver<Vec<u8>>) {
    while let Some(line) = queue.recv().await {
        if let Err(error) = stdin.write_all(&line).await {
            debug!(plugin = %plugin, error = %error, "stopped writing to the plugin's stdin");
            break;
        }
    }
}
