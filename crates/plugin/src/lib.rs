//! Runtime plugins: agent runtimes written in any language (Python first: LangChain, CrewAI…),
//! run as child processes and driven over JSON-RPC 2.0 on stdin/stdout, one message per line —
//! the protocol of `docs/runtime-plugins.md`.
//!
//! - [`PluginHost`] runs one plugin: started on first use, shared by every execution,
//!   restarted after a crash, shut down gracefully (or killed with its process group when
//!   dropped).
//! - [`PluginProcess`] is one running, initialised process of it.
//! - [`PluginRuntime`] makes a plugin a toolbridge [`Runtime`](toolbridge_runtime::Runtime);
//!   [`spec`] registers it in a [`RuntimeRegistry`](toolbridge_runtime::RuntimeRegistry)
//!   with the config schema the plugin published.
//! - [`ToolEndpointProvider`] opens each execution's tool endpoint: [`CatalogueTools`] serves
//!   the execution's own catalogue (servers through the shared pool, skills, policy) as a
//!   streamable-HTTP MCP endpoint on 127.0.0.1; [`NoTools`] runs plugins without tools.
//! - [`protocol`] holds every message of the protocol as a type.
//!
//! ```no_run
//! use std::sync::Arc;
//! use toolbridge_plugin::{NoTools, PluginCommand, PluginHost, PluginOptions, spec};
//! use toolbridge_runtime::{RuntimeDeps, RuntimeExecutionContext, RuntimeRegistry};
//! use serde_json::json;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let command = PluginCommand::new("python3").arg("examples/plugins/echo_runtime.py");
//! let host = PluginHost::new("echo_py", command, PluginOptions::default());
//! let info = host.start().await?; // initialize: capabilities and config schema
//!
//! let mut registry = RuntimeRegistry::new();
//! registry.register(spec("echo_py", host.clone(), info, Arc::new(NoTools)))?;
//! let runtime = registry.create(&"echo_py".into(), RuntimeDeps::default())?;
//!
//! let context = RuntimeExecutionContext::new("hello").runtime_config(json!({"greeting": "Hi"}));
//! let result = runtime.execute(&context).await;
//! println!("{}", result.response);
//! host.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::unwrap_used)]

mod command;
mod endpoint;
mod error;
mod execution;
mod host;
mod info;
mod mask;
mod process;
pub mod protocol;
mod runtime;
mod schema;

pub use command::{PluginCommand, PluginOptions, parse_env_assignment};
pub use endpoint::{CatalogueTools, CloseEndpoint, NoTools, ToolEndpoint, ToolEndpointProvider};
pub use error::PluginError;
pub use host::PluginHost;
pub use info::PluginInfo;
pub use process::PluginProcess;
pub use runtime::{PluginRuntime, spec};
