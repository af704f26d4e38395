//! Another runtime reusing only the bridge crate: catalogue in (from an MCP config and
//! skills), provider-ready tools out, a call by name, the call log back.
//!
//! ```sh
//! cargo build -p testbed-mcp
//! cargo run -p toolbridge --example reuse_in_runtime
//! ```

use serde_json::json;
use toolbridge::config::{ProcessEnv, ToolConfig, load_mcp_config, parse_skills};
use toolbridge::{CallLog, CallOptions, CatalogueBuilder, Pool, RawArguments};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Configuration, parsed once into types.
    let config = ToolConfig {
        mcp_servers: load_mcp_config("fixtures/mcp/testbed.json".as_ref())?,
        skills: parse_skills(
            &json!([{"name": "files", "type": "file_system", "configuration": {"base_dir": "fixtures/demo-workspace"}}]),
            "inline",
        )?,
        policy: None,
    };

    // The pool outlives executions: keep one per process.
    let pool = Pool::default();
    let catalogue = CatalogueBuilder::new(pool.clone()).tools(&config, "config", &ProcessEnv)?.build().await?;

    // Tools in OpenAI's format (Anthropic and Gemini: `catalogue.provider_tools(SchemaTarget::…)`).
    let tools = catalogue.openai_tools(false);
    println!("{} tools, e.g. {}", tools.len(), serde_json::to_string_pretty(&tools[0])?);

    // The model asked for two tools: call them by catalogue name; every call lands in the log.
    let log = CallLog::new();
    let options = CallOptions::default();
    let sum =
        catalogue.call(&log, "testbed__add", RawArguments::Json(r#"{"a": 19, "b": 23}"#), "call_1", &options).await;
    let file = catalogue
        .call(&log, "files__read_file", RawArguments::Json(r#"{"path": "numbers.csv"}"#), "call_2", &options)
        .await;
    println!("testbed__add → {}", sum.output);
    println!("files__read_file → {}", file.output.replace('\n', " | "));

    println!("call log: {}", serde_json::to_string_pretty(&log.records())?);
    pool.shutdown().await;
    Ok(())
}
