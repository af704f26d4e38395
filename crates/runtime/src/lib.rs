//! The runtime contract of toolbridge: what an agent runtime is, how it is registered and
//! created, what goes in and what comes out of an execution.
//!
//! - [`Runtime`] is what an implementer writes (`execute_impl`, `stream_execute_impl`, hooks).
//! - [`RuntimeHandle`] is the public interface, written once: `execute`, `stream_execute`,
//!   `cancel`, `get_usage`, with validation, hooks, error routing, cancellation, usage and
//!   execution records handled in one place.
//! - [`RuntimeRegistry`] discovers and creates runtimes by [`RuntimeType`]; each declares a
//!   typed `runtime_config` ([`RuntimeConfig`]) whose JSON Schema it publishes.
//! - [`RuntimeExecutionContext`], [`RuntimeExecutionResult`], [`Usage`], [`ToolCallRecord`] and
//!   [`ExecutionEvent`] are the data contracts, serialised with the seed's field names; the
//!   tool configuration inside them is typed (`toolbridge-config`, re-exported as [`config`]).
//! - [`CallLog`] is each execution's tool-call log (in its [`ExecutionScope`]): kept whatever
//!   the outcome.
//! - [`CancellationManager`] and [`ControlPlane`] are injected into every runtime through
//!   [`RuntimeDeps`].
//!
//! No MCP and no HTTP here: the tool bridge (`toolbridge`) and the bundled agent loop
//! (`toolbridge-agent`) build on this crate.
//!
//! ```
//! use async_trait::async_trait;
//! use toolbridge_runtime::*;
//!
//! struct Shout;
//!
//! #[async_trait]
//! impl Runtime for Shout {
//!     fn runtime_type(&self) -> RuntimeType { RuntimeType::new("shout") }
//!     fn capabilities(&self) -> RuntimeCapabilities { RuntimeCapabilities::default() }
//!     async fn execute_impl(&self, ctx: &RuntimeExecutionContext, _: &ExecutionScope)
//!         -> Result<RuntimeExecutionResult, RuntimeError> {
//!         Ok(RuntimeExecutionResult::success(ctx.prompt.to_uppercase()).with_usage(Usage::new(1, 1)))
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let mut registry = RuntimeRegistry::new();
//! registry.register(RuntimeSpec::new("shout", "shouts", |_deps| Ok(Shout))).unwrap();
//! let runtime = registry.create(&"shout".into(), RuntimeDeps::default()).unwrap();
//! let result = runtime.execute(&RuntimeExecutionContext::new("hi")).await;
//! assert_eq!(result.response, "HI");
//! assert_eq!(result.finish_reason, Some(FinishReason::Stop));
//! # });
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::unwrap_used)]

mod agent;
mod call_log;
mod cancellation;
mod capabilities;
mod context;
mod control_plane;
mod error;
mod event;
mod event_log;
mod handle;
mod model_config;
mod registry;
mod result;
mod runtime;
mod runtime_config;
mod runtime_type;
mod tool_call;
mod usage;

pub use agent::AgentDefinition;
pub use call_log::{CallLog, CallOutcome, CallStart, PendingCall};
pub use cancellation::{CancellationManager, CancellationRegistration};
pub use capabilities::RuntimeCapabilities;
pub use context::{ConversationMessage, ExecutionId, RuntimeExecutionContext};
pub use control_plane::{
    ControlPlane, ControlPlaneError, ExecutionRecord, ExecutionStart, ExecutionStatus, InMemoryControlPlane,
};
pub use error::{RegistryError, RuntimeError};
pub use event::{EventCallback, ExecutionEvent, TOOL_EVENT_OUTPUT_CHARS, ToolStatus};
pub use event_log::{EVENT_LOG_DELTAS, TimedEvent};
pub use handle::{CANCEL_GRACE, RuntimeDeps, RuntimeHandle};
pub use model_config::ModelConfig;
pub use registry::{RuntimeFactory, RuntimeInfo, RuntimeKind, RuntimeRegistry, RuntimeSpec};
pub use result::{FinishReason, RuntimeExecutionResult};
pub use runtime::{ExecutionScope, ResultStream, Runtime};
pub use runtime_config::{
    ConfigError, ConfigValidator, FieldError, NoConfig, RuntimeConfig, config_schema, parse_runtime_config,
};
pub use runtime_type::RuntimeType;
pub use tool_call::{ToolCallRecord, ToolErrorType, ToolSourceKind};
pub use usage::Usage;

/// The typed tool configuration carried by contexts and agents.
pub use toolbridge_config as config;

/// Re-exported so runtimes can be written without naming the crates themselves.
pub use async_trait::async_trait;
pub use tokio_util::sync::CancellationToken;
