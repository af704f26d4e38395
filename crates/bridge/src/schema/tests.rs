use super::*;

fn accepts(schema: &Value, args: &Value) -> bool {
    jsonschema::validator_for(schema).unwrap().is_valid(args)
}

#[test]
fn missing_type_becomes_object() {
    let out = normalize(&json!({}), SchemaTarget::OpenAi).unwrap();
    assert_eq!(out, json!({"type": "object", "properties": {}}));
    assert!(normalize(&json!({"type": "array"}), SchemaTarget::OpenAi).is_err());
}

#[test]
fn refs_are_inlined_and_recursion_is_bounded() {
    let schema = json!({
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}, "v": {"type": "integer"}}}}
    });
    let out = normalize(&schema, SchemaTarget::Anthropic).unwrap();
    assert!(out.get("$defs").is_none());
    assert_eq!(out["properties"]["node"]["properties"]["v"]["type"], "integer");
    assert!(!out.to_string().contains("$ref"));
    assert!(accepts(&out, &json!({"node": {"v": 1, "child": {"v": 2}}})));
}

#[test]
fn strict_mode_requires_everything_and_nulls_optional_fields() {
    let original = json!({
        "type": "object",
        "properties": {"q": {"type": "string"}, "limit": {"type": "integer", "default": 10}, "mode": {"enum": ["a", "b"]}},
        "required": ["q"]
    });
    let out = normalize(&original, SchemaTarget::OpenAiStrict).unwrap();
    assert_eq!(out["additionalProperties"], false);
    assert_eq!(out["required"], json!(["q", "limit", "mode"]));
    assert_eq!(out["properties"]["limit"]["type"], json!(["integer", "null"]));
    assert!(accepts(&out, &json!({"q": "x", "limit": null, "mode": null})));
    let mut args = json!({"q": "x", "limit": null, "mode": "a"});
    strip_strict_nulls(&mut args, &original);
    assert_eq!(args, json!({"q": "x", "mode": "a"}));
    assert!(accepts(&original, &args));
}

#[test]
fn strict_mode_refuses_free_form_objects() {
    let schema = json!({"type": "object", "properties": {"headers": {"type": "object", "additionalProperties": {"type": "string"}}}});
    assert!(matches!(normalize(&schema, SchemaTarget::OpenAiStrict), Err(SchemaError::NotStrictCompatible(_))));
    assert!(
        normalize(&json!({"type": "object"}), SchemaTarget::OpenAiStrict).is_ok(),
        "a tool without arguments is fine"
    );
}

#[test]
fn gemini_subset() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "name": {"type": ["string", "null"], "format": "uri"},
            "kind": {"const": "x"},
            "choice": {"oneOf": [{"type": "string"}, {"type": "integer"}]}
        }
    });
    let out = normalize(&schema, SchemaTarget::Gemini).unwrap();
    assert!(out.get("$schema").is_none() && out.get("additionalProperties").is_none());
    assert_eq!(out["properties"]["name"]["type"], "string");
    assert_eq!(out["properties"]["name"]["nullable"], true);
    assert!(out["properties"]["name"]["description"].as_str().unwrap().contains("uri"));
    assert_eq!(out["properties"]["kind"]["enum"], json!(["x"]));
    assert!(out["properties"]["choice"].get("anyOf").is_some());
}

proptest::proptest! {
    #[test]
    fn never_panics(value in arbitrary_json()) {
        for target in [SchemaTarget::OpenAi, SchemaTarget::OpenAiStrict, SchemaTarget::Anthropic, SchemaTarget::Gemini] {
            let _ = normalize(&value, target);
        }
    }
}

fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop_oneof![Just("object"), Just("string"), Just("null"), Just("#/$defs/a"), Just("array")]
            .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("properties".to_owned()),
                    Just("$ref".to_owned()),
                    Just("$defs".to_owned()),
                    Just("anyOf".to_owned()),
                    Just("oneOf".to_owned()),
                    Just("allOf".to_owned()),
                    Just("items".to_owned()),
                    Just("required".to_owned()),
                    Just("a".to_owned()),
                    Just("additionalProperties".to_owned()),
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
