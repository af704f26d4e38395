//! Durable executions of toolbridge's agent loop on [Temporal](https://temporal.io): the
//! `durable_agent_loop` runtime, its workflow and activities, and the worker that runs them
//! (feature `temporal`; without it only the configuration and wire types are built).
//!
//! - [`AgentWorkflow`] runs the agent crate's pure steps (`toolbridge_agent::steps`) and holds
//!   the loop's state; [`AgentActivities`] are where model and tool calls happen, on whichever
//!   worker picks them up, through the worker's shared pool and the catalogue's call pipeline.
//! - [`run_worker`] polls a task queue ([`WorkerConfig`]); [`register`] adds
//!   `durable_agent_loop` to a runtime registry ([`DurableOptions`]); [`settle`] stores the
//!   record of an execution whose starter did not see its end.
//! - [`DurableAgentConfig`] is the runtime's `runtime_config`: `agent_loop`'s plus
//!   [`TemporalConfig`]; [`TemporalSettings`] say where Temporal is (over Temporal's own
//!   environment variables); [`IdempotentTools`] reads the servers' `idempotent` key.
//!
//! What "durable" guarantees, and what it does not, is in `docs/durable.md`.
//!
//! ```no_run
//! # #[cfg(feature = "temporal")]
//! # mod demo {
//! use toolbridge_durable::{DurableOptions, TemporalSettings, WorkerConfig, run_worker};
//! use toolbridge_runtime::{RuntimeDeps, RuntimeExecutionContext, RuntimeRegistry, RuntimeType};
//!
//! /// A worker process (what `toolbridge worker` runs), until `shutdown` fires.
//! async fn worker(shutdown: tokio_util::sync::CancellationToken) -> Result<(), toolbridge_durable::DurableError> {
//!     let settings = TemporalSettings::at("localhost:7233").task_queue("agents");
//!     let pool = toolbridge::Pool::default();
//!     let config = WorkerConfig::new(settings, toolbridge_agent::AgentLoopOptions::new(pool.clone()));
//!     let outcome = run_worker(config, shutdown, |info| println!("polling {}", info.task_queue)).await;
//!     pool.shutdown().await;
//!     outcome
//! }
//!
//! /// A starter: one execution, run by whichever worker picks it up.
//! async fn starter() -> Result<(), Box<dyn std::error::Error>> {
//!     let settings = TemporalSettings::at("localhost:7233").task_queue("agents");
//!     let mut registry = RuntimeRegistry::new();
//!     toolbridge_durable::register(&mut registry, DurableOptions::new(settings))?;
//!     let runtime = registry.create(&RuntimeType::new("durable_agent_loop"), RuntimeDeps::default())?;
//!     let result = runtime.execute(&RuntimeExecutionContext::new("hi").model("openai:gpt-4o-mini")).await;
//!     println!("{}", result.response);
//!     Ok(())
//! }
//! # }
//! ```
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
