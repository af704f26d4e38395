//! Starts one durable execution and prints its result as JSON: the scripted demo agent with
//! the testbed server, on the task queue `$TOOLBRIDGE_TASK_QUEUE` of the Temporal server that
//! Temporal's environment names (`TEMPORAL_ADDRESS`, …). Run a worker first (`--example
//! worker`, or `toolbridge worker`).
//!
//! ```text
//! cargo run -p toolbridge-durable --features temporal --example starter -- \
//!     scripted:fixtures/transcripts/demo.json "What is in the workspace?" fixtures/mcp/testbed.json
//! ```

use toolbridge_durable::{DurableOptions, TemporalSettings};
use toolbridge_runtime::{RuntimeDeps, RuntimeExecutionContext, RuntimeRegistry, RuntimeType};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = args.next().ok_or("usage: starter MODEL PROMPT [MCP_CONFIG]")?;
    let prompt = args.next().ok_or("usage: starter MODEL PROMPT [MCP_CONFIG]")?;
    let mut context = RuntimeExecutionContext::new(prompt).model(model);
    if let Some(path) = args.next() {
        context.mcp_servers = toolbridge::config::load_mcp_config(path.as_ref())?;
    }
    let settings =
        TemporalSettings { task_queue: std::env::var("TOOLBRIDGE_TASK_QUEUE").ok(), ..TemporalSettings::default() };
    let mut registry = RuntimeRegistry::new();
    toolbridge_durable::register(&mut registry, DurableOptions::new(settings))?;
    let runtime = registry.create(&RuntimeType::new(toolbridge_durable::DURABLE_AGENT_LOOP), RuntimeDeps::default())?;
    let result = runtime.execute(&context).await;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}
