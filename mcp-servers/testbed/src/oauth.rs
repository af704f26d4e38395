//! `--oauth`: the HTTP endpoint becomes an OAuth-protected resource with its own authorization
//! server on the same origin, for toolbridge's OAuth tests — protected-resource and
//! authorization-server metadata, dynamic client registration, an authorization endpoint that
//! approves at once (redirecting with a code), PKCE (S256) checked at the token endpoint,
//! refresh tokens, client credentials, short-lived access tokens (`--token-ttl`), and step-up:
//! `tools/call` needs `--call-scope` on top of `--scope`.
//!
//! Test-only endpoints: `GET /test/stats` (counts, and the tokens issued, so that tests can
//! look for them where they must not be), `POST /test/revoke` (every access token becomes
//! invalid, as if it expired early).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The OAuth settings of `--oauth`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Seconds an access token lives.
    pub(crate) token_ttl: u64,
    /// The scope every request needs.
    pub(crate) scope: String,
    /// An extra scope `tools/call` needs (step-up), if any.
    pub(crate) call_scope: Option<String>,
    /// A pre-registered confidential client (`id:secret`), for client credentials.
    pub(crate) client: Option<(String, String)>,
}

#[derive(Debug)]
struct Code {
    client_id: String,
    challenge: String,
    scope: String,
    redirect_uri: String,
}

#[derive(Debug, Default)]
struct Books {
    clients: HashSet<String>,
    codes: HashMap<String, Code>,
    access: HashMap<String, (HashSet<String>, Instant)>,
    refresh: HashMap<String, String>,
    counter: u64,
    authorizations: u64,
    code_grants: u64,
    refresh_grants: u64,
    client_credentials_grants: u64,
    rejected: u64,
    introspections: u64,
    requested_scopes: Vec<String>,
    issued: Vec<String>,
}

impl Books {
    fn token(&mut self, kind: &str) -> String {
        self.counter += 1;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let token = format!(
            "{kind}-{}-{:x}",
            self.counter,
            Sha256::digest(format!("{nanos}{}", self.counter))
                .iter()
                .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(*b)))
        );
        self.issued.push(token.clone());
        token
    }
}

/// The authorization server and resource state.
#[derive(Debug, Clone)]
pub(crate) struct Oauth {
    settings: Arc<Settings>,
    books: Arc<Mutex<Books>>,
    /// `http://HOST:PORT`, known once bound.
    origin: Arc<Mutex<String>>,
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

impl Oauth {
    pub(crate) fn new(settings: Settings) -> Self {
        Self { settings: Arc::new(settings), books: Arc::default(), origin: Arc::default() }
    }

    pub(crate) fn set_origin(&self, origin: String) {
        *self.origin.lock().unwrap_or_else(PoisonError::into_inner) = origin;
    }

    fn origin(&self) -> String {
        self.origin.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The routes of the authorization server and the metadata, beside `/mcp`.
    pub(crate) fn routes(&self) -> Router {
        Router::new()
            .route("/.well-known/oauth-protected-resource/mcp", axum::routing::get(resource_metadata))
            .route("/.well-known/oauth-protected-resource", axum::routing::get(resource_metadata))
            .route("/.well-known/oauth-authorization-server", axum::routing::get(server_metadata))
            .route("/register", axum::routing::post(register))
            .route("/authorize", axum::routing::get(authorize))
            .route("/token", axum::routing::post(token))
            .route("/introspect", axum::routing::post(introspect))
            .route("/test/stats", axum::routing::get(stats))
            .route("/test/revoke", axum::routing::post(revoke))
            .with_state(self.clone())
    }

    fn challenge(&self, status: StatusCode, error: &str, scope: &str) -> Response {
        let origin = self.origin();
        let header = format!(
            "Bearer error=\"{error}\", scope=\"{scope}\", resource_metadata=\"{origin}/.well-known/oauth-protected-resource/mcp\""
        );
        self.books().rejected += 1;
        (status, [(header::WWW_AUTHENTICATE, header)], Json(json!({"error": error}))).into_response()
    }

    /// The guard of `/mcp`: a valid, unexpired token with the scopes the request needs.
    pub(crate) async fn guard(&self, request: Request, next: Next) -> Response {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let granted = token.and_then(|token| {
            let books = self.books();
            books.access.get(&token).filter(|(_, expires)| *expires > Instant::now()).map(|(scopes, _)| scopes.clone())
        });
        let Some(granted) = granted else {
            return self.challenge(StatusCode::UNAUTHORIZED, "invalid_token", &self.settings.scope);
        };
        let Some(call_scope) = &self.settings.call_scope else { return next.run(request).await };
        // Step-up: tools/call needs the call scope too. The body is read to see the method.
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        let is_call = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .is_some_and(|v| v.get("method").and_then(Value::as_str) == Some("tools/call"));
        if is_call && !granted.contains(call_scope) {
            let needed = format!("{} {call_scope}", self.settings.scope);
            return self.challenge(StatusCode::FORBIDDEN, "insufficient_scope", &needed);
        }
        next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
    }
}

async fn resource_metadata(State(oauth): State<Oauth>) -> Json<Value> {
    let origin = oauth.origin();
    // Only the base scope is advertised: the call scope is learnt from a 403 (step-up).
    Json(
        json!({"resource": format!("{origin}/mcp"), "authorization_servers": [origin], "scopes_supported": [oauth.settings.scope]}),
    )
}

async fn server_metadata(State(oauth): State<Oauth>) -> Json<Value> {
    let origin = oauth.origin();
    Json(json!({
        "issuer": origin,
        "authorization_endpoint": format!("{origin}/authorize"),
        "token_endpoint": format!("{origin}/token"),
        "registration_endpoint": format!("{origin}/register"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
    }))
}

async fn register(State(oauth): State<Oauth>, Json(body): Json<Value>) -> Json<Value> {
    let mut books = oauth.books();
    let id = books.token("client");
    books.clients.insert(id.clone());
    Json(json!({
        "client_id": id,
        "redirect_uris": body.get("redirect_uris").cloned().unwrap_or_default(),
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
    }))
}

#[derive(Debug, Deserialize)]
struct AuthorizeParams {
    client_id: String,
    redirect_uri: String,
    state: String,
    code_challenge: String,
    code_challenge_method: String,
    #[serde(default)]
    scope: String,
}

async fn authorize(State(oauth): State<Oauth>, Query(params): Query<AuthorizeParams>) -> Response {
    if params.code_challenge_method != "S256" {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let mut books = oauth.books();
    if !books.clients.contains(&params.client_id) {
        return (StatusCode::BAD_REQUEST, "unknown client").into_response();
    }
    books.authorizations += 1;
    books.requested_scopes.push(params.scope.clone());
    let code = books.token("code");
    books.codes.insert(
        code.clone(),
        Code {
            client_id: params.client_id,
            challenge: params.code_challenge,
            scope: params.scope,
            redirect_uri: params.redirect_uri.clone(),
        },
    );
    let separator = if params.redirect_uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{}{separator}code={code}&state={}", params.redirect_uri, params.state)).into_response()
}

fn issue(books: &mut Books, scope: &str, ttl: u64, refresh: bool) -> Value {
    let access = books.token("at");
    let scopes: HashSet<String> = scope.split_whitespace().map(str::to_owned).collect();
    books.access.insert(access.clone(), (scopes, Instant::now() + Duration::from_secs(ttl)));
    let mut answer = json!({"access_token": access, "token_type": "Bearer", "expires_in": ttl, "scope": scope});
    if refresh {
        let token = books.token("rt");
        books.refresh.insert(token.clone(), scope.to_owned());
        answer["refresh_token"] = json!(token);
    }
    answer
}

fn error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": code}))).into_response()
}

async fn token(State(oauth): State<Oauth>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let ttl = oauth.settings.token_ttl;
    let mut books = oauth.books();
    match field("grant_type").as_str() {
        "authorization_code" => {
            let Some(code) = books.codes.remove(&field("code")) else { return error("invalid_grant") };
            let verifier = field("code_verifier");
            if base64url(&Sha256::digest(verifier.as_bytes())) != code.challenge
                || field("redirect_uri") != code.redirect_uri
                || field("client_id") != code.client_id
            {
                return error("invalid_grant");
            }
            books.code_grants += 1;
            Json(issue(&mut books, &code.scope, ttl, true)).into_response()
        }
        "refresh_token" => {
            let Some(scope) = books.refresh.remove(&field("refresh_token")) else { return error("invalid_grant") };
            books.refresh_grants += 1;
            Json(issue(&mut books, &scope, ttl, true)).into_response()
        }
        "client_credentials" => {
            let basic = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .map(|b| b.to_owned());
            let given = match basic {
                Some(_) => None,
                None => Some((field("client_id"), field("client_secret"))),
            };
            let accepted = match (&oauth.settings.client, given) {
                (Some(client), Some(given)) => *client == given,
                // Basic credentials are base64 of `id:secret`.
                (Some((id, secret)), None) => headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v == format!("Basic {}", base64_standard(format!("{id}:{secret}").as_bytes()))),
                (None, _) => false,
            };
            if !accepted {
                return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
            }
            books.client_credentials_grants += 1;
            let scope = field("scope");
            let scope = if scope.is_empty() { oauth.settings.scope.clone() } else { scope };
            Json(issue(&mut books, &scope, ttl, false)).into_response()
        }
        _ => error("unsupported_grant_type"),
    }
}

fn base64_standard(bytes: &[u8]) -> String {
    let url = base64url(bytes).replace('-', "+").replace('_', "/");
    let padding = (4 - url.len() % 4) % 4;
    url + &"=".repeat(padding)
}

/// RFC 7662: whether a token is active, and its scope.
async fn introspect(State(oauth): State<Oauth>, Form(form): Form<HashMap<String, String>>) -> Json<Value> {
    let mut books = oauth.books();
    books.introspections += 1;
    let token = form.get("token").cloned().unwrap_or_default();
    match books.access.get(&token).filter(|(_, expires)| *expires > Instant::now()) {
        Some((scopes, _)) => {
            let scope = scopes.iter().cloned().collect::<Vec<_>>().join(" ");
            Json(json!({"active": true, "scope": scope, "token_type": "Bearer"}))
        }
        None => Json(json!({"active": false})),
    }
}

async fn stats(State(oauth): State<Oauth>) -> Json<Value> {
    let books = oauth.books();
    Json(json!({
        "authorizations": books.authorizations,
        "code_grants": books.code_grants,
        "refresh_grants": books.refresh_grants,
        "client_credentials_grants": books.client_credentials_grants,
        "rejected": books.rejected,
        "introspections": books.introspections,
        "requested_scopes": books.requested_scopes,
        "issued": books.issued,
    }))
}

async fn revoke(State(oauth): State<Oauth>) -> StatusCode {
    oauth.books().access.clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64url_matches_rfc_4648() {
        assert_eq!(super::base64url(b""), "");
        assert_eq!(super::base64url(b"f"), "Zg");
        assert_eq!(super::base64url(b"fo"), "Zm8");
        assert_eq!(super::base64url(b"foo"), "Zm9v");
        assert_eq!(super::base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(super::base64_standard(b"fo"), "Zm8=");
    }
}
