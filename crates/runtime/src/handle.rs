//! The public interface of every runtime, written once: `execute`, `stream_execute`, `cancel`,
//! `get_usage`.
//!
//! Orchestration order: register cancellation → record the start → validate (typed
//! `runtime_config`, absent = `{}`, then the runtime's `validate_config`) →
//! `before_execute` → implementation → `after_execute`. Any error goes to `on_error`, whose
//! result is returned; a panic in the implementation or a hook is caught and handled as an
//! error (its message in `error`). `after_execute` runs for every execution that ends without
//! an error — completed or cancelled, streamed or not. Cancellation ends with
//! `finish_reason = cancelled`. Whatever the outcome, the usage is recorded, the tool-call
//! log kept (from the execution's [`CallLog`](crate::CallLog) when the implementation left
//! none), `run_id` set (the execution id when the runtime has no id of its own),
//! `user_metadata` kept in the result's metadata, and the execution record handed to the
//! control plane — with the execution's events, numbered and timed ([`TimedEvent`]): every
//! event the runtime emits goes through the execution's event log on its way to the caller's
//! callback, and both paths end with `done`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span, warn};

use crate::cancellation::CancellationManager;
use crate::capabilities::RuntimeCapabilities;
use crate::context::{ExecutionId, RuntimeExecutionContext};
use crate::control_plane::{ControlPlane, ExecutionRecord, ExecutionStart, InMemoryControlPlane};
use crate::error::RuntimeError;
use crate::event::{EventCallback, ExecutionEvent};
use crate::event_log::{EventLog, TimedEvent};
use crate::result::{FinishReason, RuntimeExecutionResult};
use crate::runtime::{ExecutionScope, Runtime};
use crate::runtime_config::ConfigError;
use crate::runtime_type::RuntimeType;
use crate::usage::Usage;

/// How long a cancelled implementation gets, by default, to return its own (partial) result
/// before it is dropped (see [`Runtime::cancel_grace`]).
pub const CANCEL_GRACE: Duration = Duration::from_millis(500);

/// How many executions' usage a handle remembers for [`RuntimeHandle::get_usage`] (the control
/// plane keeps the rest).
const USAGE_MEMORY: usize = 4096;

/// What every runtime is given: the control plane and the cancellation manager.
#[derive(Debug, Clone)]
pub struct RuntimeDeps {
    /// Where metadata, usage and execution records go.
    pub control_plane: Arc<dyn ControlPlane>,
    /// Per-execution cancellation tokens.
    pub cancellation: CancellationManager,
}

impl RuntimeDeps {
    /// Deps with the given control plane and a fresh cancellation manager.
    pub fn new(control_plane: Arc<dyn ControlPlane>) -> Self {
        Self { control_plane, cancellation: CancellationManager::new() }
    }
}

impl Default for RuntimeDeps {
    /// An in-memory control plane and a fresh cancellation manager.
    fn default() -> Self {
        Self::new(Arc::new(InMemoryControlPlane::new()))
    }
}

/// Validates an execution's `runtime_config` against the runtime's typed config.
pub(crate) type ConfigCheck = Arc<dyn Fn(Option<&Value>) -> Result<(), ConfigError> + Send + Sync>;

#[derive(Default)]
struct UsageMemory {
    by_id: HashMap<ExecutionId, Usage>,
    order: VecDeque<ExecutionId>,
}

impl UsageMemory {
    fn insert(&mut self, id: ExecutionId, usage: Usage) {
        if self.by_id.insert(id.clone(), usage).is_none() {
            self.order.push_back(id);
            while self.order.len() > USAGE_MEMORY {
                if let Some(old) = self.order.pop_front() {
                    self.by_id.remove(&old);
                }
            }
        }
    }
}

struct Inner {
    runtime: Arc<dyn Runtime>,
    runtime_type: RuntimeType,
    deps: RuntimeDeps,
    config_check: Option<ConfigCheck>,
    usage: Mutex<UsageMemory>,
}

/// A runtime ready to run executions: the runtime plus its deps, exposing the public
/// interface. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct RuntimeHandle {
    inner: Arc<Inner>,
}

impl fmt::Debug for RuntimeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeHandle").field("runtime_type", &self.inner.runtime_type).finish_non_exhaustive()
    }
}

enum Outcome<T> {
    Finished(T),
    Abandoned,
}

/// Awaits `future`; once `token` fires, gives it `grace` (the runtime's
/// [`cancel_grace`](Runtime::cancel_grace)) to finish on its own.
async fn cancellable<F: Future>(future: F, token: &CancellationToken, grace: Duration) -> Outcome<F::Output> {
    tokio::pin!(future);
    tokio::select! {
        biased;
        output = &mut future => return Outcome::Finished(output),
        () = token.cancelled() => {}
    }
    match tokio::time::timeout(grace, future).await {
        Ok(output) => Outcome::Finished(output),
        Err(_) => Outcome::Abandoned,
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// Awaits a runtime's future, turning a panic into [`RuntimeError::Panicked`].
async fn guarded<T>(future: impl Future<Output = Result<T, RuntimeError>>) -> Result<T, RuntimeError> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(payload) => Err(RuntimeError::Panicked(panic_message(payload.as_ref()))),
    }
}

/// Runs a runtime's `validate_config`, turning a panic into [`RuntimeError::Panicked`].
pub(crate) fn guarded_validate(runtime: &dyn Runtime, context: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| runtime.validate_config(context)))
        .unwrap_or_else(|payload| Err(RuntimeError::Panicked(panic_message(payload.as_ref()))))
}

impl RuntimeHandle {
    /// Wraps a runtime with its deps.
    pub fn new(runtime: impl Runtime, deps: RuntimeDeps) -> Self {
        Self::from_arc(Arc::new(runtime), deps, None)
    }

    pub(crate) fn from_arc(runtime: Arc<dyn Runtime>, deps: RuntimeDeps, config_check: Option<ConfigCheck>) -> Self {
        let runtime_type = runtime.runtime_type();
        Self { inner: Arc::new(Inner { runtime, runtime_type, deps, config_check, usage: Mutex::default() }) }
    }

    /// The runtime's type.
    pub fn runtime_type(&self) -> &RuntimeType {
        &self.inner.runtime_type
    }

    /// The runtime's capabilities.
    pub fn capabilities(&self) -> RuntimeCapabilities {
        self.inner.runtime.capabilities()
    }

    /// Whether the runtime's executions need a `model_id`.
    pub fn requires_model(&self) -> bool {
        self.inner.runtime.requires_model()
    }

    /// The deps the runtime runs with.
    pub fn deps(&self) -> &RuntimeDeps {
        &self.inner.deps
    }

    /// Runs one execution to completion. Never fails and never panics: errors (and panics)
    /// come back as a result with `success = false` (see the module docs for the order of
    /// things).
    pub async fn execute(&self, context: &RuntimeExecutionContext) -> RuntimeExecutionResult {
        let span = info_span!("execution", execution_id = %context.execution_id, runtime = %self.inner.runtime_type);
        async {
            let started_at = Utc::now();
            let registration = match self.inner.deps.cancellation.register(&context.execution_id) {
                Ok(registration) => registration,
                // Not an execution of its own: nothing is recorded under the running one's id.
                Err(error) => return RuntimeExecutionResult::failure(error.to_string()),
            };
            let token = registration.token().clone();
            let log = EventLog::new();
            let scope = self.scope(context, token.clone(), log.callback(None));
            self.record_start(context, started_at).await;
            let mut result = self.run(context, &scope, &token).await;
            if let Some(finish_reason) = result.finish_reason {
                scope.emit(&ExecutionEvent::Done { finish_reason });
            }
            self.finish(context, &scope, &mut result, started_at, &log).await;
            drop(registration);
            result
        }
        .instrument(span)
        .await
    }

    async fn run(
        &self,
        context: &RuntimeExecutionContext,
        scope: &ExecutionScope,
        token: &CancellationToken,
    ) -> RuntimeExecutionResult {
        let runtime = &self.inner.runtime;
        if let Err(error) = self.prepare(context).await {
            return self.error_result(context, scope, error).await;
        }
        match cancellable(guarded(runtime.execute_impl(context, scope)), token, runtime.cancel_grace()).await {
            Outcome::Finished(Ok(mut result)) => {
                if result.finish_reason.is_none() {
                    result.finish_reason =
                        Some(if token.is_cancelled() { FinishReason::Cancelled } else { FinishReason::Stop });
                }
                if result.finish_reason == Some(FinishReason::Cancelled) {
                    return self.cancelled(context, Some(result)).await;
                }
                self.after(context, scope, result).await
            }
            Outcome::Finished(Err(error)) if !token.is_cancelled() && !error.is_cancelled() => {
                self.error_result(context, scope, error).await
            }
            Outcome::Finished(Err(RuntimeError::WithPartial { partial, .. })) => {
                self.cancelled(context, Some(*partial)).await
            }
            Outcome::Finished(Err(_)) | Outcome::Abandoned => self.cancelled(context, None).await,
        }
    }

    /// Validation and `before_execute`.
    async fn prepare(&self, context: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
        if let Some(check) = &self.inner.config_check {
            check(context.runtime_config.as_ref())?;
        }
        guarded_validate(self.inner.runtime.as_ref(), context)?;
        guarded(self.inner.runtime.before_execute(context)).await
    }

    async fn after(
        &self,
        context: &RuntimeExecutionContext,
        scope: &ExecutionScope,
        result: RuntimeExecutionResult,
    ) -> RuntimeExecutionResult {
        match guarded(self.inner.runtime.after_execute(context, &result)).await {
            Ok(()) => result,
            Err(error) => self.error_result(context, scope, error.with_partial(result)).await,
        }
    }

    async fn error_result(
        &self,
        context: &RuntimeExecutionContext,
        scope: &ExecutionScope,
        error: RuntimeError,
    ) -> RuntimeExecutionResult {
        warn!(error = %error, "execution failed");
        let handled = AssertUnwindSafe(self.inner.runtime.on_error(context, &error)).catch_unwind().await;
        let mut result = handled.unwrap_or_else(|payload| {
            RuntimeExecutionResult::failure(format!("{error}; on_error panicked: {}", panic_message(payload.as_ref())))
        });
        if !result.success {
            result.error.get_or_insert_with(|| error.to_string());
            result.finish_reason.get_or_insert(FinishReason::Error);
        }
        if let RuntimeError::WithPartial { partial, .. } = error {
            keep_partial(&mut result, *partial);
        }
        if result.tool_execution_messages.is_none() && !scope.call_log().is_empty() {
            result.tool_execution_messages = Some(scope.call_log().records());
        }
        result
    }

    /// The result of a cancelled execution: the implementation's own partial result when it
    /// gave one, marked cancelled; `after_execute` runs on it (an error it returns is logged:
    /// the execution stays cancelled).
    async fn cancelled(
        &self,
        context: &RuntimeExecutionContext,
        partial: Option<RuntimeExecutionResult>,
    ) -> RuntimeExecutionResult {
        let mut result = partial.unwrap_or_else(RuntimeExecutionResult::cancelled);
        result.mark_cancelled();
        if result.model.is_none() {
            result.model.clone_from(&context.model_id);
        }
        if let Err(error) = guarded(self.inner.runtime.after_execute(context, &result)).await {
            warn!(error = %error, "after_execute failed on a cancelled execution");
        }
        result
    }

    /// The scope of one execution; its events go through `events` (the execution's log).
    fn scope(
        &self,
        context: &RuntimeExecutionContext,
        token: CancellationToken,
        events: EventCallback,
    ) -> ExecutionScope {
        let control_plane = Arc::clone(&self.inner.deps.control_plane);
        ExecutionScope::new(context.execution_id.clone(), token, Some(events), control_plane)
    }

    async fn record_start(&self, context: &RuntimeExecutionContext, started_at: DateTime<Utc>) {
        let start = ExecutionStart { runtime_type: &self.inner.runtime_type, context, started_at };
        if let Err(error) = self.inner.deps.control_plane.record_start(start).await {
            warn!(error = %error, "could not record the start of the execution");
        }
    }

    /// Completes the result (tool log, run id, user metadata), records usage and the
    /// execution record. A record that cannot be stored is logged and noted in
    /// `metadata.record_error`.
    async fn finish(
        &self,
        context: &RuntimeExecutionContext,
        scope: &ExecutionScope,
        result: &mut RuntimeExecutionResult,
        started_at: DateTime<Utc>,
        log: &EventLog,
    ) {
        let id = &context.execution_id;
        if result.tool_execution_messages.is_none() && !scope.call_log().is_empty() {
            result.tool_execution_messages = Some(scope.call_log().records());
        }
        result.run_id.get_or_insert_with(|| id.to_string());
        if let Some(user_metadata) = &context.user_metadata {
            result.metadata.entry("user_metadata").or_insert_with(|| Value::Object(user_metadata.clone()));
        }
        self.inner.usage.lock().unwrap_or_else(PoisonError::into_inner).insert(id.clone(), result.usage.clone());
        let control_plane = &self.inner.deps.control_plane;
        if let Err(error) = control_plane.report_usage(id, &result.usage).await {
            warn!(error = %error, "could not report usage");
        }
        let (events, dropped) = log.snapshot();
        if dropped > 0 {
            result.metadata.insert("events_not_kept".into(), Value::from(dropped));
        }
        let events: &[TimedEvent] = &events;
        let record = ExecutionRecord {
            runtime_type: &self.inner.runtime_type,
            context,
            result,
            events,
            started_at,
            finished_at: Utc::now(),
        };
        if let Err(error) = control_plane.record_execution(record).await {
            let message = error_chain(&error);
            warn!(error = %message, "could not store the execution record");
            result.metadata.insert("record_error".into(), Value::String(message));
        }
    }

    /// Runs one execution as a stream of partial results; the last item carries
    /// `finish_reason` (and the usage). `events`, when given, receives every
    /// [`ExecutionEvent`], ending with `done`.
    ///
    /// Dropping the stream before its end abandons the execution without a record; use
    /// [`cancel`](Self::cancel) to stop it cleanly.
    pub fn stream_execute(
        &self,
        context: RuntimeExecutionContext,
        events: Option<EventCallback>,
    ) -> BoxStream<'static, RuntimeExecutionResult> {
        let this = self.clone();
        let span = info_span!("execution", execution_id = %context.execution_id, runtime = %self.inner.runtime_type);
        let context = Arc::new(context);
        let stream = async_stream::stream! {
            let started_at = Utc::now();
            let registration = match this.inner.deps.cancellation.register(&context.execution_id) {
                Ok(registration) => registration,
                Err(error) => {
                    yield RuntimeExecutionResult::failure(error.to_string());
                    return;
                }
            };
            let token = registration.token().clone();
            let log = EventLog::new();
            let scope = this.scope(&context, token.clone(), log.callback(events.clone()));
            this.record_start(&context, started_at).await;
            let mut result = match this.prepare(&context).await {
                Err(error) => this.error_result(&context, &scope, error).await,
                Ok(()) => {
                    let runtime = Arc::clone(&this.inner.runtime);
                    let made = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        runtime.stream_execute_impl(Arc::clone(&context), scope.clone())
                    }));
                    match made {
                        Err(payload) => {
                            let error = RuntimeError::Panicked(panic_message(payload.as_ref()));
                            this.error_result(&context, &scope, error).await
                        }
                        Ok(inner) => {
                            let mut inner = AssertUnwindSafe(inner).catch_unwind().map(|item| match item {
                                Ok(item) => item,
                                Err(payload) => Err(RuntimeError::Panicked(panic_message(payload.as_ref()))),
                            });
                            let mut last: Option<RuntimeExecutionResult> = None;
                            let ending = loop {
                                let next = tokio::select! {
                                    biased;
                                    item = inner.next() => Some(item),
                                    () = token.cancelled() => None,
                                };
                                match next {
                                    Some(Some(Ok(item))) if item.is_final() => break StreamEnd::Final(Box::new(item)),
                                    Some(Some(Ok(item))) => {
                                        last = Some(item.clone());
                                        yield item;
                                    }
                                    Some(Some(Err(error))) => break StreamEnd::Failed(error),
                                    Some(None) => break StreamEnd::Exhausted,
                                    None => break StreamEnd::Cancelled,
                                }
                            };
                            match ending {
                                StreamEnd::Final(item) if item.finish_reason == Some(FinishReason::Cancelled) => {
                                    this.cancelled(&context, Some(*item)).await
                                }
                                StreamEnd::Final(item) => this.after(&context, &scope, *item).await,
                                StreamEnd::Failed(error) if token.is_cancelled() || error.is_cancelled() => {
                                    let partial = match error {
                                        RuntimeError::WithPartial { partial, .. } => Some(*partial),
                                        _ => last,
                                    };
                                    this.cancelled(&context, partial).await
                                }
                                StreamEnd::Failed(error) => {
                                    let error = match last {
                                        Some(last) if error.partial().is_none() => error.with_partial(last),
                                        _ => error,
                                    };
                                    this.error_result(&context, &scope, error).await
                                }
                                StreamEnd::Exhausted => {
                                    let mut item = last.unwrap_or_default();
                                    if token.is_cancelled() {
                                        this.cancelled(&context, Some(item)).await
                                    } else {
                                        item.finish_reason = Some(FinishReason::Stop);
                                        this.after(&context, &scope, item).await
                                    }
                                }
                                StreamEnd::Cancelled => {
                                    // Give the implementation a moment to hand back its own final
                                    // item (with its tool log), then settle for the last partial.
                                    let drained = tokio::time::timeout(this.inner.runtime.cancel_grace(), async {
                                        let mut latest = None;
                                        while let Some(Ok(item)) = inner.next().await {
                                            let done = item.is_final();
                                            latest = Some(item);
                                            if done {
                                                break;
                                            }
                                        }
                                        latest
                                    })
                                    .await
                                    .ok()
                                    .flatten();
                                    this.cancelled(&context, drained.or(last)).await
                                }
                            }
                        }
                    }
                }
            };
            if let Some(finish_reason) = result.finish_reason {
                scope.emit(&ExecutionEvent::Done { finish_reason });
            }
            this.finish(&context, &scope, &mut result, started_at, &log).await;
            drop(registration);
            yield result;
        };
        Box::pin(InSpan { inner: Box::pin(stream), span })
    }

    /// Cancels a running execution by id. Returns whether anything was cancelled.
    pub async fn cancel(&self, execution_id: &ExecutionId) -> bool {
        let token_cancelled = self.inner.deps.cancellation.cancel(execution_id);
        let runtime_cancelled = AssertUnwindSafe(self.inner.runtime.cancel_impl(execution_id))
            .catch_unwind()
            .await
            .unwrap_or_else(|payload| {
                warn!(panic = %panic_message(payload.as_ref()), "cancel_impl panicked");
                false
            });
        token_cancelled || runtime_cancelled
    }

    /// The usage of an execution: from the runtime if it tracks it, else what this handle
    /// recorded, else what the control plane has.
    pub async fn get_usage(&self, execution_id: &ExecutionId) -> Option<Usage> {
        if let Ok(Some(usage)) = AssertUnwindSafe(self.inner.runtime.usage_impl(execution_id)).catch_unwind().await {
            return Some(usage);
        }
        let remembered =
            self.inner.usage.lock().unwrap_or_else(PoisonError::into_inner).by_id.get(execution_id).cloned();
        if remembered.is_some() {
            return remembered;
        }
        self.inner.deps.control_plane.get_usage(execution_id).await.ok().flatten()
    }
}

/// An error and its causes, `: `-joined (the store's errors keep SQLite's reason as a source).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Polls a stream inside a span, so everything the execution logs carries its id.
struct InSpan<S> {
    inner: std::pin::Pin<Box<S>>,
    span: tracing::Span,
}

impl<S: futures::Stream> futures::Stream for InSpan<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        this.inner.as_mut().poll_next(cx)
    }
}

enum StreamEnd {
    Final(Box<RuntimeExecutionResult>),
    Failed(RuntimeError),
    Exhausted,
    Cancelled,
}

/// Keeps in an error result what the failed execution had done: its tool-call log, tool
/// messages, usage and response so far (unless `on_error` set them itself).
fn keep_partial(result: &mut RuntimeExecutionResult, partial: RuntimeExecutionResult) {
    if result.tool_execution_messages.is_none() {
        result.tool_execution_messages = partial.tool_execution_messages;
    }
    if result.tool_messages.is_none() {
        result.tool_messages = partial.tool_messages;
    }
    if result.usage.is_empty() {
        result.usage = partial.usage;
    }
    if result.response.is_empty() {
        result.response = partial.response;
    }
    if result.model.is_none() {
        result.model = partial.model;
    }
    for (key, value) in partial.metadata {
        result.metadata.entry(key).or_insert(value);
    }
}
