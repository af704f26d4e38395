//! Tool input schemas normalised per target provider, without changing what arguments the
//! server accepts.
//!
//! Every target: local `$ref`s (`#/$defs/…`, `#/definitions/…`) are inlined (a recursive
//! reference is cut after [`MAX_REF_DEPTH`] levels and replaced by an unconstrained schema),
//! `$schema`/`$id` dropped, a missing top-level `type` becomes `object` (with empty
//! `properties`), and a top level that is not an object schema is an error.
//!
//! - [`SchemaTarget::OpenAi`]: `oneOf` becomes `anyOf`.
//! - [`SchemaTarget::OpenAiStrict`]: additionally every object has
//!   `additionalProperties: false` and lists every property in `required`; optional properties
//!   become nullable, so the model sends `null` for "absent" — undo that with
//!   [`strip_strict_nulls`] before calling the server (the catalogue does). Keywords strict
//!   mode rejects are dropped (their meaning moved into the description). Free-form objects
//!   cannot be expressed in strict mode: such a schema is an error
//!   ([`SchemaError::NotStrictCompatible`]) and the caller falls back to non-strict.
//! - [`SchemaTarget::Anthropic`]: pass-through after the common steps.
//! - [`SchemaTarget::Gemini`]: the OpenAPI subset: `type: [T, "null"]` → `type: T, nullable:
//!   true`, `const` → `enum`, no `additionalProperties`, `oneOf` → `anyOf`, formats other
//!   than `enum`/`date-time` and unsupported keywords moved into the description.

use serde_json::{Map, Value, json};

/// How deep recursive `$ref`s are expanded.
pub const MAX_REF_DEPTH: usize = 8;

/// The provider a schema is normalised for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaTarget {
    /// OpenAI chat completions (and compatible servers).
    OpenAi,
    /// OpenAI with `strict: true`.
    OpenAiStrict,
    /// Anthropic messages.
    Anthropic,
    /// Google Gemini function declarations.
    Gemini,
}

/// A schema that cannot be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The top level is not an object schema.
    #[error("the input schema must describe an object, found type {0}")]
    NotObject(String),
    /// The schema cannot be expressed in OpenAI strict mode.
    #[error("not expressible in strict mode: {0}")]
    NotStrictCompatible(String),
}

/// Normalises a tool's input schema for a provider.
pub fn normalize(schema: &Value, target: SchemaTarget) -> Result<Value, SchemaError> {
    let root = schema.as_object().cloned().unwrap_or_default();
    let defs = collect_defs(&root);
    let mut inlined = inline_refs(&Value::Object(root), &defs, 0);
    let Value::Object(top) = &mut inlined else { return Err(SchemaError::NotObject("non-object".into())) };
    top.remove("$defs");
    top.remove("definitions");
    match top.get("type") {
        None => {
            top.insert("type".into(), json!("object"));
        }
        Some(Value::String(t)) if t == "object" => {}
        Some(other) => return Err(SchemaError::NotObject(other.to_string())),
    }
    top.entry("properties").or_insert_with(|| json!({}));
    let mut out = inlined;
    walk(&mut out, &mut |node| common(node));
    match target {
        SchemaTarget::OpenAi | SchemaTarget::Anthropic => {}
        SchemaTarget::OpenAiStrict => strict(&mut out)?,
        SchemaTarget::Gemini => walk(&mut out, &mut |node| gemini(node)),
    }
    Ok(out)
}

fn collect_defs(root: &Map<String, Value>) -> Map<String, Value> {
    let mut defs = Map::new();
    for key in ["$defs", "definitions"] {
        if let Some(Value::Object(map)) = root.get(key) {
            for (name, schema) in map {
                defs.insert(format!("#/{key}/{name}"), schema.clone());
            }
        }
    }
    defs
}

fn inline_refs(node: &Value, defs: &Map<String, Value>, depth: usize) -> Value {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref")
                && let Some(target) = defs.get(reference)
            {
                if depth >= MAX_REF_DEPTH {
                    return json!({"description": "(recursive structure; any value)"});
                }
                let mut resolved = inline_refs(target, defs, depth + 1);
                // Sibling keywords of `$ref` (e.g. a description) are kept.
                if let Value::Object(resolved_map) = &mut resolved {
                    for (key, value) in map {
                        if key != "$ref" {
                            resolved_map.entry(key.clone()).or_insert_with(|| inline_refs(value, defs, depth));
                        }
                    }
                }
                return resolved;
            }
            Value::Object(map.iter().map(|(k, v)| (k.clone(), inline_refs(v, defs, depth))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| inline_refs(v, defs, depth)).collect()),
        other => other.clone(),
    }
}

/// Applies `f` to every schema node (objects in schema positions), depth first.
fn walk(node: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>)) {
    let Value::Object(map) = node else { return };
    f(map);
    for key in ["properties", "patternProperties", "$defs", "definitions"] {
        if let Some(Value::Object(children)) = map.get_mut(key) {
            for child in children.values_mut() {
                walk(child, f);
            }
        }
    }
    for key in ["items", "additionalProperties", "not", "contains", "if", "then", "else"] {
        if let Some(child) = map.get_mut(key) {
            match child {
                Value::Array(items) => items.iter_mut().for_each(|i| walk(i, f)),
                other => walk(other, f),
            }
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(items)) = map.get_mut(key) {
            items.iter_mut().for_each(|i| walk(i, f));
        }
    }
}

fn common(node: &mut Map<String, Value>) {
    node.remove("$schema");
    node.remove("$id");
    node.remove("$comment");
    if let Some(one_of) = node.remove("oneOf") {
        node.insert("anyOf".into(), one_of);
    }
    if matches!(node.get("enum"), Some(Value::Array(values)) if values.is_empty()) {
        node.remove("enum");
    }
}

fn note(node: &mut Map<String, Value>, text: &str) {
    let description = match node.get("description").and_then(Value::as_str) {
        Some(existing) if !existing.is_empty() => format!("{existing} ({text})"),
        _ => text.to_owned(),
    };
    node.insert("description".into(), Value::String(description));
}

fn types_of(node: &Map<String, Value>) -> Vec<String> {
    match node.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

const STRICT_DROPPED: &[&str] = &[
    "default",
    "examples",
    "patternProperties",
    "propertyNames",
    "unevaluatedProperties",
    "dependentRequired",
    "dependentSchemas",
    "minProperties",
    "maxProperties",
    "if",
    "then",
    "else",
    "not",
    "contentEncoding",
    "contentMediaType",
];

const STRICT_FORMATS: &[&str] = &["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"];

fn strict(root: &mut Value) -> Result<(), SchemaError> {
    // Objects whose keys are not all declared cannot be expressed in strict mode. The one
    // harmless case is the top level of a tool without arguments.
    let top_without_arguments = root.get("properties").and_then(Value::as_object).is_some_and(Map::is_empty)
        && matches!(root.get("additionalProperties"), None | Some(Value::Bool(false)));
    let mut free_form = 0usize;
    walk(root, &mut |node| {
        for key in STRICT_DROPPED {
            if let Some(value) = node.remove(*key)
                && *key == "default"
            {
                note(node, &format!("default: {value}"));
            }
        }
        if let Some(Value::String(format)) = node.get("format")
            && !STRICT_FORMATS.contains(&format.as_str())
        {
            let text = format!("format: {format}");
            node.remove("format");
            note(node, &text);
        }
        if let Some(Value::Array(all_of)) = node.remove("allOf") {
            merge_all_of(node, all_of);
        }
        if !(types_of(node).iter().any(|t| t == "object") || node.contains_key("properties")) {
            return;
        }
        let extra_keys = !matches!(node.get("additionalProperties"), None | Some(Value::Bool(false)));
        let no_properties = node.get("properties").and_then(Value::as_object).is_none_or(Map::is_empty);
        if extra_keys || no_properties {
            free_form += 1;
        }
        let required: Vec<String> = node
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let properties = node.entry("properties").or_insert_with(|| json!({}));
        if let Value::Object(properties) = properties {
            for (name, property) in properties.iter_mut() {
                if !required.contains(name) {
                    make_nullable(property);
                }
            }
            let all: Vec<Value> = properties.keys().cloned().map(Value::String).collect();
            node.insert("required".into(), Value::Array(all));
        }
        node.insert("additionalProperties".into(), Value::Bool(false));
    });
    if free_form > usize::from(top_without_arguments) {
        return Err(SchemaError::NotStrictCompatible("an object with free-form keys".to_owned()));
    }
    Ok(())
}

fn merge_all_of(node: &mut Map<String, Value>, all_of: Vec<Value>) {
    for part in all_of {
        let Value::Object(part) = part else { continue };
        for (key, value) in part {
            match (key.as_str(), node.get_mut(&key), value) {
                ("properties", Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
                ("required", Some(Value::Array(existing)), Value::Array(more)) => existing.extend(more),
                (_, None, value) => {
                    node.insert(key, value);
                }
                _ => {}
            }
        }
    }
}

fn make_nullable(property: &mut Value) {
    let Value::Object(map) = property else { return };
    match map.get_mut("type") {
        Some(Value::String(t)) if t != "null" => {
            let t = t.clone();
            map.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(types)) if !types.iter().any(|t| t == "null") => types.push(json!("null")),
        Some(_) => {}
        None => {
            if let Some(Value::Array(any_of)) = map.get_mut("anyOf") {
                if !any_of.iter().any(|s| s.get("type") == Some(&json!("null"))) {
                    any_of.push(json!({"type": "null"}));
                }
            } else {
                let inner = std::mem::take(map);
                map.insert("anyOf".into(), json!([Value::Object(inner), {"type": "null"}]));
            }
        }
    }
    if let Some(Value::Array(values)) = map.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
}

const GEMINI_DROPPED: &[&str] = &[
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "unevaluatedProperties",
    "dependentRequired",
    "dependentSchemas",
    "examples",
    "default",
    "if",
    "then",
    "else",
    "not",
    "allOf",
    "contentEncoding",
    "contentMediaType",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "uniqueItems",
    "pattern",
];

fn gemini(node: &mut Map<String, Value>) {
    for key in GEMINI_DROPPED {
        if let Some(value) = node.remove(*key)
            && matches!(*key, "pattern" | "default" | "exclusiveMinimum" | "exclusiveMaximum" | "multipleOf")
        {
            note(node, &format!("{key}: {value}"));
        }
    }
    if let Some(value) = node.remove("const") {
        node.insert("enum".into(), json!([value]));
    }
    if let Some(Value::Array(types)) = node.get("type").cloned() {
        let non_null: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
        if types.len() != non_null.len() {
            node.insert("nullable".into(), Value::Bool(true));
        }
        match non_null.as_slice() {
            [one] => {
                node.insert("type".into(), (*one).clone());
            }
            [] => {
                node.remove("type");
            }
            many => {
                let any_of = many.iter().map(|t| json!({"type": t})).collect();
                node.remove("type");
                node.insert("anyOf".into(), Value::Array(any_of));
            }
        }
    }
    if let Some(Value::String(format)) = node.get("format")
        && format != "enum"
        && format != "date-time"
    {
        let text = format!("format: {format}");
        node.remove("format");
        note(node, &text);
    }
    if let Some(Value::Array(values)) = node.get("enum")
        && values.iter().any(|v| !v.is_string())
        && node.get("type") != Some(&json!("string"))
    {
        // Gemini enums are strings only; keep the values in the description instead.
        let text = format!("one of: {}", Value::Array(values.clone()));
        node.remove("enum");
        note(node, &text);
    }
}

/// Removes the `null`s OpenAI strict mode makes the model send for properties that were
/// optional in the original schema (so the server sees them absent, as it expects). Local
/// `$ref`s of the original are followed.
pub fn strip_strict_nulls(arguments: &mut Value, original: &Value) {
    if let Some(root) = original.as_object() {
        strip_strict_nulls_in(arguments, root);
    }
}

/// [`strip_strict_nulls`] with the original schema as the object it always is (no copy).
pub fn strip_strict_nulls_in(arguments: &mut Value, original: &Map<String, Value>) {
    strip_nulls(arguments, original, original, 0);
}

/// Follows a local `$ref` (`#/…`) from the root object; anything else is the schema itself.
fn resolve_ref<'a>(schema: &'a Map<String, Value>, root: &'a Map<String, Value>) -> &'a Map<String, Value> {
    let Some(pointer) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) else {
        return schema;
    };
    if pointer.is_empty() {
        return root;
    }
    let Some(rest) = pointer.strip_prefix('/') else { return schema };
    let (first, tail) = rest.split_once('/').map_or((rest, ""), |(first, tail)| (first, tail));
    let first = first.replace("~1", "/").replace("~0", "~");
    let target = match root.get(&first) {
        Some(value) if tail.is_empty() => Some(value),
        Some(value) => value.pointer(&format!("/{tail}")),
        None => None,
    };
    target.and_then(Value::as_object).unwrap_or(schema)
}

fn strip_nulls(arguments: &mut Value, schema: &Map<String, Value>, root: &Map<String, Value>, depth: usize) {
    let schema = resolve_ref(schema, root);
    if depth > MAX_REF_DEPTH * 4 {
        return;
    }
    match arguments {
        Value::Object(args) => {
            // Properties and requirements, including those of `allOf` parts (later parts win).
            let parts = std::iter::once(schema).chain(
                schema
                    .get("allOf")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .map(|part| resolve_ref(part, root)),
            );
            let mut properties: Vec<(&str, &Map<String, Value>)> = Vec::new();
            let mut required: Vec<&str> = Vec::new();
            for part in parts {
                if let Some(props) = part.get("properties").and_then(Value::as_object) {
                    properties.extend(props.iter().filter_map(|(k, v)| Some((k.as_str(), v.as_object()?))));
                }
                required.extend(
                    part.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str),
                );
            }
            if properties.is_empty() {
                return;
            }
            let property = |name: &str| properties.iter().rev().find(|(k, _)| *k == name).map(|(_, p)| *p);
            args.retain(|name, value| {
                let allows_null = property(name).is_some_and(|p| accepts_null(resolve_ref(p, root)));
                !(value.is_null() && !required.contains(&name.as_str()) && !allows_null)
            });
            for (name, value) in args.iter_mut() {
                if let Some(property) = property(name) {
                    strip_nulls(value, property, root, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").and_then(Value::as_object) {
                for item in items {
                    strip_nulls(item, item_schema, root, depth + 1);
                }
            }
        }
        _ => {}
    }
}

fn accepts_null(schema: &Map<String, Value>) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
        _ => schema
            .get("anyOf")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().filter_map(Value::as_object).any(accepts_null)),
    }
}

#[cfg(test)]
mod tests;
