//! Provider errors.

use std::time::Duration;

/// Why a model call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The model id or environment is wrong.
    #[error("{0}")]
    Config(String),
    /// The key was refused.
    #[error("authentication failed for {provider} at {url}: check {variable}")]
    Auth {
        /// The provider.
        provider: String,
        /// The endpoint.
        url: String,
        /// The variable that holds the key.
        variable: String,
    },
    /// The model does not exist there.
    #[error("model {model:?} not found at {url}")]
    ModelNotFound {
        /// The model.
        model: String,
        /// The endpoint.
        url: String,
    },
    /// Rate limited (retried; this is the last one).
    #[error("rate limited by {url} (HTTP 429){}", retry_after.map(|d| format!("; retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// The endpoint.
        url: String,
        /// What the server asked for.
        retry_after: Option<Duration>,
    },
    /// Any other HTTP error status.
    #[error("{url} answered HTTP {status}: {message}")]
    Status {
        /// The endpoint.
        url: String,
        /// The status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached.
    #[error("cannot reach {url}: {message}")]
    Connection {
        /// The endpoint.
        url: String,
        /// Why.
        message: String,
    },
    /// No answer in time.
    #[error("{url} did not answer within {after:?}")]
    Timeout {
        /// The endpoint.
        url: String,
        /// The limit.
        after: Duration,
    },
    /// The body is not what the API promises.
    #[error("invalid response from {url}: {message}")]
    InvalidResponse {
        /// The endpoint.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// A stream broke off or carried garbage.
    #[error("stream error: {0}")]
    Stream(String),
}

impl ProviderError {
    /// Whether retrying may help (429, 5xx, connection failures, timeouts).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Connection { .. } | Self::Timeout { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}
