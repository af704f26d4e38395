//! The bridge's OAuth token store, kept in the SQLite store (wiring only).

use std::sync::Arc;

use async_trait::async_trait;
use toolbridge::oauth::{OAuthError, TokenStore};
use toolbridge_store::Store;

/// OAuth credentials in the store's `oauth_credentials` table.
#[derive(Debug, Clone)]
pub(crate) struct StoreTokens(pub(crate) Arc<Store>);

#[allow(clippy::needless_pass_by_value)] // used as `map_err(store_error)`
fn store_error(error: toolbridge_store::StoreError) -> OAuthError {
    OAuthError::Store(error.to_string())
}

#[async_trait]
impl TokenStore for StoreTokens {
    async fn load(&self, server: &str, url: &str) -> Result<Option<String>, OAuthError> {
        self.0.load_credentials(server, url).await.map_err(store_error)
    }

    async fn save(&self, server: &str, url: &str, credentials: &str) -> Result<(), OAuthError> {
        self.0.save_credentials(server, url, credentials).await.map_err(store_error)
    }

    async fn clear(&self, server: &str, url: &str) -> Result<(), OAuthError> {
        self.0.clear_credentials(server, Some(url)).await.map(|_| ()).map_err(store_error)
    }
}
