//! Why a tool call did not produce an output: one error for every source and every stage of
//! the call pipeline, mapped to the record's `error_type` in exactly one place
//! ([`ToolError::error_type`]).

use std::time::Duration;

use toolbridge_runtime::ToolErrorType;

/// A failed tool call. Variants carry what a user needs to act: the server, the tool, the
/// limit that was hit, and the underlying cause where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// No tool of that name (in the catalogue, or in the source).
    #[error("unknown tool `{tool}`")]
    UnknownTool {
        /// The name asked for.
        tool: String,
    },
    /// The arguments were refused before the tool ran.
    #[error("invalid arguments: {reason}")]
    InvalidArguments {
        /// Why (written for the model: names the argument).
        reason: String,
    },
    /// The arguments were larger than the catalogue's `max_argument_bytes`.
    #[error("{size} bytes, over the limit of {limit} bytes (`max_argument_bytes`); send less data per call")]
    ArgumentsTooLarge {
        /// Their size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A policy (or a server's `tools` filter, or a skill's setting) refused the call.
    #[error("{reason}")]
    Denied {
        /// Which rule or setting refused it.
        reason: String,
    },
    /// A confinement boundary refused the call (a path outside `base_dir`, a sandbox rule).
    #[error("{reason}")]
    Confined {
        /// Which boundary.
        boundary: Boundary,
        /// What was refused.
        reason: String,
    },
    /// The call did not finish in time.
    #[error("`{tool}`{} did not finish within {limit:?}", on_server(.server.as_deref()))]
    Timeout {
        /// The tool.
        tool: String,
        /// Its server, for an MCP tool.
        server: Option<String>,
        /// The limit.
        limit: Duration,
    },
    /// The call was cancelled (the execution was).
    #[error("the call was cancelled")]
    Cancelled,
    /// The tool's server is gone or cannot be (re)started.
    #[error("server {server:?} is unavailable: {reason}")]
    Unavailable {
        /// The server.
        server: String,
        /// Why (with the server's last stderr lines when there are some).
        reason: String,
    },
    /// The server answered the call with a JSON-RPC error.
    #[error("server {server:?} refused the call: {message}")]
    Protocol {
        /// The server.
        server: String,
        /// Its error message.
        message: String,
    },
    /// The tool failed.
    #[error("{message}")]
    Failed {
        /// What happened.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

fn on_server(server: Option<&str>) -> String {
    server.map(|s| format!(" on server {s:?}")).unwrap_or_default()
}

/// A confinement boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// A skill's `base_dir` (or `output_dir`).
    BaseDir,
    /// A sandbox rule (filesystem, network, process).
    Sandbox,
}

impl ToolError {
    /// A failure with a message.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed { message: message.into(), source: None }
    }

    /// A failure with a message and its cause.
    pub fn failed_with(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Failed { message: message.into(), source: Some(Box::new(source)) }
    }

    /// Arguments refused, with the reason.
    pub fn invalid_arguments(reason: impl Into<String>) -> Self {
        Self::InvalidArguments { reason: reason.into() }
    }

    /// A refusal by policy or configuration.
    pub fn denied(reason: impl Into<String>) -> Self {
        Self::Denied { reason: reason.into() }
    }

    /// A path outside the base directory.
    pub fn outside_base_dir(reason: impl Into<String>) -> Self {
        Self::Confined { boundary: Boundary::BaseDir, reason: reason.into() }
    }

    /// The record's `error_type` for this error: the one mapping from errors to the wire enum.
    pub fn error_type(&self) -> ToolErrorType {
        match self {
            Self::UnknownTool { .. } => ToolErrorType::UnknownTool,
            Self::InvalidArguments { .. } | Self::ArgumentsTooLarge { .. } => ToolErrorType::InvalidArguments,
            Self::Denied { .. } => ToolErrorType::PolicyDenied,
            Self::Confined { boundary: Boundary::BaseDir, .. } => ToolErrorType::OutsideBaseDir,
            Self::Confined { boundary: Boundary::Sandbox, .. } => ToolErrorType::SandboxDenied,
            Self::Timeout { .. } => ToolErrorType::Timeout,
            Self::Cancelled => ToolErrorType::Cancelled,
            Self::Unavailable { .. } => ToolErrorType::ServerUnavailable,
            Self::Protocol { .. } | Self::Failed { .. } => ToolErrorType::ToolError,
        }
    }

    /// The message with its causes, `: `-joined.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        text
    }
}
