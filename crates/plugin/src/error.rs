//! Errors of the plugin host. Each names the plugin and says what the plugin did wrong, in
//! words a plugin author can act on; those about a dead process carry its last stderr lines.

use std::time::Duration;

use toolbridge_runtime::{ExecutionId, RuntimeError};

use crate::protocol::{Method, PROTOCOL_VERSION, RpcError};

/// An error of a runtime plugin or of the host driving it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The plugin's command could not be started.
    #[error("plugin `{plugin}`: {message}")]
    Spawn {
        /// The plugin's name.
        plugin: String,
        /// Why (not found, not executable, …).
        message: String,
    },
    /// A `--env` assignment is not `KEY=VALUE`.
    #[error("invalid environment assignment {0:?}: expected KEY=VALUE")]
    EnvAssignment(String),
    /// The plugin process stopped, or we stopped it because it broke the protocol.
    #[error("plugin `{plugin}` stopped: {reason}{stderr}")]
    Ended {
        /// The plugin's name.
        plugin: String,
        /// What happened (exit status, protocol violation, shutdown).
        reason: String,
        /// `; last stderr: …` or nothing.
        stderr: String,
    },
    /// No answer to `initialize` in time.
    #[error("plugin `{plugin}` did not answer `initialize` within {timeout:?}{stderr}")]
    InitializeTimeout {
        /// The plugin's name.
        plugin: String,
        /// The limit.
        timeout: Duration,
        /// `; last stderr: …` or nothing.
        stderr: String,
    },
    /// The plugin speaks another protocol version.
    #[error(
        "plugin `{plugin}` speaks runtime plugin protocol version {found:?}, toolbridge speaks version \
         {PROTOCOL_VERSION:?}: update the plugin (or toolbridge)"
    )]
    ProtocolVersion {
        /// The plugin's name.
        plugin: String,
        /// The version it announced.
        found: String,
    },
    /// An answer that does not have the shape the protocol requires.
    #[error("plugin `{plugin}`: invalid `{method}` result: {message}")]
    InvalidResult {
        /// The plugin's name.
        plugin: String,
        /// The request answered.
        method: Method,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The plugin answered with a JSON-RPC error.
    #[error("plugin `{plugin}` answered `{method}` with error {}: {}", error.code, error.message)]
    Rpc {
        /// The plugin's name.
        plugin: String,
        /// The request answered.
        method: Method,
        /// The error object.
        error: Box<RpcError>,
    },
    /// No answer to a control request (`validate_config`, `cancel`, `shutdown`) in time.
    #[error("plugin `{plugin}` did not answer `{method}` within {timeout:?}")]
    Timeout {
        /// The plugin's name.
        plugin: String,
        /// The request.
        method: Method,
        /// The limit.
        timeout: Duration,
    },
    /// The published `config_schema` is not a JSON Schema.
    #[error("plugin `{plugin}`: its `config_schema` is not a valid JSON Schema: {message}")]
    InvalidSchema {
        /// The plugin's name.
        plugin: String,
        /// The schema compiler's message.
        message: String,
    },
    /// The execution id is already running on this plugin process.
    #[error("plugin `{plugin}`: execution {execution_id} is already running")]
    DuplicateExecution {
        /// The plugin's name.
        plugin: String,
        /// The id.
        execution_id: ExecutionId,
    },
    /// The host was shut down; it starts no new process.
    #[error("plugin `{plugin}` was shut down")]
    ShutDown {
        /// The plugin's name.
        plugin: String,
    },
    /// A message could not be encoded (a context that is not JSON-serialisable).
    #[error("plugin `{plugin}`: cannot encode the `{method}` request: {message}")]
    Encode {
        /// The plugin's name.
        plugin: String,
        /// The request.
        method: Method,
        /// The serializer's message.
        message: String,
    },
}

impl PluginError {
    /// Whether the error means the process is gone (a later execution starts a fresh one).
    pub fn is_ended(&self) -> bool {
        matches!(self, Self::Ended { .. })
    }
}

impl From<PluginError> for RuntimeError {
    fn from(error: PluginError) -> Self {
        RuntimeError::other(error)
    }
}
