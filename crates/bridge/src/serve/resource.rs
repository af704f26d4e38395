//! The gateway as an OAuth protected resource (RFC 9728): it publishes metadata naming the
//! external authorization server that issues its tokens, answers a request without a valid
//! token with 401 and a `WWW-Authenticate` pointing at that metadata (so MCP clients discover
//! and authorize on their own), and validates tokens with the authorization server's
//! introspection endpoint (RFC 7662), remembering valid ones until they expire (at most a
//! minute).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use toolbridge_config::SecretValue;
use tracing::warn;

/// How long a token found valid is trusted without asking again.
const CACHE_FOR: Duration = Duration::from_secs(60);

/// The gateway's OAuth resource-server settings.
#[derive(Clone)]
pub struct ResourceServer {
    /// The authorization servers (issuer URLs) whose tokens this gateway accepts.
    pub authorization_servers: Vec<String>,
    /// Scopes a token must carry.
    pub scopes: Vec<String>,
    /// The introspection endpoint that validates tokens.
    pub introspection_url: String,
    /// The gateway's own client credentials at the introspection endpoint (HTTP Basic), if
    /// it asks for them.
    pub introspection_client: Option<(String, SecretValue)>,
    /// This resource's public URL (default: `http://ADDR/mcp` as bound).
    pub resource: Option<String>,
}

impl fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceServer")
            .field("authorization_servers", &self.authorization_servers)
            .field("scopes", &self.scopes)
            .field("introspection_url", &self.introspection_url)
            .field("introspection_client", &self.introspection_client.as_ref().map(|(id, _)| id))
            .field("resource", &self.resource)
            .finish()
    }
}

/// The resource server at run time: settings, where it is, what it learnt.
#[derive(Debug)]
pub(crate) struct Guard {
    settings: ResourceServer,
    resource: String,
    metadata_url: String,
    client: reqwest::Client,
    /// Valid tokens (by their SHA-256, never the token itself) and until when.
    valid: Mutex<HashMap<[u8; 32], Instant>>,
}

fn digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

impl Guard {
    pub(crate) fn new(settings: ResourceServer, origin: &str) -> Arc<Self> {
        let resource = settings.resource.clone().unwrap_or_else(|| format!("{origin}/mcp"));
        let path = reqwest::Url::parse(&resource).map(|u| u.path().to_owned()).unwrap_or_else(|_| "/mcp".into());
        let base = resource.strip_suffix(&path).unwrap_or(origin).to_owned();
        Arc::new(Self {
            metadata_url: format!("{base}/.well-known/oauth-protected-resource{path}"),
            resource,
            settings,
            client: reqwest::Client::new(),
            valid: Mutex::default(),
        })
    }

    /// Where the metadata document is served.
    pub(crate) fn metadata_url(&self) -> String {
        self.metadata_url.clone()
    }

    /// The protected-resource metadata document.
    pub(crate) fn metadata(&self) -> Value {
        json!({
            "resource": self.resource,
            "authorization_servers": self.settings.authorization_servers,
            "scopes_supported": self.settings.scopes,
            "bearer_methods_supported": ["header"],
        })
    }

    fn challenge(&self, status: StatusCode, error: &str) -> Response {
        let mut value = format!("Bearer resource_metadata=\"{}\"", self.metadata_url);
        if !self.settings.scopes.is_empty() {
            value.push_str(&format!(", scope=\"{}\"", self.settings.scopes.join(" ")));
        }
        if !error.is_empty() {
            value.push_str(&format!(", error=\"{error}\""));
        }
        (status, [(header::WWW_AUTHENTICATE, value)], Json::error(error)).into_response()
    }

    /// Asks the authorization server about `token`: `Ok(None)` when valid (with its expiry),
    /// `Ok(Some(error))` when not, `Err` when it could not be asked.
    async fn introspect(&self, token: &str) -> Result<Result<Instant, &'static str>, String> {
        let mut request = self.client.post(&self.settings.introspection_url).form(&[("token", token)]);
        if let Some((id, secret)) = &self.settings.introspection_client {
            request = request.basic_auth(id, Some(secret.expose()));
        }
        let answer: Value = request
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.without_url().to_string())?
            .json()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if answer.get("active").and_then(Value::as_bool) != Some(true) {
            return Ok(Err("invalid_token"));
        }
        let granted: Vec<&str> =
            answer.get("scope").and_then(Value::as_str).unwrap_or_default().split_whitespace().collect();
        if !self.settings.scopes.iter().all(|s| granted.contains(&s.as_str())) {
            return Ok(Err("insufficient_scope"));
        }
        if let Some(audience) = answer.get("aud") {
            let matches = match audience {
                Value::String(one) => one == &self.resource,
                Value::Array(many) => many.iter().any(|a| a.as_str() == Some(&self.resource)),
                _ => true,
            };
            if !matches {
                return Ok(Err("invalid_token"));
            }
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let left = answer
            .get("exp")
            .and_then(Value::as_u64)
            .map_or(CACHE_FOR, |exp| Duration::from_secs(exp.saturating_sub(now)));
        Ok(Ok(Instant::now() + left.min(CACHE_FOR)))
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Instant> {
        self.valid.lock().unwrap_or_else(PoisonError::into_inner).get(key).copied()
    }

    fn remember(&self, key: [u8; 32], until: Instant) {
        let mut valid = self.valid.lock().unwrap_or_else(PoisonError::into_inner);
        valid.retain(|_, until| *until > Instant::now());
        valid.insert(key, until);
    }

    /// The middleware: a request with a valid token goes through.
    pub(crate) async fn check(self: Arc<Self>, request: Request, next: Next) -> Response {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let Some(token) = token else { return self.challenge(StatusCode::UNAUTHORIZED, "") };
        let key = digest(&token);
        let cached = self.cached(&key);
        if cached.is_some_and(|until| until > Instant::now()) {
            return next.run(request).await;
        }
        match self.introspect(&token).await {
            Ok(Ok(until)) => {
                self.remember(key, until);
                next.run(request).await
            }
            Ok(Err("insufficient_scope")) => self.challenge(StatusCode::FORBIDDEN, "insufficient_scope"),
            Ok(Err(error)) => self.challenge(StatusCode::UNAUTHORIZED, error),
            Err(error) => {
                warn!(%error, "token introspection failed");
                (StatusCode::SERVICE_UNAVAILABLE, "the authorization server cannot be reached to check the token")
                    .into_response()
            }
        }
    }
}

/// A JSON error body.
struct Json;

impl Json {
    fn error(error: &str) -> axum::Json<Value> {
        axum::Json(json!({"error": if error.is_empty() { "invalid_token" } else { error }}))
    }
}
