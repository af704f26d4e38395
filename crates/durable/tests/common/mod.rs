//! Shared by the durable tests: worker processes (the `worker` example), scripted transcripts,
//! contexts with the testbed server, a registry with both runtimes.
#![allow(dead_code, clippy::missing_panics_doc, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};
use toolbridge_agent::AgentLoopOptions;
use toolbridge_durable::{DurableOptions, TemporalSettings};
use toolbridge_runtime::{RuntimeDeps, RuntimeExecutionContext, RuntimeHandle, RuntimeRegistry, RuntimeType};
use toolbridge_test_support::temporal::DevServer;

/// A worker process (the `worker` example) on a task queue; its process group is killed on drop.
pub(crate) struct WorkerProcess {
    child: Child,
}

impl WorkerProcess {
    /// Starts a worker and waits until it polls.
    pub(crate) fn start(server: &DevServer, queue: &str) -> Self {
        Self::start_with(&server.address(), queue, &[]).expect("the worker starts")
    }

    /// Starts a worker with extra environment; the error is its stderr when it exits first.
    pub(crate) fn start_with(address: &str, queue: &str, env: &[(&str, &str)]) -> Result<Self, String> {
        let binary = toolbridge_test_support::bin_dir().join("examples/worker");
        assert!(binary.exists(), "{} is missing: build the examples with --features temporal", binary.display());
        let mut child = Command::new(&binary)
            .env("TEMPORAL_ADDRESS", address)
            .env("TEMPORAL_NAMESPACE", "default")
            .env("TOOLBRIDGE_TASK_QUEUE", queue)
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawn the worker");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (ready, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("worker ready") {
                    let _ = ready.send(());
                }
            }
        });
        let (errors, errors_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[worker] {line}");
                text.push_str(&line);
                text.push('\n');
            }
            let _ = errors.send(text);
        });
        match ready_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(()) => Ok(Self { child }),
            Err(_) => {
                let _ = child.wait();
                Err(errors_rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default())
            }
        }
    }

    /// `kill -9` the worker and the tool servers it started, at once: the machine is gone.
    /// (A stdio server started by a worker killed alone outlives it and finishes the call it
    /// was running — see docs/durable.md.)
    pub(crate) fn kill9(&mut self) {
        let pid = self.child.id();
        let children: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
            .flat_map(|text| text.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<i32>>())
            .collect();
        let _ = kill(self.pid(), Signal::SIGKILL);
        for child in children {
            let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"))
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = killpg(self.pid(), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A unique task queue per test.
pub(crate) fn queue(test: &str) -> String {
    format!("{test}-{}", std::process::id())
}

/// Writes a scripted transcript into `dir`.
pub(crate) fn transcript(dir: &Path, turns: &Value) -> PathBuf {
    let path = dir.join(format!("transcript-{}.json", uuid_like()));
    std::fs::write(&path, turns.to_string()).expect("write the transcript");
    path
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The testbed MCP server as an execution's `mcp_servers`, with extra keys (e.g. `idempotent`).
pub(crate) fn testbed_servers(extra: &Value) -> toolbridge_runtime::config::McpServers {
    let mut server = json!({"command": toolbridge_test_support::testbed()});
    if let (Some(server), Some(extra)) = (server.as_object_mut(), extra.as_object()) {
        server.extend(extra.clone());
    }
    toolbridge_runtime::config::McpServers::from_json(&json!({"testbed": server}), "test").expect("servers")
}

/// A context running `transcript` with the testbed.
pub(crate) fn context(
    prompt: &str,
    transcript: &Path,
    servers: toolbridge_runtime::config::McpServers,
) -> RuntimeExecutionContext {
    let mut context = RuntimeExecutionContext::new(prompt).model(format!("scripted:{}", transcript.display()));
    context.mcp_servers = servers;
    context
}

/// Both runtimes, the durable one on `queue` of `server`.
pub(crate) fn runtimes(server: &DevServer, queue: &str, pool: &toolbridge::Pool) -> (RuntimeHandle, RuntimeHandle) {
    let mut registry = RuntimeRegistry::new();
    toolbridge_agent::register(&mut registry, AgentLoopOptions::new(pool.clone())).expect("agent_loop");
    let settings = TemporalSettings::at(server.address()).namespace("default").task_queue(queue);
    toolbridge_durable::register(&mut registry, DurableOptions::new(settings)).expect("durable_agent_loop");
    let durable = registry.create(&RuntimeType::new("durable_agent_loop"), RuntimeDeps::default()).expect("durable");
    let local = registry.create(&RuntimeType::new("agent_loop"), RuntimeDeps::default()).expect("local");
    (durable, local)
}

/// Waits until `path` has a line `line` (30 s at most).
pub(crate) fn wait_for_line(path: &Path, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if lines(path).iter().any(|l| l == line) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never got the line {line:?}", path.display());
}

/// The lines of a file (none when it does not exist).
pub(crate) fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).map(|t| t.lines().map(str::to_owned).collect()).unwrap_or_default()
}
