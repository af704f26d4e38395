//! `durable_agent_loop`: the runtime whose executions run as [`AgentWorkflow`]s on Temporal.
//!
//! `execute`/`stream_execute` start the workflow (its id is the execution id; starting an id
//! that exists attaches to it) and wait for its outcome, relaying its events from the
//! workflow's `progress` query (text arrives one model turn at a time); `cancel` cancels the
//! workflow, from this process or any other; `get_usage` asks the workflow. The result has the
//! in-process runtime's shape, and the orchestration stores the record when it arrives.

use std::sync::Arc;
use std::time::Duration;

use temporalio_client::errors::{WorkflowGetResultError, WorkflowStartError};
use temporalio_client::{
    WorkflowCancelOptions, WorkflowGetResultOptions, WorkflowHandle, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowQueryOptions, WorkflowStartOptions,
};
use tokio::sync::{OnceCell, mpsc};
use toolbridge_agent::model_of;
use toolbridge_runtime::{
    ConfigValidator, ExecutionEvent, ExecutionId, ExecutionScope, RegistryError, ResultStream, Runtime,
    RuntimeCapabilities, RuntimeError, RuntimeExecutionContext, RuntimeExecutionResult, RuntimeRegistry, RuntimeSpec,
    RuntimeType, Usage, async_trait,
};
use tracing::{debug, warn};

use crate::config::DurableAgentConfig;
use crate::error::DurableError;
use crate::settings::{Connected, TemporalSettings};
use crate::wire::{DurableInput, FailureStage, Progress, WorkflowOutcome};
use crate::workflow::AgentWorkflow;

/// The runtime type of durable executions.
pub const DURABLE_AGENT_LOOP: &str = "durable_agent_loop";

/// How long a query (event feed, usage) may take before it is given up for this round.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

const NO_MODEL: &str = "no model: give the agent a model_id (e.g. `--model openai:gpt-4o-mini`), \
                        or set TOOLBRIDGE_MODEL";

/// What the durable runtime is built with.
#[derive(Debug, Clone)]
pub struct DurableOptions {
    /// Where Temporal is, and the default task queue.
    pub settings: TemporalSettings,
    /// The `runtime_config` every execution starts from.
    pub defaults: DurableAgentConfig,
    /// How often a listened-to execution's event feed is read (default 100 ms).
    pub poll_interval: Duration,
    /// How long a cancelled execution waits for its workflow to end before the orchestration
    /// ends it `cancelled` itself (default 30 s: a tool call sees the cancellation at its next
    /// heartbeat, a lost worker's call only when its heartbeat times out).
    pub cancel_wait: Duration,
}

impl DurableOptions {
    /// Options with these settings and defaults for the rest.
    pub fn new(settings: TemporalSettings) -> Self {
        Self {
            settings,
            defaults: DurableAgentConfig::default(),
            poll_interval: Duration::from_millis(100),
            cancel_wait: Duration::from_secs(30),
        }
    }
}

/// The durable agent loop: executions run on Temporal workers (see the crate docs).
#[derive(Debug)]
pub struct DurableAgentLoopRuntime {
    options: DurableOptions,
    validator: ConfigValidator<DurableAgentConfig>,
    /// One connection for every runtime made from the same registry entry, made on first use
    /// (listing runtimes or validating an agent does not connect).
    connection: Arc<OnceCell<Connected>>,
}

/// The registry entry of `durable_agent_loop`; runtimes made from it share one connection.
pub fn spec(options: DurableOptions) -> RuntimeSpec {
    let connection = Arc::new(OnceCell::new());
    RuntimeSpec::new(
        DURABLE_AGENT_LOOP,
        "The agent loop as a Temporal workflow: survives worker crashes, scales across worker processes",
        move |_deps| {
            Ok(DurableAgentLoopRuntime {
                options: options.clone(),
                validator: ConfigValidator::new(),
                connection: Arc::clone(&connection),
            })
        },
    )
    .with_config::<DurableAgentConfig>()
}

/// Registers `durable_agent_loop`.
pub fn register(registry: &mut RuntimeRegistry, options: DurableOptions) -> Result<(), RegistryError> {
    registry.register(spec(options))
}

pub(crate) type Handle = WorkflowHandle<temporalio_client::Client, AgentWorkflow>;

/// Where partial results go when streaming.
type Partials = Option<mpsc::Sender<RuntimeExecutionResult>>;

impl DurableAgentLoopRuntime {
    async fn connected(&self) -> Result<&Connected, DurableError> {
        self.connection.get_or_try_init(|| self.options.settings.connect()).await
    }

    /// Starts the execution's workflow, or attaches to the one of the same id.
    async fn start(&self, connected: &Connected, input: DurableInput) -> Result<Handle, RuntimeError> {
        let id = input.context.execution_id.to_string();
        let queue =
            input.config.temporal.task_queue.clone().unwrap_or_else(|| self.options.settings.queue().to_owned());
        let summary: String =
            format!("{}: {}", input.context.agent_id, input.context.prompt).chars().take(120).collect();
        let options = WorkflowStartOptions::new(queue, id.clone())
            // One execution per id: a running one is attached to, a closed one is not run again.
            .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
            .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
            .maybe_execution_timeout(input.config.workflow_timeout())
            .static_summary(summary)
            .build();
        match connected.client.start_workflow(AgentWorkflow::run, input, options).await {
            Ok(started) => Ok(WorkflowHandle::new(connected.client.clone(), started.info().clone())),
            // Closed already (a restarted starter): its outcome is in its history.
            Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(connected.client.get_workflow_handle(id)),
            Err(error) => Err(RuntimeError::execution(format!(
                "cannot start the durable execution on Temporal at {}: {}",
                connected.address,
                crate::settings::error_chain(&error)
            ))),
        }
    }

    async fn drive(
        &self,
        ctx: &RuntimeExecutionContext,
        scope: &ExecutionScope,
        partials: Partials,
    ) -> Result<RuntimeExecutionResult, RuntimeError> {
        let config = self.options.defaults.merged_with(&self.validator.parse(ctx.runtime_config.as_ref())?);
        // The model is chosen here, where the caller's TOOLBRIDGE_MODEL is, not on a worker.
        let model_id = model_of(ctx).ok_or_else(|| RuntimeError::InvalidContext(NO_MODEL.into()))?;
        let connected = self.connected().await.map_err(|e| RuntimeError::execution(e.to_string()))?;
        let mut context = ctx.clone();
        context.model_id = Some(model_id);
        let handle = self.start(connected, DurableInput { context, config }).await?;

        let listening = scope.has_listener() || partials.is_some();
        let mut feed = Feed::default();
        let mut ticker = tokio::time::interval(self.options.poll_interval);
        let result = handle.get_result(WorkflowGetResultOptions::default());
        tokio::pin!(result);
        let mut cancel_sent = false;
        let outcome = loop {
            tokio::select! {
                biased;
                outcome = &mut result => break outcome,
                () = scope.cancelled(), if !cancel_sent => {
                    cancel_sent = true;
                    if let Err(error) = handle.cancel(WorkflowCancelOptions::default()).await {
                        debug!(%error, "cancelling the workflow");
                    }
                }
                _ = ticker.tick(), if listening => feed.poll(&handle, scope, partials.as_ref()).await,
            }
        };
        if listening {
            feed.poll(&handle, scope, partials.as_ref()).await;
        }
        match outcome {
            Ok(WorkflowOutcome { result, failure: None }) => Ok(result),
            Ok(WorkflowOutcome { result, failure: Some(failure) }) => Err(match failure.stage {
                FailureStage::Prepare => RuntimeError::InvalidContext(failure.message),
                FailureStage::Model => RuntimeError::execution(failure.message).with_partial(result),
            }),
            Err(WorkflowGetResultError::Cancelled { .. }) => Err(RuntimeError::Cancelled),
            Err(error) => Err(RuntimeError::execution(format!(
                "durable execution {}: {}",
                ctx.execution_id,
                crate::settings::error_chain(&error)
            ))),
        }
    }
}

/// The part of a workflow's event feed already relayed.
#[derive(Default)]
struct Feed {
    next: u32,
    streamed: String,
    usage: Usage,
}

impl Feed {
    /// Relays the events the workflow has that were not relayed yet (best effort: a query
    /// that fails or takes too long is tried again at the next tick).
    async fn poll(
        &mut self,
        handle: &Handle,
        scope: &ExecutionScope,
        partials: Option<&mpsc::Sender<RuntimeExecutionResult>>,
    ) {
        loop {
            let query = handle.query(AgentWorkflow::progress, self.next, WorkflowQueryOptions::default());
            let page: Progress = match tokio::time::timeout(QUERY_TIMEOUT, query).await {
                Ok(Ok(page)) => page,
                Ok(Err(error)) => {
                    debug!(%error, "event feed query");
                    return;
                }
                Err(_) => return,
            };
            let full = page.events.len();
            self.next = page.next;
            self.usage = page.usage;
            for event in page.events {
                scope.emit(&event);
                if let ExecutionEvent::ContentChunk { text } = &event {
                    self.streamed.push_str(text);
                    if let Some(partials) = partials {
                        let partial = RuntimeExecutionResult {
                            response: self.streamed.clone(),
                            usage: self.usage.clone(),
                            ..RuntimeExecutionResult::default()
                        };
                        let _ = partials.send(partial).await;
                    }
                }
            }
            if full == 0 || page.finished && full < 500 {
                return;
            }
        }
    }
}

#[async_trait]
impl Runtime for DurableAgentLoopRuntime {
    fn runtime_type(&self) -> RuntimeType {
        RuntimeType::new(DURABLE_AGENT_LOOP)
    }

    fn capabilities(&self) -> RuntimeCapabilities {
        RuntimeCapabilities::all()
    }

    fn requires_model(&self) -> bool {
        true
    }

    fn cancel_grace(&self) -> Duration {
        self.options.cancel_wait
    }

    async fn execute_impl(
        &self,
        ctx: &RuntimeExecutionContext,
        scope: &ExecutionScope,
    ) -> Result<RuntimeExecutionResult, RuntimeError> {
        self.drive(ctx, scope, None).await
    }

    fn stream_execute_impl(self: Arc<Self>, ctx: Arc<RuntimeExecutionContext>, scope: ExecutionScope) -> ResultStream {
        Box::pin(async_stream::stream! {
            let (sender, mut receiver) = mpsc::channel(64);
            let execution = self.drive(&ctx, &scope, Some(sender));
            tokio::pin!(execution);
            loop {
                tokio::select! {
                    biased;
                    Some(partial) = receiver.recv() => yield Ok(partial),
                    outcome = &mut execution => {
                        while let Ok(partial) = receiver.try_recv() {
                            yield Ok(partial);
                        }
                        yield outcome;
                        break;
                    }
                }
            }
        })
    }

    async fn cancel_impl(&self, execution_id: &ExecutionId) -> bool {
        let connected = match self.connected().await {
            Ok(connected) => connected,
            Err(error) => {
                warn!(%error, "cannot cancel the durable execution");
                return false;
            }
        };
        let handle: Handle = connected.client.get_workflow_handle(execution_id.to_string());
        match handle.cancel(WorkflowCancelOptions::default()).await {
            Ok(()) => true,
            Err(error) => {
                debug!(%error, "cancelling the workflow");
                false
            }
        }
    }

    async fn usage_impl(&self, execution_id: &ExecutionId) -> Option<Usage> {
        let connected = self.connected().await.ok()?;
        let handle: Handle = connected.client.get_workflow_handle(execution_id.to_string());
        let query = handle.query(AgentWorkflow::usage, (), WorkflowQueryOptions::default());
        match tokio::time::timeout(QUERY_TIMEOUT, query).await {
            Ok(Ok(usage)) => Some(usage),
            _ => None,
        }
    }
}
