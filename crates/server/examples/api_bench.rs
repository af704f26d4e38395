/*! Executions through the HTTP API against the same executions in process: executions/s,
p50/p99 latency and CPU time per execution at 1, 32 and 200 concurrent clients, the scripted
model and one MCP call (the testbed server) per execution, both recorded in a SQLite store.
Prints a Markdown table (the "HTTP API" section of `BENCHMARKS.md`).

    cargo run --release -p toolbridge-server --example api_bench -- [EXECUTIONS_PER_LEVEL]

Each level runs `API_BENCH_ROUNDS` times (default 3), the two paths alternating, and the
round with the median API throughput is shown: on a machine shared with other work one round
can be off by a lot. CPU time is this process's (server, client and runtime; the testbed is
a child process and not counted), so it does not depend on what else runs on the machine.
`API_BENCH_LEVELS=32` and `API_BENCH_PATHS=api` (or `direct`) narrow a run down for a
profiler.

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

#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time of this process per execution.
    cpu: Duration,
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat` (clock ticks).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) start at state (field 3);
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10)
}

fn stats(mut latencies: Vec<Duration>, wall: Duration, cpu: Duration) -> Stats {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let n = latencies.len() as u32;
    Stats { per_second: f64::from(n) / wall.as_secs_f64(), p50: at(0.5), p99: at(0.99), cpu: cpu / n }
}

async fn measure<F, Fut>(total: usize, concurrency: usize, run: F) -> Stats
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    let cpu = cpu_time();
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
    stats(latencies, started.elapsed(), cpu_time().saturating_sub(cpu))
}

fn env_list<T: std::str::FromStr>(name: &str, default: &[T]) -> Vec<T>
where
    T: Clone,
{
    match std::env::var(name) {
        Ok(text) if !text.is_empty() => text.split(',').filter_map(|v| v.trim().parse().ok()).collect(),
        _ => default.to_vec(),
    }
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

    let levels: Vec<usize> = env_list("API_BENCH_LEVELS", &[1, 32, 200]);
    let rounds: usize = std::env::var("API_BENCH_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(3).max(1);
    let paths = std::env::var("API_BENCH_PATHS").unwrap_or_default();
    let (run_direct, run_api) =
        (paths.is_empty() || paths.contains("direct"), paths.is_empty() || paths.contains("api"));
    println!("| clients | path | executions/s | p50 ms | p99 ms | CPU µs/execution |");
    println!("|---:|---|---:|---:|---:|---:|");
    for concurrency in levels {
        let total = per_level.max(concurrency * 5);
        let mut measured: Vec<(Stats, Stats)> = Vec::new();
        for _ in 0..rounds {
            let direct = if run_direct {
                measure(total, concurrency, |_| {
                    let runtime = runtime.clone();
                    let context = agent.context("bench");
                    async move {
                        let last = runtime.stream_execute(context, None).collect::<Vec<_>>().await.pop();
                        assert!(last.is_some_and(|r| r.success));
                    }
                })
                .await
            } else {
                Stats::default()
            };
            let api = if run_api {
                measure(total, concurrency, |_| {
                    let request = client.post(&url).bearer_auth("bench-token-0123456789").json(&body);
                    async move {
                        let response = request.send().await.expect("request");
                        assert_eq!(response.status(), 200);
                        let _ = response.bytes().await.expect("body");
                    }
                })
                .await
            } else {
                Stats::default()
            };
            measured.push((direct, api));
        }
        measured
            .sort_by(|a, b| a.1.per_second.total_cmp(&b.1.per_second).then(a.0.per_second.total_cmp(&b.0.per_second)));
        let (direct, api) = measured[measured.len() / 2];
        for (path, s) in [("in-process `stream_execute`", &direct), ("HTTP API `POST /api/v1/executions`", &api)] {
            println!(
                "| {concurrency} | {path} | {:.0} | {:.2} | {:.2} | {:.0} |",
                s.per_second,
                s.p50.as_secs_f64() * 1e3,
                s.p99.as_secs_f64() * 1e3,
                s.cpu.as_secs_f64() * 1e6,
            );
        }
        if run_direct && run_api {
            let overhead = (api.p50.as_secs_f64() - direct.p50.as_secs_f64()) * 1e3;
            let per_exec = (1.0 / api.per_second - 1.0 / direct.per_second) * 1e3 * concurrency as f64;
            let cpu = (api.cpu.as_secs_f64() - direct.cpu.as_secs_f64()) * 1e6;
            println!(
                "| {concurrency} | API overhead | | p50 {overhead:+.2} ms | added latency {per_exec:+.2} ms | {cpu:+.0} |"
            );
        }
    }
    stop.cancel();
    serving.await??;
    pool.shutdown().await;
    Ok(())
}
