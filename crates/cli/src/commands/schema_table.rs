//! A tool's input schema as a readable table: one row per parameter (nested object properties
//! as `a.b`, array items as `a[]`), with its type, whether it is required, and its
//! description with the enum choices and the default.

use serde_json::{Map, Value};

/// One parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) required: bool,
    pub(crate) description: String,
}

impl Row {
    pub(crate) fn cells(&self) -> [String; 4] {
        [
            self.name.clone(),
            self.kind.clone(),
            if self.required { "yes".into() } else { "no".into() },
            self.description.clone(),
        ]
    }
}

/// The rows of an input schema (an object schema).
pub(crate) fn parameters(schema: &Map<String, Value>) -> Vec<Row> {
    let mut rows = Vec::new();
    object_rows(schema, "", &mut rows, 0);
    rows
}

/// How deep nested objects are unfolded.
const MAX_DEPTH: usize = 3;

fn object_rows(schema: &Map<String, Value>, prefix: &str, rows: &mut Vec<Row>, depth: usize) {
    let Some(Value::Object(properties)) = schema.get("properties") else { return };
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, property) in properties {
        let Value::Object(property) = property else { continue };
        let full = format!("{prefix}{name}");
        rows.push(Row {
            name: full.clone(),
            kind: type_of(property),
            required: required.contains(&name.as_str()),
            description: describe(property),
        });
        if depth < MAX_DEPTH {
            object_rows(property, &format!("{full}."), rows, depth + 1);
            if let Some(Value::Object(items)) = property.get("items") {
                object_rows(items, &format!("{full}[]."), rows, depth + 1);
            }
        }
    }
}

/// `string`, `integer`, `array of string`, `string | null`, `object`, `any`.
fn type_of(schema: &Map<String, Value>) -> String {
    let base = match schema.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | "),
        _ => {
            let variants = ["anyOf", "oneOf"].iter().find_map(|key| schema.get(*key)).and_then(Value::as_array);
            match variants {
                Some(variants) => {
                    variants.iter().filter_map(Value::as_object).map(type_of).collect::<Vec<_>>().join(" | ")
                }
                None if schema.contains_key("enum") => "enum".into(),
                None if schema.contains_key("$ref") => "object".into(),
                None => "any".into(),
            }
        }
    };
    if base == "array"
        && let Some(Value::Object(items)) = schema.get("items")
    {
        return format!("array of {}", type_of(items));
    }
    base
}

/// The description, with the choices of an enum and the default.
fn describe(schema: &Map<String, Value>) -> String {
    let mut text: String = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut add = |extra: String| {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(&extra);
    };
    if let Some(Value::Array(choices)) = schema.get("enum") {
        add(format!("one of {}", choices.iter().map(literal).collect::<Vec<_>>().join(", ")));
    }
    if let Some(default) = schema.get("default") {
        add(format!("default {}", literal(default)));
    }
    text
}

fn literal(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_a_schema() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Where"},
                "mode": {"type": "string", "enum": ["r", "w"], "default": "r"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "opts": {"type": "object", "properties": {"deep": {"type": ["boolean", "null"]}}, "required": ["deep"]},
                "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]}
            },
            "required": ["path"]
        });
        let rows = parameters(schema.as_object().unwrap());
        let find = |name: &str| rows.iter().find(|r| r.name == name).unwrap().clone();
        assert_eq!(find("path").cells(), ["path", "string", "yes", "Where"]);
        assert_eq!(find("mode").description, "one of r, w; default r");
        assert_eq!(find("tags").kind, "array of string");
        assert_eq!(find("opts.deep").cells()[1..3], ["boolean | null".to_owned(), "yes".to_owned()]);
        assert_eq!(find("either").kind, "string | integer");
    }
}
