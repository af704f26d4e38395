/*! Executions through the HTTP API against the same executions in process: executions/s and
p50/p99 latency at 1, 32 and 200 concurrent clients, the scripted model and one MCP call
(the testbed server) per execution, both recorded in a SQLite store. Prints a Markdown table
(the `BENCHMARKS-api.md` fragment).

    cargo run --release -p toolbridge-server --example api_bench -- [EXECUTIONS_PER_LEVEL]

Needs `target/release/testbed-mcp` (`cargo build --release -p testbed-mcp`). */

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use toolbridge::{Pool, PoolOptions};
use toolbridge_agent::AgentLoopOptions;
use toolbridge_runtime::{AgentDefinition, RuntimeDeps, RuntimeRegistry};
use toolbridge_server::{ApiToken, Server, ServerOptions};
use toolbridge_store::Store;

struct Stats {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn stats(mut latencies: Vec<Duration>, wall: Duration) -> Stats {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    Stats { per_second: latencies.len() as f64 / wall.as_secs_f64(), p50: at(0.5), p99: at(0.99) }
}

async fn measure<F, Fut>(total: usize, concurrency: usize, run: F) -> Stats
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    let latencies: Vec<Duration> = futures::stream::iter(0..total)
        .map(|i| {
            let fut = run(i);
            async move {
                let t = Instant::now();
                fut.await;
                t.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    stats(latencies, started.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let per_level: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let testbed = root.join("target/release/testbed-mcp");
    anyhow::ensure!(testbed.exists(), "build it first: cargo build --release -p testbed-mcp");
    let transcript = root.join("fixtures/transcripts/one-call.json");
    let dir = tempfile::tempdir()?;
    let store = Arc::new(Store::open(&dir.path().join("bench.db"))?);
    let pool = Pool::new(PoolOptions::default());
    let mut registry = RuntimeRegistry::new();
    toolbridge_agent::register(&mut registry, AgentLoopOptions::new(pool.clone()))?;
    let agent: AgentDefinition = serde_json::from_value(json!({
        "name": "bench", "model_id": format!("scripted:{}", transcript.display()),
        "mcp_servers": {"testbed": {"command": testbed}},
    }))?;
    store.create_agent(&agent).await?;
    let runtime = registry.create(&agent.runtime, RuntimeDeps::new(store.clone()))?;

    let mut options = ServerOptions::new("127.0.0.1:0".parse()?);
    options.token = Some(ApiToken::new("bench-token-0123456789")?);
    options.max_running = 4096;
    let server =
        Server::new(store.clone(), pool.clone(), Arc::new(RwLock::new(registry)), Default::default(), options)?
            .bind()
            .await?;
    let url = format!("http://{}/api/v1/executions", server.local_addr());
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    let serving = tokio::spawn(server.serve(async move { stopped.cancelled().await }));
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let body = json!({"agent": "bench", "prompt": "bench"});

    // Warm up both paths (the testbed connection, the store, the client's connections).
    for _ in 0..50 {
        let result = runtime.stream_execute(agent.context("warm"), None).collect::<Vec<_>>().await;
        anyhow::ensure!(result.last().is_some_and(|r| r.success), "in-process warm-up failed");
        let response = client.post(&url).bearer_auth("bench-token-0123456789").json(&body).send().await?;
        anyhow::ensure!(response.status() == 200, "API warm-up failed: {}", response.text().await?);
    }

    println!("| clients | path | executions/s | p50 ms | p99 ms |");
    println!("|---:|---|---:|---:|---:|");
    for concurrency in [1, 32, 200] {
        let total = per_level.max(concurrency * 5);
        let direct = measure(total, concurrency, |_| {
            let runtime = runtime.clone();
            let context = agent.context("bench");
            async move {
                let last = runtime.stream_execute(context, None).collect::<Vec<_>>().await.pop();
                assert!(last.is_some_and(|r| r.success));
            }
        })
        .await;
        let api = measure(total, concurrency, |_| {
            let request = client.post(&url).bearer_auth("bench-token-0123456789").json(&body);
            async move {
                let response = request.send().await.expect("request");
                assert_eq!(response.status(), 200);
                let _ = response.bytes().await.expect("body");
            }
        })
        .await;
        for (path, s) in [("in-process `stream_execute`", &direct), ("HTTP API `POST /api/v1/executions`", &api)] {
            println!(
                "| {concurrency} | {path} | {:.0} | {:.2} | {:.2} |",
                s.per_second,
                s.p50.as_secs_f64() * 1e3,
                s.p99.as_secs_f64() * 1e3
            );
        }
        let overhead = (api.p50.as_secs_f64() - direct.p50.as_secs_f64()) * 1e3;
        let per_exec = (1.0 / api.per_second - 1.0 / direct.per_second) * 1e3 * concurrency as f64;
        println!("| {concurrency} | API overhead | | p50 {overhead:+.2} ms | per execution {per_exec:+.2} ms |");
    }
    stop.cancel();
    serving.await??;
    pool.shutdown().await;
    Ok(())
}
