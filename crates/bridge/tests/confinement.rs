//! Confinement that holds (RELIABILITY.md, security): sandboxed stdio servers in Python and
//! Node, sandboxed shell and python skills, the file_system skill, and processes that try to
//! outlive their call. Each attack of the report is a case here; each sandbox check has a
//! control that shows it can fail.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use toolbridge::config::{McpServers, ProcessEnv, parse_skills};
use toolbridge::{CallLog, CallOptions, Catalogue, CatalogueBuilder, Pool, RawArguments, ToolCallRecord};

use common::workspace;

/// Whether this kernel offers what a confinement check needs; when not, the test says so and
/// returns (a count of skips shows in the test output).
fn kernel_has_landlock() -> bool {
    let caps = toolbridge_sandbox::probe();
    if !caps.landlock_fs {
        eprintln!("skipped: Landlock is not available on this kernel");
    }
    caps.landlock_fs
}

async fn call(catalogue: &Catalogue, tool: &str, args: Value) -> ToolCallRecord {
    catalogue.call(&CallLog::new(), tool, RawArguments::Value(&args), "id", &CallOptions::default()).await
}

struct Probe {
    outside: tempfile::TempDir,
    work: tempfile::TempDir,
    listener: TcpListener,
}

impl Probe {
    fn new() -> Self {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "the secret").unwrap();
        Self { outside, work: tempfile::tempdir().unwrap(), listener: TcpListener::bind("127.0.0.1:0").unwrap() }
    }

    async fn catalogue(&self, pool: &Pool, command: &str, script: &Path, sandbox: Value) -> Catalogue {
        let mut server = json!({"command": command, "args": [script], "cwd": self.work.path()});
        if !sandbox.is_null() {
            server["sandbox"] = sandbox;
        }
        let servers = McpServers::from_json(&json!({"probe": server}), "test").unwrap();
        let config = toolbridge::config::ToolConfig { mcp_servers: servers, ..Default::default() };
        let catalogue =
            CatalogueBuilder::new(pool.clone()).tools(&config, "test", &ProcessEnv).unwrap().build().await.unwrap();
        assert!(catalogue.failures().is_empty(), "{:?}", catalogue.failures());
        catalogue
    }

    /// The server under `sandbox` may do its job (echo, files in its cwd) and nothing else.
    async fn confined(&self, command: &str, script: &str) {
        let pool = Pool::default();
        let script = workspace().join("fixtures/servers").join(script);
        let sandbox = json!({"read": [script.parent().unwrap()], "network": "none"});
        let catalogue = self.catalogue(&pool, command, &script, sandbox).await;
        let report = catalogue.get("probe__echo").unwrap().sandbox.clone().expect("a sandbox report");
        assert!(report.confined && report.landlock_fs, "{report:?}");

        assert_eq!(call(&catalogue, "probe__echo", json!({"message": "hi"})).await.output, "Echo: hi");
        let own = self.work.path().join("own.txt");
        assert!(call(&catalogue, "probe__write", json!({"path": own, "text": "mine"})).await.success);
        assert_eq!(call(&catalogue, "probe__read", json!({"path": own})).await.output, "mine");

        let secret = self.outside.path().join("secret.txt");
        let read = call(&catalogue, "probe__read", json!({"path": secret})).await;
        assert!(!read.success && !read.output.contains("the secret"), "read outside its read list: {}", read.output);
        let written = self.outside.path().join("planted.txt");
        let write = call(&catalogue, "probe__write", json!({"path": written, "text": "x"})).await;
        assert!(!write.success && !written.exists(), "wrote outside its write list: {}", write.output);
        let port = self.listener.local_addr().unwrap().port();
        let connect = call(&catalogue, "probe__connect", json!({"port": port})).await;
        assert!(!connect.success, "connected with network none: {}", connect.output);
        pool.shutdown().await;
    }

    /// Control: the same server unsandboxed reads the secret and connects.
    async fn unconfined(&self, command: &str, script: &str) {
        let pool = Pool::default();
        let script = workspace().join("fixtures/servers").join(script);
        let catalogue = self.catalogue(&pool, command, &script, Value::Null).await;
        let secret = self.outside.path().join("secret.txt");
        assert_eq!(call(&catalogue, "probe__read", json!({"path": secret})).await.output, "the secret");
        let port = self.listener.local_addr().unwrap().port();
        assert!(call(&catalogue, "probe__connect", json!({"port": port})).await.success);
        pool.shutdown().await;
    }
}

#[tokio::test]
async fn a_sandboxed_python_server_can_do_its_job_and_nothing_else() {
    if !kernel_has_landlock() {
        return;
    }
    let probe = Probe::new();
    probe.unconfined("python3", "probe_server.py").await;
    probe.confined("python3", "probe_server.py").await;
}

#[tokio::test]
async fn a_sandboxed_node_server_can_do_its_job_and_nothing_else() {
    if !kernel_has_landlock() {
        return;
    }
    let probe = Probe::new();
    probe.unconfined("node", "probe_server.js").await;
    probe.confined("node", "probe_server.js").await;
}

async fn skill(kind: &str, base: &Path, extra: Value) -> Catalogue {
    let mut configuration = json!({"base_dir": base});
    if let (Value::Object(config), Value::Object(extra)) = (&mut configuration, extra) {
        config.extend(extra);
    }
    let skills = parse_skills(&json!([{"name": "s", "type": kind, "configuration": configuration}]), "test").unwrap();
    CatalogueBuilder::new(Pool::default()).skills(skills).build().await.unwrap()
}

/// The deny-list bypasses of the report, run by a sandboxed shell skill: none reaches a file
/// outside `base_dir` (they may do what they like inside it).
#[tokio::test]
async fn a_sandboxed_shell_cannot_touch_anything_outside_base_dir() {
    if !kernel_has_landlock() {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    let shell = skill("shell", base.path(), json!({"blocked_commands": ["rm"]})).await;
    let v = victim.display();
    for line in [
        format!("/bin/r? {v}"),
        format!("env -u X rm {v}"),
        format!("echo rm {v} | sh"),
        format!("sh -c -- \"rm {v}\""),
        format!("echo {v} | xargs -I {{}} rm {{}}"),
        format!("find {} -name victim -delete", outside.path().display()),
        format!("echo owned > {v}"),
        format!("cat {v}"),
    ] {
        std::fs::write(&victim, "keep me").unwrap();
        let record = call(&shell, "s__run_command", json!({"command": line})).await;
        assert_eq!(std::fs::read_to_string(&victim).ok().as_deref(), Some("keep me"), "{line:?}: {record:?}");
        assert!(!record.output.contains("keep me"), "{line:?} read outside: {}", record.output);
    }
    let inside = call(&shell, "s__run_command", json!({"command": "echo ok > made && cat made"})).await;
    assert!(inside.success && inside.output.starts_with("ok"), "{}", inside.output);
    // The report says what holds.
    let report = shell.get("s__run_command").unwrap().sandbox.clone().unwrap();
    assert!(report.confined && report.landlock_fs);
}

/// A `sandbox: false` shell must say which programs it runs.
#[tokio::test]
async fn an_unsandboxed_shell_needs_allowed_commands() {
    let base = tempfile::tempdir().unwrap();
    let skills = parse_skills(
        &json!([{"name": "s", "type": "shell", "configuration": {"base_dir": base.path()}, "sandbox": false}]),
        "test",
    )
    .unwrap();
    let error = CatalogueBuilder::new(Pool::default()).skills(skills).build().await.unwrap_err().to_string();
    assert!(error.contains("allowed_commands") && error.contains("sandbox"), "{error}");
}

#[tokio::test]
async fn a_sandboxed_python_skill_has_no_network_and_its_escapees_die_with_the_call() {
    let base = tempfile::tempdir().unwrap();
    let python = skill("python", base.path(), json!({"timeout": 10})).await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    if toolbridge_sandbox::probe().net_namespace || toolbridge_sandbox::probe().landlock_net {
        let code =
            format!("import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2); print('connected')");
        let record = call(&python, "s__run_python", json!({"code": code})).await;
        assert!(!record.output.contains("connected\n"), "network none: {}", record.output);
    } else {
        eprintln!("skipped: no network namespace and no Landlock network rules");
    }
    // A detached child holding stdout: the call ends when Python does, not at the timeout, and
    // the child is gone.
    let marker = format!("{}.{}", 2000 + std::process::id() % 1000, std::process::id());
    let code = format!("import subprocess, os; subprocess.Popen(['setsid', 'sleep', '{marker}']); print('started')");
    let started = Instant::now();
    let record = call(&python, "s__run_python", json!({"code": code})).await;
    assert!(record.success, "{record:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "reported as finished, not timed out: {record:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while sleeping(&marker) {
        assert!(Instant::now() < deadline, "the detached child outlived the call");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sleeping(marker: &str) -> bool {
    std::fs::read_dir("/proc").into_iter().flatten().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .is_ok_and(|line| line.split(|b| *b == 0).any(|a| a == marker.as_bytes()))
            && !std::fs::read_to_string(entry.path().join("stat"))
                .is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
    })
}

/// The file_system attacks: a dangling symlink, a hard link, a FIFO.
#[tokio::test]
async fn file_system_writes_stay_inside_base_dir() {
    let base = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let fs = skill("file_system", base.path(), json!({})).await;
    std::os::unix::fs::symlink(outside.path().join("x"), base.path().join("dangling")).unwrap();
    let record = call(&fs, "s__save_file", json!({"path": "dangling", "content": "planted"})).await;
    assert!(!record.success, "{record:?}");
    assert!(!outside.path().join("x").exists(), "the dangling symlink created a file outside");
    assert_eq!(record.error_type.map(|t| t.as_str()), Some("outside_base_dir"));

    std::fs::write(outside.path().join("target"), "keep me").unwrap();
    std::fs::hard_link(outside.path().join("target"), base.path().join("linked")).unwrap();
    let record = call(&fs, "s__save_file", json!({"path": "linked", "content": "overwritten"})).await;
    assert!(!record.success, "{record:?}");
    assert_eq!(std::fs::read_to_string(outside.path().join("target")).unwrap(), "keep me", "wrote through a hard link");

    nix::unistd::mkfifo(&base.path().join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let started = Instant::now();
    let record = call(&fs, "s__read_file", json!({"path": "fifo"})).await;
    assert!(!record.success && started.elapsed() < Duration::from_secs(5), "{record:?}");
}
