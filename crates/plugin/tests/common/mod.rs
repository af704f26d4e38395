//! Shared helpers: plugin commands, a testbed MCP server over HTTP as the tool endpoint, and
//! process checks.

#![allow(dead_code, unreachable_pub)]

use std::any::Any;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;
use toolbridge_plugin::{
    PluginCommand, PluginHost, PluginOptions, PluginRuntime, ToolEndpoint, ToolEndpointProvider, ToolLog,
};
use toolbridge_runtime::{
    ExecutionScope, RuntimeDeps, RuntimeError, RuntimeExecutionContext, RuntimeHandle, ToolCallRecord, ToolSourceKind,
    async_trait,
};

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

/// The testbed MCP server binary. Used as found when it exists: the workspace's test script
/// builds every binary first (`cargo build --workspace --bins`), and building it here with
/// `-p` would resolve other features and rebuild it under the feet of other test binaries.
/// Built with `cargo build -p testbed-mcp` only when missing.
pub fn testbed_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = workspace();
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
            let binary = target.join("debug/testbed-mcp");
            if !binary.exists() {
                let status = Command::new(env!("CARGO"))
                    .args(["build", "-q", "-p", "testbed-mcp"])
                    .current_dir(&root)
                    .status()
                    .expect("cargo build -p testbed-mcp");
                assert!(status.success(), "building testbed-mcp failed");
            }
            binary
        })
        .clone()
}

/// A testbed MCP server on 127.0.0.1 over streamable HTTP; killed on drop.
#[derive(Debug)]
pub struct TestbedHttp {
    child: Child,
    pub url: String,
}

impl TestbedHttp {
    pub fn start() -> Self {
        let mut child = Command::new(testbed_binary())
            .args(["--http", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start testbed-mcp --http");
        let stderr = child.stderr.take().expect("stderr piped");
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines.next().expect("testbed prints its address").expect("read testbed stderr");
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_owned();
            }
        };
        // Keep draining so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url }
    }
}

impl Drop for TestbedHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves every execution's tools from one testbed HTTP server, counting endpoints opened and
/// closed, with a call log that records one entry per execution (so the plumbing of
/// `tool_execution_messages` is visible).
#[derive(Debug)]
pub struct TestbedEndpoints {
    pub server: TestbedHttp,
    pub opened: Arc<AtomicUsize>,
    pub closed: Arc<AtomicUsize>,
    /// Execution ids whose log was read, in order.
    pub logs_read: Arc<Mutex<Vec<String>>>,
}

impl TestbedEndpoints {
    pub fn start() -> Arc<Self> {
        Arc::new(Self {
            server: TestbedHttp::start(),
            opened: Arc::default(),
            closed: Arc::default(),
            logs_read: Arc::default(),
        })
    }
}

/// Counts a closed endpoint when dropped.
struct CloseCounter(Arc<AtomicUsize>);

impl Drop for CloseCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// A log that reports one record naming the execution, after checking the endpoint is closed.
struct OneRecordLog {
    execution_id: String,
    opened: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    read: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl ToolLog for OneRecordLog {
    async fn records(self: Box<Self>) -> Vec<ToolCallRecord> {
        assert!(
            self.closed.load(Ordering::Acquire) >= 1 && self.opened.load(Ordering::Acquire) >= 1,
            "the log is read after the endpoint's guard was dropped"
        );
        self.read.lock().unwrap().push(self.execution_id.clone());
        let now = chrono::Utc::now();
        vec![ToolCallRecord {
            tool: "testbed__echo".into(),
            tool_use_id: format!("log-of-{}", self.execution_id),
            source: ToolSourceKind::Mcp,
            server: Some("testbed".into()),
            input: json!({}),
            output: String::new(),
            success: true,
            error: None,
            error_type: None,
            duration_ms: 0,
            start_time: now,
            end_time: now,
            metadata: serde_json::Map::new(),
        }]
    }
}

#[async_trait]
impl ToolEndpointProvider for TestbedEndpoints {
    async fn open(
        &self,
        context: &RuntimeExecutionContext,
        _scope: &ExecutionScope,
    ) -> Result<Option<ToolEndpoint>, RuntimeError> {
        self.opened.fetch_add(1, Ordering::AcqRel);
        let guard: Box<dyn Any + Send + Sync> = Box::new(CloseCounter(Arc::clone(&self.closed)));
        Ok(Some(ToolEndpoint {
            url: self.server.url.clone(),
            headers: BTreeMap::from([("X-Execution".to_owned(), context.execution_id.to_string())]),
            guard,
            tool_log: Some(Box::new(OneRecordLog {
                execution_id: context.execution_id.to_string(),
                opened: Arc::clone(&self.opened),
                closed: Arc::clone(&self.closed),
                read: Arc::clone(&self.logs_read),
            })),
        }))
    }
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
