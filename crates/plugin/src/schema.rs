//! Validation of a `runtime_config` against the JSON Schema a plugin published in
//! `initialize`: compiled once per plugin process, errors naming the field as the runtime
//! crate's typed configs do (`runtime_config.greeting: …`), including the field a `required`
//! rule found missing.

use std::fmt;
use std::sync::Arc;

use jsonschema::error::ValidationErrorKind;
use serde_json::{Value, json};
use toolbridge_runtime::{ConfigError, FieldError};

/// A compiled `config_schema`.
#[derive(Clone)]
pub(crate) struct ConfigSchema {
    schema: Value,
    validator: Option<Arc<jsonschema::Validator>>,
}

impl fmt::Debug for ConfigSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigSchema").field("schema", &self.schema).finish_non_exhaustive()
    }
}

impl ConfigSchema {
    /// Compiles a published schema; none (`null`) accepts any object.
    pub(crate) fn compile(schema: Option<Value>) -> Result<Self, String> {
        match schema {
            None | Some(Value::Null) => Ok(Self { schema: json!({"type": "object"}), validator: None }),
            Some(schema) => {
                let validator = jsonschema::validator_for(&schema).map_err(|error| error.to_string())?;
                Ok(Self { schema, validator: Some(Arc::new(validator)) })
            }
        }
    }

    /// The schema, as published in `runtime_info_all` (`{"type": "object"}` when the plugin
    /// published none).
    pub(crate) fn schema(&self) -> &Value {
        &self.schema
    }

    /// Checks a `runtime_config`; absent (or `null`) is checked as `{}`.
    pub(crate) fn check(&self, config: Option<&Value>) -> Result<(), ConfigError> {
        let empty = Value::Object(serde_json::Map::new());
        let config = match config {
            None | Some(Value::Null) => &empty,
            Some(config) => config,
        };
        if !config.is_object() {
            return Err(ConfigError {
                errors: vec![FieldError {
                    field: String::new(),
                    message: format!("expected a JSON object, got {config}"),
                }],
            });
        }
        let Some(validator) = &self.validator else { return Ok(()) };
        let errors: Vec<FieldError> = validator
            .iter_errors(config)
            .map(|error| {
                let mut field = pointer_to_field(&error.instance_path().to_string());
                if let ValidationErrorKind::Required { property } = error.kind() {
                    let name = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
                    if !field.is_empty() {
                        field.push('.');
                    }
                    field.push_str(&name);
                    return FieldError { field, message: "is required".to_owned() };
                }
                FieldError { field, message: error.to_string() }
            })
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(ConfigError { errors }) }
    }
}

/// `"field: message"` (the protocol's `validate_config` error form) → a [`FieldError`].
pub(crate) fn field_error(text: &str) -> FieldError {
    match text.split_once(": ") {
        Some((field, message)) if !field.is_empty() && !field.contains(' ') => {
            let field = field.strip_prefix("runtime_config.").unwrap_or(field);
            FieldError { field: field.to_owned(), message: message.to_owned() }
        }
        _ => FieldError { field: String::new(), message: text.to_owned() },
    }
}

/// `/a/0/b` → `a[0].b`.
fn pointer_to_field(pointer: &str) -> String {
    let mut field = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
            field.push('[');
            field.push_str(&segment);
            field.push(']');
        } else {
            if !field.is_empty() {
                field.push('.');
            }
            field.push_str(&segment);
        }
    }
    field
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> ConfigSchema {
        ConfigSchema::compile(Some(json!({
            "type": "object",
            "properties": {
                "greeting": {"type": "string"},
                "nested": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
                "list": {"type": "array", "items": {"type": "integer"}}
            },
            "required": ["greeting"],
            "additionalProperties": false
        })))
        .unwrap()
    }

    #[test]
    fn errors_name_the_field() {
        let schema = schema();
        let error = schema.check(None).unwrap_err();
        assert_eq!(error.to_string(), "invalid runtime_config.greeting: is required");
        let error = schema.check(Some(&json!({"greeting": 3}))).unwrap_err();
        assert!(error.to_string().starts_with("invalid runtime_config.greeting: 3 is not of type"), "{error}");
        let error = schema.check(Some(&json!({"greeting": "hi", "nested": {}}))).unwrap_err();
        assert_eq!(error.errors[0].field, "nested.n");
        let error = schema.check(Some(&json!({"greeting": "hi", "list": [1, "x"]}))).unwrap_err();
        assert_eq!(error.errors[0].field, "list[1]");
        let error = schema.check(Some(&json!({"greeting": "hi", "extra": 1}))).unwrap_err();
        assert!(error.to_string().contains("extra"), "{error}");
        let error = schema.check(Some(&json!("text"))).unwrap_err();
        assert!(error.to_string().contains("expected a JSON object"), "{error}");
        schema.check(Some(&json!({"greeting": "hi"}))).unwrap();
    }

    #[test]
    fn no_schema_accepts_any_object() {
        let schema = ConfigSchema::compile(None).unwrap();
        schema.check(Some(&json!({"anything": 1}))).unwrap();
        assert_eq!(schema.schema(), &json!({"type": "object"}));
        assert!(ConfigSchema::compile(Some(json!({"type": "no-such-type"}))).is_err());
    }

    #[test]
    fn plugin_errors_keep_their_field() {
        assert_eq!(field_error("greeting: must not be empty").field, "greeting");
        assert_eq!(field_error("runtime_config.a.b: bad").field, "a.b");
        let loose = field_error("the whole thing is wrong: really");
        assert_eq!((loose.field.as_str(), loose.message.as_str()), ("", "the whole thing is wrong: really"));
    }
}
