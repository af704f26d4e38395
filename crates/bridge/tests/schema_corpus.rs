//! Schema normalisation on a corpus of real MCP servers' tool schemas
//! (`fixtures/schemas/*.json`, collected with `fixtures/schemas/collect.py`) plus hand-written
//! tricky ones: for every tool and every target, normalisation succeeds (or, for OpenAI strict
//! mode, refuses a schema strict mode cannot express), the result follows the target's rules,
//! and every argument sample the original accepts is still accepted.

use std::path::PathBuf;

use serde_json::{Map, Value, json};
use toolbridge::schema::{SchemaError, SchemaTarget, normalize, strip_strict_nulls};

fn corpus() -> Vec<(String, String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/schemas");
    let mut tools = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for file in files {
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let server = file.file_stem().unwrap().to_string_lossy().into_owned();
        for tool in value["tools"].as_array().unwrap() {
            tools.push((server.clone(), tool["name"].as_str().unwrap().to_owned(), tool["inputSchema"].clone()));
        }
    }
    tools
}

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference.strip_prefix('#').and_then(|p| root.pointer(p)).unwrap_or(schema),
        None => schema,
    }
}

/// A value for `schema`; `full` fills optional properties too.
fn sample(schema: &Value, root: &Value, full: bool, depth: usize) -> Value {
    let schema = resolve(schema, root);
    if depth > 6 {
        return Value::Null;
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array).filter(|v| !v.is_empty()) {
        return values[0].clone();
    }
    if let Some(default) = schema.get("default") {
        return default.clone();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(first) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|s| s.get("type") != Some(&json!("null"))))
        {
            return sample(first, root, full, depth + 1);
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in all {
            if let Value::Object(object) = sample(part, root, full, depth + 1) {
                merged.extend(object);
            }
        }
        if let Value::Object(own) = sample(&strip(schema, "allOf"), root, full, depth + 1) {
            merged.extend(own);
        }
        return Value::Object(merged);
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut object = Map::new();
            for (name, property) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
                if full || required.contains(&name.as_str()) {
                    object.insert(name.clone(), sample(property, root, full, depth + 1));
                }
            }
            Value::Object(object)
        }
        "array" => {
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            if min == 0 && !full {
                json!([])
            } else {
                json!([sample(schema.get("items").unwrap_or(&json!({})), root, full, depth + 1)])
            }
        }
        "integer" => json!(schema.get("minimum").and_then(Value::as_i64).map_or(1, |m| m.max(1))),
        "number" => json!(schema.get("minimum").and_then(Value::as_f64).map_or(1.5, |m| m.max(1.5))),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!(match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => "2025-01-01T00:00:00Z",
            Some("date") => "2025-01-01",
            Some("uri" | "url") => "https://example.com/x",
            Some("email") => "a@example.com",
            _ => "abc",
        }),
    }
}

fn strip(schema: &Value, key: &str) -> Value {
    let mut copy = schema.clone();
    if let Value::Object(map) = &mut copy {
        map.remove(key);
    }
    copy
}

fn accepts(schema: &Value, value: &Value) -> bool {
    jsonschema::validator_for(schema).map(|v| v.is_valid(value)).unwrap_or(false)
}

/// Every object schema in strict output closes its properties and requires them all.
fn strict_rules_hold(node: &Value) -> bool {
    match node {
        Value::Object(map) => {
            let is_object = map
                .get("type")
                .is_some_and(|t| t == "object" || t.as_array().is_some_and(|a| a.contains(&json!("object"))));
            let closed = !is_object
                || (map.get("additionalProperties") == Some(&json!(false))
                    && map.get("properties").and_then(Value::as_object).is_some_and(|props| {
                        let required: Vec<&str> = map
                            .get("required")
                            .and_then(Value::as_array)
                            .map(|r| r.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        props.keys().all(|k| required.contains(&k.as_str()))
                    }));
            closed && map.values().all(strict_rules_hold)
        }
        Value::Array(items) => items.iter().all(strict_rules_hold),
        _ => true,
    }
}

fn gemini_rules_hold(node: &Value) -> bool {
    match node {
        Value::Object(map) => {
            !["additionalProperties", "$schema", "$ref", "$defs", "oneOf", "const"].iter().any(|k| map.contains_key(*k))
                && !map.get("type").is_some_and(Value::is_array)
                && map.values().all(gemini_rules_hold)
        }
        Value::Array(items) => items.iter().all(gemini_rules_hold),
        _ => true,
    }
}

/// Adds `null` for every optional property (nested ones too), as a strict-mode model sends them.
fn with_strict_nulls(sample: &Value, schema: &Value, root: &Value) -> Value {
    let schema = resolve(schema, root);
    let mut value = sample.clone();
    if let (Value::Object(map), Some(props)) = (&mut value, schema.get("properties").and_then(Value::as_object)) {
        for (name, property) in props {
            match map.get_mut(name) {
                Some(child) => *child = with_strict_nulls(child, property, root),
                None => {
                    map.insert(name.clone(), Value::Null);
                }
            }
        }
    }
    value
}

#[test]
fn corpus_is_big_enough() {
    let tools = corpus();
    assert!(tools.len() >= 20, "only {} tools in the corpus", tools.len());
}

#[test]
fn normalised_schemas_accept_what_the_originals_accept() {
    let mut checked = 0;
    let mut strict_refused = Vec::new();
    for (server, tool, original) in corpus() {
        let samples: Vec<Value> = [false, true]
            .iter()
            .map(|full| sample(&original, &original, *full, 0))
            .filter(|s| accepts(&original, s))
            .collect();
        assert!(!samples.is_empty(), "{server}/{tool}: no sample the original accepts");
        for target in [SchemaTarget::OpenAi, SchemaTarget::Anthropic, SchemaTarget::Gemini, SchemaTarget::OpenAiStrict]
        {
            let normalised = match normalize(&original, target) {
                Ok(n) => n,
                Err(SchemaError::NotStrictCompatible(_)) if target == SchemaTarget::OpenAiStrict => {
                    strict_refused.push(format!("{server}/{tool}"));
                    continue;
                }
                Err(e) => panic!("{server}/{tool} for {target:?}: {e}"),
            };
            assert_eq!(normalised["type"], "object", "{server}/{tool} {target:?}");
            match target {
                SchemaTarget::OpenAiStrict => assert!(strict_rules_hold(&normalised), "{server}/{tool}: {normalised}"),
                SchemaTarget::Gemini => assert!(gemini_rules_hold(&normalised), "{server}/{tool}: {normalised}"),
                _ => assert!(!normalised.to_string().contains("\"$ref\""), "{server}/{tool}: refs left"),
            }
            for sample in &samples {
                let sent = if target == SchemaTarget::OpenAiStrict {
                    with_strict_nulls(sample, &normalised, &normalised)
                } else {
                    sample.clone()
                };
                // Gemini keeps only the OpenAPI subset: what it drops (patterns, formats) only loosens it.
                assert!(accepts(&normalised, &sent), "{server}/{tool} {target:?} rejects {sent}\nschema: {normalised}");
                if target == SchemaTarget::OpenAiStrict {
                    let mut back = sent.clone();
                    strip_strict_nulls(&mut back, &original);
                    assert!(accepts(&original, &back), "{server}/{tool}: stripped strict args rejected: {back}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} checks");
    eprintln!("{checked} checks; strict mode refused (falls back to non-strict): {strict_refused:?}");
}
