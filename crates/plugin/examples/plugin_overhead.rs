//! Measures what running a runtime as a plugin costs: one execution of the echo plugin
//! (examples/plugins/echo_runtime.py) against an in-process runtime doing the same work
//! (without tools, and with a tool endpoint opened and closed), and one tool call through an
//! execution's endpoint against the same call made directly. Prints a Markdown table.
//!
//! `cargo run --release -p toolbridge-plugin --example plugin_overhead [TESTBED_BINARY] [N]`
//! (the testbed defaults to target/debug/testbed-mcp; build it with `cargo build -p testbed-mcp`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use toolbridge::config::{McpServers, ProcessEnv, ServerConfig};
use toolbridge::serve::ExecutionEndpoint;
use toolbridge::{CatalogueBuilder, Pool, PoolCallOptions, PoolOptions, ServerHandle};
use toolbridge_plugin::{CatalogueTools, PluginCommand, PluginHost, PluginOptions, PluginRuntime};
use toolbridge_runtime::{
    CancellationToken, ExecutionId, ExecutionScope, InMemoryControlPlane, Runtime, RuntimeCapabilities, RuntimeDeps,
    RuntimeError, RuntimeExecutionContext, RuntimeExecutionResult, RuntimeHandle, RuntimeType, Usage, async_trait,
};

/// What the echo plugin does without a tool, in process.
struct InProcessEcho;

#[async_trait]
impl Runtime for InProcessEcho {
    fn runtime_type(&self) -> RuntimeType {
        RuntimeType::new("echo_rs")
    }

    fn capabilities(&self) -> RuntimeCapabilities {
        RuntimeCapabilities::default()
    }

    async fn execute_impl(
        &self,
        context: &RuntimeExecutionContext,
        _scope: &ExecutionScope,
    ) -> Result<RuntimeExecutionResult, RuntimeError> {
        let greeting = context.runtime_config.as_ref().and_then(|c| c["greeting"].as_str()).unwrap_or("Hello");
        let response = format!("{greeting}, {}", context.prompt);
        let usage = Usage::new(context.prompt.split_whitespace().count() as u64, response.split(' ').count() as u64);
        Ok(RuntimeExecutionResult::success(response).with_usage(usage))
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn time_executions(
    runtime: &RuntimeHandle,
    config: &serde_json::Value,
    n: usize,
    tools: bool,
    testbed: &Path,
) -> Duration {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 5 {
        let mut context = RuntimeExecutionContext::new(format!("hello {i}")).runtime_config(config.clone());
        if tools {
            context.mcp_servers = serde_json::from_value(json!({"testbed": {"command": testbed}})).unwrap_or_default();
        }
        let started = Instant::now();
        let result = runtime.execute(&context).await;
        let took = started.elapsed();
        assert!(result.success, "{result:?}");
        if i >= 5 {
            samples.push(took);
        }
    }
    median(samples)
}

/// Warm sequential `tools/call`s of the testbed's `echo` through `server`: the median.
async fn time_calls(server: &ServerHandle, n: usize) -> Result<Duration, Box<dyn std::error::Error>> {
    let arguments = json!({"message": "x"}).as_object().cloned();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 20 {
        let started = Instant::now();
        let output =
            server.call_tool(&format!("{}echo", prefix(server)), arguments.clone(), PoolCallOptions::default()).await?;
        let took = started.elapsed();
        assert!(!output.is_error, "{output:?}");
        if i >= 20 {
            samples.push(took);
        }
    }
    Ok(median(samples))
}

/// Tools through the endpoint are named `testbed__echo`; the testbed's own are `echo`.
fn prefix(server: &ServerHandle) -> &'static str {
    if server.name() == "endpoint" { "testbed__" } else { "" }
}

fn http_server(name: &str, url: &str, authorization: Option<&str>) -> Result<ServerConfig, Box<dyn std::error::Error>> {
    let mut spec = json!({"url": url});
    if let Some(value) = authorization {
        spec["headers"] = json!({"Authorization": value});
    }
    let servers = McpServers::from_json(&json!({name: spec}), "bench")?;
    Ok(servers.resolve("bench", &ProcessEnv)?.remove(0))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let mut args = std::env::args().skip(1);
    let testbed = args.next().map_or_else(|| root.join("target/debug/testbed-mcp"), PathBuf::from);
    let n: usize = args.next().map_or(Ok(200), |n| n.parse())?;
    let echo = root.join("examples/plugins/echo_runtime.py");
    let config = json!({"greeting": "Hi"});
    let pool = Pool::new(PoolOptions::default());

    let in_process = RuntimeHandle::new(InProcessEcho, RuntimeDeps::default());
    let in_process_median = time_executions(&in_process, &config, n, false, &testbed).await;

    let host = PluginHost::new(
        "echo_py",
        PluginCommand::new("python3").arg(echo.display().to_string()),
        PluginOptions::default(),
    );
    let info = host.start().await?;
    let plugin = RuntimeHandle::new(
        PluginRuntime::new(host.clone(), info, Arc::new(CatalogueTools::new(pool.clone()))),
        RuntimeDeps::default(),
    );
    let plugin_median = time_executions(&plugin, &config, n, false, &testbed).await;
    // The same, with tools configured: the execution's endpoint is opened and closed.
    let endpoint_median = time_executions(&plugin, &config, n, true, &testbed).await;
    host.shutdown().await;

    // One tool call: through an execution's endpoint (client → endpoint → catalogue → pool →
    // testbed over HTTP) against the same client calling the testbed over HTTP directly.
    let mut server = Command::new(&testbed).args(["--http", "127.0.0.1:0"]).stderr(Stdio::piped()).spawn()?;
    let mut lines = BufReader::new(server.stderr.take().ok_or("no stderr")?).lines();
    let url = loop {
        let line = lines.next().ok_or("testbed exited")??;
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let client = Pool::new(PoolOptions::default());
    let direct = client.connect(&http_server("testbed", &url, None)?).await?;
    let direct_median = time_calls(&direct, n).await?;
    let catalogue = CatalogueBuilder::new(pool.clone()).servers([http_server("testbed", &url, None)?]).build().await?;
    let scope = ExecutionScope::new(
        ExecutionId::random(),
        CancellationToken::new(),
        None,
        Arc::new(InMemoryControlPlane::new()),
    );
    let endpoint = ExecutionEndpoint::open(Arc::new(catalogue), scope.clone()).await?;
    let (_, authorization) = endpoint.authorization();
    let through = client.connect(&http_server("endpoint", endpoint.url(), Some(&authorization))?).await?;
    let through_median = time_calls(&through, n).await?;
    assert_eq!(scope.call_log().len(), n + 20, "every call through the endpoint is logged");
    endpoint.close().await;
    client.shutdown().await;
    pool.shutdown().await;
    let _ = server.kill();

    let us = |d: Duration| d.as_micros();
    println!("| runtime plugins (median of {n}) | µs |");
    println!("|---|---:|");
    println!("| in-process runtime, one execution, no tools | {} |", us(in_process_median));
    println!("| echo plugin (python3), one execution, no tools | {} |", us(plugin_median));
    println!("| → plugin overhead per execution | {} |", us(plugin_median.saturating_sub(in_process_median)));
    println!("| echo plugin with tools configured (endpoint opened and closed), no call | {} |", us(endpoint_median));
    println!(
        "| → plugin overhead per execution, with a tool endpoint | {} |",
        us(endpoint_median.saturating_sub(in_process_median))
    );
    println!("| one `tools/call`, client → testbed over HTTP | {} |", us(direct_median));
    println!("| one `tools/call`, client → execution endpoint → testbed | {} |", us(through_median));
    println!("| → added per tool call by the endpoint | {} |", us(through_median.saturating_sub(direct_median)));
    Ok(())
}
