//! OAuth 2.1 for streamable-HTTP servers, on rmcp's `auth` support.
//!
//! - Discovery (protected-resource metadata from the server's `WWW-Authenticate` challenge or
//!   its well-known paths, then authorization-server metadata, with the 2025-03-26 fallbacks),
//!   client identity (a pre-registered `client_id`/`client_secret` from the server's `oauth`
//!   config, else a client ID metadata document when the server supports one, else dynamic
//!   registration), PKCE, scope selection from the challenge or `scopes_supported`, and the
//!   token endpoint's auth method are rmcp's [`AuthorizationManager`] work.
//! - What is ours: where tokens live ([`TokenStore`]; the CLI keeps them in its SQLite store),
//!   how a person is sent through the authorization ([`Authorizer`]; [`LoopbackAuthorizer`]
//!   opens a browser and takes the redirect on 127.0.0.1), when to authorize (a 401 or a 403
//!   `insufficient_scope` on any request, at most [`MAX_AUTHORIZATIONS`] times in a row per
//!   request — step-up asks for the granted scopes plus the challenged ones), and headless
//!   servers (`grant: client_credentials`).
//! - Tokens are refreshed silently by rmcp's `AuthClient` when they expire or are rejected;
//!   they are never logged: [`AuthorizationManager`] and our stores print them redacted.
//!
//! Without an authorizer (an execution, `serve`) a server that needs a login fails with
//! [`OAuthError::LoginRequired`], which names the command to run.

mod flow;
mod loopback;
mod store;

use std::fmt;

use async_trait::async_trait;

pub(crate) use flow::HttpAuth;
pub use loopback::LoopbackAuthorizer;
pub use store::{LoginSummary, MemoryTokenStore, TokenStore, describe_credentials};

/// How many authorizations one request may trigger in a row (a server that keeps answering
/// 403 after each step-up is not asked forever).
pub const MAX_AUTHORIZATIONS: u32 = 3;

/// Sends a person through an authorization: shows or opens `url`, then returns the URL the
/// authorization server redirected back to (carrying `code` and `state`).
#[async_trait]
pub trait Authorizer: Send + Sync + fmt::Debug {
    /// The redirect URI to register and to send with the authorization request.
    fn redirect_uri(&self) -> String;
    /// Runs the authorization of `server` at `url`; returns the redirect URL.
    async fn authorize(&self, server: &str, url: &str) -> Result<String, OAuthError>;
}

/// An OAuth failure.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The server needs a login that this process cannot run (no person at hand).
    #[error("server {server:?} needs an OAuth login: run `{command}`")]
    LoginRequired {
        /// The server.
        server: String,
        /// The command that logs in.
        command: String,
    },
    /// The authorization did not complete (discovery, registration, the person, the token
    /// exchange).
    #[error("OAuth authorization of server {server:?} failed: {message}")]
    Failed {
        /// The server.
        server: String,
        /// Why.
        message: String,
    },
    /// The token store failed.
    #[error("the token store failed: {0}")]
    Store(String),
    /// The person did not finish in time, or the redirect was malformed.
    #[error("{0}")]
    Redirect(String),
}

/// The command that logs in to `server` (configured in the file `origin`, when it is one).
pub fn login_command(server: &str, origin: Option<&str>) -> String {
    match origin.filter(|o| std::path::Path::new(o).is_file()) {
        Some(origin) => format!("toolbridge auth login {server} --mcp-config {origin}"),
        None => format!("toolbridge auth login {server} --mcp-config FILE"),
    }
}
