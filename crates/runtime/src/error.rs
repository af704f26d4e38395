//! Errors of the runtime contract.

use crate::context::ExecutionId;
use crate::result::RuntimeExecutionResult;
use crate::runtime_config::ConfigError;
use crate::runtime_type::RuntimeType;

/// An error raised by a runtime or by the orchestration around it.
///
/// Errors from `execute_impl` and the hooks are routed to the runtime's `on_error`, whose
/// result is what the caller gets; they never escape `execute`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// `runtime_config` failed validation.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The execution context is unusable (e.g. no model id).
    #[error("invalid execution context: {0}")]
    InvalidContext(String),
    /// An execution with this id is already running.
    #[error("execution {0} is already running; execution ids must be unique")]
    DuplicateExecution(ExecutionId),
    /// The execution was cancelled.
    #[error("execution cancelled")]
    Cancelled,
    /// The runtime (its implementation or a hook) panicked; the panic's message.
    #[error("the runtime panicked: {0}")]
    Panicked(String),
    /// The runtime failed; the message says why.
    #[error("{0}")]
    Execution(String),
    /// Any other error from the runtime's dependencies.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An error after part of the work was done: the partial result (tool-call log, usage,
    /// response so far) is kept in the result `on_error` produces.
    #[error("{error}")]
    WithPartial {
        /// What went wrong.
        error: Box<RuntimeError>,
        /// What was done before.
        partial: Box<RuntimeExecutionResult>,
    },
}

impl RuntimeError {
    /// A runtime failure with the given message.
    pub fn execution(message: impl Into<String>) -> Self {
        Self::Execution(message.into())
    }

    /// Wraps any error.
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Box::new(error))
    }

    /// Attaches what was done before the error, so that it is not lost.
    #[must_use]
    pub fn with_partial(self, partial: RuntimeExecutionResult) -> Self {
        match self {
            Self::WithPartial { error, .. } => Self::WithPartial { error, partial: Box::new(partial) },
            error => Self::WithPartial { error: Box::new(error), partial: Box::new(partial) },
        }
    }

    /// The partial result attached to the error, if any.
    pub fn partial(&self) -> Option<&RuntimeExecutionResult> {
        match self {
            Self::WithPartial { partial, .. } => Some(partial),
            _ => None,
        }
    }

    /// Whether the error is (or wraps) a cancellation.
    pub fn is_cancelled(&self) -> bool {
        match self {
            Self::Cancelled => true,
            Self::WithPartial { error, .. } => error.is_cancelled(),
            _ => false,
        }
    }
}

/// An error of the [`RuntimeRegistry`](crate::RuntimeRegistry).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The type is already registered.
    #[error("runtime type `{0}` is already registered")]
    AlreadyRegistered(RuntimeType),
    /// No runtime of that type.
    #[error("unknown runtime type `{requested}`; known runtimes: {known}")]
    Unknown {
        /// What was asked for.
        requested: RuntimeType,
        /// The registered types, comma-separated.
        known: String,
    },
    /// The runtime's config was invalid.
    #[error("runtime `{runtime}`: {source}")]
    Config {
        /// The runtime type.
        runtime: RuntimeType,
        /// The validation error.
        #[source]
        source: ConfigError,
    },
    /// The runtime's own `validate_config` refused the agent.
    #[error("runtime `{runtime}`: {source}")]
    Invalid {
        /// The runtime type.
        runtime: RuntimeType,
        /// Its error.
        #[source]
        source: RuntimeError,
    },
    /// The runtime's constructor failed.
    #[error("runtime `{runtime}` could not be created: {source}")]
    Create {
        /// The runtime type.
        runtime: RuntimeType,
        /// The constructor's error.
        #[source]
        source: RuntimeError,
    },
}
