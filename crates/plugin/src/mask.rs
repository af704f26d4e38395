//! The execution context as a plugin sees it: the `RuntimeExecutionContext` under the seed's
//! names, with the secrets of `mcp_servers` and `skills` masked.
//!
//! A plugin reaches tools through toolbridge's endpoint, never by starting the servers itself,
//! so it needs their shape, not their credentials. Every value of an `env` or `headers` object
//! (at any depth, so wrapped `mcpServers`/`servers` forms are covered) becomes `[redacted]`
//! unless it is a bare variable reference (`${VAR}`, `${env:VAR}`, `{{VAR}}`), which names a
//! secret without holding it. A `${VAR:-default}` is masked: its default may be the secret.

use serde_json::{Map, Value};
use toolbridge_runtime::RuntimeExecutionContext;

/// What masked values become.
pub(crate) const REDACTED: &str = "[redacted]";

/// The context to send in `execute`.
pub(crate) fn plugin_context(context: &RuntimeExecutionContext) -> Result<Value, serde_json::Error> {
    let mut value = serde_json::to_value(context)?;
    if let Some(object) = value.as_object_mut() {
        for key in ["mcp_servers", "skills"] {
            if let Some(section) = object.get_mut(key) {
                mask(section);
            }
        }
    }
    Ok(value)
}

fn mask(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                match child {
                    Value::Object(secrets) if key == "env" || key == "headers" => mask_values(secrets),
                    other => mask(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

fn mask_values(secrets: &mut Map<String, Value>) {
    for value in secrets.values_mut() {
        if !value.as_str().is_some_and(is_reference) {
            *value = Value::String(REDACTED.to_owned());
        }
    }
}

/// `${VAR}`, `${env:VAR}` or `{{VAR}}`, nothing else around it.
fn is_reference(text: &str) -> bool {
    let name = if let Some(inner) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) {
        inner.strip_prefix("env:").unwrap_or(inner)
    } else if let Some(inner) = text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) {
        inner.trim()
    } else {
        return false;
    };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_references_kept() {
        let mut context = RuntimeExecutionContext::with_id("e1", "hi");
        context.mcp_servers = serde_json::from_value(json!({
            "github": {"command": "gh-mcp", "env": {"TOKEN": "ghp_secret", "REF": "${GITHUB_TOKEN}", "N": "3"}},
            "api": {"url": "http://x", "headers": {
                "Authorization": "Bearer abc", "X-Ref": "{{API_KEY}}", "X-Env": "${env:K}", "X-Def": "${K:-sk-1}"
            }}
        }))
        .unwrap();
        context.skills = serde_json::from_value(json!([
            {"name": "sh", "type": "shell", "configuration": {"timeout": 5}}
        ]))
        .unwrap();
        let value = plugin_context(&context).unwrap();
        let github = &value["mcp_servers"]["github"];
        assert_eq!(github["command"], "gh-mcp");
        assert_eq!(github["env"], json!({"TOKEN": REDACTED, "REF": "${GITHUB_TOKEN}", "N": REDACTED}));
        let headers = &value["mcp_servers"]["api"]["headers"];
        assert_eq!(
            headers,
            &json!({"Authorization": REDACTED, "X-Ref": "{{API_KEY}}", "X-Env": "${env:K}", "X-Def": REDACTED})
        );
        assert_eq!(value["skills"][0]["name"], "sh", "skills hold no secrets and pass through");
        assert_eq!(value["prompt"], "hi");
        assert_eq!(value["environment"], "production");
    }

    #[test]
    fn references_are_recognised_exactly() {
        for yes in ["${A}", "${env:A_1}", "{{ A }}", "${_x}"] {
            assert!(is_reference(yes), "{yes}");
        }
        for no in ["Bearer ${A}", "${A:-x}", "${1A}", "${}", "{{A}", "plain", "${A}${B}"] {
            assert!(!is_reference(no), "{no}");
        }
    }
}
