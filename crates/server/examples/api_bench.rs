/*! Executions through the HTTP API against the same executions in process: executions/s,
p50/p99 latency and CPU time per execution at 1, 32 and 200 concurrent clients, the scripted
model and one MCP call (the testbed server) per execution. Prints the Markdown fragment that
`scripts/bench_table.py` puts into `BENCHMARKS.md` as its "HTTP API" section.

    cargo build --release -p testbed-mcp -p toolbridge-server --example api_bench
    target/release/examples/api_bench [EXECUTIONS_PER_LEVEL]

What makes the two paths comparable: one store (SQLite, in a temporary directory) and one
pool (one testbed process) serve both; every execution, on either path, is a task of its own
on the same tokio runtime (the server spawns one per request; here the in-process path spawns
one per execution) and writes the same records (its start, then the result, tool calls, usage
and events). The HTTP clients run in a separate process (this program, re-run with
`--client`), so that this process's CPU time is the server's alone.

"API overhead per execution" is this process's CPU time per execution through the API minus
its CPU time per execution in process: what the API (HTTP, JSON, the agent lookup, the live
event list) adds to each execution, whatever else runs on the machine. The p50 difference is
shown too; at 32 and 200 clients it is mostly queueing, since the clients' own work (shown
apart) shares the same cores.

Each level runs `API_BENCH_ROUNDS` times (default 5), the two paths alternating; the round
with the median API throughput is shown, and the overhead is the median of the rounds'
differences. `API_BENCH_LEVELS=32` and `API_BENCH_PATHS=api`
(or `direct`) narrow a run down for a profiler.

Needs `target/release/testbed-mcp`. */

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use toolbridge::{Pool, PoolOptions};
use toolbridge_agent::AgentLoopOptions;
use toolbridge_runtime::{AgentDefinition, RuntimeDeps, RuntimeRegistry};
use toolbridge_server::{ApiToken, Server, ServerOptions};
use toolbridge_store::Store;

const TOKEN: &str = "bench-token-0123456789";

#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time of this process (the runtime, and the server on the API path) per execution.
    cpu: Duration,
    /// CPU time of the client process per execution (API path only).
    client_cpu: Duration,
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat`: fields 14 and 15,
/// in clock ticks of 10 ms (`USER_HZ` is 100 on Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; what follows its ')' starts at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10)
}

fn stats(mut latencies: Vec<Duration>, wall: Duration, cpu: Duration) -> Stats {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let n = latencies.len() as u32;
    Stats {
        per_second: f64::from(n) / wall.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
        cpu: cpu / n,
        ..Stats::default()
    }
}

/// Runs `total` calls of `run`, `concurrency` at a time; their latencies and the wall time.
async fn drive<F, Fut>(total: usize, concurrency: usize, run: F) -> (Vec<Duration>, Duration)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    let latencies = futures::stream::iter(0..total)
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
    (latencies, started.elapsed())
}

fn env_list<T: std::str::FromStr + Clone>(name: &str, default: &[T]) -> Vec<T> {
    match std::env::var(name) {
        Ok(text) if !text.is_empty() => text.split(',').filter_map(|v| v.trim().parse().ok()).collect(),
        _ => default.to_vec(),
    }
}

/// The client process: warms its connections up, says `ready`, waits for `go` on stdin, runs
/// `total` executions `concurrency` at a time and prints `wall_µs cpu_µs` then one latency
/// (µs) a line.
async fn client(url: String, concurrency: usize, total: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let body = json!({"agent": "bench", "prompt": "bench"});
    let post = |_| {
        let request = client.post(&url).bearer_auth(TOKEN).json(&body);
        async move {
            let response = request.send().await.expect("request");
            assert_eq!(response.status(), 200);
            let _ = response.bytes().await.expect("body");
        }
    };
    drive(concurrency.max(8), concurrency, post).await;
    println!("ready");
    let mut line = String::new();
    BufReader::new(tokio::io::stdin()).read_line(&mut line).await?;
    let cpu = cpu_time();
    let (latencies, wall) = drive(total, concurrency, post).await;
    let cpu = cpu_time().saturating_sub(cpu);
    let mut out = format!("{} {}\n", wall.as_micros(), cpu.as_micros());
    for latency in latencies {
        out.push_str(&format!("{}\n", latency.as_micros()));
    }
    tokio::io::stdout().write_all(out.as_bytes()).await?;
    Ok(())
}

/// Runs the API path through a client process; this process's CPU time is counted from `go`
/// to the results.
async fn through_api(url: &str, concurrency: usize, total: usize) -> anyhow::Result<Stats> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["--client", url, &concurrency.to_string(), &total.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().context("client stdin")?;
    let mut lines = BufReader::new(child.stdout.take().context("client stdout")?).lines();
    anyhow::ensure!(lines.next_line().await?.as_deref() == Some("ready"), "the client did not start");
    let cpu = cpu_time();
    stdin.write_all(b"go\n").await?;
    let head = lines.next_line().await?.context("the client gave no results")?;
    let cpu = cpu_time().saturating_sub(cpu);
    let mut latencies = Vec::with_capacity(total);
    while let Some(line) = lines.next_line().await? {
        latencies.push(Duration::from_micros(line.parse()?));
    }
    anyhow::ensure!(child.wait().await?.success(), "the client failed");
    let (wall, client_cpu) = head.split_once(' ').context("client results")?;
    let mut stats = stats(latencies, Duration::from_micros(wall.parse()?), cpu);
    stats.client_cpu = Duration::from_micros(client_cpu.parse()?) / u32::try_from(total)?;
    Ok(stats)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--client") {
        let (url, concurrency, total) = (args[2].clone(), args[3].parse()?, args[4].parse()?);
        return tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(client(
            url,
            concurrency,
            total,
        ));
    }
    let per_level: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(2000);
    tokio::runtime::Runtime::new()?.block_on(bench(per_level))
}

async fn bench(per_level: usize) -> anyhow::Result<()> {
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
    options.token = Some(ApiToken::new(TOKEN)?);
    options.max_running = 4096;
    let server =
        Server::new(store.clone(), pool.clone(), Arc::new(RwLock::new(registry)), Default::default(), options)?
            .bind()
            .await?;
    let url = format!("http://{}/api/v1/executions", server.local_addr());
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    let serving = tokio::spawn(server.serve(async move { stopped.cancelled().await }));

    // Warm up both paths (the testbed connection, the store).
    for _ in 0..50 {
        let result = runtime.stream_execute(agent.context("warm"), None).collect::<Vec<_>>().await;
        anyhow::ensure!(result.last().is_some_and(|r| r.success), "in-process warm-up failed");
    }
    through_api(&url, 1, 50).await.context("API warm-up")?;

    let levels: Vec<usize> = env_list("API_BENCH_LEVELS", &[1, 32, 200]);
    let rounds: usize = std::env::var("API_BENCH_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(5).max(1);
    let paths = std::env::var("API_BENCH_PATHS").unwrap_or_default();
    let (run_direct, run_api) =
        (paths.is_empty() || paths.contains("direct"), paths.is_empty() || paths.contains("api"));
    println!(
        "{per_level} executions per level (at least 5 per client), {rounds} rounds alternating the two paths; \
         the round with the median API throughput is shown. CPU µs/execution: server = the process \
         running the executions (runtime, store, and the server on the API path), client = the HTTP \
         client process. API overhead = server CPU per execution through the API minus in process, \
         the median of the rounds' differences (their range in brackets).\n"
    );
    println!("| clients | path | executions/s | p50 ms | p99 ms | server CPU µs/execution | client CPU µs/execution |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for concurrency in levels {
        let total = per_level.max(concurrency * 5);
        let mut measured: Vec<(Stats, Stats)> = Vec::new();
        for _ in 0..rounds {
            let direct = if run_direct {
                let cpu = cpu_time();
                let (latencies, wall) = drive(total, concurrency, |_| {
                    let runtime = runtime.clone();
                    let context = agent.context("bench");
                    // A task per execution, as the server runs them.
                    let task =
                        tokio::spawn(
                            async move { runtime.stream_execute(context, None).collect::<Vec<_>>().await.pop() },
                        );
                    async move {
                        let last = task.await.expect("execution task");
                        assert!(last.is_some_and(|r| r.success));
                    }
                })
                .await;
                stats(latencies, wall, cpu_time().saturating_sub(cpu))
            } else {
                Stats::default()
            };
            let api = if run_api { through_api(&url, concurrency, total).await? } else { Stats::default() };
            measured.push((direct, api));
        }
        // Each round's two figures were taken seconds apart: their difference drifts less
        // with the machine's load than either figure does.
        let mut overheads: Vec<f64> =
            measured.iter().map(|(d, a)| (a.cpu.as_secs_f64() - d.cpu.as_secs_f64()) * 1e6).collect();
        overheads.sort_by(f64::total_cmp);
        measured
            .sort_by(|a, b| a.1.per_second.total_cmp(&b.1.per_second).then(a.0.per_second.total_cmp(&b.0.per_second)));
        let (direct, api) = measured[measured.len() / 2];
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        for (path, s) in [("in-process `stream_execute`", &direct), ("HTTP API `POST /api/v1/executions`", &api)] {
            let client = if s.client_cpu.is_zero() { "–".to_owned() } else { format!("{:.0}", micros(s.client_cpu)) };
            println!(
                "| {concurrency} | {path} | {:.0} | {:.2} | {:.2} | {:.0} | {client} |",
                s.per_second,
                s.p50.as_secs_f64() * 1e3,
                s.p99.as_secs_f64() * 1e3,
                micros(s.cpu),
            );
        }
        if run_direct && run_api {
            let p50 = (api.p50.as_secs_f64() - direct.p50.as_secs_f64()) * 1e3;
            let (low, median, high) = (overheads[0], overheads[overheads.len() / 2], overheads[overheads.len() - 1]);
            println!(
                "| {concurrency} | **API overhead** (rounds: {low:+.0} … {high:+.0} µs) | | p50 {p50:+.2} ms | | **{median:+.0} µs** | |"
            );
        }
    }
    stop.cancel();
    serving.await??;
    pool.shutdown().await;
    Ok(())
}
