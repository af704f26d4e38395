//! The attacks on the release build, through the built binary: what a server sees of the
//! environment, `serve` without a token or with a flood of sessions, `${VAR}` secrets in
//! records, a locked store.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use common::*;

/// A stdio server gets the allow-listed environment plus its `env`, not the bridge's keys;
/// `inherit_env: true` gives it everything (and what it echoes is still scrubbed).
#[test]
fn servers_get_an_allow_listed_environment() {
    let env = Env::new();
    let key = "sk-secret-env-allow-list-1";
    let config = |inherit: bool| {
        let mut server = json!({"command": testbed(), "env": {"CONFIGURED": "yes"}});
        if inherit {
            server["inherit_env"] = json!(true);
        }
        env.file(&format!("mcp-{inherit}.json"), &json!({"mcpServers": {"t": server}}).to_string())
    };
    let call = |config: &str, name: &str| {
        let mut command =
            env.cmd(&["call", "t__env", "--args", &json!({"name": name}).to_string(), "--mcp-config", config]);
        command.env("OPENAI_API_KEY", key).env("TOOLBRIDGE_SERVE_TOKEN", "serve-token-not-for-servers");
        Env::output(command)
    };
    let allow_listed = config(false);
    let (code, _, err) = call(&allow_listed, "OPENAI_API_KEY");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("OPENAI_API_KEY is not set"), "{err}");
    let (_, _, err) = call(&allow_listed, "TOOLBRIDGE_SERVE_TOKEN");
    assert!(err.contains("is not set"), "{err}");
    let (code, out, err) = call(&allow_listed, "CONFIGURED");
    assert_eq!((code, out.trim()), (0, "yes"), "{err}");
    let (code, out, err) = call(&allow_listed, "PATH");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("/usr/bin"), "{out}");

    let inherited = config(true);
    let (code, out, err) = call(&inherited, "OPENAI_API_KEY");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "[redacted]", "inherited, and still never printed");
}

#[test]
fn serve_refuses_an_empty_token() {
    let env = Env::new();
    let mcp = "fixtures/mcp/testbed.json";
    let (code, _, err) = env.run(&["serve", "--mcp-config", mcp, "--http", "127.0.0.1:0", "--token", ""]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("token is empty"), "{err}");
    let mut command = env.cmd(&["serve", "--mcp-config", mcp, "--http", "127.0.0.1:0"]);
    command.env("TOOLBRIDGE_SERVE_TOKEN", "");
    let (code, _, err) = Env::output(command);
    assert_eq!(code, 2, "{err}");
}

/// `initialize` over HTTP; the status line of the answer.
fn open_session(port: u16) -> String {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "flood", "version": "1"}}})
    .to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = [0u8; 64];
    let read = stream.read(&mut answer).unwrap_or(0);
    String::from_utf8_lossy(&answer[..read]).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn serve_limits_open_sessions() {
    let env = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = env
        .cmd(&["serve", "--mcp-config", "fixtures/mcp/testbed.json", "--http", &addr, "--max-sessions", "2"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = lines(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    assert!(wait_for_line(&stderr, Duration::from_secs(20), &mut seen, |l| l.contains("serving")), "{seen:?}");
    assert!(open_session(port).contains("200"));
    assert!(open_session(port).contains("200"));
    let third = open_session(port);
    assert!(third.contains("503"), "the third session was not refused: {third}");
    let _ = child.kill();
    let _ = child.wait();
}

/// The values behind `${VAR}` — in `env`, a `Bearer ${…}` header, a URL query, `args` — are
/// scrubbed from the records, wherever a tool echoes them back.
#[test]
fn templated_secrets_are_not_stored_in_clear() {
    let env = Env::new();
    let greeting = "templated-secret-greeting-77";
    let bearer = "templated-bearer-token-88";
    let query = "templated-query-key-99";
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let transcript = env.file(
        "t.json",
        &json!([{"tool_calls": [{"name": "testbed__env", "arguments": {"name": "GREETING"}}]}, {"content": "{{last_tool_result}}"}])
            .to_string(),
    );
    let agent = env.file(
        "agent.json",
        &json!({
            "name": "templated", "model_id": format!("scripted:{transcript}"),
            "mcp_servers": {
                "testbed": {"command": testbed(), "env": {"GREETING": "${TB_GREETING}"}},
                "remote": {"url": format!("http://127.0.0.1:{dead}/mcp?api_key=${{TB_QUERY}}"),
                           "headers": {"X-Trace": "Bearer ${TB_BEARER}"}}
            }
        })
        .to_string(),
    );
    let mut command = env.cmd(&["-vv", "run", "--config", &agent, "--json", "go"]);
    command.env("TB_GREETING", greeting).env("TB_BEARER", bearer).env("TB_QUERY", query);
    let (code, out, err) = Env::output(command);
    assert_eq!(code, 0, "{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["response"], "[redacted]", "the tool echoed the secret; it is scrubbed");
    let store = String::from_utf8_lossy(&env.store_bytes()).into_owned();
    let id = env.executions()[0]["id"].as_str().unwrap().to_owned();
    let (shown, _) = env.show(&id);
    for secret in [greeting, bearer, query] {
        for (place, text) in [("stdout", &out), ("stderr", &err), ("the store", &store), ("executions show", &shown)] {
            assert!(!text.contains(secret), "{secret} in {place}");
        }
    }
    assert!(shown.contains("${TB_GREETING}"), "the template is kept readable");
}

/// A store another process keeps locked: the record is retried, and when it still cannot be
/// written the command fails naming the cause, after printing the result.
#[test]
fn a_record_that_cannot_be_stored_fails_the_command() {
    let env = Env::new();
    assert_eq!(env.run(&["executions", "list"]).0, 0, "the store exists");
    let db = env.db_path();
    let locker = std::process::Command::new("python3")
        .args(["-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1]); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)"])
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut locker = KillOnDrop(locker);
    let mut line = [0u8; 7];
    locker.0.stdout.as_mut().unwrap().read_exact(&mut line).unwrap();
    let mut command = env.cmd(&["run", "--config", "fixtures/agents/demo.json", "--json", "sum?"]);
    command.env("TOOLBRIDGE_DB_BUSY_TIMEOUT_MS", "100");
    let (code, out, err) = Env::output(command);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("\"finish_reason\""), "the result was printed first: {out}");
    assert!(err.contains("could not be stored") && err.contains("locked"), "the cause is named: {err}");
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
