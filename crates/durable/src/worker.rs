//! A worker: polls a task queue and runs the agent workflow and its activities, the tool calls
//! through one shared MCP pool. Run as many as needed, on as many machines: Temporal hands each
//! workflow task and activity to one of them.

use std::time::Duration;

use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio_util::sync::CancellationToken;
use toolbridge::config::{ProcessEnv, ToolConfig};
use toolbridge_agent::AgentLoopOptions;
use tracing::{info, warn};

use crate::activities::AgentActivities;
use crate::error::DurableError;
use crate::settings::TemporalSettings;
use crate::workflow::AgentWorkflow;

/// What a worker runs with.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Where Temporal is, and the task queue to poll.
    pub temporal: TemporalSettings,
    /// The pool, providers and custom tools every activity uses.
    pub agent: AgentLoopOptions,
    /// Servers and skills offered to every execution next to its own (every worker of a task
    /// queue must have the same), started when the worker starts.
    pub tools: ToolConfig,
    /// The most activities (model and tool calls) and workflow tasks running at once.
    pub max_concurrent: usize,
    /// How long a workflow task waits for the worker that ran the workflow last (its cache)
    /// before any worker may take it: how soon another worker takes over a lost one's
    /// workflows.
    pub sticky_timeout: Duration,
}

impl WorkerConfig {
    /// Default [`max_concurrent`](Self::max_concurrent).
    pub const DEFAULT_MAX_CONCURRENT: usize = 100;

    /// A worker for these settings and options, with defaults for the rest.
    pub fn new(temporal: TemporalSettings, agent: AgentLoopOptions) -> Self {
        Self {
            temporal,
            agent,
            tools: ToolConfig::default(),
            max_concurrent: Self::DEFAULT_MAX_CONCURRENT,
            sticky_timeout: Duration::from_secs(5),
        }
    }
}

/// Where a started worker polls.
#[derive(Debug, Clone)]
pub struct WorkerInfo {
    /// The server's address.
    pub address: String,
    /// The namespace.
    pub namespace: String,
    /// The task queue.
    pub task_queue: String,
}

/// Runs a worker until `shutdown` fires (then lets running tasks finish, as Temporal's
/// graceful shutdown does) or it fails. `ready` is called once it is connected and polling.
/// A server that cannot be reached is an error within the settings' `connect_timeout`.
pub async fn run_worker(
    config: WorkerConfig,
    shutdown: CancellationToken,
    ready: impl FnOnce(&WorkerInfo),
) -> Result<(), DurableError> {
    let task_queue = config.temporal.queue().to_owned();
    let failed = |reason: String| DurableError::Worker { task_queue: task_queue.clone(), reason };
    let connected = config.temporal.connect().await?;
    let runtime = Runtime::from_current_tokio(Default::default()).map_err(|e| failed(e.to_string()))?;
    let slots = config.max_concurrent.max(1);
    let tuner = TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(slots))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(slots))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(slots))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .build();
    let activities = AgentActivities::new(config.agent.clone(), config.tools.clone());
    let options = WorkerOptions::new(task_queue.clone())
        .register_workflow::<AgentWorkflow>()
        .map_err(|e| failed(e.to_string()))?
        .register_activities(activities)
        .tuner(tuner)
        .sticky_queue_schedule_to_start_timeout(config.sticky_timeout)
        // Cancellation reaches a running activity with a heartbeat's answer: at most a second.
        .max_heartbeat_throttle_interval(Duration::from_secs(1))
        .default_heartbeat_throttle_interval(Duration::from_secs(1))
        .build();
    let mut worker = Worker::new(&runtime, connected.client.clone(), options).map_err(|e| failed(e.to_string()))?;

    // The worker's own servers start now, so the first execution finds them warm.
    match config.tools.mcp_servers.resolve("worker tools", &ProcessEnv) {
        Ok(servers) => {
            let enabled: Vec<_> = servers.into_iter().filter(|s| s.enabled).collect();
            for (name, outcome) in config.agent.pool.connect_all(&enabled).await {
                if let Err(error) = outcome {
                    warn!(server = %name, %error, "worker server unavailable");
                }
            }
        }
        Err(error) => return Err(DurableError::Config(error.to_string())),
    }

    let stop = worker.shutdown_handle();
    let info = WorkerInfo {
        address: connected.address.clone(),
        namespace: connected.namespace.clone(),
        task_queue: task_queue.clone(),
    };
    info!(address = %info.address, namespace = %info.namespace, task_queue = %info.task_queue, "worker polling");
    ready(&info);
    let running = worker.run();
    tokio::pin!(running);
    let outcome = tokio::select! {
        outcome = &mut running => outcome,
        () = shutdown.cancelled() => {
            stop();
            running.await
        }
    };
    outcome.map_err(|e| failed(crate::settings::error_chain(&e)))
}
