//! The errors of durable executions: reaching Temporal, configuration, the worker.

use std::time::Duration;

/// A durable-execution error.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    /// The Temporal server could not be reached.
    #[error(
        "cannot reach the Temporal server at {address} (namespace {namespace}): {reason}; start one \
         (`temporal server start-dev`) or point --temporal / TEMPORAL_ADDRESS at yours"
    )]
    Connect {
        /// The address tried.
        address: String,
        /// The namespace.
        namespace: String,
        /// Why.
        reason: String,
    },
    /// The Temporal server did not answer in time.
    #[error(
        "the Temporal server at {address} did not answer within {after:?}; check the address \
         (--temporal / TEMPORAL_ADDRESS) and that nothing blocks the port"
    )]
    ConnectTimeout {
        /// The address tried.
        address: String,
        /// How long it waited.
        after: Duration,
    },
    /// Invalid settings (Temporal's environment or config file, TLS files, globs).
    #[error("{0}")]
    Config(String),
    /// The worker could not start or stopped with an error.
    #[error("worker on task queue {task_queue:?}: {reason}")]
    Worker {
        /// Its task queue.
        task_queue: String,
        /// What went wrong.
        reason: String,
    },
    /// A workflow could not be started, found or read.
    #[error("execution {execution_id}: {reason}")]
    Workflow {
        /// The execution (= workflow id).
        execution_id: String,
        /// What went wrong.
        reason: String,
    },
}
