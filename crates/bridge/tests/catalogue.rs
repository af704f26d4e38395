//! The catalogue end to end: a real testbed server, skills, custom tools, policy.

mod common;

use std::sync::Arc;

use serde_json::{Value, json};
use toolbridge::catalogue::{CallOptions, CatalogueOptions, RawArguments};
use toolbridge::pool::Pool;
use toolbridge::schema::SchemaTarget;
use toolbridge::skills::{SkillConfig, SkillKind};
use toolbridge::{CallLog, CatalogueBuilder, CustomTools, Policy, PolicyContext, ToolErrorType, ToolSourceKind};

use common::*;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Mul {
    /// Left.
    a: i64,
    /// Right.
    b: i64,
}

async fn catalogue(pool: &Pool, policy: Value, options: CatalogueOptions) -> toolbridge::Catalogue {
    let sleep = SkillConfig {
        name: "wait".into(),
        kind: SkillKind::Sleep,
        configuration: json!({"max_seconds": 5}),
        enabled: true,
    };
    let math = CustomTools::new("math").tool("mul", "Multiplies", |p: Mul| async move { Ok::<_, String>(p.a * p.b) });
    CatalogueBuilder::new(pool.clone())
        .servers([
            testbed_server("testbed", &[]),
            toolbridge::config::ServerConfig::stdio("broken", "/no/such/server", &[]),
        ])
        .skills([sleep])
        .sources([Arc::new(math) as Arc<dyn toolbridge::ToolSource>])
        .policy(
            Policy::from_json(&policy).unwrap(),
            PolicyContext { environment: "production".into(), ..PolicyContext::default() },
        )
        .options(options)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn merged_named_and_degraded() {
    let pool = Pool::default();
    let cat = catalogue(&pool, json!({"deny": ["testbed__crash", "testbed__hang"]}), CatalogueOptions::default()).await;
    let names: Vec<&str> = cat.tools().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&"testbed__echo") && names.contains(&"wait__sleep") && names.contains(&"math__mul"),
        "{names:?}"
    );
    assert!(!names.contains(&"testbed__crash"), "denied tools are not offered");
    assert_eq!(cat.failures().len(), 1);
    assert!(cat.failures()[0].error.contains("/no/such/server"));
    let echo = cat.get("testbed__echo").unwrap();
    assert_eq!(
        (echo.source.as_str(), echo.original_name.as_str(), echo.source_kind),
        ("testbed", "echo", ToolSourceKind::Mcp)
    );
    for target in [SchemaTarget::OpenAi, SchemaTarget::Anthropic, SchemaTarget::Gemini] {
        assert_eq!(cat.provider_tools(target).len(), cat.len(), "{target:?}");
    }
    assert!(cat.openai_tools(false).iter().all(|t| t["type"] == "function"));
    let strict = cat.openai_tools(true);
    assert_eq!(strict.len(), cat.len(), "strict mode offers every tool (falling back when needed)");
    let echo = strict.iter().find(|t| t["function"]["name"] == "testbed__echo").unwrap();
    assert_eq!(echo["function"]["strict"], true);
    assert_eq!(echo["function"]["parameters"]["additionalProperties"], false);
    pool.shutdown().await;
}

#[tokio::test]
async fn every_outcome_is_recorded_in_call_order() {
    let pool = Pool::default();
    let cat = catalogue(
        &pool,
        json!({"deny": ["testbed__crash"]}),
        CatalogueOptions { max_output_bytes: 1000, ..CatalogueOptions::default() },
    )
    .await;
    let log = CallLog::new();
    let options = CallOptions::default();
    let calls = [
        ("testbed__echo", json!({"message": "hi"})),
        ("math__mul", json!({"a": 6, "b": 7})),
        ("testbed__add", json!({"a": "two", "b": 1})),
        ("testbed__nope", json!({})),
        ("testbed__crash", json!({})),
        ("testbed__fail", json!({"message": "bad day"})),
        ("testbed__big_output", json!({"bytes": 5000})),
        ("wait__sleep", json!({"seconds": 0.05})),
    ];
    let prepared: Vec<_> = calls
        .iter()
        .enumerate()
        .map(|(i, (name, args))| cat.begin(&log, name, RawArguments::Value(args), &format!("c{i}")))
        .collect();
    let records = futures::future::join_all(prepared.into_iter().map(|p| p.run(&options))).await;
    assert_eq!(records[0].output, "Echo: hi");
    assert_eq!(records[1].output, "42");
    assert_eq!(records[1].source, ToolSourceKind::Custom);
    assert_eq!(records[2].error_type, Some(ToolErrorType::InvalidArguments));
    assert!(records[2].output.contains("argument \"a\""), "{}", records[2].output);
    assert_eq!(records[3].error_type, Some(ToolErrorType::UnknownTool));
    assert_eq!(records[4].error_type, Some(ToolErrorType::PolicyDenied));
    assert_eq!(records[5].error_type, Some(ToolErrorType::ToolError));
    assert!(!records[5].success && records[5].output == "bad day");
    assert!(records[6].success);
    assert_eq!(records[6].error_type, Some(ToolErrorType::OutputTruncated));
    assert!(records[6].output.contains("[output truncated"));
    assert!(records[7].success);
    let logged: Vec<String> = log.records().into_iter().map(|r| r.tool_use_id).collect();
    assert_eq!(logged, (0..8).map(|i| format!("c{i}")).collect::<Vec<_>>(), "the log keeps call order");
    let pid = cat.call(&log, "testbed__pid", RawArguments::Json("{}"), "p", &options).await;
    assert!(pid.success);
    let bad_json = cat.call(&log, "testbed__echo", RawArguments::Json("{\"message\": "), "j", &options).await;
    assert_eq!(bad_json.error_type, Some(ToolErrorType::InvalidArguments));
    assert!(bad_json.output.contains("not valid JSON"));
    pool.shutdown().await;
    assert!(gone_within(pid.output.parse().unwrap(), std::time::Duration::from_secs(3)));
}

#[tokio::test]
async fn strict_mode_nulls_are_stripped_before_validation() {
    let pool = Pool::default();
    let cat = catalogue(&pool, Value::Null, CatalogueOptions::default()).await;
    let log = CallLog::new();
    let options = CallOptions { schema_target: Some(SchemaTarget::OpenAiStrict), ..CallOptions::default() };
    let record = cat.call(&log, "testbed__fail", RawArguments::Value(&json!({"message": null})), "s", &options).await;
    assert_eq!(record.output, "the tool failed on purpose", "null for an optional field means absent");
    pool.shutdown().await;
}
