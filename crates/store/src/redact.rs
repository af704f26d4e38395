//! Keeping secrets out of stored execution records.
//!
//! Redacted: every `env` value and every `headers` value of MCP server configurations (any of
//! the three shapes), the value of any key whose name looks secret (`api_key`, `token`,
//! `secret`, `password`, `authorization`, also as a suffix such as `OPENAI_API_KEY`), and any
//! literal occurrence of the process's `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` values inside
//! strings (tool outputs, errors).

use serde_json::Value;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

const SECRET_WORDS: &[&str] =
    &["api_key", "apikey", "api-key", "token", "secret", "password", "passwd", "authorization"];

fn secret_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    // A suffix match: `OPENAI_API_KEY`, `access_token`, but not `max_tokens`.
    SECRET_WORDS.iter().any(|word| lower.ends_with(word))
}

/// Redacts a JSON document in place. `literals` are secret values to remove from strings.
pub fn redact(value: &mut Value, literals: &[String]) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if (key == "env" || key == "headers")
                    && let Value::Object(entries) = child
                {
                    for entry in entries.values_mut() {
                        *entry = Value::String(REDACTED.into());
                    }
                    continue;
                }
                if secret_key(key) && (child.is_string() || child.is_number()) {
                    *child = Value::String(REDACTED.into());
                    continue;
                }
                redact(child, literals);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, literals)),
        Value::String(text) => {
            for literal in literals {
                if text.contains(literal.as_str()) {
                    *text = text.replace(literal.as_str(), REDACTED);
                }
            }
        }
        _ => {}
    }
}

/// The `env` and `headers` values of MCP server configurations in `value` (6 characters or
/// more; for `Scheme value` headers the value alone too), to scrub from text.
pub fn config_secrets(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_config_secrets(value, &mut found);
    found.sort();
    found.dedup();
    // Longest first, so a value containing another is replaced whole.
    found.sort_by_key(|s| std::cmp::Reverse(s.len()));
    found
}

fn collect_config_secrets(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("env" | "headers", Value::Object(entries)) => {
                        for entry in entries.values().filter_map(Value::as_str) {
                            found.push(entry.to_owned());
                            if let Some((_, rest)) = entry.split_once(' ') {
                                found.push(rest.trim().to_owned());
                            }
                        }
                    }
                    _ => collect_config_secrets(child, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_config_secrets(item, found)),
        _ => {}
    }
    found.retain(|s| s.len() >= 6);
}

/// The secret values of the process environment worth scrubbing from text.
pub fn environment_secrets() -> Vec<String> {
    ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "TOOLBRIDGE_SERVE_TOKEN"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .filter(|value| value.len() >= 8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_secrets_are_found_in_every_shape() {
        let servers = json!({
            "a": {"command": "c", "env": {"TOKEN": "s3cret-value", "N": "1"}},
            "mcpServers": {"b": {"url": "http://h", "headers": {"Authorization": "Bearer abc123xyz"}}}
        });
        assert_eq!(config_secrets(&servers), ["Bearer abc123xyz", "s3cret-value", "abc123xyz"]);
    }

    #[test]
    fn redacts_env_headers_secret_keys_and_literals() {
        let mut value = json!({
            "mcp_servers": {"mcpServers": {"x": {"command": "c", "env": {"TOKEN": "s3cret-value", "PLAIN": "also hidden"}}},
                            "y": {"url": "http://h", "headers": {"Authorization": "Bearer abc123xyz"}}},
            "runtime_config": {"openai_api_key": "sk-1234567890", "max_iterations": 3, "max_tokens": 5},
            "output": "the key is sk-live-abcdefgh, see"
        });
        redact(&mut value, &["sk-live-abcdefgh".to_owned()]);
        let text = value.to_string();
        for secret in ["s3cret-value", "also hidden", "abc123xyz", "sk-1234567890", "sk-live-abcdefgh"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(value["runtime_config"]["max_iterations"], 3);
        assert_eq!(value["runtime_config"]["max_tokens"], 5);
        assert_eq!(value["mcp_servers"]["mcpServers"]["x"]["command"], "c");
    }
}
