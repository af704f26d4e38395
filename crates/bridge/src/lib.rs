//! toolbridge: MCP servers and built-in skills as one tool catalogue.
//!
//! Module map (each module owns one concept):
//! - `config`: MCP server configuration formats and templating.
//! - `pool`: supervised MCP connections shared across executions.
//! - `naming`, `schema`, `validation`, `content`: catalogue names, provider schema
//!   normalisation, argument validation, result conversion.
//! - `skills`: built-in tools (file system, shell, python, file generation, sleep).
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

// -- modules (each helper adds its own `pub mod` lines below) --
pub mod builder;
pub mod call_log;
pub mod catalogue;
pub mod config;
pub mod content;
pub mod mcp_source;
pub mod naming;
pub mod policy;
pub mod pool;
pub mod schema;
#[cfg(feature = "serve")]
pub mod serve;
pub mod skill_source;
pub mod skills;
pub mod source;
pub mod validation;

pub use builder::{CatalogueBuilder, CatalogueError};
pub use call_log::CallLog;
pub use catalogue::{Catalogue, CatalogueOptions};
pub use policy::{Policy, PolicyConfig, PolicyContext};
pub use source::{CustomTools, ToolSource};
pub use toolbridge_runtime::{ToolCallRecord, ToolErrorType, ToolSourceKind};
