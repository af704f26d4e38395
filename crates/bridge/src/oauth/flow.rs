//! One HTTP server's OAuth state: the authorized HTTP client its transport sends through, and
//! the (re)authorization run when the server challenges a request.

use std::fmt;
use std::sync::Arc;

use rmcp::transport::AuthClient;
use rmcp::transport::auth::{
    AuthError, AuthorizationCallback, AuthorizationManager, AuthorizationMetadata, AuthorizationRequest,
    AuthorizationSession, ClientCredentialsConfig, OAuthState, WWWAuthenticateParams,
};
use toolbridge_config::{HttpConfig, OAuthConfig, OAuthGrant, ServerConfig};
use tracing::{debug, info};

use super::store::StoreAdapter;
use super::{Authorizer, OAuthError, TokenStore, login_command};

/// The name toolbridge registers itself under.
const CLIENT_NAME: &str = "toolbridge";

/// OAuth for one HTTP server: the [`AuthClient`] its transport uses (it adds the bearer token
/// and refreshes it silently), and what it takes to authorize again.
pub(crate) struct HttpAuth {
    server: String,
    url: String,
    origin: Option<String>,
    settings: OAuthConfig,
    store: StoreAdapter,
    authorizer: Option<Arc<dyn Authorizer>>,
    client: AuthClient<reqwest::Client>,
    /// One authorization at a time (concurrent requests challenged together wait for it).
    authorizing: tokio::sync::Mutex<()>,
}

impl fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpAuth").field("server", &self.server).field("url", &self.url).finish_non_exhaustive()
    }
}

fn failed(server: &str, error: &AuthError) -> OAuthError {
    OAuthError::Failed { server: server.to_owned(), message: error.to_string() }
}

impl HttpAuth {
    /// The OAuth state of `server`, loaded from `store` (no network unless credentials are
    /// stored: then the server's metadata is discovered, for refreshing).
    pub(crate) async fn new(
        server: &ServerConfig,
        http: &HttpConfig,
        http_client: reqwest::Client,
        store: Arc<dyn TokenStore>,
        authorizer: Option<Arc<dyn Authorizer>>,
    ) -> Result<Self, OAuthError> {
        let store = StoreAdapter::new(store, &server.name, &http.url);
        let mut this = Self {
            server: server.name.clone(),
            url: http.url.clone(),
            origin: server.origin.clone(),
            settings: http.oauth.clone().unwrap_or_default(),
            store,
            authorizer,
            client: AuthClient::new(http_client.clone(), Self::empty_manager(&http.url).await?),
            authorizing: tokio::sync::Mutex::new(()),
        };
        let manager = this.stored_manager().await?;
        this.client = AuthClient::new(http_client, manager);
        Ok(this)
    }

    async fn empty_manager(url: &str) -> Result<AuthorizationManager, OAuthError> {
        AuthorizationManager::new(url)
            .await
            .map_err(|e| OAuthError::Failed { server: url.to_owned(), message: e.to_string() })
    }

    /// A manager over our store, ready to refresh when credentials are stored.
    async fn stored_manager(&self) -> Result<AuthorizationManager, OAuthError> {
        let mut manager = AuthorizationManager::new(self.url.as_str()).await.map_err(|e| failed(&self.server, &e))?;
        manager.set_credential_store(self.store.clone());
        let stored = self.store.current().await?;
        if stored.is_some_and(|c| c.token_response.is_some()) {
            manager.initialize_from_store().await.map_err(|e| failed(&self.server, &e))?;
        }
        Ok(manager)
    }

    /// The HTTP client the transport sends through.
    pub(crate) fn client(&self) -> AuthClient<reqwest::Client> {
        self.client.clone()
    }

    /// Whether this process may authorize by itself (a person at hand, or client
    /// credentials).
    pub(crate) fn can_authorize(&self) -> bool {
        self.authorizer.is_some() || self.settings.grant == OAuthGrant::ClientCredentials
    }

    /// The error for a server that needs a login this process cannot run.
    pub(crate) fn login_required(&self) -> OAuthError {
        OAuthError::LoginRequired {
            server: self.server.clone(),
            command: login_command(&self.server, self.origin.as_deref()),
        }
    }

    /// Authorizes (again) after the server answered `challenge` (a `WWW-Authenticate` value,
    /// `None` for a login asked for up front); the transport's client uses the new tokens from
    /// its next request on.
    pub(crate) async fn authorize(&self, challenge: Option<&str>) -> Result<(), OAuthError> {
        let _one_at_a_time = self.authorizing.lock().await;
        let manager = match self.settings.grant {
            OAuthGrant::ClientCredentials => self.client_credentials().await?,
            OAuthGrant::AuthorizationCode => {
                let Some(authorizer) = &self.authorizer else { return Err(self.login_required()) };
                self.authorization_code(authorizer.as_ref(), challenge).await?
            }
        };
        *self.client.auth_manager.lock().await = manager;
        info!(server = %self.server, "OAuth authorization complete");
        Ok(())
    }

    async fn fresh_state(&self) -> Result<OAuthState, OAuthError> {
        let mut manager = AuthorizationManager::new(self.url.as_str()).await.map_err(|e| failed(&self.server, &e))?;
        manager.set_credential_store(self.store.clone());
        Ok(OAuthState::Unauthorized(manager))
    }

    /// The browser flow: discovery from the challenge, client identity, PKCE, the person
    /// authorizes, the code is exchanged; the tokens are saved by the manager.
    async fn authorization_code(
        &self,
        authorizer: &dyn Authorizer,
        challenge: Option<&str>,
    ) -> Result<AuthorizationManager, OAuthError> {
        let mut request = AuthorizationRequest::new(authorizer.redirect_uri()).with_client_name(CLIENT_NAME);
        if let Some(id) = &self.settings.client_id {
            request = request.with_preregistered_client(id.clone());
            if let Some(secret) = &self.settings.client_secret {
                request = request.with_client_secret(secret.expose().to_owned());
            }
        }
        if let Some(url) = &self.settings.client_metadata_url {
            request = request.with_client_metadata_url(url.clone());
        }
        let scopes = self.scopes_for(challenge).await?;
        if !scopes.is_empty() {
            request = request.with_scopes(scopes);
        }
        if let Some(challenge) = challenge {
            request = request.with_challenge(challenge.to_owned());
        }
        let mut state = self.fresh_state().await?;
        match state.start_authorization(request.clone()).await {
            Ok(()) => {}
            Err(AuthError::AuthorizationServerMismatch { .. }) => {
                return self.legacy_session(authorizer, request).await;
            }
            Err(e) => return Err(failed(&self.server, &e)),
        }
        let url = state.get_authorization_url().await.map_err(|e| failed(&self.server, &e))?;
        debug!(server = %self.server, "sending the user to the authorization endpoint");
        let redirect = authorizer.authorize(&self.server, &url).await?;
        state.handle_callback_url(&redirect).await.map_err(|e| failed(&self.server, &e))?;
        state
            .into_authorization_manager()
            .ok_or_else(|| OAuthError::Failed { server: self.server.clone(), message: "no authorized state".into() })
    }

    /// A 2025-03-26 server without protected-resource metadata publishes its authorization
    /// server's metadata at its own origin, and that document's `issuer` may carry a path
    /// (`https://host/oauth`) that RFC 8414's strict check refuses. Such metadata is taken when
    /// its issuer has the server's origin (the 2025-03-26 rule: the authorization base URL is
    /// the server's origin), and the session is started on it directly.
    async fn legacy_session(
        &self,
        authorizer: &dyn Authorizer,
        request: AuthorizationRequest,
    ) -> Result<AuthorizationManager, OAuthError> {
        let fail = |message: String| OAuthError::Failed { server: self.server.clone(), message };
        let server_url = reqwest::Url::parse(&self.url).map_err(|e| fail(e.to_string()))?;
        let metadata_url =
            server_url.join("/.well-known/oauth-authorization-server").map_err(|e| fail(e.to_string()))?;
        let metadata: AuthorizationMetadata = reqwest::Client::new()
            .get(metadata_url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| fail(format!("{metadata_url}: {e}")))?
            .json()
            .await
            .map_err(|e| fail(format!("{metadata_url}: {e}")))?;
        let same_origin = metadata
            .issuer
            .as_deref()
            .and_then(|issuer| reqwest::Url::parse(issuer).ok())
            .is_some_and(|issuer| issuer.origin() == server_url.origin());
        if !same_origin {
            return Err(fail(format!(
                "the authorization server metadata at {metadata_url} names issuer {:?}, not on the server's origin",
                metadata.issuer
            )));
        }
        let mut manager = AuthorizationManager::new(self.url.as_str()).await.map_err(|e| failed(&self.server, &e))?;
        manager.set_credential_store(self.store.clone());
        manager.set_metadata(metadata);
        let session = AuthorizationSession::new(manager, request).await.map_err(|(_, e)| failed(&self.server, &e))?;
        let redirect = authorizer.authorize(&self.server, session.get_authorization_url()).await?;
        let callback = AuthorizationCallback::from_redirect_url(&redirect).map_err(|e| failed(&self.server, &e))?;
        session
            .handle_callback_with_issuer(&callback.code, &callback.csrf_token, callback.issuer.as_deref())
            .await
            .map_err(|e| failed(&self.server, &e))?;
        Ok(session.auth_manager)
    }

    /// Scopes to ask for: the configured ones; on `insufficient_scope`, those granted so far
    /// plus the challenged ones (step-up); otherwise none (rmcp picks from the challenge or
    /// `scopes_supported`).
    async fn scopes_for(&self, challenge: Option<&str>) -> Result<Vec<String>, OAuthError> {
        let mut scopes = self.settings.scopes.clone();
        let params = challenge
            .and_then(|c| reqwest::Url::parse(&self.url).ok().map(|base| WWWAuthenticateParams::parse(c, &base)));
        if let Some(params) = params.filter(WWWAuthenticateParams::is_insufficient_scope) {
            if let Some(granted) = self.store.current().await? {
                scopes.extend(granted.granted_scopes);
            }
            scopes
                .extend(params.scope.iter().flat_map(|s| s.split_whitespace().map(str::to_owned)).collect::<Vec<_>>());
        }
        let mut seen = std::collections::HashSet::new();
        scopes.retain(|s| seen.insert(s.clone()));
        Ok(scopes)
    }

    /// Headless: the configured client's own credentials buy the token.
    async fn client_credentials(&self) -> Result<AuthorizationManager, OAuthError> {
        let (Some(client_id), Some(secret)) = (&self.settings.client_id, &self.settings.client_secret) else {
            return Err(OAuthError::Failed {
                server: self.server.clone(),
                message: "client_credentials needs client_id and client_secret".into(),
            });
        };
        let config = ClientCredentialsConfig::ClientSecret {
            client_id: client_id.clone(),
            client_secret: secret.expose().to_owned(),
            scopes: self.settings.scopes.clone(),
            resource: Some(self.url.clone()),
        };
        let mut state = self.fresh_state().await?;
        state.authenticate_client_credentials(config).await.map_err(|e| failed(&self.server, &e))?;
        state
            .into_authorization_manager()
            .ok_or_else(|| OAuthError::Failed { server: self.server.clone(), message: "no authorized state".into() })
    }
}
