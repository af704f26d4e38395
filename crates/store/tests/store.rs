//! The SQLite store with real database files, several processes and kill -9.

use std::process::Command;

use chrono::Utc;
use serde_json::json;
use toolbridge_runtime::{
    AgentDefinition, ControlPlane, ExecutionRecord, ExecutionStart, ExecutionStatus, FinishReason,
    RuntimeExecutionContext, RuntimeExecutionResult, RuntimeType, ToolCallRecord, ToolErrorType, ToolSourceKind, Usage,
};
use toolbridge_store::{ExecutionFilter, Store, StoreError};

fn record(tool: &str, ok: bool) -> ToolCallRecord {
    let now = Utc::now();
    ToolCallRecord {
        tool: tool.into(),
        tool_use_id: format!("id-{tool}"),
        source: ToolSourceKind::Mcp,
        server: Some("t".into()),
        input: json!({"x": 1}),
        // A tool echoing its server's credentials, a server quoting them back in an error.
        output: format!("out {tool}: TOKEN=s3cret-value"),
        success: ok,
        error: (!ok).then(|| "401: abc123xyz is not a valid key".into()),
        error_type: (!ok).then_some(ToolErrorType::Timeout),
        duration_ms: 3,
        start_time: now,
        end_time: now,
        metadata: serde_json::Map::new(),
    }
}

async fn store_execution(store: &Store, id: &str, result: &RuntimeExecutionResult) {
    let mut context = RuntimeExecutionContext::with_id(id, "what is 2+3?").model("scripted:x");
    context.agent_id = "demo".into();
    context.mcp_servers = toolbridge_runtime::config::McpServers::from_json(
        &json!({"t": {"command": "x", "env": {"TOKEN": "s3cret-value"}}, "h": {"url": "http://x", "headers": {"Authorization": "Bearer abc123xyz"}}}),
        "test",
    )
    .unwrap();
    let runtime = RuntimeType::agent_loop();
    let now = Utc::now();
    store
        .record_execution(ExecutionRecord {
            runtime_type: &runtime,
            context: &context,
            result,
            events: &[],
            started_at: now,
            finished_at: now,
        })
        .await
        .unwrap();
}

fn result(success: bool, finish: FinishReason) -> RuntimeExecutionResult {
    RuntimeExecutionResult {
        response: "5".into(),
        success,
        finish_reason: Some(finish),
        tool_execution_messages: Some(vec![record("a", true), record("b", false)]),
        usage: Usage { model_provider: Some("scripted".into()), ..Usage::new(10, 2) },
        ..RuntimeExecutionResult::default()
    }
}

#[tokio::test]
async fn agents_crud() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("nested/db.sqlite")).unwrap();
    let agent = AgentDefinition::new("demo", "scripted:x");
    store.create_agent(&agent).await.unwrap();
    assert!(matches!(store.create_agent(&agent).await, Err(StoreError::AgentExists(name)) if name == "demo"));
    assert_eq!(store.get_agent("demo").await.unwrap().unwrap().definition, agent);
    let mut changed = agent.clone();
    changed.system_prompt = Some("hi".into());
    store.upsert_agent(&changed).await.unwrap();
    assert_eq!(store.list_agents().await.unwrap()[0].definition.system_prompt.as_deref(), Some("hi"));
    assert!(store.delete_agent("demo").await.unwrap());
    assert!(!store.delete_agent("demo").await.unwrap());
    assert!(store.get_agent("demo").await.unwrap().is_none());
}

#[tokio::test]
async fn executions_are_recorded_with_their_log_and_usage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = Store::open(&path).unwrap();
    store_execution(&store, "aaaa-1111", &result(true, FinishReason::Stop)).await;
    store_execution(&store, "aaaa-2222", &result(false, FinishReason::Error)).await;
    store_execution(&store, "bbbb-3333", &result(false, FinishReason::Cancelled)).await;
    let all = store.list_executions(&ExecutionFilter::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    let statuses: std::collections::BTreeSet<&str> = all.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(statuses, ["cancelled", "error", "success"].into_iter().collect());
    let cancelled = store
        .list_executions(&ExecutionFilter { status: Some(ExecutionStatus::Cancelled), ..ExecutionFilter::default() })
        .await
        .unwrap();
    assert_eq!(cancelled[0].id, "bbbb-3333");
    let full = store.get_execution("bbbb").await.unwrap().unwrap();
    assert_eq!(full.summary.id, "bbbb-3333");
    assert_eq!(full.tool_calls.len(), 2);
    assert_eq!(full.tool_calls[1].error_type, Some(ToolErrorType::Timeout));
    assert_eq!(full.usage.total_tokens, 12);
    assert_eq!(full.tool_calls[0].output, "out a: TOKEN=[redacted]");
    assert_eq!(full.tool_calls[1].error.as_deref(), Some("401: [redacted] is not a valid key"));
    assert_eq!(full.summary.tool_calls, 2);
    assert!(matches!(store.get_execution("aaaa").await, Err(StoreError::Ambiguous { .. })));
    assert!(store.get_execution("zzzz").await.unwrap().is_none());
    assert_eq!(
        store.get_usage(&"aaaa-1111".into()).await.unwrap().unwrap().model_provider.as_deref(),
        Some("scripted")
    );
    store.cache_agent_data("demo", json!({"k": 1})).await.unwrap();
    assert_eq!(store.get_cached_data("demo").await.unwrap(), Some(json!({"k": 1})));
    // Secrets never reach the file.
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    drop(conn);
    let bytes = std::fs::read(&path).unwrap();
    for secret in [&b"s3cret-value"[..], b"abc123xyz"] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret), "a secret is in the database file");
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_future_schemas_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    Store::open(&path).unwrap();
    Store::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(Store::open(&path), Err(StoreError::FutureSchema { found: 99, .. })));
}

/// When run as a child with TOOLBRIDGE_STORE_WRITER set: record executions into that file.
#[tokio::test]
async fn writer_child() {
    let Ok(path) = std::env::var("TOOLBRIDGE_STORE_WRITER") else { return };
    let prefix = std::env::var("TOOLBRIDGE_STORE_PREFIX").unwrap();
    let count: usize = std::env::var("TOOLBRIDGE_STORE_COUNT").unwrap().parse().unwrap();
    let store = Store::open(path.as_ref()).unwrap();
    for i in 0..count {
        store_execution(&store, &format!("{prefix}-{i}"), &result(true, FinishReason::Stop)).await;
    }
}

fn writer(path: &std::path::Path, prefix: &str, count: usize) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["writer_child", "--exact", "--nocapture"])
        .env("TOOLBRIDGE_STORE_WRITER", path)
        .env("TOOLBRIDGE_STORE_PREFIX", prefix)
        .env("TOOLBRIDGE_STORE_COUNT", count.to_string())
        .stdout(std::process::Stdio::null());
    command
}

#[tokio::test]
async fn several_processes_write_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    Store::open(&path).unwrap();
    let children: Vec<_> = (0..4).map(|i| writer(&path, &format!("p{i}"), 50).spawn().unwrap()).collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let store = Store::open(&path).unwrap();
    let all =
        store.list_executions(&ExecutionFilter { limit: Some(1000), ..ExecutionFilter::default() }).await.unwrap();
    assert_eq!(all.len(), 200);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}

#[tokio::test]
async fn kill_9_during_writes_leaves_a_consistent_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    Store::open(&path).unwrap();
    let mut child = writer(&path, "k", 100_000).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    child.kill().unwrap();
    child.wait().unwrap();
    let store = Store::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let half_written: i64 = conn
        .query_row("SELECT COUNT(*) FROM executions e WHERE (SELECT COUNT(*) FROM tool_calls t WHERE t.execution_id = e.id) != 2", [], |r| r.get(0))
        .unwrap();
    assert_eq!(half_written, 0, "every stored execution has its whole tool log");
    let written = store
        .list_executions(&ExecutionFilter { limit: Some(1_000_000), ..ExecutionFilter::default() })
        .await
        .unwrap()
        .len();
    assert!(written > 0, "the writer wrote something before it was killed");
}

/// The start of an execution is recorded at once (`running` while this process lives); the
/// final record replaces it.
#[tokio::test]
async fn an_execution_is_recorded_from_its_start() {
    let store = Store::open_in_memory().unwrap();
    let mut context = RuntimeExecutionContext::with_id("cccc-1", "what is 2+3?").model("scripted:x");
    context.agent_id = "demo".into();
    let runtime = RuntimeType::agent_loop();
    store
        .record_start(ExecutionStart { runtime_type: &runtime, context: &context, started_at: Utc::now() })
        .await
        .unwrap();
    let listed = store.list_executions(&ExecutionFilter::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].status, listed[0].prompt.as_str()), (ExecutionStatus::Running, "what is 2+3?"));
    let running = ExecutionFilter { status: Some(ExecutionStatus::Running), ..ExecutionFilter::default() };
    assert_eq!(store.list_executions(&running).await.unwrap().len(), 1);
    let shown = store.get_execution("cccc").await.unwrap().unwrap();
    assert!(shown.tool_calls.is_empty() && shown.summary.status == ExecutionStatus::Running);
    // Metadata without a start (another caller of the control plane) records no execution.
    store.cache_metadata(&"dddd-1".into(), json!({"note": 1})).await.unwrap();
    store_execution(&store, "cccc-1", &result(true, FinishReason::Stop)).await;
    let listed = store.list_executions(&ExecutionFilter::default()).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].status, ExecutionStatus::Success);
    assert_eq!(listed[0].tool_calls, 2);
}

#[tokio::test]
async fn events_are_stored_with_the_record_scrubbed_and_replayed_in_order() {
    use toolbridge_runtime::{ExecutionEvent, TimedEvent};
    let store = Store::open_in_memory().unwrap();
    let mut context = RuntimeExecutionContext::with_id("ev-1", "p");
    context.mcp_servers = toolbridge_runtime::config::McpServers::from_json(
        &json!({"t": {"command": "x", "env": {"TOKEN": "s3cret-value"}}}),
        "test",
    )
    .unwrap();
    let now = Utc::now();
    let events = [
        ExecutionEvent::ToolStart {
            tool_name: "t__echo".into(),
            tool_args: json!({"api_key": "k-123456", "x": 1}),
            tool_execution_id: "c1".into(),
        },
        ExecutionEvent::tool_complete("t__echo", "c1", true, "echo s3cret-value", None, 4),
        ExecutionEvent::Done { finish_reason: FinishReason::Stop },
    ]
    .into_iter()
    .enumerate()
    .map(|(i, event)| TimedEvent { seq: i as u64 + 1, ts: now, event })
    .collect::<Vec<_>>();
    let runtime = RuntimeType::agent_loop();
    let result = result(true, FinishReason::Stop);
    let record = ExecutionRecord {
        runtime_type: &runtime,
        context: &context,
        result: &result,
        events: &events,
        started_at: now,
        finished_at: now,
    };
    store.record_execution(record).await.unwrap();
    // Recording again (the final record replaces a start record) keeps one copy.
    store.record_execution(record).await.unwrap();
    let stored = store.execution_events("ev-1").await.unwrap();
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(stored[2].event, events[2].event);
    let text = serde_json::to_string(&stored).unwrap();
    assert!(!text.contains("s3cret-value") && !text.contains("k-123456"), "{text}");
    assert!(store.execution_events("nope").await.unwrap().is_empty());
    let summary = &store.get_execution("ev-1").await.unwrap().unwrap().summary;
    assert!(summary.finished_at.is_some());
}

#[tokio::test]
async fn pages_follow_the_cursor_newest_first_without_gaps_or_repeats() {
    let store = Store::open_in_memory().unwrap();
    let runtime = RuntimeType::agent_loop();
    let base = Utc::now();
    // Two executions share each start time: ties are ordered by id.
    for i in 0..9 {
        let context = RuntimeExecutionContext::with_id(format!("e-{i}"), "p");
        let started = base + chrono::Duration::seconds(i / 2);
        let outcome = result(i % 3 != 0, if i % 3 == 0 { FinishReason::Error } else { FinishReason::Stop });
        let record = ExecutionRecord {
            runtime_type: &runtime,
            context: &context,
            result: &outcome,
            events: &[],
            started_at: started,
            finished_at: started,
        };
        store.record_execution(record).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut filter = ExecutionFilter { limit: Some(4), ..ExecutionFilter::default() };
    loop {
        let page = store.list_executions_page(&filter).await.unwrap();
        seen.extend(page.executions.iter().map(|e| e.id.clone()));
        match page.next {
            Some(next) => filter.before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["e-8", "e-7", "e-6", "e-5", "e-4", "e-3", "e-2", "e-1", "e-0"]);
    let errors = store
        .list_executions_page(&ExecutionFilter {
            status: Some(ExecutionStatus::Error),
            limit: Some(2),
            ..ExecutionFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(errors.executions.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e-6", "e-3"]);
    assert!(errors.next.is_some());
}

#[tokio::test]
async fn runtime_plugins_are_registered_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Store::open(&path).unwrap();
    let command = json!({"program": "python3", "args": ["echo_runtime.py"], "env": {}, "cwd": null});
    let info = json!({"protocol_version": "1", "description": "echo", "config_schema": null});
    store.add_plugin("echo_py", &command, &info).await.unwrap();
    let duplicate = store.add_plugin("echo_py", &command, &info).await.unwrap_err();
    assert!(matches!(duplicate, StoreError::PluginExists(ref name) if name == "echo_py"), "{duplicate}");
    store.add_plugin("another", &json!({"program": "x"}), &json!({})).await.unwrap();

    // Another process (here: another connection) sees them.
    let reopened = Store::open(&path).unwrap();
    let names: Vec<_> = reopened.list_plugins().await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["another", "echo_py"]);
    let echo = reopened.get_plugin("echo_py").await.unwrap().unwrap();
    assert_eq!((echo.command, echo.info), (command, info));
    assert!(reopened.remove_plugin("echo_py").await.unwrap());
    assert!(!reopened.remove_plugin("echo_py").await.unwrap());
    assert!(store.get_plugin("echo_py").await.unwrap().is_none());
}

#[tokio::test]
async fn recording_an_execution_again_replaces_it() {
    let store = Store::open_in_memory().unwrap();
    store_execution(&store, "again-1", &result(false, FinishReason::Error)).await;
    let mut second = result(true, FinishReason::Stop);
    second.usage = Usage::new(7, 1);
    second.tool_execution_messages = Some(vec![record("c", true)]);
    store_execution(&store, "again-1", &second).await;
    let stored = store.get_execution("again-1").await.unwrap().unwrap();
    assert_eq!(stored.summary.status, ExecutionStatus::Success);
    assert_eq!(stored.usage.total_tokens, 8);
    assert_eq!(stored.tool_calls.len(), 1);
    assert_eq!(store.list_executions(&ExecutionFilter::default()).await.unwrap().len(), 1);
}
