//! End to end, through the built binary: MCP servers as people configure them elsewhere —
//! required servers and degraded catalogues, the legacy SSE transport (and the fallback to it),
//! VS Code's envFile / ${workspaceFolder} / inputs / disabled / alwaysAllow, Claude Code's
//! .mcp.json discovery, the user-level configuration and `toolbridge mcp add|remove|list`.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

mod common;

use common::{Env, testbed, within};

/// A testbed serving the legacy HTTP+SSE transport on a free port; killed when dropped.
struct SseServer {
    child: Child,
    port: u16,
}

impl SseServer {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(testbed())
            .args(["--sse", &format!("127.0.0.1:{port}")])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let up = within(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(up.is_some(), "the SSE testbed did not listen");
        Self { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/sse", self.port)
    }
}

impl Drop for SseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_required_server_that_does_not_start_fails_the_command_naming_it() {
    let env = Env::new();
    let config = env.mcp_config("mcp.json", &json!({"db": {"command": "/nonexistent/db-server", "required": true}}));
    for args in [
        vec!["tools", "--mcp-config", &config],
        vec!["tools", "--mcp-config", &config, "--allow-degraded"],
        vec!["call", "testbed__echo", "--args", r#"{"message": "x"}"#, "--mcp-config", &config],
    ] {
        let (code, _, err) = env.run(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains(r#"required server "db" is unavailable"#) && err.contains("/nonexistent/db-server"),
            "{err}"
        );
    }
    let model = env.model("t.json", &json!([{"content": "never"}]));
    let (code, out, err) = env.run(&["run", "--model", &model, "--mcp-config", &config, "hi"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(r#"required server "db" is unavailable"#), "{err}");
    assert!(!out.contains("never"), "the execution must not run: {out}");
    assert!(env.executions().is_empty(), "nothing ran, nothing is stored");
}

#[test]
fn tools_fails_when_a_server_is_unavailable_unless_degraded_is_allowed_with_one_line_per_failure() {
    let env = Env::new();
    let port = closed_port();
    let config = env.mcp_config(
        "mcp.json",
        &json!({
            "gone": {"command": "/nonexistent/server"},
            "remote": {"url": format!("http://127.0.0.1:{port}/mcp")},
        }),
    );
    let (code, out, err) = env.run(&["tools", "--mcp-config", &config]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("testbed__echo"), "the rest is still listed: {out}");
    assert!(err.contains(r#"2 servers unavailable: "gone", "remote""#) && err.contains("--allow-degraded"), "{err}");
    // One line per failure: no WARN/ERROR log lines, no transport dump, no repeated name.
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.iter().filter(|l| l.contains("gone")).count(), 2, "the warning and the summary: {err}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("warning: server")).count(), 2, "{err}");
    for noise in ["WARN", "ERROR", "reqwest::Error", "worker quit", "close_with_timeout", r#"server "gone": "#] {
        assert!(!err.contains(noise), "{noise:?} in {err}");
    }
    let (code, out, err) = env.run(&["tools", "--mcp-config", &config, "--allow-degraded"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("testbed__echo") && err.contains("2 unavailable"), "{err}");
    // `1 source`, not `1 sources`.
    let single = env.mcp_config("single.json", &json!({}));
    let (_, _, err) = env.run(&["tools", "--mcp-config", &single]);
    assert!(err.contains("from 1 source") && !err.contains("1 sources"), "{err}");
}

#[test]
fn run_names_unavailable_servers_at_the_top_and_logs_nothing_else() {
    let env = Env::new();
    let config = env.mcp_config("mcp.json", &json!({"gone": {"command": "/nonexistent/server"}}));
    let model = env.model(
        "t.json",
        &json!([{"tool_calls": [{"name": "testbed__add", "arguments": {"a": 1, "b": 2}}]}, {"content": "three"}]),
    );
    let (code, out, err) = env.run(&["run", "--model", &model, "--mcp-config", &config, "add"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "three");
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with(r#"warning: server "gone" unavailable: "#), "first line: {first}\n{err}");
    assert!(err.find("warning:").unwrap() < err.find("→ testbed__add").unwrap(), "{err}");
    for noise in ["WARN", "ERROR", "close_with_timeout"] {
        assert!(!err.contains(noise), "{noise:?} in {err}");
    }
}

#[test]
fn legacy_sse_servers_work_as_sse_and_as_a_fallback_from_http() {
    let env = Env::new();
    let server = SseServer::start();
    let config = env.file(
        "mcp.json",
        &json!({"mcpServers": {
            "old": {"type": "sse", "url": server.url()},
            "guessed": {"type": "http", "url": server.url()},
            "plain": {"url": server.url()},
        }})
        .to_string(),
    );
    let (code, out, err) = env.run(&["tools", "--mcp-config", &config, "--json"]);
    assert_eq!(code, 0, "{err}");
    let tools: Vec<Value> = serde_json::from_str(&out).unwrap();
    for name in ["old__echo", "guessed__echo", "plain__echo"] {
        assert!(tools.iter().any(|t| t["name"] == name), "{name} missing: {out}");
    }
    for (tool, expected) in [("old__add", "5"), ("guessed__add", "5")] {
        let (code, out, err) = env.run(&["call", tool, "--args", r#"{"a": 2, "b": 3}"#, "--mcp-config", &config]);
        assert_eq!((code, out.trim()), (0, expected), "{tool}: {err}");
    }
    assert!(!err.contains("worker quit") && !err.contains("ERROR"), "{err}");
    // An `sse` server that is not one says what it got.
    let http_port = closed_port();
    let wrong = env.file(
        "wrong.json",
        &json!({"mcpServers": {"nope": {"type": "sse", "url": format!("http://127.0.0.1:{http_port}/sse")}}})
            .to_string(),
    );
    let (code, _, err) = env.run(&["tools", "--mcp-config", &wrong]);
    assert_eq!(code, 1);
    assert!(err.contains(r#"server "nope" unavailable"#) && err.contains("GET"), "{err}");
}

#[test]
fn call_without_any_configuration_says_how_to_configure_tools() {
    let env = Env::new();
    let empty = tempfile::tempdir().unwrap();
    let mut command = env.cmd(&["call", "everything__echo"]);
    command.current_dir(empty.path());
    let (code, _, err) = Env::output(command);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no tools are configured"), "{err}");
    for how in ["--mcp-config", ".mcp.json", "toolbridge mcp add", "--skills"] {
        assert!(err.contains(how), "{how} not mentioned: {err}");
    }
    assert!(!err.contains("available tools:"), "{err}");
}

#[test]
fn vscode_env_file_workspace_folder_disabled_and_always_allow() {
    let env = Env::new();
    env.file("project/.env", "FROM_ENV_FILE=dotenv-value\nOVERRIDDEN=file\n# comment\n");
    let config = env.file(
        "project/.vscode/mcp.json",
        &json!({"servers": {
            "tb": {"type": "stdio", "command": testbed(), "envFile": "${workspaceFolder}/.env",
                   "env": {"OVERRIDDEN": "env", "WHERE": "${workspaceFolder}"}},
            "off": {"command": "/nonexistent/server", "disabled": true},
            "few": {"command": testbed(), "alwaysAllow": ["echo", "add"]},
        }})
        .to_string(),
    );
    let call = |name: &str| {
        let args = format!(r#"{{"name": "{name}"}}"#);
        let (code, out, err) = env.run(&["call", "tb__env", "--args", &args, "--mcp-config", &config]);
        assert_eq!(code, 0, "{name}: {err}");
        out.trim().to_owned()
    };
    assert_eq!(call("FROM_ENV_FILE"), "dotenv-value");
    assert_eq!(call("OVERRIDDEN"), "env");
    assert_eq!(call("WHERE"), env.dir().join("project").display().to_string());
    let (code, out, err) = env.run(&["tools", "--mcp-config", &config]);
    assert_eq!(code, 0, "a disabled server is not a failure: {err}");
    assert!(!out.contains("off__") && !err.contains("off"), "{out}{err}");
    let few: Vec<&str> =
        out.lines().filter(|l| l.starts_with("few__")).map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(few, ["few__add", "few__echo"], "alwaysAllow lists what is offered: {out}");
    let (code, _, err) = env.run(&["call", "few__env", "--args", r#"{"name": "X"}"#, "--mcp-config", &config]);
    assert_eq!(code, 1, "{err}");
    // A missing envFile names the server, the field and the file.
    std::fs::remove_file(env.dir().join("project/.env")).unwrap();
    let (code, _, err) = env.run(&["tools", "--mcp-config", &config]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(r#""tb""#) && err.contains("envFile") && err.contains(".env"), "{err}");
}

#[test]
fn inputs_come_from_the_environment_or_are_asked_once_in_a_terminal() {
    let env = Env::new();
    let config = env.file(
        "mcp.json",
        &json!({
            "inputs": [{"type": "promptString", "id": "api-token", "description": "The API token", "password": true}],
            "servers": {"tb": {"command": testbed(), "env": {"TB_TOKEN": "${input:api-token}"}}}
        })
        .to_string(),
    );
    let args = ["call", "tb__env", "--args", r#"{"name": "TB_TOKEN"}"#, "--mcp-config", &config];
    // No terminal, no variable: a configuration error naming the variable.
    let (code, _, err) = env.run(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("TOOLBRIDGE_INPUT_API_TOKEN") && err.contains(r#""tb""#), "{err}");
    // From the environment (a value this short is never masked, so it can be seen arriving).
    let mut command = env.cmd(&args);
    command.env("TOOLBRIDGE_INPUT_API_TOKEN", "tok42");
    let (code, out, err) = Env::output(command);
    assert_eq!((code, out.trim()), (0, "tok42"), "{err}");
    // In a terminal: asked once, the typed value hidden, then used.
    let mut session = env.pty(&["--color", "never", args[0], args[1], args[2], args[3], args[4], args[5]], &[]);
    session.exp_string("The API token (TOOLBRIDGE_INPUT_API_TOKEN): ").unwrap();
    session.send_line("ab12").unwrap();
    let rest = session.exp_eof().unwrap();
    assert_eq!(rest.matches("ab12").count(), 1, "typed without echo, printed once by the tool: {rest:?}");
    assert!(!rest.contains("TOOLBRIDGE_INPUT"), "asked once: {rest:?}");
}

#[test]
fn mcp_json_is_discovered_here_and_above_and_the_user_config_is_edited_with_mcp_add() {
    let env = Env::new();
    let project = env.dir().join("project");
    let deep = project.join("src/deeper");
    std::fs::create_dir_all(&deep).unwrap();
    env.file("project/.mcp.json", &json!({"mcpServers": {"proj": {"command": testbed()}}}).to_string());
    let in_dir = |args: &[&str], dir: &std::path::Path| {
        let mut command = env.cmd(args);
        command.current_dir(dir);
        Env::output(command)
    };
    let (code, out, err) = in_dir(&["tools"], &deep);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("proj__echo"), "the .mcp.json of a parent: {out}");

    // `mcp add` writes the user-level config, in Claude's shape, readable by its owner only.
    let testbed = testbed().display().to_string();
    let (code, _, err) =
        in_dir(&["mcp", "add", "mine", "-e", "GREETING=hello", "--", &testbed, "--name", "mine-server"], &deep);
    assert_eq!(code, 0, "{err}");
    let user = env.xdg_config().join("toolbridge/mcp.json");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&user).unwrap()).unwrap();
    assert_eq!(
        written["mcpServers"]["mine"],
        json!({"command": testbed, "args": ["--name", "mine-server"], "env": {"GREETING": "hello"}})
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&user).unwrap().permissions().mode() & 0o777, 0o600);
    let (code, _, err) = in_dir(&["mcp", "add", "mine", "--", &testbed], &deep);
    assert_eq!(code, 2);
    assert!(err.contains("already") && err.contains("--force"), "{err}");
    let (code, _, err) = in_dir(
        &["mcp", "add", "web", "https://example.invalid/mcp", "-H", "Authorization: Bearer abc", "--required"],
        &deep,
    );
    assert_eq!(code, 0, "{err}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&user).unwrap()).unwrap();
    assert_eq!(
        written["mcpServers"]["web"],
        json!({"type": "http", "url": "https://example.invalid/mcp", "headers": {"Authorization": "Bearer abc"}, "required": true})
    );
    let (_, out, _) = in_dir(&["mcp", "remove", "web"], &deep);
    assert!(out.is_empty());

    // Both are used; a project's server of the same name wins.
    let (code, out, err) = in_dir(&["tools"], &deep);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("proj__echo") && out.contains("mine__echo"), "{out}");
    let (code, out, _) = in_dir(&["call", "mine__env", "--args", r#"{"name": "GREETING"}"#], &deep);
    assert_eq!((code, out.trim()), (0, "hello"));
    let (code, out, err) = in_dir(&["mcp", "list"], &deep);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("mine") && out.contains("proj") && out.contains(".mcp.json") && out.contains("mcp.json"),
        "{out}"
    );
    std::fs::write(
        project.join(".mcp.json"),
        json!({"mcpServers": {"proj": {"command": testbed}, "mine": {"command": testbed, "env": {"GREETING": "project"}}}})
            .to_string(),
    )
    .unwrap();
    let (_, out, _) = in_dir(&["call", "mine__env", "--args", r#"{"name": "GREETING"}"#], &deep);
    assert_eq!(out.trim(), "project");
    let (_, out, _) = in_dir(&["mcp", "list", "--json"], &deep);
    let listed: Vec<Value> = serde_json::from_str(&out).unwrap();
    let mine: Vec<&Value> = listed.iter().filter(|s| s["name"] == "mine").collect();
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().any(|s| s["overridden"] == true), "{out}");

    // An explicit --mcp-config is used alone.
    let only = env.mcp_config("only.json", &json!({}));
    let (_, out, _) = in_dir(&["tools", "--mcp-config", &only], &deep);
    assert!(out.contains("testbed__echo") && !out.contains("proj__") && !out.contains("mine__"), "{out}");

    let (code, _, err) = in_dir(&["mcp", "remove", "mine"], &deep);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = in_dir(&["mcp", "remove", "mine"], &deep);
    assert_eq!(code, 2);
    assert!(err.contains("no server named"), "{err}");
    // --scope project writes ./.mcp.json.
    let (code, _, err) = in_dir(&["mcp", "add", "here", "--scope", "project", "--", &testbed], &deep);
    assert_eq!(code, 0, "{err}");
    assert!(deep.join(".mcp.json").is_file());
}
