//! Persistence for toolbridge: agents, registered runtime plugins, executions (with their tool-call logs and usage) and the
//! OAuth credentials of MCP servers (file readable by its owner only) in an
//! embedded SQLite database (WAL mode, migrations, safe with several processes writing).
//!
//! [`Store`] implements the runtime's [`ControlPlane`](toolbridge_runtime::ControlPlane): give it
//! to a runtime through `RuntimeDeps` and every execution is recorded, whatever its outcome.
//! Execution records never hold secrets in clear: the [`Secrets`](toolbridge_runtime::config::Secrets)
//! the store is given, the values behind every `${VAR}` of the execution's servers, and any
//! value under a secret-looking key are scrubbed. Agent definitions are stored as written —
//! keep secrets in `${VAR}` templates.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::unwrap_used)]

mod agents;
mod control_plane;
mod credentials;
mod migrations;
mod plugins;
mod store;

pub use agents::StoredAgent;
pub use credentials::StoredLogin;
pub use plugins::StoredPlugin;
pub use store::{ExecutionCursor, ExecutionFilter, ExecutionPage, ExecutionSummary, Store, StoredExecution};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database file or its directory cannot be created.
    #[error("cannot open the database at {path}: {message}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The database was written by a newer toolbridge.
    #[error(
        "the database has schema version {found}, newer than this toolbridge supports ({supported}); upgrade toolbridge"
    )]
    FutureSchema {
        /// Its version.
        found: usize,
        /// Ours.
        supported: usize,
    },
    /// An agent of that name exists.
    #[error("an agent named {0:?} already exists")]
    AgentExists(String),
    /// A runtime plugin of that name is registered.
    #[error("a runtime plugin named {0:?} is already registered")]
    PluginExists(String),
    /// An id prefix matches several executions.
    #[error("execution id prefix {prefix:?} is ambiguous: {candidates}")]
    Ambiguous {
        /// The prefix.
        prefix: String,
        /// Some of the ids it matches.
        candidates: String,
    },
    /// Stored JSON that does not parse.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A blocking task failed.
    #[error("storage task failed: {0}")]
    Task(String),
}
