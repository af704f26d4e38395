//! End to end: the built `toolbridge` binary through every subcommand, good and bad input.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

mod common;

use common::{ensure_testbed, root};

struct Env {
    db: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        ensure_testbed();
        Self { db: tempfile::tempdir().unwrap() }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut command = Command::cargo_bin("toolbridge").unwrap();
        command
            .args(args)
            .current_dir(root())
            .env("TOOLBRIDGE_DB", self.db.path().join("tb.db"))
            .env_remove("RUST_LOG");
        command
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = self.cmd(args).output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

#[test]
fn runtimes_lists_the_agent_loop_with_its_schema() {
    let env = Env::new();
    let (code, out, _) = env.run(&["runtimes", "--json"]);
    assert_eq!(code, 0);
    let value: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["available"], serde_json::json!(["agent_loop"]));
    assert!(value["runtimes"]["agent_loop"]["runtime_config_schema"]["properties"]["max_iterations"].is_object());
    assert_eq!(value["runtimes"]["agent_loop"]["capabilities"]["mcp"], true);
    let (code, out, _) = env.run(&["runtimes"]);
    assert_eq!(code, 0);
    assert!(out.contains("agent_loop (default)"), "{out}");
}

#[test]
fn tools_lists_the_catalogue() {
    let env = Env::new();
    let (code, out, err) = env.run(&[
        "tools",
        "--mcp-config",
        "fixtures/mcp/testbed.json",
        "--skills",
        "fixtures/skills/demo.json",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let tools: Vec<Value> = serde_json::from_str(&out).unwrap();
    let echo = tools.iter().find(|t| t["name"] == "testbed__echo").expect("testbed__echo listed");
    assert_eq!(echo["source"], "testbed");
    assert_eq!(echo["original_name"], "echo");
    assert_eq!(echo["input_schema"]["type"], "object");
    assert!(tools.iter().any(|t| t["name"] == "files__read_file"));
    for fixture in ["fixtures/mcp/claude.json", "fixtures/mcp/vscode.json", "fixtures/mcp/seed.json"] {
        let (code, out, err) = env
            .cmd(&["tools", "--mcp-config", fixture, "--json"])
            .env("TESTBED_GREETING", "hi")
            .output()
            .map(|o| {
                (
                    o.status.code().unwrap(),
                    String::from_utf8_lossy(&o.stdout).into_owned(),
                    String::from_utf8_lossy(&o.stderr).into_owned(),
                )
            })
            .unwrap();
        assert_eq!(code, 0, "{fixture}: {err}");
        assert!(out.contains("testbed__echo"), "{fixture}");
    }
}

#[test]
fn bad_config_files_exit_2_naming_the_problem() {
    let env = Env::new();
    let (code, _, err) = env.run(&["tools", "--mcp-config", "no/such/file.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("no/such/file.json"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"mcpServers\": {\n    \"x\": {\"command\": \"a\",}\n  }\n}").unwrap();
    let (code, _, err) = env.run(&["tools", "--mcp-config", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("line 3"), "{err}");
    std::fs::write(&bad, r#"{"mcpServers": {"x": {"comand": "a"}}}"#).unwrap();
    let (code, _, err) = env.run(&["tools", "--mcp-config", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("comand") && err.contains("\"x\""), "{err}");
}

#[test]
fn call_prints_the_output_or_fails_clearly() {
    let env = Env::new();
    let (code, out, _) = env.run(&[
        "call",
        "testbed__add",
        "--args",
        r#"{"a": 2, "b": 3}"#,
        "--mcp-config",
        "fixtures/mcp/testbed.json",
    ]);
    assert_eq!((code, out.trim()), (0, "5"));
    let (code, out, _) = env.run(&[
        "call",
        "testbed__echo",
        "--args",
        r#"{"message": "hi"}"#,
        "--mcp-config",
        "fixtures/mcp/testbed.json",
        "--json",
    ]);
    assert_eq!(code, 0);
    let record: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(record["output"], "Echo: hi");
    assert_eq!(record["source"], "mcp");
    let (code, _, err) = env.run(&["call", "testbed__nope", "--mcp-config", "fixtures/mcp/testbed.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown_tool") && err.contains("toolbridge tools"), "{err}");
    let (code, _, err) = env.run(&[
        "call",
        "testbed__add",
        "--args",
        r#"{"a": "x", "b": 1}"#,
        "--mcp-config",
        "fixtures/mcp/testbed.json",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid_arguments") && err.contains("\"a\""), "{err}");
    let (code, _, err) =
        env.run(&["call", "testbed__add", "--args", r#"{"a": 2,"#, "--mcp-config", "fixtures/mcp/testbed.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("--args") && err.contains("column"), "{err}");
    let (code, _, err) = env.run(&["call", "testbed__fail", "--mcp-config", "fixtures/mcp/testbed.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("tool_error"), "{err}");
}

#[test]
fn agents_are_created_validated_listed_shown_and_deleted() {
    let env = Env::new();
    let (code, _, err) = env.run(&[
        "agent",
        "create",
        "a1",
        "--model",
        "scripted:x.json",
        "--runtime-config",
        r#"{"max_iterations": 0}"#,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("runtime_config.max_iterations"), "{err}");
    let (code, _, err) = env.run(&["agent", "create", "a1", "--runtime", "nope", "--model", "scripted:x.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown runtime type `nope`; known runtimes: agent_loop"), "{err}");
    let (code, _, err) = env.run(&[
        "agent",
        "create",
        "a1",
        "--model",
        "scripted:fixtures/transcripts/demo.json",
        "--runtime-config",
        r#"{"max_iterations": 5}"#,
        "--mcp-config",
        "fixtures/mcp/testbed.json",
        "--skills",
        "fixtures/skills/demo.json",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run(&["agent", "create", "a1", "--model", "scripted:x.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("already exists") && err.contains("--force"), "{err}");
    let (_, out, _) = env.run(&["agent", "list"]);
    assert!(out.contains("a1") && out.contains("agent_loop"), "{out}");
    let (code, out, _) = env.run(&["agent", "show", "a1", "--json"]);
    assert_eq!(code, 0);
    let agent: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(agent["runtime_config"]["max_iterations"], 5);
    assert!(agent["mcp_servers"]["testbed"].is_object(), "stored typed, in the plain shape: {agent}");
    let (code, out, err) = env.run(&["run", "--agent", "a1", "--json", "sum?"]);
    assert_eq!(code, 0, "{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["finish_reason"], "stop");
    // Literal env/header values are masked when shown; references stay readable.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp.json");
    let servers = serde_json::json!({"mcpServers": {
        "s": {"command": "x", "env": {"TOKEN": "sk-literal-123456", "HOME_REF": "${HOME}"}},
        "h": {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer sk-literal-abcdef"}}
    }});
    std::fs::write(&config, servers.to_string()).unwrap();
    let created =
        env.run(&["agent", "create", "a2", "--model", "scripted:x.json", "--mcp-config", config.to_str().unwrap()]);
    assert_eq!(created.0, 0, "{}", created.2);
    for args in [&["agent", "show", "a2", "--json"][..], &["agent", "show", "a2"], &["agent", "list", "--json"]] {
        let (_, out, _) = env.run(args);
        assert!(!out.contains("sk-literal"), "{args:?}: {out}");
        assert!(out.contains("[redacted]") && out.contains("${HOME}"), "{args:?}: {out}");
    }
    let (_, out, _) = env.run(&["agent", "show", "a2", "--json", "--reveal"]);
    assert!(out.contains("sk-literal-123456") && out.contains("Bearer sk-literal-abcdef"), "{out}");
    assert!(env.run(&["agent", "delete", "a1"]).0 == 0);
    let (code, _, err) = env.run(&["agent", "delete", "a1"]);
    assert_eq!(code, 2);
    assert!(err.contains("no agent named"), "{err}");
}

#[test]
fn run_streams_stores_and_shows_executions() {
    let env = Env::new();
    let (code, out, err) = env.run(&["run", "--config", "fixtures/agents/demo.json", "What is the sum?"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("So the sum of a and b is 42."), "{out}");
    assert!(err.contains("testbed__add") && err.contains("[stop]"), "{err}");
    let (code, out, _) = env.run(&["run", "--config", "fixtures/agents/demo.json", "--json", "again"]);
    assert_eq!(code, 0);
    let result: Value = serde_json::from_str(&out).unwrap();
    let log = result["tool_execution_messages"].as_array().unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!(log[1]["tool"], "testbed__add");
    assert!(result["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let (code, out, _) = env.run(&["executions", "list", "--json"]);
    assert_eq!(code, 0);
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 2);
    let id = list[0]["id"].as_str().unwrap();
    let (code, out, _) = env.run(&["executions", "show", &id[..8]]);
    assert_eq!(code, 0);
    assert!(out.contains("testbed__add") && out.contains("tool calls"), "{out}");
    let (code, _, err) = env.run(&["executions", "show", "zzzzzzzz"]);
    assert_eq!(code, 2);
    assert!(err.contains("no execution"), "{err}");
    let (code, _, err) = env.run(&["run", "hi"]);
    assert_eq!(code, 2);
    assert!(err.contains("no model"), "{err}");
    let (code, _, err) = env.run(&[
        "run",
        "--config",
        "fixtures/agents/demo.json",
        "--runtime-config",
        r#"{"max_iterations": "x"}"#,
        "hi",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("max_iterations"), "{err}");
}

fn processes_with(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
                && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
                    .unwrap_or(false)
        })
        .collect()
}

#[test]
fn ctrl_c_cancels_run_cleanly() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("marker-{}", std::process::id());
    let transcript = dir.path().join("t.json");
    std::fs::write(
        &transcript,
        r#"[{"tool_calls": [{"name": "testbed__sleep_ms", "arguments": {"ms": 30000}}]}, {"content": "never"}]"#,
    )
    .unwrap();
    let agent = dir.path().join("agent.json");
    let testbed = common::testbed();
    std::fs::write(
        &agent,
        serde_json::json!({
            "name": "sleepy", "model_id": format!("scripted:{}", transcript.display()),
            "mcp_servers": {"testbed": {"command": testbed, "args": ["--name", marker]}}
        })
        .to_string(),
    )
    .unwrap();
    let mut child = env
        .cmd(&["run", "--config", agent.to_str().unwrap(), "sleep"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while processes_with(&marker).is_empty() {
        assert!(Instant::now() < deadline, "the server never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(status.code(), Some(1));
    let gone = Instant::now() + Duration::from_secs(3);
    while !processes_with(&marker).is_empty() {
        assert!(Instant::now() < gone, "server processes left behind: {:?}", processes_with(&marker));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, out, _) = env.run(&["executions", "list", "--json"]);
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["status"], "cancelled");
    let (_, out, _) = env.run(&["executions", "show", list[0]["id"].as_str().unwrap(), "--json"]);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["tool_calls"][0]["error_type"], "cancelled");
}

#[test]
fn serve_http_checks_host_and_token() {
    let env = Env::new();
    let mut child = env
        .cmd(&["serve", "--mcp-config", "fixtures/mcp/testbed.json", "--http", "127.0.0.1:0", "--token", "sesame"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let url = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.split("on ").nth(1).filter(|r| r.starts_with("http://")) {
            break rest.trim().to_owned();
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let init = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
        let post = |auth: Option<&str>, host: Option<&str>| {
            let mut request = client.post(&url).header("accept", "application/json, text/event-stream").json(&init);
            if let Some(auth) = auth {
                request = request.bearer_auth(auth);
            }
            if let Some(host) = host {
                request = request.header("host", host);
            }
            request.send()
        };
        assert_eq!(post(None, None).await.unwrap().status(), 401);
        assert_eq!(post(Some("wrong"), None).await.unwrap().status(), 401);
        assert_eq!(post(Some("sesame"), Some("evil.example")).await.unwrap().status(), 403);
        let ok = post(Some("sesame"), None).await.unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.text().await.unwrap().contains("toolbridge"));
    });
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn completions_and_help() {
    let env = Env::new();
    let (code, out, _) = env.run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("toolbridge"));
    let (code, _, err) = env.run(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("unrecognized subcommand"), "{err}");
}

/// A closed stdout ends any command quietly (exit 0, no panic), the way ripgrep does.
#[test]
fn a_closed_stdout_ends_quietly() {
    let env = Env::new();
    let toolbridge = assert_cmd::cargo::cargo_bin("toolbridge");
    for command in [
        "runtimes --json | true",
        "call testbed__big_output --args '{\"bytes\": 200000}' --mcp-config fixtures/mcp/testbed.json | head -c5",
        "tools --mcp-config fixtures/mcp/testbed.json --json | head -c5",
    ] {
        let script = format!("{} {command}; echo \"status=${{PIPESTATUS[0]}}\" >&2", toolbridge.display());
        let output = env_command(&env, &script);
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains("status=0"), "{command}: {err}");
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{command}: {err}");
    }
}

fn env_command(env: &Env, script: &str) -> std::process::Output {
    let command = env.cmd(&[]);
    let db = command.get_envs().find(|(k, _)| *k == "TOOLBRIDGE_DB").and_then(|(_, v)| v.map(ToOwned::to_owned));
    let mut bash = Command::new("bash");
    bash.args(["-c", script]).current_dir(root()).env_remove("RUST_LOG");
    if let Some(db) = db {
        bash.env("TOOLBRIDGE_DB", db);
    }
    bash.output().unwrap()
}

/// `--color` governs every byte the CLI writes, log lines included.
#[test]
fn color_never_means_no_escape_codes_anywhere() {
    let env = Env::new();
    let (code, _, err) = env.run(&["--color", "never", "-vv", "tools", "--mcp-config", "fixtures/mcp/testbed.json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("DEBUG") || err.contains("INFO"), "logs were written: {err}");
    assert!(!err.contains('\u{1b}'), "no ANSI escape in: {err:?}");
    let (_, _, err) = env.run(&["--color", "always", "-vv", "tools", "--mcp-config", "fixtures/mcp/testbed.json"]);
    assert!(err.contains('\u{1b}'), "colours when asked: {err:?}");
}

/// An agent whose runtime needs a model can be created without one; running it without one
/// is a configuration error saying how to give one, and `TOOLBRIDGE_MODEL` gives one.
#[test]
fn a_model_can_be_given_at_run_time() {
    let env = Env::new();
    let (code, _, err) = env.run(&["agent", "create", "nomodel", "--mcp-config", "fixtures/mcp/testbed.json"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run(&["run", "--agent", "nomodel", "hi"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no model") && err.contains("TOOLBRIDGE_MODEL") && err.contains("--model"), "{err}");
    let (_, out, _) = env.run(&["executions", "list", "--json"]);
    assert_eq!(out.trim(), "[]", "a configuration error is not stored as an execution");
    let output = env
        .cmd(&["run", "--agent", "nomodel", "--json", "sum?"])
        .env("TOOLBRIDGE_MODEL", "scripted:fixtures/transcripts/demo.json")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["finish_reason"], "stop");
}
