//! The catalogue end to end: a real testbed server, skills, custom tools, policy.

mod common;

use std::sync::Arc;

use serde_json::{Value, json};
use toolbridge::config::{SkillConfig, SkillSettings, SleepSettings, parse_policy};
use toolbridge::schema::SchemaTarget;
use toolbridge::{
    CallLog, CallOptions, CatalogueBuilder, CatalogueOptions, Policy, Pool, RawArguments, ToolErrorType,
    ToolSourceKind, ToolTable,
};

use common::*;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Mul {
    /// Left.
    a: i64,
    /// Right.
    b: i64,
}

async fn catalogue(pool: &Pool, policy: Value, options: CatalogueOptions) -> toolbridge::Catalogue {
    let sleep = SkillConfig::new("wait", SkillSettings::Sleep(SleepSettings { max_seconds: Some(5.0) }));
    let math = ToolTable::new("math").tool("mul", "Multiplies", |p: Mul| async move { Ok::<_, String>(p.a * p.b) });
    CatalogueBuilder::new(pool.clone())
        .servers([
            testbed_server("testbed", &[]),
            toolbridge::config::ServerConfig::stdio("broken", "/no/such/server", &[]),
        ])
        .skills([sleep])
        .sources([Arc::new(math) as Arc<dyn toolbridge::ToolSource>])
        .policy(if policy.is_null() {
            Policy::allow_all()
        } else {
            Policy::compile(&parse_policy(policy, "test").unwrap()).unwrap()
        })
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

/// A custom tool that panics is a failed call, not a crashed execution.
#[tokio::test]
async fn a_panicking_tool_is_a_failed_call() {
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct Nothing {}
    let broken = ToolTable::new("broken").tool("boom", "Panics", |_: Nothing| async move {
        if true {
            panic!("the tool's own bug");
        }
        Ok::<_, String>(0)
    });
    let cat = CatalogueBuilder::new(Pool::default())
        .sources([Arc::new(broken) as Arc<dyn toolbridge::ToolSource>])
        .build()
        .await
        .unwrap();
    let log = CallLog::new();
    let record = cat.call(&log, "broken__boom", RawArguments::Json("{}"), "p", &CallOptions::default()).await;
    assert!(!record.success);
    assert_eq!(record.error_type, Some(ToolErrorType::ToolError));
    assert!(record.output.contains("the tool panicked: the tool's own bug"), "{}", record.output);
    assert_eq!(log.records().len(), 1);
}

/// A 2 MB output is capped once: one note with the true size, and the shell's exit code kept.
#[tokio::test]
async fn output_is_capped_once_with_the_true_size() {
    let dir = tempfile::tempdir().unwrap();
    let skills = toolbridge::config::parse_skills(
        &json!([{"name": "sh", "type": "shell", "configuration": {"base_dir": dir.path()}}]),
        "test",
    )
    .unwrap();
    let cat = CatalogueBuilder::new(Pool::default()).skills(skills).build().await.unwrap();
    let args = json!({"command": "head -c 2000000 /dev/zero | tr '\\\\0' x"});
    let record =
        cat.call(&CallLog::new(), "sh__run_command", RawArguments::Value(&args), "c", &CallOptions::default()).await;
    assert!(record.success, "{:?}", record.error);
    assert_eq!(record.error_type, Some(ToolErrorType::OutputTruncated));
    assert_eq!(record.output.matches("[output truncated").count(), 1, "one note");
    assert!(
        record.output.ends_with("\n[output truncated: 100000 of 2000000 bytes shown]\nexit code 0"),
        "{}",
        &record.output[record.output.len() - 80..]
    );
    assert_eq!(record.metadata["original_bytes"], 2_000_000, "the record states the true size");
}

#[tokio::test]
async fn a_skill_and_a_server_with_the_same_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let skills = toolbridge::config::parse_skills(
        &json!([{"name": "testbed", "type": "file_system", "configuration": {"base_dir": dir.path()}}]),
        "test",
    )
    .unwrap();
    let error = CatalogueBuilder::new(Pool::default())
        .servers([testbed_server("testbed", &[])])
        .skills(skills)
        .build()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("two tool sources are named \"testbed\""), "{error}");
}

#[tokio::test]
async fn unknown_tools_get_the_nearest_names_or_how_to_configure_tools() {
    let pool = Pool::default();
    let cat = catalogue(&pool, Value::Null, CatalogueOptions::default()).await;
    let record =
        cat.call(&CallLog::new(), "testbed__ecko", RawArguments::Json("{}"), "u", &CallOptions::default()).await;
    assert!(record.output.contains("did you mean `testbed__echo`"), "{}", record.output);
    let empty = CatalogueBuilder::new(pool.clone()).build().await.unwrap();
    let record = empty.call(&CallLog::new(), "x__y", RawArguments::Json("{}"), "u", &CallOptions::default()).await;
    assert!(record.output.contains("no tools are configured"), "{}", record.output);
    pool.shutdown().await;
}
