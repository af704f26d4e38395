//! VS Code's `inputs` and `${input:ID}`: values a configuration asks the user for instead of
//! writing them down (an API key).
//!
//! A configuration file declares them next to its servers:
//! `"inputs": [{"type": "promptString", "id": "api-key", "description": "API key", "password": true}]`,
//! and a server uses one as `${input:api-key}`. Whoever runs the configuration supplies the
//! value: from the environment variable `TOOLBRIDGE_INPUT_<ID>` (the id upper-cased, other
//! characters than letters and digits as `_`: `TOOLBRIDGE_INPUT_API_KEY`), or — a terminal
//! program asking the user once — through [`provide_input`]. [`crate::ProcessEnv`] looks in
//! both. A value given this way is a secret like any value substituted from the environment.
//!
//! The values a program was given live in one process-wide table, as environment variables
//! do: the process environment cannot be written safely once threads run, and every runtime
//! resolving a configuration in this process must see the value the user typed.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ConfigError, from_value};

/// The prefix of the environment variables that give inputs.
pub const INPUT_ENV_PREFIX: &str = "TOOLBRIDGE_INPUT_";

/// One declared input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    /// `promptString` or `pickString`.
    #[serde(rename = "type", default = "prompt_string")]
    pub kind: String,
    /// What `${input:ID}` names.
    pub id: String,
    /// What to ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Hide what is typed.
    #[serde(default)]
    pub password: bool,
    /// The value when the user gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The choices of a `pickString`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

fn prompt_string() -> String {
    "promptString".to_owned()
}

impl InputSpec {
    /// An input known only by the id a server refers to (a stored agent keeps no `inputs`):
    /// asked for as a password.
    pub fn unnamed(id: &str) -> Self {
        Self {
            kind: prompt_string(),
            id: id.to_owned(),
            description: None,
            password: true,
            default: None,
            options: Vec::new(),
        }
    }
}

/// The `inputs` of a configuration document (absent: none).
pub fn parse_inputs(document: &Value, origin: &str) -> Result<Vec<InputSpec>, ConfigError> {
    match document.get("inputs") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(inputs) => from_value(inputs.clone()).map_err(|(field, message)| ConfigError::Shape {
            origin: origin.to_owned(),
            message: format!("inputs{}: {message}", if field.is_empty() { String::new() } else { format!(" {field}") }),
        }),
    }
}

/// The environment variable that gives input `id`: `TOOLBRIDGE_INPUT_` and the id upper-cased,
/// characters other than ASCII letters and digits as `_`.
pub fn input_env_var(id: &str) -> String {
    let id: String = id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("{INPUT_ENV_PREFIX}{id}")
}

static PROVIDED: RwLock<BTreeMap<String, String>> = RwLock::new(BTreeMap::new());

/// Gives input `id` its value for the rest of this process (what the user typed).
pub fn provide_input(id: &str, value: impl Into<String>) {
    PROVIDED.write().unwrap_or_else(PoisonError::into_inner).insert(id.to_owned(), value.into());
}

/// The value of input `id`: given with [`provide_input`], else from `TOOLBRIDGE_INPUT_<ID>`
/// (the exact id first, then the upper-cased one).
pub fn input_value(id: &str) -> Option<String> {
    if let Some(value) = PROVIDED.read().unwrap_or_else(PoisonError::into_inner).get(id) {
        return Some(value.clone());
    }
    std::env::var(format!("{INPUT_ENV_PREFIX}{id}")).ok().or_else(|| std::env::var(input_env_var(id)).ok())
}

/// The ids of every `${input:ID}` in `text`, in order.
pub fn input_references(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${input:") {
        let after = &rest[start + "${input:".len()..];
        let Some(end) = after.find('}') else { break };
        let id = after[..end].split(":-").next().unwrap_or_default().trim();
        if !id.is_empty() && !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
        rest = &after[end..];
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_and_references() {
        assert_eq!(input_env_var("api-key"), "TOOLBRIDGE_INPUT_API_KEY");
        assert_eq!(input_references("a ${input:x} ${HOME} ${input:y-z} ${input:x}"), ["x", "y-z"]);
        assert!(input_references("${input:").is_empty());
    }

    #[test]
    fn provided_values_win() {
        provide_input("config-unit-test-input", "typed");
        assert_eq!(input_value("config-unit-test-input").as_deref(), Some("typed"));
    }

    #[test]
    fn declared_inputs_parse() {
        let doc = serde_json::json!({"inputs": [{"type": "promptString", "id": "k", "description": "Key", "password": true}]});
        let inputs = parse_inputs(&doc, "x.json").unwrap();
        assert_eq!(inputs[0].id, "k");
        assert!(inputs[0].password);
        let err = parse_inputs(&serde_json::json!({"inputs": [{"type": "promptString"}]}), "x.json").unwrap_err();
        assert!(err.to_string().contains("x.json") && err.to_string().contains("id"), "{err}");
    }
}
