//! Errors of the parent side of the launcher.
//!
//! The helper process reports its own failures on stderr with
//! [`HELPER_FAILURE_EXIT_CODE`](crate::HELPER_FAILURE_EXIT_CODE); these are the errors
//! a caller can see before anything is spawned.

use crate::policy::Mechanism;

/// Why a sandboxed command could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The policy says `required: true` and the host lacks mechanisms it asks for.
    #[error(
        "sandbox required but not available on this host: {} (set `required: false` to run with what the kernel offers)",
        Mechanism::list(missing)
    )]
    Unavailable {
        /// The mechanisms the policy needs that cannot be enforced here.
        missing: Vec<Mechanism>,
    },
    /// The policy cannot be handed to the helper (e.g. a path that is not UTF-8).
    #[error("sandbox policy cannot be encoded for the helper: {0}")]
    Encode(#[source] serde_json::Error),
    /// The helper binary cannot be located.
    #[error("sandbox helper {path} not usable: {source}")]
    Helper {
        /// Where the helper was looked for.
        path: std::path::PathBuf,
        /// Why it cannot be used.
        #[source]
        source: std::io::Error,
    },
}
