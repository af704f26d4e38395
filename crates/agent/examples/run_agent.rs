//! The bundled agent loop from Rust in a few lines: a shared pool, the registry, one
//! execution with an MCP server and a skill, streamed.
//!
//! ```sh
//! cargo build -p testbed-mcp
//! cargo run -p toolbridge-agent --example run_agent
//! # with a real model: OPENAI_API_KEY=… cargo run -p toolbridge-agent --example run_agent -- openai:gpt-4o-mini
//! ```

use futures::StreamExt;
use serde_json::json;
use toolbridge::Pool;
use toolbridge::config::{McpServers, parse_skills};
use toolbridge_agent::{AgentLoopOptions, register};
use toolbridge_runtime::{
    EventCallback, ExecutionEvent, RuntimeDeps, RuntimeExecutionContext, RuntimeRegistry, RuntimeType,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = std::env::args().nth(1).unwrap_or_else(|| "scripted:fixtures/transcripts/demo.json".into());

    // One pool for every execution: a second run reuses the server processes.
    let pool = Pool::default();
    let mut registry = RuntimeRegistry::new();
    register(&mut registry, AgentLoopOptions::new(pool.clone()))?;
    let runtime = registry.create(&RuntimeType::new("default"), RuntimeDeps::default())?;

    let mut context = RuntimeExecutionContext::new("What is the sum of a and b in numbers.csv?").model(model);
    context.mcp_servers =
        McpServers::from_json(&json!({"testbed": {"command": "target/debug/testbed-mcp"}}), "example")?;
    context.skills = parse_skills(
        &json!([{"name": "files", "type": "file_system", "configuration": {"base_dir": "fixtures/demo-workspace"}}]),
        "example",
    )?;

    let events = EventCallback::new(|event| match event {
        ExecutionEvent::ToolStart { tool_name, tool_args, .. } => eprintln!("→ {tool_name} {tool_args}"),
        ExecutionEvent::ContentChunk { text } => print!("{text}"),
        _ => {}
    });
    let mut stream = runtime.stream_execute(context, Some(events));
    let mut last = None;
    while let Some(partial) = stream.next().await {
        last = Some(partial);
    }
    if let Some(result) = last {
        println!(
            "\n[{:?}] {} tool calls, {} tokens",
            result.finish_reason,
            result.tool_execution_messages.map_or(0, |l| l.len()),
            result.usage.total_tokens
        );
    }
    pool.shutdown().await;
    Ok(())
}
