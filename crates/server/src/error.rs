//! The API's errors: one type, mapped to `{"error": {"code", "message", "field"?}}` and a
//! status in exactly one place. Messages say what was wrong and where; nothing internal (no
//! stack trace, no SQL) reaches a client — store failures are logged and answered as
//! `internal`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use toolbridge_runtime::{RegistryError, RuntimeError};
use toolbridge_store::StoreError;

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code (`not_found`, `invalid_field`, …).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The request field at fault, as a dotted path (`runtime_config.max_iterations`).
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None }
    }

    /// Names the field at fault.
    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        self.field = (!field.is_empty()).then_some(field);
        self
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 400, a query parameter or the body's syntax.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_argument", message)
    }

    /// 422, a field of a well-formed body.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message).field(field)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong bearer token")
    }

    /// 500: the cause is logged here, the client gets a generic message.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %error_chain(cause), "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server's log")
    }

    /// 503.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { error: Inner { code: self.code, message: &self.message, field: self.field.as_deref() } };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AgentExists(name) => {
                Self::conflict(format!("an agent named {name:?} already exists")).field("name")
            }
            StoreError::Ambiguous { prefix, .. } => {
                Self::bad_request(format!("execution id prefix {prefix:?} matches several executions; give more of it"))
            }
            other => Self::internal(&other),
        }
    }
}

/// A runtime's refusal of an agent or a `runtime_config`: 422 naming the field (`runtime` for
/// an unknown runtime, `runtime_config.<path>` for its config).
impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        let message = error.to_string();
        match &error {
            RegistryError::Unknown { .. } => Self::invalid("runtime", message),
            RegistryError::Config { source, .. }
            | RegistryError::Invalid { source: RuntimeError::Config(source), .. } => {
                let field = source.fields().next().unwrap_or_default();
                let field =
                    if field.is_empty() { "runtime_config".to_owned() } else { format!("runtime_config.{field}") };
                Self::invalid(field, message)
            }
            RegistryError::Invalid { .. } => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_agent", message),
            _ => Self::internal(&error),
        }
    }
}

/// A JSON body that does not fit its type: 400 when it is not JSON at all, else 422 naming
/// the field (`conversation_history[0].role`, or the missing one).
pub(crate) fn body_error(error: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = error.inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("request body is not valid JSON: {inner}"),
        );
    }
    let path = error.path().to_string();
    let mut field = if path == "." { String::new() } else { path };
    let text = inner.to_string();
    // serde reports a missing field at its parent: name the field itself.
    if let Some(missing) = text.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
        field = if field.is_empty() { missing.to_owned() } else { format!("{field}.{missing}") };
    }
    if let Some(unknown) = text.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next())
        && !field.ends_with(unknown)
    {
        field = if field.is_empty() { unknown.to_owned() } else { format!("{field}.{unknown}") };
    }
    let message = strip_position(&text);
    let message = if field.is_empty() { message } else { format!("{field}: {message}") };
    ApiError::invalid(field, message)
}

/// serde_json's ` at line 1 column 42` means nothing to a client that sent one line.
fn strip_position(text: &str) -> String {
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Request {
        agent: String,
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Nested {
        roles: Vec<String>,
    }

    fn parse(text: &str) -> ApiError {
        let mut de = serde_json::Deserializer::from_str(text);
        body_error(&serde_path_to_error::deserialize::<_, Request>(&mut de).unwrap_err())
    }

    #[test]
    fn body_errors_name_their_field() {
        assert_eq!(parse("{").status, StatusCode::BAD_REQUEST);
        assert_eq!(parse("{}").field.as_deref(), Some("agent"));
        assert_eq!(parse(r#"{"agent": 1}"#).field.as_deref(), Some("agent"));
        assert_eq!(parse(r#"{"agent": "a", "x": 1}"#).field.as_deref(), Some("x"));
        let nested = parse(r#"{"agent": "a", "nested": {"roles": [1]}}"#);
        assert_eq!(nested.field.as_deref(), Some("nested.roles[0]"));
        assert_eq!(nested.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!nested.message.contains("line 1"), "{}", nested.message);
        assert_eq!(parse(r#"{"agent": "a", "nested": {}}"#).field.as_deref(), Some("nested.roles"));
    }
}
