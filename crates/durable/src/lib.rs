//! Durable executions of the agent loop on Temporal.
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

mod config;
mod error;
mod idempotent;
mod settings;
mod wire;

#[cfg(feature = "temporal")]
mod activities;
#[cfg(feature = "temporal")]
mod runtime;
#[cfg(feature = "temporal")]
mod settle;
#[cfg(feature = "temporal")]
mod worker;
#[cfg(feature = "temporal")]
mod workflow;

pub use config::{DurableAgentConfig, TemporalConfig};
pub use error::DurableError;
pub use idempotent::IdempotentTools;
pub use settings::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_TASK_QUEUE, TemporalSettings};
pub use wire::{
    DurableInput, Failure, FailureStage, ModelCall, PreparedTools, Progress, ToolCallInput, ToolMeta, ToolScope,
    WorkflowOutcome,
};

#[cfg(feature = "temporal")]
pub use activities::AgentActivities;
#[cfg(feature = "temporal")]
pub use runtime::{DURABLE_AGENT_LOOP, DurableAgentLoopRuntime, DurableOptions, register, spec};
#[cfg(feature = "temporal")]
pub use settle::{RemoteExecution, lookup, settle};
#[cfg(feature = "temporal")]
pub use worker::{WorkerConfig, WorkerInfo, run_worker};
#[cfg(feature = "temporal")]
pub use workflow::AgentWorkflow;
