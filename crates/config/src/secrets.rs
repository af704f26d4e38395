//! Secrets: one value that knows every secret of a process and scrubs them from text.
//!
//! What counts as a secret is decided here and nowhere else:
//! - every value substituted from the environment by a `${VAR}`/`{{VAR}}` template, in any
//!   field of a server (`env`, `headers`, `url`, `args`, `command`, `cwd`);
//! - literal values whose name looks secret ([`looks_secret`]: `*KEY*`, `*TOKEN*`, `*SECRET*`,
//!   `*PASSWORD*`, `*CREDENTIAL*`, `Authorization`…) in `env`, `headers` and URL query
//!   parameters; for `Scheme value` headers (`Bearer sk-…`) the value alone too;
//! - the model providers' keys and the servers' tokens from the process environment
//!   ([`SECRET_ENV_VARS`]).
//!
//! Values shorter than [`MIN_SECRET_LEN`] are never scrubbed (`1`, `true`, a port).
//! A [`Secrets`] is built once per process (or per execution) and handed explicitly to
//! whoever must scrub: the pool (servers' stderr and errors), the logs, the store.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use secrecy::{ExposeSecret, SecretString};

/// What replaces a secret in scrubbed text.
pub const REDACTED: &str = "[redacted]";

/// The shortest value treated as a secret.
pub const MIN_SECRET_LEN: usize = 6;

/// Environment variables whose values are always secrets.
pub const SECRET_ENV_VARS: &[&str] =
    &["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "TOOLBRIDGE_SERVE_TOKEN", "TOOLBRIDGE_API_TOKEN", "TEMPORAL_API_KEY"];

/// Words that make a name secret when they are a whole word of it (`x-api-key`, `DB_PASSWORD`).
const SECRET_WORDS: &[&str] =
    &["key", "token", "secret", "password", "passwd", "pwd", "credential", "credentials", "authorization", "auth"];
/// Endings that make a word secret (`apikey`, `accesstoken`, `clientsecret`).
const SECRET_ENDINGS: &[&str] = &["apikey", "token", "secret", "password", "passwd"];

/// Whether a variable, header or parameter name looks like it holds a secret
/// (`OPENAI_API_KEY`, `x-api-key`, `Authorization`, `access_token`; not `MEMORY_FILE_PATH`,
/// `max_tokens`).
pub fn looks_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("max_") || lower.ends_with("_tokens") || lower == "tokens" {
        return false;
    }
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| SECRET_WORDS.contains(&word) || SECRET_ENDINGS.iter().any(|ending| word.ends_with(ending)))
}

/// A configuration value that may be a secret (env values, headers): never printed by `Debug`.
#[derive(Clone)]
pub struct SecretValue(SecretString);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The value, for where it is used (the child's environment, a header on the wire).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for SecretValue {}

/// The secrets of a process (or an execution), longest first. Cheap to clone; clones share
/// the set, so a value learned by one holder (a configuration resolved later) is scrubbed by
/// all.
#[derive(Clone, Default)]
pub struct Secrets {
    values: Arc<RwLock<Vec<SecretValue>>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets").field("count", &self.len()).finish()
    }
}

impl Secrets {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The secrets of the process environment ([`SECRET_ENV_VARS`]).
    pub fn from_env() -> Self {
        let secrets = Self::new();
        secrets.add_all(SECRET_ENV_VARS.iter().filter_map(|name| std::env::var(name).ok()));
        secrets
    }

    /// Adds one value (ignored when shorter than [`MIN_SECRET_LEN`]); for `Scheme value`
    /// (`Bearer sk-…`) the value alone too.
    pub fn add(&self, value: impl Into<String>) {
        self.add_all(std::iter::once(value.into()));
    }

    /// Adds several values.
    pub fn add_all(&self, values: impl IntoIterator<Item = String>) {
        let mut fresh: Vec<String> = Vec::new();
        for value in values {
            if let Some((_, rest)) = value.split_once(' ') {
                fresh.push(rest.trim().to_owned());
            }
            fresh.push(value);
        }
        fresh.retain(|v| v.len() >= MIN_SECRET_LEN);
        if fresh.is_empty() {
            return;
        }
        let mut values = self.values.write().unwrap_or_else(PoisonError::into_inner);
        for value in fresh {
            if !values.iter().any(|known| known.expose() == value) {
                values.push(SecretValue::new(value));
            }
        }
        // Longest first, so that a value containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.expose().len()));
    }

    /// Adds every secret another set knows.
    pub fn extend(&self, other: &Self) {
        if Arc::ptr_eq(&self.values, &other.values) {
            return;
        }
        let theirs: Vec<String> =
            other.values.read().unwrap_or_else(PoisonError::into_inner).iter().map(|v| v.expose().to_owned()).collect();
        self.add_all(theirs);
    }

    /// How many values are known.
    pub fn len(&self) -> usize {
        self.values.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no value is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `text` contains a known secret.
    pub fn appears_in(&self, text: &str) -> bool {
        self.values.read().unwrap_or_else(PoisonError::into_inner).iter().any(|v| text.contains(v.expose()))
    }

    /// `text` with every known secret replaced by [`REDACTED`].
    pub fn scrub(&self, text: &str) -> String {
        let values = self.values.read().unwrap_or_else(PoisonError::into_inner);
        let mut text = text.to_owned();
        for value in values.iter() {
            if text.contains(value.expose()) {
                text = text.replace(value.expose(), REDACTED);
            }
        }
        text
    }

    /// Scrubs every string of a JSON document in place.
    pub fn scrub_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) if self.appears_in(text) => *text = self.scrub(text),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|item| self.scrub_json(item)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|item| self.scrub_json(item)),
            _ => {}
        }
    }
}

/// Masks, in place, every string or number whose key looks secret ([`looks_secret`]) in a JSON
/// document (`{"api_key": "sk-…"}` → `{"api_key": "[redacted]"}`), at any depth.
pub fn mask_secret_keys(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if looks_secret(key) && (child.is_string() || child.is_number()) {
                    *child = serde_json::Value::String(REDACTED.to_owned());
                } else {
                    mask_secret_keys(child);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_secret_keys),
        _ => {}
    }
}

/// The values of the query parameters of `url` whose names look secret (`?api_key=…`).
pub(crate) fn url_query_secrets(url: &str) -> impl Iterator<Item = &str> {
    let query = url.split_once('?').map_or("", |(_, q)| q.split('#').next().unwrap_or(""));
    query.split('&').filter_map(|pair| pair.split_once('=')).filter(|(k, _)| looks_secret(k)).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for name in ["OPENAI_API_KEY", "x-api-key", "Authorization", "access_token", "GITHUB_TOKEN", "DB_PASSWORD"] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["MEMORY_FILE_PATH", "max_tokens", "HOME", "DEBUG", "monkey_business_path"] {
            assert!(!looks_secret(name), "{name}");
        }
    }

    #[test]
    fn scrubs_longest_first_and_bearer_values() {
        let secrets = Secrets::new();
        secrets.add("Bearer tok-123456");
        secrets.add("x");
        assert_eq!(secrets.scrub("got Bearer tok-123456 and tok-123456; x"), "got [redacted] and [redacted]; x");
        let clone = secrets.clone();
        clone.add("another-secret");
        assert!(secrets.appears_in("an another-secret here"));
        let mut doc = serde_json::json!({"a": ["tok-123456"], "b": {"c": "x tok-123456"}});
        secrets.scrub_json(&mut doc);
        assert_eq!(doc, serde_json::json!({"a": ["[redacted]"], "b": {"c": "x [redacted]"}}));
    }

    #[test]
    fn url_queries() {
        let found: Vec<&str> = url_query_secrets("https://h/mcp?api_key=abc123456&page=2#x").collect();
        assert_eq!(found, ["abc123456"]);
    }
}
