/*! toolbridge-fake-model: the fake OpenAI/Anthropic-compatible model server as a process, for
demos and benchmarks: `toolbridge-fake-model --transcript FILE [--port N]`. */

use std::net::SocketAddr;

use toolbridge_providers::fake::{FakeConfig, FakeMode, FakeModelServer, FakeToolCall, FakeTurn};

fn usage() -> ! {
    eprintln!("usage: toolbridge-fake-model [--transcript FILE] [--port N]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut transcript = None;
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--transcript" => transcript = Some(args.next().unwrap_or_else(|| usage())),
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or_else(|| usage()),
            _ => usage(),
        }
    }
    let mode = match transcript {
        None => FakeMode::Sequence(Vec::new()),
        Some(path) => match load(&path) {
            Ok(turns) => FakeMode::Transcript(turns),
            Err(error) => {
                eprintln!("error: {path}: {error}");
                std::process::exit(2);
            }
        },
    };
    let server = match FakeModelServer::start_on(
        FakeConfig { mode, ..FakeConfig::default() },
        SocketAddr::from(([127, 0, 0, 1], port)),
    )
    .await
    {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {error}");
            std::process::exit(1);
        }
    };
    println!("listening on http://{}", server.addr());
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
}

/// Reads a scripted transcript (the same format as `scripted:PATH`).
fn load(path: &str) -> Result<Vec<FakeTurn>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let turns: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(turns
        .into_iter()
        .map(|turn| FakeTurn {
            content: turn["content"].as_str().map(str::to_owned),
            tool_calls: turn["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|call| FakeToolCall {
                    name: call["name"].as_str().unwrap_or_default().to_owned(),
                    arguments: call["arguments_raw"]
                        .as_str()
                        .map_or_else(|| call["arguments"].to_string(), str::to_owned),
                })
                .collect(),
            thinking: turn["thinking"].as_str().map(str::to_owned),
            usage: None,
        })
        .collect())
}
