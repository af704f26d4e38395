//! Argument validation against a tool's input schema, before any call.
//!
//! Messages are written for the model: they name the argument and say why, so that it can fix
//! the call (`argument "a": "two" is not of type "number"`). A schema that does not compile is
//! not enforced (a warning is logged) rather than making the tool unusable: the server still
//! validates on its side.

use std::fmt;

use serde_json::Value;

/// At most this many problems are reported per call.
pub const MAX_REPORTED_ERRORS: usize = 10;

/// A compiled input schema. Cheap to reuse; `Send + Sync`.
pub struct ArgumentValidator {
    validator: jsonschema::Validator,
}

impl fmt::Debug for ArgumentValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ArgumentValidator")
    }
}

/// A schema that does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid input schema: {0}")]
pub struct SchemaCompileError(pub String);

/// One problem with the arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentError {
    /// Where: a JSON pointer into the arguments (`/items/0/name`), empty for the object itself.
    pub path: String,
    /// Why.
    pub message: String,
}

impl fmt::Display for ArgumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            let field = self.path.trim_start_matches('/').replace('/', ".");
            write!(f, "argument {field:?}: {}", self.message)
        }
    }
}

/// Every problem found (up to [`MAX_REPORTED_ERRORS`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ArgumentErrors {
    /// The problems.
    pub errors: Vec<ArgumentError>,
}

impl fmt::Display for ArgumentErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl ArgumentValidator {
    /// Compiles a schema (no remote references are fetched).
    pub fn new(schema: &Value) -> Result<Self, SchemaCompileError> {
        jsonschema::validator_for(schema)
            .map(|validator| Self { validator })
            .map_err(|e| SchemaCompileError(e.to_string()))
    }

    /// Checks arguments. The fast path (`is_valid`) allocates nothing; errors are collected
    /// only on failure.
    pub fn validate(&self, arguments: &Value) -> Result<(), ArgumentErrors> {
        if self.validator.is_valid(arguments) {
            return Ok(());
        }
        let errors = self
            .validator
            .iter_errors(arguments)
            .take(MAX_REPORTED_ERRORS)
            .map(|error| ArgumentError { path: error.instance_path().to_string(), message: error.to_string() })
            .collect();
        Err(ArgumentErrors { errors })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validator() -> ArgumentValidator {
        ArgumentValidator::new(&json!({
            "type": "object",
            "properties": {"a": {"type": "number"}, "message": {"type": "string"}, "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}},
            "required": ["message"],
            "additionalProperties": false
        }))
        .unwrap()
    }

    #[test]
    fn valid_arguments_pass() {
        assert!(validator().validate(&json!({"message": "hi", "a": 1.5})).is_ok());
    }

    #[test]
    fn messages_name_the_argument() {
        let err = validator().validate(&json!({"message": "hi", "a": "two"})).unwrap_err();
        assert_eq!(err.to_string(), r#"argument "a": "two" is not of type "number""#);
        let err = validator().validate(&json!({})).unwrap_err();
        assert!(err.to_string().contains("\"message\" is a required property"), "{err}");
        let err = validator().validate(&json!({"message": "x", "mesage": "y"})).unwrap_err();
        assert!(err.to_string().contains("mesage"), "{err}");
        let err = validator().validate(&json!({"message": "x", "items": [{"name": 3}]})).unwrap_err();
        assert!(err.to_string().starts_with("argument \"items.0.name\""), "{err}");
    }

    #[test]
    fn error_count_is_capped() {
        let v = ArgumentValidator::new(&json!({"type": "array", "items": {"type": "string"}})).unwrap();
        let err = v.validate(&json!((0..50).collect::<Vec<_>>())).unwrap_err();
        assert_eq!(err.errors.len(), MAX_REPORTED_ERRORS);
    }

    #[test]
    fn broken_schemas_are_reported() {
        assert!(ArgumentValidator::new(&json!({"type": 12})).is_err());
    }
}
