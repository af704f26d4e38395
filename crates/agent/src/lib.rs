//! The bundled agent-loop runtime of toolbridge (`agent_loop`).
//!
//! It builds the execution's tool catalogue from `context.skills` and `context.mcp_servers`
//! through a shared MCP connection pool, applies the context's policy, normalises tool schemas
//! for the chosen provider, then loops model → tool calls (in parallel, bounded) → results →
//! model until the model stops, the iteration budget is spent (`finish_reason = tool_use`),
//! the token limit is reached (`length`) or the execution is cancelled. Every tool call lands
//! in the result's `tool_execution_messages`, whatever its outcome.
//!
//! The loop's pure steps (first request, applying a model reply and deciding the finish
//! reason, tool results into messages, the result) are in [`steps`], and [`prepare`] turns a
//! context into a [`Prepared`] execution (provider, catalogue, config): the durable runtime of
//! `toolbridge-durable` runs the same steps as a Temporal workflow.
//!
//! ```no_run
//! use toolbridge_agent::{AgentLoopOptions, register};
//! use toolbridge_runtime::{RuntimeDeps, RuntimeExecutionContext, RuntimeRegistry, RuntimeType};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = toolbridge::Pool::default();
//! let mut registry = RuntimeRegistry::new();
//! register(&mut registry, AgentLoopOptions::new(pool.clone()))?;
//! let runtime = registry.create(&RuntimeType::new("default"), RuntimeDeps::default())?;
//! let result = runtime.execute(&RuntimeExecutionContext::new("hi").model("openai:gpt-4o-mini")).await;
//! println!("{}", result.response);
//! pool.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::unwrap_used)]

mod config;
mod interaction;
mod messages;
mod run;
mod runtime;
pub mod steps;

pub use config::AgentLoopConfig;
pub use run::Prepared;
pub use runtime::{AgentLoopOptions, AgentLoopRuntime, MODEL_VARIABLE, model_of, prepare};

use toolbridge_runtime::{RegistryError, RuntimeRegistry, RuntimeSpec, RuntimeType};

/// The registry entry of the agent loop: its description and typed config.
pub fn spec(options: AgentLoopOptions) -> RuntimeSpec {
    RuntimeSpec::new(
        RuntimeType::AGENT_LOOP,
        "Tool-calling agent loop over MCP servers and skills (the default runtime)",
        move |_deps| Ok(AgentLoopRuntime::new(options.clone(), AgentLoopConfig::default())),
    )
    .with_config::<AgentLoopConfig>()
}

/// Registers the agent loop (as `agent_loop`, which `default` resolves to).
pub fn register(registry: &mut RuntimeRegistry, options: AgentLoopOptions) -> Result<(), RegistryError> {
    registry.register(spec(options))
}
