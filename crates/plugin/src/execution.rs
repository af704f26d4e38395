//! One execution on a plugin process, driven step by step: events are forwarded as they
//! arrive, cancellation is passed on to the plugin (then waited for, up to
//! [`cancel_wait`](crate::PluginOptions::cancel_wait)), and the answer becomes the result.
//!
//! Both `execute` and `stream_execute` run this driver; they differ only in what they do with
//! a [`Step::Chunk`]. Ownership does the cleanup: dropping an unfinished execution removes its
//! routes, closes its tool endpoint and tells the plugin to cancel it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use toolbridge_runtime::{
    CancellationToken, ExecutionEvent, ExecutionScope, RuntimeError, RuntimeExecutionResult, ToolCallRecord, Usage,
};
use tracing::debug;

use crate::endpoint::{CloseEndpoint, ToolEndpoint};
use crate::error::PluginError;
use crate::process::{ExecutionSlot, Pending, PluginProcess};
use crate::protocol::{ExecuteResult, Method};

/// What one step of an execution produced.
#[derive(Debug)]
pub(crate) enum Step {
    /// A `content_chunk`: the response so far grew (see [`Execution::text`]).
    Chunk,
    /// Another event, already forwarded.
    Event,
    /// The execution is over.
    Finished(Box<Result<RuntimeExecutionResult, RuntimeError>>),
}

/// `cancel` was sent (or claimed by `cancel_impl`) at some point; the plugin has until
/// `deadline` to answer `execute`.
#[derive(Debug)]
struct Cancelling {
    deadline: Instant,
    /// The `cancel` request's waiter, kept so that its answer is expected.
    _answer: Option<Pending>,
}

/// A running execution.
pub(crate) struct Execution {
    process: Arc<PluginProcess>,
    slot: ExecutionSlot,
    response: Pending,
    /// The answer, once it came: the events that arrived before it are forwarded first.
    answer: Option<Result<Value, PluginError>>,
    token: CancellationToken,
    scope: ExecutionScope,
    cancel_wait: Duration,
    cancelling: Option<Cancelling>,
    events_open: bool,
    /// Closes the tool endpoint (dropping it closes it too, without waiting).
    closer: Option<Box<dyn CloseEndpoint>>,
    /// Whether the execution had tools: its call log is then the result's.
    has_tools: bool,
    text: String,
    chunks: bool,
    usage: Option<Usage>,
    model: Option<String>,
    finished: bool,
}

impl std::fmt::Debug for Execution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Execution").field("execution_id", self.slot.execution_id()).finish_non_exhaustive()
    }
}

impl Execution {
    pub(crate) fn new(
        process: Arc<PluginProcess>,
        slot: ExecutionSlot,
        response: Pending,
        scope: ExecutionScope,
        endpoint: Option<ToolEndpoint>,
        model: Option<String>,
    ) -> Self {
        let cancel_wait = process.options().cancel_wait;
        let has_tools = endpoint.is_some();
        let closer = endpoint.and_then(|endpoint| endpoint.closer);
        Self {
            process,
            slot,
            response,
            answer: None,
            token: scope.cancellation_token().clone(),
            scope,
            cancel_wait,
            cancelling: None,
            events_open: true,
            closer,
            has_tools,
            text: String::new(),
            chunks: false,
            usage: None,
            model,
            finished: false,
        }
    }

    /// The response text streamed so far.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whether any `content_chunk` arrived.
    pub(crate) fn streamed(&self) -> bool {
        self.chunks
    }

    /// The next step. After [`Step::Finished`] the execution must not be stepped again.
    pub(crate) async fn next(&mut self) -> Step {
        loop {
            if let Some(answer) = self.answer.take() {
                // Events the plugin sent before its answer come first.
                if let Ok(event) = self.slot.events.try_recv() {
                    self.answer = Some(answer);
                    return self.on_event(&event);
                }
                return Step::Finished(Box::new(self.finish(answer).await));
            }
            let deadline = self.cancelling.as_ref().map(|cancelling| cancelling.deadline);
            tokio::select! {
                biased;
                event = self.slot.events.recv(), if self.events_open => match event {
                    Some(event) => return self.on_event(&event),
                    None => self.events_open = false,
                },
                answer = self.process.answer(&mut self.response) => self.answer = Some(answer),
                () = self.token.cancelled(), if self.cancelling.is_none() => {
                    let answer = self.process.send_cancel(self.slot.execution_id()).await;
                    self.cancelling = Some(Cancelling { deadline: Instant::now() + self.cancel_wait, _answer: answer });
                }
                () = sleep_until(deadline), if deadline.is_some() => return Step::Finished(Box::new(self.give_up().await)),
            }
        }
    }

    fn on_event(&mut self, event: &ExecutionEvent) -> Step {
        match event {
            ExecutionEvent::ContentChunk { text } => {
                self.text.push_str(text);
                self.chunks = true;
                self.scope.emit(event);
                Step::Chunk
            }
            ExecutionEvent::ToolStart { .. } | ExecutionEvent::ToolComplete { .. } | ExecutionEvent::Done { .. } => {
                // toolbridge reports tool calls (it serves them) and the end (it sees it).
                debug!(execution_id = %self.slot.execution_id(), event = event.name(), "ignored a plugin's own event");
                Step::Event
            }
            ExecutionEvent::Usage { usage } => {
                self.usage = Some(usage.clone());
                self.scope.emit(event);
                Step::Event
            }
            _ => {
                self.scope.emit(event);
                Step::Event
            }
        }
    }

    /// Closes the endpoint, then reads the execution's call log (the calls made through it).
    async fn close_endpoint(&mut self) -> Option<Vec<ToolCallRecord>> {
        if let Some(closer) = self.closer.take() {
            closer.close().await;
        }
        self.has_tools.then(|| self.scope.call_log().records())
    }

    /// What was done so far, kept with an error.
    fn partial(&mut self, tool_log: Option<Vec<ToolCallRecord>>) -> RuntimeExecutionResult {
        let mut partial = RuntimeExecutionResult::partial(std::mem::take(&mut self.text));
        partial.usage = self.usage.take().unwrap_or_default();
        partial.model.clone_from(&self.model);
        partial.tool_execution_messages = tool_log;
        partial
    }

    async fn finish(&mut self, answer: Result<Value, PluginError>) -> Result<RuntimeExecutionResult, RuntimeError> {
        self.finished = true;
        let tool_log = self.close_endpoint().await;
        let error = match answer.map(ExecuteResult::from_value) {
            Ok(Ok(result)) => return Ok(self.result(result, tool_log)),
            Ok(Err(message)) => RuntimeError::from(self.process.invalid(Method::Execute, message)),
            // The protocol: a JSON-RPC error fails the execution with its message.
            Err(PluginError::Rpc { error, .. }) => RuntimeError::execution(error.message),
            Err(error) => RuntimeError::from(error),
        };
        Err(error.with_partial(self.partial(tool_log)))
    }

    fn result(&mut self, answer: ExecuteResult, tool_log: Option<Vec<ToolCallRecord>>) -> RuntimeExecutionResult {
        let mut usage = if answer.usage.is_empty() { self.usage.take().unwrap_or(answer.usage) } else { answer.usage };
        // A plugin that counts tokens in and out but not their sum still gets a total.
        if usage.total_tokens == 0 {
            usage.total_tokens = usage.input_tokens.saturating_add(usage.output_tokens);
        }
        RuntimeExecutionResult {
            response: answer.response,
            usage,
            success: answer.success,
            finish_reason: Some(answer.finish_reason),
            run_id: answer.run_id,
            model: answer.model.or_else(|| self.model.clone()),
            tool_execution_messages: tool_log,
            tool_messages: None,
            error: answer.error,
            metadata: answer.metadata,
        }
    }

    /// The plugin did not answer within `cancel_wait` of the cancellation: the execution ends
    /// `cancelled` with what it had.
    async fn give_up(&mut self) -> Result<RuntimeExecutionResult, RuntimeError> {
        self.finished = true;
        let tool_log = self.close_endpoint().await;
        let mut partial = self.partial(tool_log);
        partial.error = Some(format!(
            "execution cancelled (plugin `{}` did not answer within {:?} of the cancellation)",
            self.process.plugin(),
            self.cancel_wait
        ));
        Err(RuntimeError::Cancelled.with_partial(partial))
    }
}

impl Drop for Execution {
    fn drop(&mut self) {
        if !self.finished {
            // Abandoned (the caller went away): the plugin should not go on working for nobody.
            self.process.cancel_detached(self.slot.execution_id());
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
