//! The executions this server runs: each is a task owned by one [`TaskTracker`], driven
//! through the runtime's public interface (`stream_execute`, so that its events reach
//! viewers live), recorded by the store whatever its outcome. A client that goes away does
//! not stop anything: only `cancel` and shutdown do, and both end the execution through the
//! runtime's cancellation, so its record is stored `cancelled`.

pub(crate) mod live;
pub(crate) mod sse;
pub(crate) mod view;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use toolbridge_runtime::{
    EventCallback, ExecutionId, RuntimeDeps, RuntimeExecutionContext, RuntimeExecutionResult, RuntimeHandle,
    RuntimeRegistry, RuntimeType,
};

use crate::error::ApiError;
use crate::metrics::Metrics;
use live::{LiveExecution, Started};

/// The registry the server creates runtimes from, shared with whoever registers runtimes
/// while it runs (plugins). A std lock: it is held only to look up or create, never across
/// an await.
pub type SharedRegistry = Arc<RwLock<RuntimeRegistry>>;

/// How long shutdown waits for cancelled executions to store their records.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// The running executions and what runs them.
#[derive(Debug)]
pub(crate) struct Executions {
    registry: SharedRegistry,
    deps: RuntimeDeps,
    /// One handle per runtime type, created on first use (a runtime's config validator is
    /// compiled once, not per execution).
    handles: Mutex<HashMap<RuntimeType, RuntimeHandle>>,
    running: Mutex<HashMap<ExecutionId, Arc<LiveExecution>>>,
    tasks: TaskTracker,
    stopping: CancellationToken,
    metrics: Arc<Metrics>,
    max_running: usize,
}

impl Executions {
    pub(crate) fn new(registry: SharedRegistry, deps: RuntimeDeps, metrics: Arc<Metrics>, max_running: usize) -> Self {
        Self {
            registry,
            deps,
            handles: Mutex::default(),
            running: Mutex::default(),
            tasks: TaskTracker::new(),
            stopping: CancellationToken::new(),
            metrics,
            max_running,
        }
    }

    pub(crate) fn registry(&self) -> &SharedRegistry {
        &self.registry
    }

    /// The handle of a runtime type (`default` resolves to `agent_loop`).
    pub(crate) fn handle(&self, runtime: &RuntimeType) -> Result<RuntimeHandle, ApiError> {
        let resolved = runtime.resolve();
        let mut handles = self.handles.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = handles.get(&resolved) {
            return Ok(handle.clone());
        }
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        let handle = registry.create(&resolved, self.deps.clone())?;
        handles.insert(resolved, handle.clone());
        Ok(handle)
    }

    /// The execution, if it runs here (or has just ended and is being stored).
    pub(crate) fn get(&self, id: &str) -> Option<Arc<LiveExecution>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).get(&ExecutionId::new(id)).cloned()
    }

    /// How many run now.
    pub(crate) fn running(&self) -> usize {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Starts an execution in the background; its events and result go to the returned
    /// [`LiveExecution`].
    pub(crate) fn start(
        self: &Arc<Self>,
        handle: &RuntimeHandle,
        context: RuntimeExecutionContext,
    ) -> Result<Arc<LiveExecution>, ApiError> {
        let started = Started {
            id: context.execution_id.clone(),
            agent_id: context.agent_id.clone(),
            runtime_type: handle.runtime_type().to_string(),
            model: context.model_id.clone(),
            prompt: context.prompt.clone(),
            started_at: chrono::Utc::now(),
        };
        let live = Arc::new(LiveExecution::new(started, handle.clone()));
        {
            // Checked under the lock that shutdown takes to list what to cancel: an execution
            // is either refused or cancelled, never missed.
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            if self.stopping.is_cancelled() {
                return Err(ApiError::unavailable("the server is shutting down"));
            }
            if running.len() >= self.max_running {
                return Err(ApiError::unavailable(format!(
                    "{} executions are running, the most this server runs at once; retry later",
                    running.len()
                )));
            }
            if running.contains_key(&context.execution_id) {
                return Err(ApiError::conflict(format!("execution {} is already running", context.execution_id)));
            }
            running.insert(context.execution_id.clone(), Arc::clone(&live));
        }
        self.metrics.started();
        let sink = Arc::clone(&live);
        let events = EventCallback::timed(move |event| sink.push(event));
        let mut stream = handle.stream_execute(context, Some(events));
        let this = Arc::clone(self);
        let owned = Arc::clone(&live);
        self.tasks.spawn(async move {
            let clock = Instant::now();
            let mut last = None;
            while let Some(item) = stream.next().await {
                last = Some(item);
            }
            let result = last.unwrap_or_else(|| RuntimeExecutionResult::failure("the runtime produced no result"));
            this.metrics.finished(&result, clock.elapsed());
            owned.finish(result);
            this.running.lock().unwrap_or_else(PoisonError::into_inner).remove(&owned.started.id);
        });
        Ok(live)
    }

    /// Cancels one execution running here; whether it was running. An execution registers
    /// its cancellation when its task first runs: a cancel that comes before keeps asking
    /// until it has (or has ended).
    pub(crate) async fn cancel(live: &LiveExecution) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if live.outcome().is_some() {
                return false;
            }
            if live.handle.cancel(&live.started.id).await {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Refuses new executions, cancels the running ones and waits (at most
    /// [`SHUTDOWN_WAIT`]) for them to end and store their records.
    pub(crate) async fn shutdown(&self) {
        self.stopping.cancel();
        let running: Vec<_> = self.running.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect();
        if !running.is_empty() {
            tracing::info!(count = running.len(), "cancelling running executions");
        }
        futures::future::join_all(running.iter().map(|live| Self::cancel(live))).await;
        self.tasks.close();
        if tokio::time::timeout(SHUTDOWN_WAIT, self.tasks.wait()).await.is_err() {
            tracing::warn!("executions still running after the shutdown wait; their records may be incomplete");
        }
    }
}
