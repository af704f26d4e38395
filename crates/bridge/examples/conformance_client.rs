//! A client for the official MCP conformance suite, driving the bridge's pool over streamable
//! HTTP: `conformance_client URL` with the scenario in `MCP_CONFORMANCE_SCENARIO`.
//!
//! ```sh
//! cargo build -p toolbridge --example conformance_client
//! bash ../shared/conformance/run.sh client -- target/debug/examples/conformance_client
//! ```

use serde_json::json;
use toolbridge::config::ServerConfig;
use toolbridge::{Pool, PoolCallOptions as CallOptions, PoolOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().next_back().ok_or("usage: conformance_client URL")?;
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    // The suite's elicitation scenario expects the schema's defaults to be accepted.
    let pool = Pool::new(PoolOptions { accept_elicitation_defaults: true, ..PoolOptions::default() });
    let outcome = run(&pool, &url, &scenario).await;
    pool.shutdown().await;
    outcome
}

async fn run(pool: &Pool, url: &str, scenario: &str) -> Result<(), Box<dyn std::error::Error>> {
    let server = pool.connect(&ServerConfig::http("conformance", url)).await?;
    let tools = server.list_tools().await?;
    match scenario {
        "tools_call" => {
            let result = server
                .call_tool("add_numbers", json!({"a": 2, "b": 3}).as_object().cloned(), CallOptions::default())
                .await?;
            println!("{result:?}");
        }
        "sse-retry" => {
            let result = server.call_tool("test_reconnection", None, CallOptions::default()).await?;
            println!("{result:?}");
        }
        _ => {
            // Any other scenario: call each tool that takes no required arguments.
            for tool in tools
                .iter()
                .filter(|t| t.input_schema.get("required").and_then(|r| r.as_array()).is_none_or(Vec::is_empty))
            {
                let _ = server.call_tool(&tool.name, None, CallOptions::default()).await;
            }
        }
    }
    Ok(())
}
