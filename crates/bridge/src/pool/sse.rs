//! The legacy HTTP+SSE client transport (MCP protocol version 2024-11-05), which many deployed
//! servers still speak: a `GET` opens an event stream whose first `endpoint` event names the
//! URL the client `POST`s its messages to; the server's messages come back as `message` events
//! on the stream.
//!
//! rmcp 3.11 has no client for it, so it is written here on rmcp's [`Transport`] trait: the
//! messages are rmcp's own types, this module only moves them. A streamable-HTTP server that
//! answers like an SSE server falls back to it (see [`is_legacy_answer`]), as the spec's
//! backwards-compatibility section describes.

use std::borrow::Cow;
use std::pin::Pin;

use futures::{Stream, StreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use rmcp::RoleClient;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use sse_stream::{Sse, SseStream};

type Events = Pin<Box<dyn Stream<Item = Result<Sse, sse_stream::Error>> + Send>>;

/// Why the SSE transport failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SseError {
    /// The request did not get an answer.
    #[error("{method} {url}: {source}")]
    Request {
        /// `GET` or `POST`.
        method: &'static str,
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// An error status.
    #[error("{method} {url} answered HTTP {status}{body}")]
    Status {
        /// `GET` or `POST`.
        method: &'static str,
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// `: ` and the start of the body, or nothing.
        body: String,
    },
    /// The `GET` did not answer with an event stream.
    #[error("GET {url} answered {content_type:?}, not an event stream: is this an SSE server?")]
    NotEventStream {
        /// The URL.
        url: String,
        /// What it answered.
        content_type: String,
    },
    /// The stream ended (or broke) before the `endpoint` event.
    #[error("the event stream of {url} ended before its `endpoint` event")]
    NoEndpoint {
        /// The URL.
        url: String,
    },
    /// The `endpoint` event is not a URL on the same server.
    #[error("the `endpoint` event of {url} names {endpoint:?}, not a URL on the same server")]
    BadEndpoint {
        /// The URL.
        url: String,
        /// What the event said.
        endpoint: String,
    },
    /// A message could not be encoded.
    #[error("cannot encode the message: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A connected legacy SSE session: the event stream, and where to post.
pub(crate) struct SseClientTransport {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    events: Option<Events>,
}

impl std::fmt::Debug for SseClientTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseClientTransport").field("endpoint", &self.endpoint.as_str()).finish_non_exhaustive()
    }
}

impl SseClientTransport {
    /// Opens the event stream at `url` and waits for its `endpoint` event.
    pub(crate) async fn connect(client: reqwest::Client, url: &str) -> Result<Self, SseError> {
        let base = reqwest::Url::parse(url)
            .map_err(|_| SseError::BadEndpoint { url: url.to_owned(), endpoint: url.to_owned() })?;
        let response = client
            .get(base.clone())
            .header(ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|source| SseError::Request { method: "GET", url: url.to_owned(), source })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(SseError::Status {
                method: "GET",
                url: url.to_owned(),
                status: status.as_u16(),
                body: excerpt(&body),
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        if !content_type.starts_with("text/event-stream") {
            return Err(SseError::NotEventStream { url: url.to_owned(), content_type });
        }
        let mut events: Events = Box::pin(SseStream::from_bytes_stream(response.bytes_stream()));
        let endpoint = loop {
            match events.next().await {
                Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                    break event.data.unwrap_or_default();
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(SseError::NoEndpoint { url: url.to_owned() }),
            }
        };
        let bad = || SseError::BadEndpoint { url: url.to_owned(), endpoint: endpoint.clone() };
        let endpoint_url = base.join(endpoint.trim()).map_err(|_| bad())?;
        // Messages carry the session's credentials: they go to the server we were given.
        if endpoint_url.origin() != base.origin() {
            return Err(bad());
        }
        Ok(Self { client, endpoint: endpoint_url, events: Some(events) })
    }
}

impl Transport<RoleClient> for SseClientTransport {
    type Error = SseError;

    fn name() -> Cow<'static, str> {
        "sse".into()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), SseError>> + Send + 'static {
        let client = self.client.clone();
        let endpoint = self.endpoint.clone();
        async move {
            let body = serde_json::to_vec(&item)?;
            let url = endpoint.to_string();
            let response = client
                .post(endpoint)
                .header(CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(|source| SseError::Request { method: "POST", url: url.clone(), source })?;
            let status = response.status();
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                return Err(SseError::Status { method: "POST", url, status: status.as_u16(), body: excerpt(&body) });
            }
            Ok(())
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let events = self.events.as_mut()?;
        loop {
            match events.next().await? {
                Ok(event) if matches!(event.event.as_deref(), None | Some("message")) => {
                    let Some(data) = event.data else { continue };
                    match serde_json::from_str(&data) {
                        Ok(message) => return Some(message),
                        Err(error) => tracing::debug!(%error, "ignoring an SSE message that is not JSON-RPC"),
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(%error, endpoint = %self.endpoint, "SSE stream broke");
                    return None;
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), SseError> {
        self.events = None;
        Ok(())
    }
}

/// `: ` and the first 200 characters of a body, or nothing.
fn excerpt(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() { String::new() } else { format!(": {}", body.chars().take(200).collect::<String>()) }
}

/// Whether a failed streamable-HTTP initialize got a 4xx answer (405 or 404 from a server
/// that speaks only the legacy transport): the spec's cue to try `GET` for an event stream.
pub(crate) fn is_legacy_answer(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(http) = error.downcast_ref::<reqwest::Error>() {
            return http.status().is_some_and(|s| s.is_client_error());
        }
        current = error.source();
    }
    // rmcp turns most statuses into text (`unexpected server response: HTTP 405 Method Not
    // Allowed`).
    let text = error.to_string();
    text.contains("HTTP status client error (4")
        || text.match_indices("HTTP 4").any(|(at, _)| {
            let digits = &text.as_bytes()[at + "HTTP 4".len()..];
            digits.len() >= 2 && digits[..2].iter().all(u8::is_ascii_digit)
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn legacy_answers_are_4xx() {
        let err = |text: &str| std::io::Error::other(text.to_owned());
        assert!(super::is_legacy_answer(&err("unexpected server response: HTTP 405 Method Not Allowed: ")));
        assert!(super::is_legacy_answer(&err("HTTP status client error (404 Not Found) for url (http://x/)")));
        assert!(!super::is_legacy_answer(&err("unexpected server response: HTTP 500")));
        assert!(!super::is_legacy_answer(&err("HTTP 4")));
    }
}
