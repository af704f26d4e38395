//! rmcp over streamable HTTP, same method as the peers-bench `rust-rmcp` (stdio) client.
//!
//!   peer-rust-rmcp-http URL bench [N] [CONC_N] -> JSON lines: seq (N calls), conc32 (CONC_N, 32 in flight)
//!
//! A plain `#[tokio::main]` (multi-thread) client with rmcp's own reqwest transport, as users
//! write it.
use std::time::{Duration, Instant};

use rmcp::{
    RoleClient, ServiceExt, model::CallToolRequestParams, service::RunningService,
    transport::StreamableHttpClientTransport,
};

const WARMUP: usize = 50;
const CONCURRENCY: usize = 32;

type Client = RunningService<RoleClient, ()>;
type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn connect(url: &str) -> Res<Client> {
    let transport = StreamableHttpClientTransport::from_uri(url.to_owned());
    let client = ().serve(transport).await?;
    let tools = client.list_all_tools().await?;
    if !tools.iter().any(|t| t.name == "echo") {
        return Err("server has no echo tool".into());
    }
    Ok(client)
}

async fn echo(peer: &rmcp::Peer<RoleClient>, i: usize) -> Res<()> {
    let mut p = CallToolRequestParams::default();
    p.name = "echo".into();
    p.arguments = serde_json::json!({ "message": format!("m{i}") }).as_object().cloned();
    let res = peer.call_tool(p).await?;
    let text = res.content.first().and_then(|c| c.as_text()).map(|t| t.text.as_str());
    if text != Some(&format!("Echo: m{i}")) {
        return Err(format!("bad echo: {res:?}").into());
    }
    Ok(())
}

fn emit(scenario: &str, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    let pct = |p: f64| {
        let k = ((p / 100.0 * lat.len() as f64).ceil() as usize).max(1) - 1;
        (lat[k].as_nanos() as f64 / 100.0).round() / 10.0
    };
    let row = serde_json::json!({
        "client": "rust-rmcp", "scenario": scenario, "n": lat.len(),
        "p50_us": pct(50.0), "p99_us": pct(99.0),
        "calls_per_s": (lat.len() as f64 / wall.as_secs_f64() * 10.0).round() / 10.0,
        "wall_s": (wall.as_secs_f64() * 1000.0).round() / 1000.0,
        "version": "3.11.0",
    });
    println!("{row}");
}

async fn bench(url: &str, n: usize, conc_n: usize) -> Res<()> {
    let client = connect(url).await?;
    let peer = client.peer().clone();
    for i in 0..WARMUP {
        echo(&peer, i).await?;
    }
    let mut lat = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let a = Instant::now();
        echo(&peer, i).await?;
        lat.push(a.elapsed());
    }
    emit("seq", lat, t0.elapsed());

    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (peer, next) = (peer.clone(), next.clone());
        workers.spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= conc_n {
                    return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(lat);
                }
                let a = Instant::now();
                echo(&peer, i).await?;
                lat.push(a.elapsed());
            }
        });
    }
    let mut lat = Vec::with_capacity(conc_n);
    while let Some(r) = workers.join_next().await {
        lat.extend(r??);
    }
    emit(&format!("conc{CONCURRENCY}"), lat, t0.elapsed());
    client.cancel().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    match (args.first(), args.get(1).map(String::as_str)) {
        (Some(url), Some("bench")) => bench(url, num(2, 2000), num(3, 1000)).await,
        _ => Err("usage: peer-rust-rmcp-http URL bench [N] [CONC_N]".into()),
    }
}
