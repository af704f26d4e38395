//! Durable versus in-process executions: latency per agent-loop iteration and executions per
//! second, with 1, 2 and 4 worker processes (the `worker` example), a scripted model and the
//! testbed MCP server, against a Temporal dev server started here. Prints a Markdown table.
//!
//! ```text
//! bash scripts/setup-temporal.sh
//! cargo build --release -p testbed-mcp -p toolbridge-durable --features temporal --examples
//! target/release/examples/bench [EXECUTIONS] [CONCURRENCY] [ITERATIONS]   # default 200 32 4
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use toolbridge_agent::AgentLoopOptions;
use toolbridge_durable::{DurableOptions, TemporalSettings};
use toolbridge_runtime::{RuntimeDeps, RuntimeExecutionContext, RuntimeHandle, RuntimeRegistry, RuntimeType};
use toolbridge_test_support::temporal::DevServer;

/// Worker processes, killed (with their process groups) on drop.
struct Workers(Vec<Child>);

impl Workers {
    fn start(server: &DevServer, queue: &str, count: usize) -> Self {
        let binary = std::env::current_exe().unwrap().with_file_name("worker");
        let children = (0..count)
            .map(|_| {
                let mut child = Command::new(&binary)
                    .env("TEMPORAL_ADDRESS", server.address())
                    .env("TOOLBRIDGE_TASK_QUEUE", queue)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .process_group(0)
                    .spawn()
                    .unwrap();
                let stdout = child.stdout.take().unwrap();
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).unwrap();
                assert!(line.starts_with("worker ready"), "{line}");
                child
            })
            .collect();
        Self(children)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = child.wait();
        }
    }
}

fn context(transcript: &Path) -> RuntimeExecutionContext {
    let mut context = RuntimeExecutionContext::new("bench").model(format!("scripted:{}", transcript.display()));
    context.mcp_servers = toolbridge_runtime::config::McpServers::from_json(
        &json!({"testbed": {"command": toolbridge_test_support::testbed()}}),
        "bench",
    )
    .unwrap();
    context
}

/// Median wall time of `runs` executions one after another.
async fn latency(runtime: &RuntimeHandle, transcript: &Path, runs: usize) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let result = runtime.execute(&context(transcript)).await;
        assert!(result.success, "{result:?}");
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// Executions per second: `total` executions, `concurrency` at a time.
async fn throughput(runtime: &RuntimeHandle, transcript: &Path, total: usize, concurrency: usize) -> f64 {
    let started = Instant::now();
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let runs: Vec<_> = (0..total)
        .map(|_| {
            let runtime = runtime.clone();
            let context = context(transcript);
            let semaphore = std::sync::Arc::clone(&semaphore);
            tokio::spawn(async move {
                let _permit = semaphore.acquire().await.unwrap();
                runtime.execute(&context).await
            })
        })
        .collect();
    for run in runs {
        let result = run.await.unwrap();
        assert!(result.success, "{result:?}");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().expect("numbers"));
    let total = args.next().unwrap_or(200);
    let concurrency = args.next().unwrap_or(32);
    let iterations = args.next().unwrap_or(4);
    let dir = tempfile::tempdir().unwrap();
    let mut turns: Vec<_> = (0..iterations)
        .map(|i| json!({"tool_calls": [{"name": "testbed__echo", "arguments": {"message": format!("step {i}")}}]}))
        .collect();
    turns.push(json!({"content": "done: {{last_tool_result}}"}));
    let transcript = dir.path().join("bench.json");
    std::fs::write(&transcript, serde_json::Value::Array(turns).to_string()).unwrap();
    let model_calls = iterations + 1;

    let server = DevServer::start();
    let pool = toolbridge::Pool::default();
    let mut registry = RuntimeRegistry::new();
    toolbridge_agent::register(&mut registry, AgentLoopOptions::new(pool.clone())).unwrap();
    let local = registry.create(&RuntimeType::new("agent_loop"), RuntimeDeps::default()).unwrap();
    latency(&local, &transcript, 5).await;
    let local_latency = latency(&local, &transcript, 30).await;
    let local_rate = throughput(&local, &transcript, total, concurrency).await;

    println!(
        "| runtime | workers | median latency ({model_calls} model + {iterations} tool calls) | added per iteration | executions/s ({total} runs, {concurrency} at once) |"
    );
    println!("|---|---|---|---|---|");
    println!("| agent_loop (in-process) | — | {:.1} ms | — | {local_rate:.0} |", local_latency.as_secs_f64() * 1000.0);
    for workers in [1, 2, 4] {
        let queue = format!("bench-{workers}-{}", std::process::id());
        let _workers = Workers::start(&server, &queue, workers);
        let settings = TemporalSettings::at(server.address()).task_queue(queue);
        let mut registry = RuntimeRegistry::new();
        toolbridge_durable::register(&mut registry, DurableOptions::new(settings)).unwrap();
        let durable = registry.create(&RuntimeType::new("durable_agent_loop"), RuntimeDeps::default()).unwrap();
        latency(&durable, &transcript, 5).await;
        let durable_latency = latency(&durable, &transcript, 30).await;
        let rate = throughput(&durable, &transcript, total, concurrency).await;
        let added = (durable_latency.saturating_sub(local_latency)).as_secs_f64() * 1000.0 / model_calls as f64;
        println!(
            "| durable_agent_loop | {workers} | {:.1} ms | {added:.1} ms | {rate:.1} |",
            durable_latency.as_secs_f64() * 1000.0
        );
    }
    pool.shutdown().await;
}
