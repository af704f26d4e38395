//! Where OAuth credentials live: the [`TokenStore`] seam, an in-memory one, and the adapter
//! rmcp's authorization manager reads and writes through (with a cache, so that a request
//! does not read the store).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use rmcp::transport::auth::{AuthError, CredentialStore, StoredCredentials};
use serde::Serialize;

use super::OAuthError;

/// Persistent OAuth credentials per server (name and URL): an opaque JSON document holding
/// the client id, the tokens and the granted scopes. Implementations keep it private to the
/// user (the CLI's SQLite file is mode 0600) and never log it.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The credentials of `server` at `url`, if any.
    async fn load(&self, server: &str, url: &str) -> Result<Option<String>, OAuthError>;
    /// Replaces them.
    async fn save(&self, server: &str, url: &str, credentials: &str) -> Result<(), OAuthError>;
    /// Forgets them.
    async fn clear(&self, server: &str, url: &str) -> Result<(), OAuthError>;
}

/// Credentials in memory only (tests, one-shot clients).
#[derive(Debug, Default, Clone)]
pub struct MemoryTokenStore {
    entries: Arc<Mutex<HashMap<(String, String), String>>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, server: &str, url: &str) -> Result<Option<String>, OAuthError> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(entries.get(&(server.to_owned(), url.to_owned())).cloned())
    }

    async fn save(&self, server: &str, url: &str, credentials: &str) -> Result<(), OAuthError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert((server.to_owned(), url.to_owned()), credentials.to_owned());
        Ok(())
    }

    async fn clear(&self, server: &str, url: &str) -> Result<(), OAuthError> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).remove(&(server.to_owned(), url.to_owned()));
        Ok(())
    }
}

/// What can be shown of stored credentials (never the tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginSummary {
    /// The OAuth client id.
    pub client_id: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// When the access token expires (Unix seconds), if the server said.
    pub expires_at: Option<u64>,
    /// Whether a refresh token is kept (the login renews itself).
    pub refreshable: bool,
}

/// Reads what can be shown of stored credentials; `None` when they do not parse.
pub fn describe_credentials(credentials: &str) -> Option<LoginSummary> {
    // Read as plain JSON: the token response's own fields (`expires_in`, `refresh_token`).
    let stored: serde_json::Value = serde_json::from_str(credentials).ok()?;
    let token = stored.get("token_response").filter(|t| t.is_object());
    let scopes = stored
        .get("granted_scopes")
        .and_then(serde_json::Value::as_array)
        .map(|scopes| scopes.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    Some(LoginSummary {
        client_id: stored.get("client_id")?.as_str()?.to_owned(),
        scopes,
        expires_at: token
            .and_then(|t| t.get("expires_in")?.as_u64())
            .zip(stored.get("token_received_at").and_then(serde_json::Value::as_u64))
            .map(|(expires_in, received)| received + expires_in),
        refreshable: token.and_then(|t| t.get("refresh_token")).is_some_and(|r| !r.is_null()),
    })
}

/// rmcp's credential store over a [`TokenStore`], for one server. Loads once, then serves
/// from memory; every save is written through.
#[derive(Clone)]
pub(crate) struct StoreAdapter {
    store: Arc<dyn TokenStore>,
    server: String,
    url: String,
    cache: Arc<tokio::sync::Mutex<Cached>>,
}

/// What the adapter knows of the store.
#[derive(Debug, Clone, Default)]
enum Cached {
    /// Nothing yet: the first use reads the store.
    #[default]
    Unread,
    /// The stored credentials (none: no login).
    Read(Option<Box<StoredCredentials>>),
}

impl fmt::Debug for StoreAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreAdapter").field("server", &self.server).field("url", &self.url).finish_non_exhaustive()
    }
}

impl StoreAdapter {
    pub(crate) fn new(store: Arc<dyn TokenStore>, server: &str, url: &str) -> Self {
        Self {
            store,
            server: server.to_owned(),
            url: url.to_owned(),
            cache: Arc::new(tokio::sync::Mutex::new(Cached::Unread)),
        }
    }

    /// The stored credentials (from the cache after the first read).
    pub(crate) async fn current(&self) -> Result<Option<StoredCredentials>, OAuthError> {
        let mut cache = self.cache.lock().await;
        if let Cached::Read(cached) = &*cache {
            return Ok(cached.as_deref().cloned());
        }
        let loaded = self
            .store
            .load(&self.server, &self.url)
            .await?
            .and_then(|json| serde_json::from_str::<StoredCredentials>(&json).ok());
        *cache = Cached::Read(loaded.clone().map(Box::new));
        Ok(loaded)
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(store_error)`
fn store_error(error: OAuthError) -> AuthError {
    AuthError::CredentialStoreError(error.to_string())
}

#[async_trait]
impl CredentialStore for StoreAdapter {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        self.current().await.map_err(store_error)
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        let json = serde_json::to_string(&credentials)
            .map_err(|e| AuthError::CredentialStoreError(format!("cannot serialise credentials: {e}")))?;
        self.store.save(&self.server, &self.url, &json).await.map_err(store_error)?;
        *self.cache.lock().await = Cached::Read(Some(Box::new(credentials)));
        Ok(())
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.store.clear(&self.server, &self.url).await.map_err(store_error)?;
        *self.cache.lock().await = Cached::Read(None);
        Ok(())
    }
}
