//! toolbridge: MCP servers, built-in skills and custom Rust tools as one tool catalogue.
//!
//! A tool call reads top to bottom through the crate:
//! 1. configuration, typed once ([`config`], re-exported from `toolbridge-config`);
//! 2. [`CatalogueBuilder`] turns it into [`ToolSource`]s — MCP servers through the shared,
//!    supervised [`Pool`], skills and custom tools as [`ToolTable`]s — and builds the
//!    [`Catalogue`]: the index of named tools, judged by the [`Policy`];
//! 3. [`Catalogue::call`] runs a call through one pipeline: policy → argument validation →
//!    source → output cap → the execution's [`CallLog`], whose records become
//!    `tool_execution_messages`.
//!
//! Errors along the way are one [`ToolError`], mapped once to the record's `error_type`.
//! Every child process (a stdio server, a skill's command) has one owner whose drop ends its
//! whole process group.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use toolbridge::{CallLog, CallOptions, CatalogueBuilder, Pool, RawArguments};
//! use toolbridge::config::{ProcessEnv, ToolConfig};
//!
//! let pool = Pool::default();
//! let config = ToolConfig::load(Some("mcp.json".as_ref()), None, None)?;
//! let catalogue = CatalogueBuilder::new(pool.clone()).tools(&config, "mcp.json", &ProcessEnv)?.build().await?;
//! let log = CallLog::new();
//! let args = serde_json::json!({"message": "hi"});
//! let record = catalogue.call(&log, "everything__echo", RawArguments::Value(&args), "call-1", &CallOptions::default()).await;
//! println!("{}", record.output);
//! pool.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::unwrap_used)]

mod catalogue;
mod content;
mod error;
pub mod interaction;
mod mcp;
mod mcp_features;
pub mod oauth;
mod policy;
mod pool;
mod process;
pub mod schema;
#[cfg(feature = "serve")]
pub mod serve;
mod skills;
mod source;
pub mod validation;

pub use catalogue::builder::{CatalogueBuilder, CatalogueError};
pub use catalogue::call::{CallOptions, PreparedCall, RawArguments};
pub use catalogue::naming;
pub use catalogue::{
    Catalogue, CatalogueOptions, DEFAULT_MAX_ARGUMENT_BYTES, DEFAULT_MAX_OUTPUT_BYTES, ProviderTool, SourceFailure,
    ToolInfo,
};
pub use error::{Boundary, ToolError};
pub use interaction::{Progress, Responder, ServerEvent};
pub use mcp_features::prompt_text;
pub use policy::{Decision, Policy, PolicyContext, PolicyError};
pub use pool::{
    CallOptions as PoolCallOptions, DEFAULT_MAX_MESSAGE_BYTES, Pool, PoolError, PoolOptions, PoolStats, ServerHandle,
};
/// The MCP data model (rmcp's): requests, results and content of the gateway-level API.
pub use rmcp::model as mcp_model;
pub use skills::{build_skill, preset};
pub use source::{CallContext, JsonObject, SourceError, ToolDescriptor, ToolOutput, ToolSource, ToolTable, schema_of};
/// The typed tool configuration (`toolbridge-config`).
pub use toolbridge_config as config;
pub use toolbridge_runtime::{CallLog, ToolCallRecord, ToolErrorType, ToolSourceKind};
pub use toolbridge_sandbox::{Helper as SandboxHelper, SandboxReport};
