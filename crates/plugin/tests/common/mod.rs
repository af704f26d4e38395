//! Shared helpers: plugin commands, the real tool endpoint (each execution's catalogue, the
//! testbed MCP server as its server), and process checks.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use toolbridge::{Pool, PoolOptions};
use toolbridge_plugin::{
    CatalogueTools, PluginCommand, PluginHost, PluginOptions, PluginRuntime, ToolEndpointProvider,
};
use toolbridge_runtime::{RuntimeDeps, RuntimeExecutionContext, RuntimeHandle};

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// `python3 examples/plugins/echo_runtime.py`.
pub fn echo_command() -> PluginCommand {
    PluginCommand::new("python3").arg(workspace().join("examples/plugins/echo_runtime.py").display().to_string())
}

/// `python3 tests/plugins/faulty.py MODE`: the echo plugin, misbehaving as `mode` says.
pub fn faulty_command(mode: &str) -> PluginCommand {
    PluginCommand::new("python3")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/faulty.py").display().to_string())
        .arg(mode)
}

/// Options with short waits, so that failure paths are quick to test.
pub fn quick_options() -> PluginOptions {
    PluginOptions {
        initialize_timeout: Duration::from_secs(10),
        cancel_wait: Duration::from_secs(5),
        shutdown_wait: Duration::from_millis(500),
        term_wait: Duration::from_millis(500),
        ..PluginOptions::default()
    }
}

/// A host of the echo plugin, started, and a runtime handle on it.
pub async fn echo_runtime(endpoints: Arc<dyn ToolEndpointProvider>) -> (PluginHost, RuntimeHandle) {
    runtime_for(echo_command(), quick_options(), endpoints).await
}

/// A host of `command`, started, and a runtime handle on it.
pub async fn runtime_for(
    command: PluginCommand,
    options: PluginOptions,
    endpoints: Arc<dyn ToolEndpointProvider>,
) -> (PluginHost, RuntimeHandle) {
    let host = PluginHost::new("echo_py", command, options);
    let info = host.start().await.expect("the plugin starts");
    let runtime = RuntimeHandle::new(PluginRuntime::new(host.clone(), info, endpoints), RuntimeDeps::default());
    (host, runtime)
}

/// A context for the echo plugin.
pub fn context(prompt: &str) -> RuntimeExecutionContext {
    RuntimeExecutionContext::new(prompt).runtime_config(json!({"greeting": "Hi"}))
}

/// Each execution's own catalogue served to the plugin, its MCP servers through one pool.
pub fn catalogue_tools() -> Arc<dyn ToolEndpointProvider> {
    Arc::new(CatalogueTools::new(Pool::new(PoolOptions::default())))
}

/// `context` with the testbed MCP server (stdio) as its one server: its tools are
/// `testbed__echo`, `testbed__add`, `testbed__sleep_ms`…
pub fn with_testbed(mut context: RuntimeExecutionContext) -> RuntimeExecutionContext {
    context.mcp_servers =
        serde_json::from_value(json!({"testbed": {"command": toolbridge_test_support::testbed()}})).expect("config");
    context
}

/// A context for the echo plugin with the testbed's tools.
pub fn tool_context(prompt: &str, config: serde_json::Value) -> RuntimeExecutionContext {
    with_testbed(RuntimeExecutionContext::new(prompt).runtime_config(config))
}

/// Whether a process exists (zombies count as gone).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// Pids of the live (non-zombie) processes whose process group is `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
                // state is field 3, pgrp field 5 of /proc/PID/stat (1-based, after the name).
                fields.first() != Some(&"Z") && fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
            })
        })
        .collect()
}

/// Waits up to `limit` for a process group to have no live member.
pub fn group_gone_within(pgid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if group_members(pgid).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
