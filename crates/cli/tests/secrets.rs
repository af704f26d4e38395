//! Secrets never leak, end to end through the built `toolbridge` binary: server env and header
//! values and model API keys stay out of stdout, stderr (at every verbosity), logs and the
//! SQLite store, even when an endpoint quotes them back.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

use common::*;

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
    check("tools", &["-vvv", "tools", "--mcp-config", &mcp_config, "--json"], 1);
    check("tools --allow-degraded", &["-vvv", "tools", "--mcp-config", &mcp_config, "--json", "--allow-degraded"], 0);
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
