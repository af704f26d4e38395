//! Measures what running a runtime as a plugin costs: one execution of the echo plugin
//! (examples/plugins/echo_runtime.py) with no tool call against an in-process runtime doing
//! the same work, and the tool-using part of an execution through the endpoint against the
//! same MCP calls made directly.
//!
//! `cargo run --release -p toolbridge-plugin --example plugin_overhead [TESTBED_BINARY] [N]`
//! (the testbed defaults to target/debug/testbed-mcp; build it with `cargo build -p testbed-mcp`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use toolbridge_plugin::{NoTools, PluginCommand, PluginHost, PluginOptions, PluginRuntime, ToolEndpoint};
use toolbridge_runtime::{
    ExecutionScope, Runtime, RuntimeCapabilities, RuntimeDeps, RuntimeError, RuntimeExecutionContext,
    RuntimeExecutionResult, RuntimeHandle, RuntimeType, Usage, async_trait,
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

/// The testbed's HTTP address as the tool endpoint of every execution.
#[derive(Debug)]
struct Testbed(String);

#[async_trait]
impl toolbridge_plugin::ToolEndpointProvider for Testbed {
    async fn open(
        &self,
        _context: &RuntimeExecutionContext,
        _scope: &ExecutionScope,
    ) -> Result<Option<ToolEndpoint>, RuntimeError> {
        Ok(Some(ToolEndpoint::new(self.0.clone())))
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn time_executions(runtime: &RuntimeHandle, config: &serde_json::Value, n: usize) -> Duration {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 5 {
        let context = RuntimeExecutionContext::new(format!("hello {i}")).runtime_config(config.clone());
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let mut args = std::env::args().skip(1);
    let testbed = args.next().map_or_else(|| root.join("target/debug/testbed-mcp"), PathBuf::from);
    let n: usize = args.next().map_or(Ok(50), |n| n.parse())?;
    let echo = root.join("examples/plugins/echo_runtime.py");
    let config = json!({"greeting": "Hi"});

    let in_process = RuntimeHandle::new(InProcessEcho, RuntimeDeps::default());
    let in_process_median = time_executions(&in_process, &config, n).await;

    let host = PluginHost::new(
        "echo_py",
        PluginCommand::new("python3").arg(echo.display().to_string()),
        PluginOptions::default(),
    );
    let info = host.start().await?;
    let plugin =
        RuntimeHandle::new(PluginRuntime::new(host.clone(), info.clone(), Arc::new(NoTools)), RuntimeDeps::default());
    let plugin_median = time_executions(&plugin, &config, n).await;

    let mut server = Command::new(&testbed).args(["--http", "127.0.0.1:0"]).stderr(Stdio::piped()).spawn()?;
    let mut lines = BufReader::new(server.stderr.take().ok_or("no stderr")?).lines();
    let url = loop {
        let line = lines.next().ok_or("testbed exited")??;
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let with_tools = RuntimeHandle::new(
        PluginRuntime::new(host.clone(), info, Arc::new(Testbed(url.clone()))),
        RuntimeDeps::default(),
    );
    let tool_config = json!({"greeting": "Hi", "tool": "echo", "arguments": {"message": "x"}});
    let tool_median = time_executions(&with_tools, &tool_config, n).await;

    // The same MCP work (handshake, tools/list, tools/call, session close) by the same client
    // code, called directly in one Python process.
    let direct = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sys, time; sys.path.insert(0, {dir:?}); import echo_runtime as e\n\
             s = []\n\
             for i in range({total}):\n\
             \x20   t = time.perf_counter(); c = e.McpHttpClient({url:?}, {{}}); c.initialize()\n\
             \x20   c.request('tools/list', {{}}); c.call_tool('echo', {{'message': 'x'}}); c.close()\n\
             \x20   s.append(time.perf_counter() - t)\n\
             s = sorted(s[5:]); print(int(s[len(s) // 2] * 1e6))",
            dir = echo.parent().ok_or("no dir")?.display().to_string(),
            total = n + 5,
        ))
        .output()?;
    let direct_us: u64 = String::from_utf8_lossy(&direct.stdout).trim().parse()?;
    host.shutdown().await;
    let _ = server.kill();

    let us = |d: Duration| d.as_micros();
    println!("executions: median of {n}");
    println!("  in-process runtime, no tool:            {:>8} µs", us(in_process_median));
    println!("  echo plugin (python3), no tool:         {:>8} µs", us(plugin_median));
    println!("  → plugin overhead per execution:        {:>8} µs", us(plugin_median.saturating_sub(in_process_median)));
    println!("  echo plugin, one tool call (endpoint):  {:>8} µs", us(tool_median));
    println!("  → tool part of the execution:           {:>8} µs", us(tool_median.saturating_sub(plugin_median)));
    println!("  same MCP calls made directly (python):  {direct_us:>8} µs");
    Ok(())
}
