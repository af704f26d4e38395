//! Process lifecycle, end to end through the built `toolbridge` binary: signals and parent
//! death around real MCP server processes (and what those spawn). Secrets: `secrets.rs`.
//!
//! SIGKILL cannot be caught: after it, servers see stdin EOF and exit (checked here), but what a
//! server itself started in the background is beyond reach (RELIABILITY.md, known limits).

mod common;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{Value, json};

use common::*;

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
