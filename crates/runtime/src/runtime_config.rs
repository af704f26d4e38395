//! Typed `runtime_config`: one struct per runtime, its JSON Schema derived with schemars, and
//! validation whose messages name the field.
//!
//! A runtime declares its config as a struct deriving `Deserialize` and `JsonSchema` (usually
//! with `#[serde(deny_unknown_fields)]`); ranges are declared with
//! `#[schemars(range(min = …, max = …))]`, required fields simply have no serde default. The
//! same schema is published by
//! [`RuntimeRegistry::runtime_info_all`](crate::RuntimeRegistry::runtime_info_all) and used to
//! validate, so the documentation cannot drift from the checks. An absent `runtime_config` is
//! validated as `{}`, as the seed does: a required field is reported missing, by name.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A typed runtime configuration.
pub trait RuntimeConfig: DeserializeOwned + JsonSchema + Send + Sync + 'static {}

impl<T> RuntimeConfig for T where T: DeserializeOwned + JsonSchema + Send + Sync + 'static {}

/// The config of a runtime that takes none: only `{}` (or nothing) is accepted.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, serde::Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// One problem in a `runtime_config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as a dotted path under `runtime_config` (empty for the object itself).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "runtime_config: {}", self.message)
        } else {
            write!(f, "runtime_config.{}: {}", self.field, self.message)
        }
    }
}

/// An invalid `runtime_config`: every problem found, each naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The problems, in document order.
    pub errors: Vec<FieldError>,
}

impl ConfigError {
    fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { errors: vec![FieldError { field: field.into(), message: message.into() }] }
    }

    /// The fields named by the errors.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.errors.iter().map(|e| e.field.as_str())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid ")?;
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// The JSON Schema of a config type, as published in `runtime_info_all`.
pub fn config_schema<C: RuntimeConfig>() -> Value {
    serde_json::to_value(schemars::schema_for!(C)).unwrap_or(Value::Null)
}

/// Validates and parses configs of one type. Compiles the schema once.
pub struct ConfigValidator<C> {
    schema: Arc<Value>,
    validator: Option<Arc<jsonschema::Validator>>,
    _config: PhantomData<fn() -> C>,
}

impl<C> Clone for ConfigValidator<C> {
    fn clone(&self) -> Self {
        Self { schema: Arc::clone(&self.schema), validator: self.validator.clone(), _config: PhantomData }
    }
}

impl<C> fmt::Debug for ConfigValidator<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigValidator").field("type", &std::any::type_name::<C>()).finish()
    }
}

impl<C: RuntimeConfig> Default for ConfigValidator<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: RuntimeConfig> ConfigValidator<C> {
    /// Derives the schema of `C` and compiles it.
    pub fn new() -> Self {
        let schema = config_schema::<C>();
        // A schema schemars produced always compiles; should it not, validation falls back to
        // serde's own checks, which still name unknown fields and wrong types.
        let validator = jsonschema::validator_for(&schema).ok().map(Arc::new);
        Self { schema: Arc::new(schema), validator, _config: PhantomData }
    }

    /// The config's JSON Schema.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Validates `value` and parses it. Absent or `null` is validated as `{}`.
    pub fn parse(&self, value: Option<&Value>) -> Result<C, ConfigError> {
        let empty = Value::Object(serde_json::Map::new());
        let value = match value {
            None | Some(Value::Null) => &empty,
            Some(value) => value,
        };
        if !value.is_object() {
            return Err(ConfigError::single("", format!("expected a JSON object, got {value}")));
        }
        if let Some(validator) = &self.validator {
            let errors: Vec<FieldError> = validator
                .iter_errors(value)
                .map(|error| FieldError {
                    field: pointer_to_field(&error.instance_path().to_string()),
                    message: error.to_string(),
                })
                .collect();
            if !errors.is_empty() {
                return Err(ConfigError { errors });
            }
        }
        serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            ConfigError::single(if path == "." { String::new() } else { path }, error.into_inner().to_string())
        })
    }
}

/// `/a/0/b` → `a[0].b`.
fn pointer_to_field(pointer: &str) -> String {
    let mut field = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty() {
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

/// Validates and parses a `runtime_config` of type `C` (compiles the schema each call; keep a
/// [`ConfigValidator`] where it runs often).
pub fn parse_runtime_config<C: RuntimeConfig>(value: Option<&Value>) -> Result<C, ConfigError> {
    ConfigValidator::<C>::new().parse(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Default, serde::Deserialize, JsonSchema, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct LoopConfig {
        /// Iterations.
        #[schemars(range(min = 1, max = 100))]
        max_iterations: Option<u32>,
        /// Temperature.
        #[schemars(range(min = 0.0, max = 2.0))]
        temperature: Option<f64>,
        /// Nested.
        nested: Option<Nested>,
    }

    #[derive(Debug, Default, serde::Deserialize, JsonSchema, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Nested {
        depth: u8,
    }

    #[test]
    fn absent_config_is_validated_as_an_empty_object() {
        assert_eq!(parse_runtime_config::<LoopConfig>(None).unwrap(), LoopConfig::default());
        assert_eq!(parse_runtime_config::<LoopConfig>(Some(&Value::Null)).unwrap(), LoopConfig::default());

        #[derive(Debug, serde::Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        struct Required {
            #[allow(dead_code)]
            required_field: String,
        }
        let err = parse_runtime_config::<Required>(None).unwrap_err();
        assert!(err.to_string().contains("required_field"), "{err}");
    }

    #[test]
    fn valid_config_parses() {
        let config = parse_runtime_config::<LoopConfig>(Some(&json!({"max_iterations": 5}))).unwrap();
        assert_eq!(config.max_iterations, Some(5));
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse_runtime_config::<LoopConfig>(Some(&json!({"max_iterations": 0}))).unwrap_err();
        assert_eq!(err.errors[0].field, "max_iterations");
        assert!(err.to_string().contains("runtime_config.max_iterations"), "{err}");

        let err = parse_runtime_config::<LoopConfig>(Some(&json!({"temperature": "hot"}))).unwrap_err();
        assert_eq!(err.errors[0].field, "temperature");

        let err = parse_runtime_config::<LoopConfig>(Some(&json!({"nested": {"depth": "x"}}))).unwrap_err();
        assert!(err.errors[0].field.starts_with("nested"), "{err}");

        let err = parse_runtime_config::<LoopConfig>(Some(&json!({"max_iteration": 3}))).unwrap_err();
        assert!(err.to_string().contains("max_iteration"), "{err}");

        let err = parse_runtime_config::<LoopConfig>(Some(&json!([1]))).unwrap_err();
        assert!(err.to_string().contains("expected a JSON object"), "{err}");
    }

    #[test]
    fn no_config_rejects_keys() {
        assert!(parse_runtime_config::<NoConfig>(Some(&json!({}))).is_ok());
        assert!(parse_runtime_config::<NoConfig>(Some(&json!({"x": 1}))).is_err());
    }

    #[test]
    fn pointer_conversion() {
        assert_eq!(pointer_to_field(""), "");
        assert_eq!(pointer_to_field("/a/0/b"), "a[0].b");
    }
}
