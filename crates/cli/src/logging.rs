//! Logs to stderr, scrubbed of secrets.
//!
//! Every log line (ours and our dependencies': rmcp quotes servers' error bodies, which may
//! echo a credential back) passes through [`ScrubbingStderr`], which replaces the values of
//! the model API keys and of every MCP server `env`/`headers` entry the command loaded.

use std::io::Write;
use std::sync::{PoisonError, RwLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Values shorter than this are not treated as secrets (`1`, `true`).
const MIN_SECRET_LEN: usize = 6;

/// Adds values to scrub from every later log line.
pub(crate) fn register_secrets(values: impl IntoIterator<Item = String>) {
    let mut secrets = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    secrets.extend(values.into_iter().filter(|v| v.len() >= MIN_SECRET_LEN));
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
}

/// Replaces every registered secret in `text`.
pub(crate) fn scrub(text: &str) -> String {
    let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    let mut text = text.to_owned();
    for secret in secrets.iter() {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "[redacted]");
        }
    }
    text
}

/// One log event's bytes, scrubbed and written to stderr when dropped.
#[derive(Debug, Default)]
pub(crate) struct ScrubbingStderr {
    buffer: Vec<u8>,
}

impl Write for ScrubbingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbingStderr {
    fn drop(&mut self) {
        if !self.buffer.is_empty() {
            let text = scrub(&String::from_utf8_lossy(&self.buffer));
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct MakeScrubbingStderr;

impl<'a> MakeWriter<'a> for MakeScrubbingStderr {
    type Writer = ScrubbingStderr;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingStderr::default()
    }
}

/// Logs to stderr (stdout stays clean for results and JSON) at the level `-q`/`-v…` ask for,
/// unless `RUST_LOG` says otherwise; the API keys of the environment are registered as secrets.
pub(crate) fn init(verbose: u8, quiet: bool) {
    register_secrets(
        ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "TOOLBRIDGE_SERVE_TOKEN"].iter().filter_map(|n| std::env::var(n).ok()),
    );
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,toolbridge=info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeScrubbingStderr)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_scrubbed_longest_first() {
        register_secrets(["tok-123456".to_owned(), "Bearer tok-123456".to_owned(), "x".to_owned()]);
        assert_eq!(scrub("got Bearer tok-123456 and tok-123456; x"), "got [redacted] and [redacted]; x");
    }
}
