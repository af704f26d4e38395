//! Soak: many executions of the agent loop through one pool, recorded in a real SQLite store.
//! Afterwards open file descriptors and child processes are back to their baseline, memory
//! has stayed flat, and every execution is stored with its whole tool-call log.
//!
//! The test suite runs 200 executions; the full soak of RELIABILITY.md is
//! `SOAK_EXECUTIONS=1000 cargo test --release -p toolbridge-cli --test soak -- --nocapture`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use toolbridge::Pool;
use toolbridge::config::McpServers;
use toolbridge_agent::{AgentLoopOptions, register};
use toolbridge_providers::ProviderEnv;
use toolbridge_runtime::{RuntimeDeps, RuntimeExecutionContext, RuntimeRegistry, RuntimeType, ToolErrorType};
use toolbridge_store::{ExecutionFilter, Store};

/// Executions running at once.
const CONCURRENCY: usize = 20;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn testbed() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "--workspace", "--bins"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success(), "building the workspace binaries failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    target.join("debug/testbed-mcp")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap()
}

/// Live (non-zombie) processes whose parent is this test process.
fn children() -> Vec<i32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
                fields.first() != Some(&"Z") && fields.get(1) == Some(&me.as_str())
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_executions_leak_nothing_and_lose_nothing() {
    let executions: usize = std::env::var("SOAK_EXECUTIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let testbed = testbed();
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("t.json");
    std::fs::write(
        &transcript,
        json!([
            {"tool_calls": [
                {"name": "testbed__echo", "arguments": {"message": "soak"}},
                {"name": "testbed__add", "arguments": {"a": 2, "b": 3}}
            ]},
            {"tool_calls": [{"name": "testbed__fail", "arguments": {"message": "on purpose"}}]},
            {"content": "done"}
        ])
        .to_string(),
    )
    .unwrap();
    let model = format!("scripted:{}", transcript.display());
    let store = Store::open(&dir.path().join("soak.db")).unwrap();
    let pool = Pool::default();
    let mut options = AgentLoopOptions::new(pool.clone());
    options.provider_env = ProviderEnv::for_base_urls(None, None);
    let mut registry = RuntimeRegistry::new();
    register(&mut registry, options).unwrap();
    let runtime =
        Arc::new(registry.create(&RuntimeType::new("default"), RuntimeDeps::new(Arc::new(store.clone()))).unwrap());
    let context = move || {
        let mut context = RuntimeExecutionContext::new("soak").model(&model);
        context.mcp_servers =
            McpServers::from_json(&json!({"testbed": {"command": testbed, "args": []}}), "soak").unwrap();
        context
    };

    // Warm-up: the server starts, the store and the allocator settle.
    for _ in 0..CONCURRENCY {
        assert!(runtime.execute(&context()).await.success);
    }
    let (fds_before, children_before) = (open_fds(), children());
    assert_eq!(children_before.len(), 1, "one pooled testbed server: {children_before:?}");
    let mut rss_at_quarter = 0;
    let started = Instant::now();
    let context = Arc::new(context);
    for batch in 0..executions.div_ceil(CONCURRENCY) {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY.min(executions - batch * CONCURRENCY) {
            let (runtime, context) = (Arc::clone(&runtime), Arc::clone(&context));
            set.spawn(async move { runtime.execute(&context()).await });
        }
        while let Some(result) = set.join_next().await {
            let result = result.unwrap();
            assert!(result.success, "{:?}", result.error);
            assert_eq!(result.response, "done");
        }
        if batch + 1 == (executions / CONCURRENCY / 4).max(1) {
            rss_at_quarter = rss_kib();
        }
    }
    let elapsed = started.elapsed();
    let rss_end = rss_kib();
    let fds_after = open_fds();
    let children_after = children();
    eprintln!(
        "{executions} executions in {elapsed:?}; fds {fds_before} -> {fds_after}; RSS {rss_at_quarter} KiB at 1/4 -> \
         {rss_end} KiB at the end; children {children_before:?} -> {children_after:?}"
    );
    assert_eq!(fds_after, fds_before, "file descriptors leaked");
    assert_eq!(children_after, children_before, "the pooled server was replaced or another was started");
    // Flat: the last three quarters may not grow by more than 8 MiB (fragmentation, caches).
    assert!(rss_end < rss_at_quarter + 8 * 1024, "RSS grew from {rss_at_quarter} KiB to {rss_end} KiB");

    // Every execution is stored with its whole log, in call order.
    let filter = ExecutionFilter { limit: Some(executions + CONCURRENCY + 10), ..ExecutionFilter::default() };
    let stored = store.list_executions(&filter).await.unwrap();
    assert_eq!(stored.len(), executions + CONCURRENCY, "executions lost");
    for summary in &stored {
        assert_eq!(summary.status, toolbridge_runtime::ExecutionStatus::Success);
        let execution = store.get_execution(&summary.id).await.unwrap().unwrap();
        let tools: Vec<&str> = execution.tool_calls.iter().map(|c| c.tool.as_str()).collect();
        assert_eq!(tools, ["testbed__echo", "testbed__add", "testbed__fail"], "{}", summary.id);
        assert_eq!(execution.tool_calls[1].output, "5");
        assert_eq!(execution.tool_calls[2].error_type, Some(ToolErrorType::ToolError));
    }

    // Shut down: no child process is left.
    pool.shutdown().await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while !children().is_empty() {
        assert!(Instant::now() < deadline, "processes left after shutdown: {:?}", children());
        std::thread::sleep(Duration::from_millis(20));
    }
}
