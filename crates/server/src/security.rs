//! What stands between the network and the handlers: the bearer token, the `Host`/`Origin`
//! check (DNS rebinding: a page on another site resolving its name to 127.0.0.1 must not
//! reach the API through a person's browser) and the header limits. Body size is limited by
//! axum's `DefaultBodyLimit` on the router.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The API's bearer token. Never printed (`Debug` shows `[redacted]`); compared in constant
/// time.
#[derive(Clone)]
pub struct ApiToken(Arc<str>);

impl ApiToken {
    /// A token; an empty (or blank) one is refused — it would be a token anyone can guess.
    pub fn new(token: &str) -> Result<Self, crate::ServerError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(crate::ServerError::EmptyToken);
        }
        Ok(Self(Arc::from(token)))
    }

    /// Whether `given` is the token (constant time in its length).
    pub fn matches(&self, given: &str) -> bool {
        bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), self.0.as_bytes()))
    }

    /// The token itself, for a client that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([redacted])")
    }
}

/// The names a loopback server answers to.
const LOOPBACK: &[&str] = &["localhost", "127.0.0.1", "[::1]", "::1"];

/// Request limits (besides the body's).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest request body, in bytes.
    pub max_body_bytes: usize,
    /// The most bytes of all header names and values together.
    pub max_header_bytes: usize,
    /// The most headers.
    pub max_headers: usize,
    /// The longest request target (path and query).
    pub max_uri_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_body_bytes: 1 << 20, max_header_bytes: 16 << 10, max_headers: 64, max_uri_bytes: 8 << 10 }
    }
}

/// What the guard checks, shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    pub(crate) token: Option<ApiToken>,
    /// Accepted `Host` names (no port), lowercase: loopback names plus the configured ones.
    hosts: Arc<[String]>,
    limits: Limits,
}

impl Guard {
    pub(crate) fn new(token: Option<ApiToken>, allowed_hosts: &[String], limits: Limits) -> Self {
        let hosts = LOOPBACK
            .iter()
            .map(|h| (*h).to_owned())
            .chain(allowed_hosts.iter().map(|h| h.trim().to_ascii_lowercase()))
            .collect();
        Self { token, hosts, limits }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = strip_port(&host);
        self.hosts.iter().any(|allowed| allowed == name || allowed == "*")
    }

    fn check_headers(&self, request: &Request) -> Result<(), ApiError> {
        let uri_len = request.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
        if uri_len > self.limits.max_uri_bytes {
            return Err(ApiError::new(StatusCode::URI_TOO_LONG, "uri_too_long", "the request target is too long"));
        }
        let headers = request.headers();
        let bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
        if headers.len() > self.limits.max_headers || bytes > self.limits.max_header_bytes {
            return Err(ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                format!(
                    "too many or too large headers (at most {} headers, {} bytes)",
                    self.limits.max_headers, self.limits.max_header_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Host and Origin: a request whose `Host` is not ours, or that a browser sends from a
    /// page of another origin, is refused before anything else.
    fn check_origin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let forbidden = |message: String| ApiError::new(StatusCode::FORBIDDEN, "forbidden_host", message);
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !self.host_allowed(host) {
            return Err(forbidden(format!(
                "Host {host:?} is not served here; start the server with --allow-host {} to accept it",
                strip_port(host)
            )));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
            if origin == "null" || !self.host_allowed(authority) {
                return Err(forbidden(format!("requests from origin {origin:?} are not accepted")));
            }
        }
        Ok(())
    }

    /// The bearer token from `Authorization`, or — on the SSE route only, where a browser's
    /// EventSource cannot send headers — from `?access_token=`.
    fn authorized(&self, request: &Request) -> bool {
        let Some(token) = &self.token else { return true };
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(given) = header {
            return token.matches(given.trim());
        }
        if request.uri().path().ends_with("/events") {
            let query = request.uri().query().unwrap_or_default();
            if let Some(given) = query.split('&').find_map(|pair| pair.strip_prefix("access_token=")) {
                return token.matches(&percent_decode(given));
            }
        }
        false
    }
}

/// `host:port` → `host` (`[::1]:80` → `[::1]`).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(inner, _)| &host[..=inner.len()]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// `%XX` decoding of a query value (tokens are usually plain, but a browser encodes some
/// characters).
fn percent_decode(text: &str) -> String {
    let hex = |byte: u8| (byte as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let escaped = (byte == b'%' && i + 2 < bytes.len())
            .then(|| Some(hex(bytes[i + 1])? * 16 + hex(bytes[i + 2])?))
            .flatten()
            .and_then(|value| u8::try_from(value).ok());
        match (byte, escaped) {
            (_, Some(value)) => {
                out.push(value);
                i += 3;
                continue;
            }
            (b'+', None) => out.push(b' '),
            (other, None) => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Limits and Host/Origin for every request.
pub(crate) async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    if let Err(error) = guard.check_headers(&request).and_then(|()| guard.check_origin(request.headers())) {
        return error.into_response();
    }
    next.run(request).await
}

/// The bearer token, for the API routes.
pub(crate) async fn require_token(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    if !guard.authorized(&request) {
        return ApiError::unauthorized().into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports() {
        assert_eq!(strip_port("localhost:8080"), "localhost");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("example.com"), "example.com");
        let guard = Guard::new(None, &["Tools.Example.com".into()], Limits::default());
        assert!(guard.host_allowed("127.0.0.1:9"));
        assert!(guard.host_allowed("tools.example.com"));
        assert!(!guard.host_allowed("evil.example:80"));
        assert!(!guard.host_allowed(""));
    }

    #[test]
    fn tokens() {
        assert!(ApiToken::new("  ").is_err());
        let token = ApiToken::new("s3cret\n").unwrap();
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert_eq!(format!("{token:?}"), "ApiToken([redacted])");
        assert_eq!(percent_decode("a%2Bb%3D+c%"), "a+b= c%");
    }
}
