//! `--tools N`: generated tools with varied input schemas, for catalogue benchmarks and schema
//! tests. Each returns its arguments as JSON text.

use serde_json::{Value, json};

/// The input schema of generated tool `i` (six shapes, in turn).
pub(crate) fn schema(i: usize) -> Value {
    match i % 6 {
        0 => json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for", "minLength": 1},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
            },
            "required": ["query"]
        }),
        1 => json!({
            "type": "object",
            "properties": {
                "mode": {"type": "string", "enum": ["fast", "slow", "careful"]},
                "when": {"type": "string", "format": "date-time"},
                "id": {"type": "string", "pattern": "^[a-z]{3}-[0-9]+$"}
            },
            "required": ["mode"],
            "additionalProperties": false
        }),
        2 => json!({
            "type": "object",
            "properties": {
                "target": {
                    "type": "object",
                    "properties": {"host": {"type": "string"}, "port": {"type": "integer", "minimum": 1, "maximum": 65535}},
                    "required": ["host"]
                },
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 8}
            },
            "required": ["target"]
        }),
        3 => json!({
            "type": "object",
            "properties": {
                "note": {"type": ["string", "null"], "description": "Optional note"},
                "weight": {"type": "number", "exclusiveMinimum": 0}
            }
        }),
        4 => json!({
            "type": "object",
            "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}, "required": ["x", "y"]}},
            "properties": {"from": {"$ref": "#/$defs/point"}, "to": {"$ref": "#/$defs/point"}},
            "required": ["from", "to"]
        }),
        _ => json!({
            "type": "object",
            "properties": {
                "value": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "flag": {"type": "boolean", "default": false}
            },
            "required": ["value"]
        }),
    }
}

/// The description of generated tool `i`.
pub(crate) fn description(i: usize) -> String {
    format!("Generated tool {i} (schema shape {}); returns its arguments", i % 6)
}
