//! Sending a request with retries: exponential backoff with jitter on 429, 5xx, connection
//! errors and timeouts, honouring `Retry-After`; clear errors for 401/403/404.

use std::time::Duration;

use serde_json::Value;

use crate::error::ProviderError;

/// One HTTP client for every provider of the process: its TLS roots are loaded once (tens of
/// milliseconds from disk) and its connections are kept alive across executions. Timeouts are
/// per request, so sharing it changes no behaviour.
pub(crate) fn shared_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new).clone()
}

/// Retry settings.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 3).
    pub max_retries: u32,
    /// First delay (default 500 ms).
    pub base_delay: Duration,
    /// Longest delay, also the cap on `Retry-After` (default 30 s).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 3, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(30) }
    }
}

/// What identifies the endpoint in errors.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) provider: &'static str,
    pub(crate) key_variable: &'static str,
    pub(crate) url: String,
    pub(crate) model: String,
    /// The API key, so that an error body quoting it back is scrubbed.
    pub(crate) key: Option<secrecy::SecretString>,
}

/// `text` with the API key replaced.
fn scrub(text: String, key: Option<&secrecy::SecretString>) -> String {
    use secrecy::ExposeSecret;
    match key.map(ExposeSecret::expose_secret) {
        Some(key) if key.len() >= 6 && text.contains(key) => text.replace(key, "[redacted]"),
        _ => text,
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .or_else(|| v.get("message").and_then(Value::as_str))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.chars().take(500).collect())
}

/// Sends `build()` until it succeeds or the policy gives up; returns a 2xx response.
pub(crate) async fn send(
    endpoint: &Endpoint,
    retry: &RetryPolicy,
    timeout: Duration,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, ProviderError> {
    let mut attempt = 0u32;
    let mut delays = {
        use backon::BackoffBuilder;
        // Exponential with jitter, so that many clients retrying do not line up.
        backon::ExponentialBuilder::default()
            .with_min_delay(retry.base_delay)
            .with_max_delay(retry.max_delay)
            .with_jitter()
            .without_max_times()
            .build()
    };
    loop {
        let error = match build().timeout(timeout).send().await {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => {
                let status = response.status().as_u16();
                let after = retry_after(response.headers());
                let body = response.text().await.unwrap_or_default();
                match status {
                    401 | 403 => ProviderError::Auth {
                        provider: endpoint.provider.into(),
                        url: endpoint.url.clone(),
                        variable: endpoint.key_variable.into(),
                    },
                    404 => ProviderError::ModelNotFound { model: endpoint.model.clone(), url: endpoint.url.clone() },
                    429 => ProviderError::RateLimited { url: endpoint.url.clone(), retry_after: after },
                    _ => ProviderError::Status {
                        url: endpoint.url.clone(),
                        status,
                        message: scrub(error_message(&body), endpoint.key.as_ref()),
                    },
                }
            }
            Err(error) if error.is_timeout() => ProviderError::Timeout { url: endpoint.url.clone(), after: timeout },
            Err(error) => ProviderError::Connection {
                url: endpoint.url.clone(),
                message: scrub(error.to_string(), endpoint.key.as_ref()),
            },
        };
        if !error.is_retryable() || attempt >= retry.max_retries {
            return Err(error);
        }
        let backoff = delays.next().unwrap_or(retry.max_delay);
        let delay = match &error {
            ProviderError::RateLimited { retry_after: Some(after), .. } => (*after).min(retry.max_delay),
            _ => backoff,
        };
        tracing::warn!(url = %endpoint.url, error = %error, delay_ms = delay.as_millis() as u64, attempt, "model call failed; retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}
