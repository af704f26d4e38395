//! The trait a runtime implements, and the scope each execution runs in.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio_util::sync::CancellationToken;

use crate::call_log::CallLog;
use crate::capabilities::RuntimeCapabilities;
use crate::context::{ExecutionId, RuntimeExecutionContext};
use crate::control_plane::ControlPlane;
use crate::error::RuntimeError;
use crate::event::{EventCallback, ExecutionEvent};
use crate::result::RuntimeExecutionResult;
use crate::runtime_type::RuntimeType;
use crate::usage::Usage;

/// The stream a runtime's `stream_execute_impl` returns: partial results, then a final one
/// carrying `finish_reason`.
pub type ResultStream = BoxStream<'static, Result<RuntimeExecutionResult, RuntimeError>>;

/// What an execution's implementation gets besides the context: its id, its cancellation
/// token, the event sink, its tool-call log and the control plane.
#[derive(Clone)]
pub struct ExecutionScope {
    execution_id: ExecutionId,
    token: CancellationToken,
    events: Option<EventCallback>,
    control_plane: Arc<dyn ControlPlane>,
    call_log: CallLog,
}

impl fmt::Debug for ExecutionScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionScope")
            .field("execution_id", &self.execution_id)
            .field("cancelled", &self.token.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl ExecutionScope {
    /// A scope; normally built by [`RuntimeHandle`](crate::RuntimeHandle).
    pub fn new(
        execution_id: ExecutionId,
        token: CancellationToken,
        events: Option<EventCallback>,
        control_plane: Arc<dyn ControlPlane>,
    ) -> Self {
        Self { execution_id, token, events, control_plane, call_log: CallLog::new() }
    }

    /// The execution's tool-call log. Record every tool call here (the tool bridge does): the
    /// orchestration uses it for `tool_execution_messages` when the implementation does not
    /// return a log of its own — after an error, a panic or an abandoned cancellation.
    pub fn call_log(&self) -> &CallLog {
        &self.call_log
    }

    /// The execution's id.
    pub fn execution_id(&self) -> &ExecutionId {
        &self.execution_id
    }

    /// The execution's cancellation token: select on it around anything that waits.
    pub fn cancellation_token(&self) -> &CancellationToken {
        &self.token
    }

    /// Whether the execution was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when the execution is cancelled.
    pub async fn cancelled(&self) {
        self.token.cancelled().await;
    }

    /// Sends an event to the caller's callback, if any.
    pub fn emit(&self, event: &ExecutionEvent) {
        if let Some(events) = &self.events {
            events.emit(event);
        }
    }

    /// Whether anyone listens to events (skip building them when not).
    pub fn has_listener(&self) -> bool {
        self.events.is_some()
    }

    /// The control plane.
    pub fn control_plane(&self) -> &Arc<dyn ControlPlane> {
        &self.control_plane
    }
}

/// A runtime: what an implementer writes.
///
/// Implement [`execute_impl`](Self::execute_impl) (and, for real streaming,
/// [`stream_execute_impl`](Self::stream_execute_impl)), [`runtime_type`](Self::runtime_type) and
/// [`capabilities`](Self::capabilities); override the hooks as needed. Callers never call these
/// methods directly: they go through [`RuntimeHandle`](crate::RuntimeHandle), which provides
/// the public interface once for every runtime — validation, hooks in order, error routing,
/// cancellation registration, usage recording and execution records.
///
/// An implementation should watch [`ExecutionScope::cancellation_token`] and, when it fires,
/// return promptly with what it has (the orchestration marks the result `cancelled`).
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// The runtime's type.
    fn runtime_type(&self) -> RuntimeType;

    /// What the runtime supports. The one source of its capabilities: the registry's
    /// `runtime_info_all` reads them from here.
    fn capabilities(&self) -> RuntimeCapabilities;

    /// Whether executions need a `model_id`. Callers resolve one before running (the CLI from
    /// `--model` or `TOOLBRIDGE_MODEL`) and report a configuration error when there is none.
    /// Default: `false`.
    fn requires_model(&self) -> bool {
        false
    }

    /// Runs one execution to completion.
    async fn execute_impl(
        &self,
        context: &RuntimeExecutionContext,
        scope: &ExecutionScope,
    ) -> Result<RuntimeExecutionResult, RuntimeError>;

    /// Runs one execution as a stream of partial results whose last item carries
    /// `finish_reason`. Events go to [`ExecutionScope::emit`]. The default runs
    /// [`execute_impl`](Self::execute_impl) and yields its result as the only item.
    fn stream_execute_impl(
        self: Arc<Self>,
        context: Arc<RuntimeExecutionContext>,
        scope: ExecutionScope,
    ) -> ResultStream {
        Box::pin(futures::stream::once(async move {
            let result = self.execute_impl(&context, &scope).await?;
            if !result.response.is_empty() {
                scope.emit(&ExecutionEvent::ContentChunk { text: result.response.clone() });
            }
            Ok(result)
        }))
    }

    /// Checks the context before anything runs (e.g. required fields). The typed
    /// `runtime_config` is validated before this by the runtime's registered config type. It
    /// also runs when an agent is created ([`RuntimeRegistry::validate_agent`]
    /// (crate::RuntimeRegistry::validate_agent)), with an empty prompt: check configuration
    /// here, not the prompt.
    fn validate_config(&self, context: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
        let _ = context;
        Ok(())
    }

    /// Validation that needs I/O (a runtime plugin asks its process), run when an agent is
    /// created ([`RuntimeRegistry::check_agent`](crate::RuntimeRegistry::check_agent)) after
    /// [`validate_config`](Self::validate_config) passed, with an empty prompt. Runtimes that
    /// also need it before each execution call it from
    /// [`before_execute`](Self::before_execute). Default: nothing more to check.
    async fn check_config(&self, context: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
        let _ = context;
        Ok(())
    }

    /// Called before the implementation runs. An error skips the implementation and goes to
    /// [`on_error`](Self::on_error).
    async fn before_execute(&self, context: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
        let _ = context;
        Ok(())
    }

    /// Called with the result after the implementation returned one. An error goes to
    /// [`on_error`](Self::on_error).
    async fn after_execute(
        &self,
        context: &RuntimeExecutionContext,
        result: &RuntimeExecutionResult,
    ) -> Result<(), RuntimeError> {
        let _ = (context, result);
        Ok(())
    }

    /// Turns an error into the result the caller gets. The default returns a failed result
    /// (`success=false`, `finish_reason=error`, `error` set).
    async fn on_error(&self, context: &RuntimeExecutionContext, error: &RuntimeError) -> RuntimeExecutionResult {
        let mut result = RuntimeExecutionResult::failure(error.to_string());
        result.model.clone_from(&context.model_id);
        result
    }

    /// Extra cancellation work beyond the token (e.g. telling a remote service). Returns
    /// whether something was cancelled.
    async fn cancel_impl(&self, execution_id: &ExecutionId) -> bool {
        let _ = execution_id;
        false
    }

    /// How long, once an execution is cancelled, its implementation gets to return its own
    /// (partial) result before the orchestration drops it and ends the execution `cancelled`
    /// itself. The default, [`CANCEL_GRACE`](crate::CANCEL_GRACE), suits in-process runtimes;
    /// one that must ask another process or service to stop (a runtime plugin, a durable
    /// workflow) returns longer.
    fn cancel_grace(&self) -> Duration {
        crate::handle::CANCEL_GRACE
    }

    /// The usage of an execution, if the runtime tracks it itself. The orchestration records
    /// each result's usage anyway.
    async fn usage_impl(&self, execution_id: &ExecutionId) -> Option<Usage> {
        let _ = execution_id;
        None
    }
}
