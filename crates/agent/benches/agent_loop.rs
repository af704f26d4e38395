//! Agent-loop benchmarks.
//!
//! - Loop overhead per iteration: executions with the scripted provider, 1 turn vs 11 turns
//!   each calling an in-process tool (so that pipe latency does not blur it); the overhead is
//!   the difference per extra turn (printed as a derived figure). The same with the testbed's
//!   `echo` over a warm pool, and one raw pool call of `echo`, for comparison.
//! - 1000 concurrent executions against the fake model server (a separate process, so its
//!   memory is not counted) and one testbed server: throughput, and peak RSS growth of this
//!   process per concurrent execution (sampled from `/proc/self/status`).
//!
//! ```sh
//! cargo build --release -p testbed-mcp -p toolbridge-providers --bins && cargo bench -p toolbridge-agent
//! ```

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use toolbridge::config::McpServers;
use toolbridge::{Pool, PoolCallOptions as CallOptions, ToolTable};
use toolbridge_agent::{AgentLoopOptions, register};
use toolbridge_providers::ProviderEnv;
use toolbridge_runtime::{
    ControlPlane, ControlPlaneError, ExecutionId, RuntimeDeps, RuntimeExecutionContext, RuntimeHandle, RuntimeRegistry,
    RuntimeType, Usage,
};

const EXTRA_TURNS: usize = 10;
const CONCURRENT: usize = 1000;

fn binary(name: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    ["release", "debug"].iter().map(|profile| target.join(profile).join(name)).find(|p| p.exists())
}

/// Keeps nothing (the in-memory control plane would keep every one of the benchmark's
/// executions, and its memory would be counted against the loop).
#[derive(Debug)]
struct Discard;

#[async_trait]
impl ControlPlane for Discard {
    async fn cache_metadata(&self, _: &ExecutionId, _: Value) -> Result<(), ControlPlaneError> {
        Ok(())
    }
    async fn get_metadata(&self, _: &ExecutionId) -> Result<Option<Value>, ControlPlaneError> {
        Ok(None)
    }
    async fn cache_agent_data(&self, _: &str, _: Value) -> Result<(), ControlPlaneError> {
        Ok(())
    }
    async fn get_cached_data(&self, _: &str) -> Result<Option<Value>, ControlPlaneError> {
        Ok(None)
    }
    async fn report_usage(&self, _: &ExecutionId, _: &Usage) -> Result<(), ControlPlaneError> {
        Ok(())
    }
    async fn get_usage(&self, _: &ExecutionId) -> Result<Option<Usage>, ControlPlaneError> {
        Ok(None)
    }
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Message {
    message: String,
}

fn runtime(pool: &Pool, openai_base_url: Option<String>) -> RuntimeHandle {
    let mut options = AgentLoopOptions::new(pool.clone());
    options.provider_env = ProviderEnv::for_base_urls(openai_base_url, None);
    let local = ToolTable::new("local").tool("echo", "Echoes the message", |p: Message| async move {
        Ok::<_, std::convert::Infallible>(format!("Echo: {}", p.message))
    });
    options.custom_sources.push(Arc::new(local));
    let mut registry = RuntimeRegistry::new();
    register(&mut registry, options).expect("register the agent loop");
    let deps = RuntimeDeps::new(Arc::new(Discard));
    registry.create(&RuntimeType::new("default"), deps).expect("create the agent loop")
}

fn servers(testbed: &Path) -> McpServers {
    McpServers::from_json(&json!({"testbed": {"command": testbed, "args": []}}), "bench").expect("servers")
}

/// A transcript of `tool_turns` turns each calling `tool`, then a final answer.
fn transcript(dir: &Path, name: &str, tool: &str, tool_turns: usize) -> PathBuf {
    let mut turns: Vec<Value> = (0..tool_turns)
        .map(|i| json!({"tool_calls": [{"name": tool, "arguments": {"message": format!("m{i}")}}]}))
        .collect();
    turns.push(json!({"content": "done"}));
    let path = dir.join(name);
    std::fs::write(&path, Value::Array(turns).to_string()).expect("write the transcript");
    path
}

fn context(model: &str, testbed: &Path) -> RuntimeExecutionContext {
    let mut context = RuntimeExecutionContext::new("go").model(model);
    context.mcp_servers = servers(testbed);
    context.runtime_config = Some(json!({"max_iterations": 50}));
    context
}

async fn execute(runtime: &RuntimeHandle, model: &str, testbed: &Path) {
    let result = runtime.execute(&context(model, testbed)).await;
    assert!(result.success && result.response == "done", "{result:?}");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn loop_overhead(c: &mut Criterion) {
    let Some(testbed) = binary("testbed-mcp") else {
        eprintln!("testbed-mcp not built; skipping the agent-loop benchmarks");
        return;
    };
    let tokio = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let model = |name: &str, tool: &str, turns: usize| {
        format!("scripted:{}", transcript(dir.path(), name, tool, turns).display())
    };
    let one = model("one.json", "local__echo", 0);
    let local = model("local.json", "local__echo", EXTRA_TURNS);
    let mcp = model("mcp.json", "testbed__echo", EXTRA_TURNS);
    let pool = Pool::default();
    let runtime = runtime(&pool, None);
    tokio.block_on(execute(&runtime, &mcp, &testbed)); // warm: the server is started once

    c.bench_function("execution, scripted, 1 turn", |b| b.to_async(&tokio).iter(|| execute(&runtime, &one, &testbed)));
    c.bench_function("execution, scripted, 11 turns with an in-process tool call each", |b| {
        b.to_async(&tokio).iter(|| execute(&runtime, &local, &testbed));
    });
    c.bench_function("execution, scripted, 11 turns with an MCP echo call each", |b| {
        b.to_async(&tokio).iter(|| execute(&runtime, &mcp, &testbed));
    });
    let server = toolbridge::config::ServerConfig::stdio("testbed", testbed.display().to_string(), &[]);
    let handle = tokio.block_on(pool.connect(&server)).expect("connect the testbed");
    let raw_call = || async {
        let arguments = json!({"message": "m"}).as_object().cloned();
        handle.call_tool("echo", arguments, CallOptions::default()).await.expect("echo");
    };
    c.bench_function("raw pool call of echo", |b| b.to_async(&tokio).iter(raw_call));

    // The derived figure, from medians measured back to back.
    let timed = |model: &str| {
        let started = Instant::now();
        tokio.block_on(execute(&runtime, model, &testbed));
        started.elapsed()
    };
    let t_one = median((0..500).map(|_| timed(&one)).collect());
    let t_local = median((0..500).map(|_| timed(&local)).collect());
    let per_turn = t_local.saturating_sub(t_one) / EXTRA_TURNS as u32;
    eprintln!(
        "loop overhead per iteration: {:.1} µs (model turn + tool call through the catalogue + call log, \
         scripted provider, in-process tool; 1-turn execution {:.1} µs)",
        per_turn.as_secs_f64() * 1e6,
        t_one.as_secs_f64() * 1e6,
    );
    tokio.block_on(pool.shutdown());
}

/// The fake model server as a child process, replaying `transcript` statelessly.
fn fake_model(binary: &Path, transcript: &Path) -> (Child, String) {
    let mut child = Command::new(binary)
        .arg("--transcript")
        .arg(transcript)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the fake model server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read its address");
    let url = format!("{}/v1", line.trim().trim_start_matches("listening on "));
    (child, url)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn concurrent_executions(c: &mut Criterion) {
    let (Some(testbed), Some(fake)) = (binary("testbed-mcp"), binary("toolbridge-fake-model")) else {
        eprintln!("testbed-mcp or toolbridge-fake-model not built; skipping the concurrency benchmark");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, url) = fake_model(&fake, &transcript(dir.path(), "fake.json", "testbed__echo", 1));
    let tokio = tokio::runtime::Runtime::new().expect("tokio runtime");
    let pool = Pool::default();
    let runtime = Arc::new(runtime(&pool, Some(url)));
    let testbed = Arc::new(testbed);
    let burst = || {
        let (runtime, testbed) = (Arc::clone(&runtime), Arc::clone(&testbed));
        async move {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..CONCURRENT {
                let (runtime, testbed) = (Arc::clone(&runtime), Arc::clone(&testbed));
                set.spawn(async move { execute(&runtime, "openai:fake", &testbed).await });
            }
            while let Some(joined) = set.join_next().await {
                joined.expect("execution task");
            }
        }
    };
    tokio.block_on(burst()); // warm: server started, allocator pools grown once

    // Peak RSS growth during one burst, sampled every millisecond.
    let baseline = rss_kib();
    let peak = Arc::new(AtomicU64::new(baseline));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let started = Instant::now();
    tokio.block_on(burst());
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let growth = peak.load(Ordering::Relaxed).saturating_sub(baseline);
    eprintln!(
        "{CONCURRENT} concurrent executions (2 model turns, 1 echo call each): {:.0} ms, {:.0} executions/s; \
         RSS {baseline} KiB before, peak +{growth} KiB = {:.1} KiB per execution",
        wall.as_secs_f64() * 1e3,
        CONCURRENT as f64 / wall.as_secs_f64(),
        growth as f64 / CONCURRENT as f64,
    );

    let mut group = c.benchmark_group("concurrency");
    group.sample_size(10);
    group.bench_function("1000 concurrent executions, fake model over HTTP + testbed", |b| {
        b.to_async(&tokio).iter(burst);
    });
    group.finish();
    tokio.block_on(pool.shutdown());
    let _ = server.kill();
    let _ = server.wait();
}

criterion_group!(benches, loop_overhead, concurrent_executions);
criterion_main!(benches);
