//! Process lifecycle and secrets, end to end through the built `toolbridge` binary: signals and
//! parent death around real MCP server processes (and what those spawn), and secret values kept
//! out of stdout, stderr, logs and the SQLite store.
//!
//! SIGKILL cannot be caught: after it, servers see stdin EOF and exit (checked here), but what a
//! server itself started in the background is beyond reach (RELIABILITY.md, known limits).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant, SystemTime};

use assert_cmd::cargo::CommandCargoExt;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Harness (a trimmed copy of tests/cli.rs's, plus /proc helpers)
// ---------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn testbed() -> PathBuf {
    root().join("target/debug/testbed-mcp")
}

fn newest_mtime(path: &Path) -> SystemTime {
    let Ok(meta) = std::fs::metadata(path) else { return SystemTime::UNIX_EPOCH };
    let own = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if !meta.is_dir() {
        return own;
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| newest_mtime(&entry.path()))
        .fold(own, SystemTime::max)
}

/// Builds testbed-mcp when it is missing or may be stale. Unlike tests/cli.rs this skips cargo
/// when the binary is fresh: nextest runs every test in its own process, and a no-op workspace
/// build costs seconds each, serialised on the target-dir lock. A stamp written after a build
/// covers a Cargo.lock that changed without changing the testbed (cargo leaves the binary's
/// mtime alone then).
fn ensure_testbed() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let stamp = root().join("target/debug/.testbed-mcp.lifecycle-stamp");
        let mtime = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let fresh = mtime(&testbed()).is_some_and(|built| {
            built >= newest_mtime(&root().join("mcp-servers/testbed"))
                && mtime(&stamp).unwrap_or(built).max(built) >= newest_mtime(&root().join("Cargo.lock"))
        });
        if fresh {
            return;
        }
        // The workspace's feature set, as the test script builds it (see tests/cli.rs).
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "--workspace", "--bins"])
            .current_dir(root())
            .status()
            .unwrap();
        assert!(status.success());
        let _ = std::fs::write(&stamp, b"");
    });
}

/// One isolated store (`TOOLBRIDGE_DB` in its own directory) and a directory for config files.
struct Env {
    db: tempfile::TempDir,
    files: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        ensure_testbed();
        Self { db: tempfile::tempdir().unwrap(), files: tempfile::tempdir().unwrap() }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut command = Command::cargo_bin("toolbridge").unwrap();
        command
            .arg("--color")
            .arg("never")
            .args(args)
            .current_dir(root())
            .env("TOOLBRIDGE_DB", self.db.path().join("tb.db"))
            .env_remove("RUST_LOG")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("ANTHROPIC_BASE_URL");
        command
    }

    fn output(mut command: Command) -> (i32, String, String) {
        let output = command.output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        Self::output(self.cmd(args))
    }

    fn file(&self, name: &str, content: &str) -> String {
        let path = self.files.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// An agent config file named after `marker` (so the `toolbridge` command line carries it)
    /// with a scripted model making `calls` one turn each, the testbed MCP server started with
    /// `--name marker`, and a `wait__sleep` skill.
    fn agent(&self, marker: &str, calls: &[(&str, Value)]) -> String {
        let mut turns: Vec<Value> = calls
            .iter()
            .map(|(name, arguments)| json!({"tool_calls": [{"name": name, "arguments": arguments}]}))
            .collect();
        turns.push(json!({"content": "never"}));
        let transcript = self.file(&format!("{marker}-transcript.json"), &Value::Array(turns).to_string());
        let agent = json!({
            "name": "lifecycle",
            "model_id": format!("scripted:{transcript}"),
            "mcp_servers": {"testbed": {"command": testbed(), "args": ["--name", marker]}},
            "skills": [{"name": "wait", "type": "sleep", "configuration": {"max_seconds": 30}, "enabled": true}],
        });
        self.file(&format!("{marker}.json"), &agent.to_string())
    }

    fn executions(&self) -> Vec<Value> {
        let (code, out, err) = self.run(&["executions", "list", "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    }

    fn show(&self, id: &str) -> (String, Value) {
        let (code, out, err) = self.run(&["executions", "show", id, "--json"]);
        assert_eq!(code, 0, "{err}");
        let value = serde_json::from_str(&out).unwrap();
        (out, value)
    }

    /// The raw bytes of the store: the database and its WAL/SHM files.
    fn store_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.db.path()).unwrap().flatten() {
            bytes.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
        bytes
    }
}

fn marker(test: &str) -> String {
    format!("lc-{test}-{}", std::process::id())
}

/// (state, ppid) of a process, from /proc; `None` once it is gone.
fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = text.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Running or sleeping: not gone, not a zombie (orphans' zombies may linger under a PID 1 that
/// does not reap).
fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default()
}

fn pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .collect()
}

/// Live processes whose command line holds `marker` (toolbridge itself and its servers).
fn processes_with(marker: &str) -> Vec<i32> {
    pids().into_iter().filter(|&pid| cmdline(pid).contains(marker) && alive(pid)).collect()
}

/// Live testbed servers started with `--name marker`.
fn servers(marker: &str) -> Vec<i32> {
    processes_with(marker).into_iter().filter(|&pid| cmdline(pid).contains("testbed-mcp")).collect()
}

fn children_of(parent: i32) -> Vec<i32> {
    pids().into_iter().filter(|&pid| stat(pid).is_some_and(|(_, ppid)| ppid == parent) && alive(pid)).collect()
}

/// Polls `done` every 20 ms for up to `limit`; how long it took, or `None`.
fn within(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if done() {
            return Some(started.elapsed());
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(i32::try_from(child.id()).unwrap()), signal).unwrap();
}

/// Waits for `child` for up to `limit`: its status and how long it took, or `None` (it is left
/// running; the [`Reaper`] takes it).
fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<(ExitStatus, Duration)> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((status, started.elapsed()));
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The lines of a child's pipe, read by a thread.
fn lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads lines until one matches, for up to `limit`; every line read is appended to `seen`.
fn wait_for_line(
    rx: &Receiver<String>,
    limit: Duration,
    seen: &mut Vec<String>,
    matches: impl Fn(&str) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                let hit = matches(&line);
                seen.push(line);
                if hit {
                    return true;
                }
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// The lines still coming from a pipe whose writer exited (bounded, should something else hold
/// the pipe open).
fn drain(rx: &Receiver<String>) -> Vec<String> {
    let mut rest = Vec::new();
    wait_for_line(rx, Duration::from_secs(2), &mut rest, |_| false);
    rest
}

/// Kills, however the test ends, what it may have left behind: every process whose command
/// line holds the marker, and the tracked grandchildren (re-checked by command line, against
/// pid reuse). Always by pid, never by name.
struct Reaper {
    marker: String,
    tracked: Vec<(i32, &'static str)>,
}

impl Reaper {
    fn new(marker: &str) -> Self {
        Self { marker: marker.to_owned(), tracked: Vec::new() }
    }

    fn track(&mut self, pid: i32, needle: &'static str) {
        self.tracked.push((pid, needle));
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        let tracked = self.tracked.iter().filter(|(pid, needle)| alive(*pid) && cmdline(*pid).contains(needle));
        for pid in processes_with(&self.marker).into_iter().chain(tracked.map(|(pid, _)| *pid)) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Starts `toolbridge run` on `agent` and waits until `tool` has started (its `→` line on
/// stderr). Returns the child, the marker's single server and the stderr lines so far.
fn start_run_until(env: &Env, agent: &str, marker: &str, tool: &str) -> (Child, i32, Receiver<String>, Vec<String>) {
    let mut child =
        env.cmd(&["run", "--config", agent, "go"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = lines(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let started =
        wait_for_line(&stderr, Duration::from_secs(20), &mut seen, |l| l.starts_with('→') && l.contains(tool));
    assert!(started, "{tool} never started; stderr: {seen:#?}");
    let servers = servers(marker);
    assert_eq!(servers.len(), 1, "one testbed server expected: {servers:?}");
    (child, servers[0], stderr, seen)
}

/// The grandchild (`sleep 3600`) the testbed spawned for `spawn_grandchild`.
fn grandchild_of(server: i32) -> i32 {
    let sleeps: Vec<i32> = children_of(server).into_iter().filter(|&pid| cmdline(pid).starts_with("sleep")).collect();
    assert_eq!(sleeps.len(), 1, "one grandchild expected under {server}: {sleeps:?}");
    sleeps[0]
}

// ---------------------------------------------------------------------------------------------
// 1. SIGTERM to `toolbridge run` mid tool call
// ---------------------------------------------------------------------------------------------

#[test]
fn sigterm_mid_call_cancels_the_run_and_kills_the_server_and_its_grandchild() {
    let env = Env::new();
    let marker = marker("sigterm-run");
    let mut reaper = Reaper::new(&marker);
    let agent =
        env.agent(&marker, &[("testbed__spawn_grandchild", json!({})), ("testbed__sleep_ms", json!({"ms": 30000}))]);
    let (mut child, server, stderr, _) = start_run_until(&env, &agent, &marker, "testbed__sleep_ms");
    let grandchild = grandchild_of(server);
    reaper.track(grandchild, "sleep");
    // Let the request reach the server, so the cancellation is of a call in flight.
    std::thread::sleep(Duration::from_millis(300));

    signal(&child, Signal::SIGTERM);
    let (status, took) = wait_for_exit(&mut child, Duration::from_secs(5)).expect("run exits within 5 s of SIGTERM");
    let rest = drain(&stderr);
    assert_eq!(status.code(), Some(1), "{status:?}; stderr: {rest:#?}");
    assert!(rest.iter().any(|l| l.contains("cancelled")), "{rest:#?}");
    let gone = within(Duration::from_secs(3), || !alive(server) && !alive(grandchild));
    assert!(
        gone.is_some(),
        "left behind after SIGTERM: server alive={}, grandchild alive={}",
        alive(server),
        alive(grandchild)
    );
    assert!(processes_with(&marker).is_empty(), "{:?}", processes_with(&marker));
    eprintln!("run exited {status:?} {took:?} after SIGTERM; server and grandchild gone {gone:?} later");

    let list = env.executions();
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["status"], "cancelled");
    assert_eq!(list[0]["finish_reason"], "cancelled");
    let (_, shown) = env.show(list[0]["id"].as_str().unwrap());
    let calls = shown["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[0]["tool"], "testbed__spawn_grandchild");
    assert_eq!(calls[0]["success"], true);
    assert_eq!(calls[0]["output"], grandchild.to_string(), "the stored output is the grandchild's pid");
    assert_eq!(calls[1]["tool"], "testbed__sleep_ms");
    assert_eq!(calls[1]["success"], false);
    assert_eq!(calls[1]["error_type"], "cancelled");
}

// ---------------------------------------------------------------------------------------------
// 2. SIGKILL of `toolbridge run` itself (parent death)
// ---------------------------------------------------------------------------------------------

/// Nothing in toolbridge runs after SIGKILL: the bridge sets no PR_SET_PDEATHSIG, so what saves
/// its servers is that their stdin reaches EOF. An idle server exits on that at once.
#[test]
fn sigkill_of_run_lets_idle_servers_exit_and_leaves_the_store_usable() {
    let env = Env::new();
    let marker = marker("sigkill-idle");
    let _reaper = Reaper::new(&marker);
    // The run blocks in a skill (in-process), so the MCP server is connected but idle.
    let agent = env.agent(&marker, &[("wait__sleep", json!({"seconds": 20}))]);
    let (mut child, server, _stderr, _) = start_run_until(&env, &agent, &marker, "wait__sleep");
    std::thread::sleep(Duration::from_millis(200));

    child.kill().unwrap(); // SIGKILL
    let (status, _) = wait_for_exit(&mut child, Duration::from_secs(5)).expect("SIGKILL is immediate");
    assert_eq!(status.signal(), Some(Signal::SIGKILL as i32));
    let gone = within(Duration::from_secs(5), || !alive(server));
    assert!(gone.is_some(), "the idle server {server} outlived its parent by 5 s");
    eprintln!("idle server exited {gone:?} after its parent's SIGKILL");

    // The start of every execution is recorded (`running`, with the pid); the process died, so
    // it is listed as `interrupted`.
    let list = env.executions();
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["status"], "interrupted", "{list:#?}");
    eprintln!("store after SIGKILL: {} execution(s), {}", list.len(), list[0]["status"]);

    // The store is not left locked or corrupt: the next run is stored normally.
    let transcript = env.file("ok.json", r#"[{"content": "ok"}]"#);
    let (code, out, err) = env.run(&["run", "--model", &format!("scripted:{transcript}"), "again"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok"), "{out}");
    let after = env.executions();
    assert_eq!(after.len(), list.len() + 1, "{after:#?}");
    assert_eq!(after[0]["prompt"], "again");
}

/// A server busy in a call when its parent is SIGKILLed outlives it by rmcp's drain window:
/// on stdin EOF an rmcp server waits up to 5 s for in-flight handlers before exiting (rmcp
/// `service.rs`, `QuitReason::Closed`). The bridge sets no PR_SET_PDEATHSIG
/// (crates/bridge/src/pool/stdio.rs `spawn`), so a server that ignores EOF while busy would
/// live on for as long as its call runs.
#[test]
fn sigkill_of_run_mid_call_server_exits_after_its_drain_window() {
    let env = Env::new();
    let marker = marker("sigkill-busy");
    let _reaper = Reaper::new(&marker);
    let agent = env.agent(&marker, &[("testbed__sleep_ms", json!({"ms": 30000}))]);
    let (mut child, server, _stderr, _) = start_run_until(&env, &agent, &marker, "testbed__sleep_ms");
    std::thread::sleep(Duration::from_millis(300));

    child.kill().unwrap();
    wait_for_exit(&mut child, Duration::from_secs(5)).expect("SIGKILL is immediate");
    let gone = within(Duration::from_secs(10), || !alive(server));
    eprintln!("after SIGKILL of run mid-call: server gone {gone:?} (ppid now {:?})", stat(server).map(|(_, p)| p));
    assert!(gone.is_some(), "the busy server {server} outlived its parent by 10 s");
}

// ---------------------------------------------------------------------------------------------
// 3. Signals to `toolbridge serve --stdio`
// ---------------------------------------------------------------------------------------------

/// A minimal MCP client over a child's stdin/stdout.
struct McpClient {
    stdin: ChildStdin,
    stdout: Receiver<String>,
}

impl McpClient {
    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn request(&mut self, id: u64, method: &str, params: &Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let line = self
                .stdout
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|e| panic!("no answer to {method}: {e}"));
            let message: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON-RPC ({e}): {line}"));
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{method} failed: {message}");
                return message["result"].clone();
            }
        }
    }
}

/// Starts `serve --stdio` on a testbed named `marker`, initialises a session and has the
/// testbed spawn a grandchild. Returns the child, the client, the server and the grandchild.
fn start_serve(env: &Env, marker: &str) -> (Child, McpClient, i32, i32) {
    let config = json!({"mcpServers": {"testbed": {"command": testbed(), "args": ["--name", marker]}}});
    let config = env.file(&format!("{marker}.json"), &config.to_string());
    let mut child = env
        .cmd(&["serve", "--stdio", "--mcp-config", &config])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut client = McpClient { stdin: child.stdin.take().unwrap(), stdout: lines(child.stdout.take().unwrap()) };
    let init = client.request(
        1,
        "initialize",
        &json!({
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "lifecycle", "version": "1"}
        }),
    );
    assert!(init["serverInfo"].is_object(), "{init}");
    client.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let spawned = client.request(2, "tools/call", &json!({"name": "testbed__spawn_grandchild", "arguments": {}}));
    let grandchild: i32 = spawned["content"][0]["text"].as_str().and_then(|t| t.parse().ok()).expect("a pid");
    let servers = servers(marker);
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(grandchild_of(servers[0]), grandchild);
    (child, client, servers[0], grandchild)
}

fn serve_exits_cleanly_on(signal_to_send: Signal) {
    let env = Env::new();
    let marker = marker(&format!("serve-{}", signal_to_send.as_str()));
    let mut reaper = Reaper::new(&marker);
    let (mut child, mut client, server, grandchild) = start_serve(&env, &marker);
    reaper.track(grandchild, "sleep");
    // A call in flight when the signal comes.
    let sleep = json!({"name": "testbed__sleep_ms", "arguments": {"ms": 30000}});
    client.send(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": sleep}));
    std::thread::sleep(Duration::from_millis(300));

    signal(&child, signal_to_send);
    let (status, took) = wait_for_exit(&mut child, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("serve still running 5 s after {signal_to_send}"));
    assert_eq!(status.code(), Some(0), "{signal_to_send}: {status:?}");
    let gone = within(Duration::from_secs(3), || !alive(server) && !alive(grandchild));
    assert!(gone.is_some(), "{signal_to_send}: server alive={}, grandchild alive={}", alive(server), alive(grandchild));
    assert!(processes_with(&marker).is_empty(), "{:?}", processes_with(&marker));
    eprintln!("serve: {signal_to_send} -> {status:?} in {took:?}; server and grandchild gone {gone:?} later");
    drop(client); // stdin stayed open until now
}

/// A second signal while the first one's clean shutdown is still under way exits at once.
#[test]
fn a_second_signal_exits_at_once() {
    let env = Env::new();
    let marker = marker("serve-twice");
    let mut reaper = Reaper::new(&marker);
    let (mut child, mut client, server, grandchild) = start_serve(&env, &marker);
    reaper.track(grandchild, "sleep");
    let sleep = json!({"name": "testbed__sleep_ms", "arguments": {"ms": 30000}});
    client.send(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": sleep}));
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(100));
    signal(&child, Signal::SIGTERM);
    let (status, took) = wait_for_exit(&mut child, Duration::from_secs(5)).expect("serve exits");
    eprintln!("serve: SIGTERM twice -> {status:?} in {took:?}");
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // Its server still sees stdin close and exits.
    assert!(within(Duration::from_secs(10), || !alive(server)).is_some(), "the server outlived serve");
    drop(client);
}

#[test]
fn serve_stdio_exits_0_on_sigterm_killing_servers_and_grandchildren() {
    serve_exits_cleanly_on(Signal::SIGTERM);
}

#[test]
fn serve_stdio_exits_0_on_sigint_killing_servers_and_grandchildren() {
    serve_exits_cleanly_on(Signal::SIGINT);
}

#[test]
fn serve_stdio_exits_0_when_its_client_closes_stdin() {
    let env = Env::new();
    let marker = marker("serve-eof");
    let mut reaper = Reaper::new(&marker);
    let (mut child, client, server, grandchild) = start_serve(&env, &marker);
    reaper.track(grandchild, "sleep");
    drop(client);
    let (status, took) = wait_for_exit(&mut child, Duration::from_secs(5)).expect("serve exits within 5 s of EOF");
    assert_eq!(status.code(), Some(0), "{status:?}");
    let gone = within(Duration::from_secs(3), || !alive(server) && !alive(grandchild));
    assert!(gone.is_some(), "server alive={}, grandchild alive={}", alive(server), alive(grandchild));
    eprintln!("serve: stdin EOF -> {status:?} in {took:?}");
}

/// Signal handlers are installed at start-up, and the handshake gives way to shutdown: a
/// SIGTERM before any client arrives still ends `serve` cleanly, its servers killed.
#[test]
fn serve_stdio_exits_0_on_sigterm_before_the_handshake() {
    let env = Env::new();
    let marker = marker("serve-early");
    let _reaper = Reaper::new(&marker);
    let config = json!({"mcpServers": {"testbed": {"command": testbed(), "args": ["--name", marker]}}});
    let config = env.file(&format!("{marker}.json"), &config.to_string());
    let mut child = env
        .cmd(&["serve", "--stdio", "--mcp-config", &config])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = within(Duration::from_secs(20), || servers(&marker).len() == 1);
    assert!(started.is_some(), "the testbed never started");
    let server = servers(&marker)[0];
    // The catalogue is built once the server answered tools/list; then serve waits for a client.
    std::thread::sleep(Duration::from_millis(1000));

    signal(&child, Signal::SIGTERM);
    let (status, took) = wait_for_exit(&mut child, Duration::from_secs(5)).expect("serve exits within 5 s");
    let gone = within(Duration::from_secs(3), || !alive(server));
    eprintln!(
        "serve before initialize: SIGTERM -> {status:?} (signal {:?}) in {took:?}; server gone {gone:?}",
        status.signal()
    );
    assert!(gone.is_some(), "the server outlived serve");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. Secrets never leak
// ---------------------------------------------------------------------------------------------

/// A loopback port nothing listens on.
fn refused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Where `secrets` occur: in each named text, in the store's raw bytes and in `executions show
/// --json` of every stored execution.
fn leaks(env: &Env, secrets: &[&str], texts: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    let store = String::from_utf8_lossy(&env.store_bytes()).into_owned();
    let mut places: Vec<(String, String)> = texts.to_vec();
    places.push(("the store's raw bytes".into(), store));
    for execution in env.executions() {
        let id = execution["id"].as_str().unwrap().to_owned();
        let (shown, _) = env.show(&id);
        places.push((format!("executions show {id} --json"), shown));
    }
    for secret in secrets {
        for (place, text) in &places {
            if let Some(at) = text.find(secret) {
                let start = (0..=at.saturating_sub(160)).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
                let context: String = text[start..].chars().take(240).collect();
                found.push(format!("{secret:?} in {place}: …{context}…"));
            }
        }
    }
    found
}

/// Runs `toolbridge args…` (with `extra` environment) and names its stdout and stderr.
fn capture(env: &Env, label: &str, args: &[&str], extra: &[(&str, &str)]) -> (i32, Vec<(String, String)>) {
    let mut command = env.cmd(args);
    command.envs(extra.iter().copied());
    let (code, out, err) = Env::output(command);
    (code, vec![(format!("{label} stdout"), out), (format!("{label} stderr"), err)])
}

fn secret_servers(marker: &str, http_port: u16, env_secret: &str, header_secret: &str) -> Value {
    json!({
        "testbed": {
            "command": testbed(), "args": ["--name", marker],
            "env": {"API_TOKEN": env_secret, "VIA_TEMPLATE": "${LC_TEMPLATED_SECRET:-not-a-secret}"}
        },
        "remote": {
            "url": format!("http://127.0.0.1:{http_port}/mcp"),
            "headers": {"Authorization": format!("Bearer {header_secret}")}
        }
    })
}

#[test]
fn mcp_server_secrets_stay_out_of_output_logs_and_store() {
    let env = Env::new();
    let marker = marker("secrets-mcp");
    let _reaper = Reaper::new(&marker);
    let env_secret = "sk-secret-ENV-7f3Qz9";
    let header_secret = "sk-secret-HDR-k2Lw8P";
    let templated_secret = "sk-secret-TPL-x4Vn1R";
    let servers = secret_servers(&marker, refused_port(), env_secret, header_secret);
    let mcp_config = env.file("mcp.json", &json!({"mcpServers": servers}).to_string());
    let transcript = env.file(
        "t.json",
        &json!([
            {"tool_calls": [{"name": "testbed__echo", "arguments": {"message": "hi"}}]},
            {"tool_calls": [{"name": "testbed__fail", "arguments": {}}]},
            {"content": "done"}
        ])
        .to_string(),
    );
    let agent = env.file(
        "agent.json",
        &json!({"name": "leaky", "model_id": format!("scripted:{transcript}"), "mcp_servers": servers}).to_string(),
    );
    let verbose: &[(&str, &str)] = &[("RUST_LOG", "trace"), ("LC_TEMPLATED_SECRET", templated_secret)];
    let mut texts = Vec::new();
    let mut check = |label: &str, args: &[&str], want: i32| {
        let (code, named) = capture(&env, label, args, verbose);
        assert_eq!(code, want, "{label}: {named:#?}");
        texts.extend(named);
    };
    check("run", &["-vvv", "run", "--config", &agent, "go"], 0);
    check("run --json", &["-vvv", "run", "--config", &agent, "--json", "go"], 0);
    check("tools", &["-vvv", "tools", "--mcp-config", &mcp_config, "--json"], 0);
    check("call of a tool that fails", &["-vvv", "call", "testbed__fail", "--mcp-config", &mcp_config], 1);
    check("call of the unreachable server", &["-vvv", "call", "remote__anything", "--mcp-config", &mcp_config], 1);
    check("call --json that fails", &["-vvv", "call", "testbed__fail", "--mcp-config", &mcp_config, "--json"], 1);
    // The logs really were at trace level, and the runs really were stored.
    assert!(texts.iter().any(|(place, text)| place == "run stderr" && text.contains("TRACE")), "no trace logs");
    assert!(
        texts.iter().any(|(_, text)| text.contains("remote") && text.contains("127.0.0.1")),
        "the unreachable server was not reported"
    );
    assert_eq!(env.executions().len(), 2);
    let found = leaks(&env, &[env_secret, header_secret, templated_secret], &texts);
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
    // The stored context keeps the server config, with the values redacted, the template unexpanded.
    let id = env.executions()[0]["id"].as_str().unwrap().to_owned();
    let (_, shown) = env.show(&id);
    let stored = &shown["context"]["mcp_servers"];
    assert_eq!(stored["testbed"]["env"]["API_TOKEN"], "[redacted]", "{stored}");
    assert_eq!(stored["remote"]["headers"]["Authorization"], "[redacted]", "{stored}");
}

#[test]
fn model_api_keys_stay_out_of_output_logs_and_store() {
    let env = Env::new();
    let marker = marker("secrets-model");
    let _reaper = Reaper::new(&marker);
    let openai_key = "sk-secret-key-OAI-9dKq2W";
    let anthropic_key = "sk-secret-key-ANT-3mRt7Y";
    let servers = secret_servers(&marker, refused_port(), "sk-secret-ENV-unused1", "sk-secret-HDR-unused1");
    let mcp_config = env.file("mcp.json", &json!({"mcpServers": servers}).to_string());
    let refused = format!("http://127.0.0.1:{}", refused_port());
    let openai_url = format!("{refused}/v1");
    let mut texts = Vec::new();
    let (code, named) = capture(
        &env,
        "run openai",
        &["-vvv", "run", "--model", "openai:gpt-4o-mini", "--mcp-config", &mcp_config, "go"],
        &[("RUST_LOG", "trace"), ("OPENAI_API_KEY", openai_key), ("OPENAI_BASE_URL", &openai_url)],
    );
    assert_eq!(code, 1, "{named:#?}");
    assert!(named[1].1.contains("cannot reach"), "{named:#?}");
    texts.extend(named);
    let (code, named) = capture(
        &env,
        "run anthropic",
        &["-vvv", "run", "--model", "anthropic:claude-sonnet-4-5", "--json", "go"],
        &[("RUST_LOG", "trace"), ("ANTHROPIC_API_KEY", anthropic_key), ("ANTHROPIC_BASE_URL", &refused)],
    );
    assert_eq!(code, 1, "{named:#?}");
    texts.extend(named);
    assert_eq!(env.executions().len(), 2, "both failures are stored");
    let found = leaks(&env, &[openai_key, anthropic_key], &texts);
    assert!(found.is_empty(), "keys leaked:\n{}", found.join("\n"));
}

/// An HTTP endpoint that answers every request `400` with a body quoting the request's
/// credentials, as some servers and proxies do ("Incorrect API key provided: …").
fn echoing_endpoint() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer_quoting_credentials(stream);
        }
    });
    port
}

fn answer_quoting_credentials(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let (mut credentials, mut length) = (String::new(), 0usize);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "authorization" | "x-api-key" => value.trim().clone_into(&mut credentials),
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let reply =
        json!({"error": {"message": format!("Incorrect API key provided: {credentials}"), "type": "invalid_request"}})
            .to_string();
    write!(
        stream,
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{reply}",
        reply.len()
    )?;
    stream.flush()
}

/// An endpoint quoting the credentials back in its error body: the configured header and the
/// model keys are scrubbed from every error message (terminal, logs, store).
#[test]
fn secrets_echoed_back_by_an_endpoint_are_scrubbed() {
    let env = Env::new();
    let marker = marker("secrets-echo");
    let _reaper = Reaper::new(&marker);
    let port = echoing_endpoint();
    let header_secret = "sk-secret-HDR-e8Jc5N";
    let openai_key = "sk-secret-key-OAI-w6Hs4B";
    let anthropic_key = "sk-secret-key-ANT-p1Gf0M";
    let servers = secret_servers(&marker, port, "sk-secret-ENV-unused2", header_secret);
    let mcp_config = env.file("mcp.json", &json!({"mcpServers": servers}).to_string());
    let base = format!("http://127.0.0.1:{port}");
    let openai_url = format!("{base}/v1");
    let mut texts = Vec::new();
    let (_, named) = capture(&env, "tools", &["tools", "--mcp-config", &mcp_config], &[]);
    texts.extend(named);
    let (code, named) = capture(
        &env,
        "run openai",
        &["run", "--model", "openai:gpt-4o-mini", "--mcp-config", &mcp_config, "go"],
        &[("OPENAI_API_KEY", openai_key), ("OPENAI_BASE_URL", &openai_url)],
    );
    assert_eq!(code, 1, "{named:#?}");
    texts.extend(named);
    let (code, named) = capture(
        &env,
        "run anthropic",
        &["run", "--model", "anthropic:claude-sonnet-4-5", "go"],
        &[("ANTHROPIC_API_KEY", anthropic_key), ("ANTHROPIC_BASE_URL", &base)],
    );
    assert_eq!(code, 1, "{named:#?}");
    texts.extend(named);
    let found = leaks(&env, &[header_secret, openai_key, anthropic_key], &texts);
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
}
