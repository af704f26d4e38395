use std::time::Duration;

use serde_json::{Value, json};

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "TOKEN" => Some("s3cret".into()),
        "BIN" => Some("/usr/bin".into()),
        _ => None,
    }
}

#[allow(clippy::needless_pass_by_value)]
fn parse(value: Value) -> Result<Vec<ServerConfig>, ConfigError> {
    McpServers::from_json(&value, "test.json")?.resolve("test.json", &env)
}

#[test]
fn three_formats_give_the_same_model() {
    let server = json!({"command": "${BIN}/srv", "args": ["-x"], "env": {"K": "{{TOKEN}}"}});
    let claude = parse(json!({"mcpServers": {"a": server}})).unwrap();
    let vscode = parse(json!({"servers": {"a": server}})).unwrap();
    let seed = parse(json!({"a": server})).unwrap();
    assert_eq!(claude, vscode);
    assert_eq!(claude, seed);
    let TransportConfig::Stdio(stdio) = &claude[0].transport else { panic!() };
    assert_eq!(stdio.command, "/usr/bin/srv");
    assert_eq!(stdio.env["K"].expose(), "s3cret");
    assert_eq!(format!("{:?}", stdio.env["K"]), "[redacted]");
    assert_eq!(claude[0].call_timeout, DEFAULT_CALL_TIMEOUT);
}

#[test]
fn every_transport_alias() {
    for alias in ["http", "streamable-http", "streamableHttp", "streamable_http", "sse"] {
        let servers = parse(json!({"r": {"type": alias, "url": "http://127.0.0.1:1/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}})).unwrap();
        let (TransportConfig::Http(http) | TransportConfig::Sse(http)) = &servers[0].transport else {
            panic!("{alias}")
        };
        assert_eq!(http.headers["Authorization"].expose(), "Bearer s3cret");
        assert_eq!(alias == "sse", matches!(servers[0].transport, TransportConfig::Sse(_)), "{alias}");
    }
    let servers = parse(json!({"s": {"transport_type": "stdio", "command": "x"}})).unwrap();
    assert!(matches!(servers[0].transport, TransportConfig::Stdio(_)));
    let servers = parse(json!({"u": {"url": "https://example.com/mcp"}})).unwrap();
    assert!(matches!(servers[0].transport, TransportConfig::Http(_)));
}

#[test]
fn options() {
    let servers = parse(json!({"a": {"command": "x", "timeout": 5, "startup_timeout": 1.5, "enabled": false, "tools": {"allow": ["get_*"], "deny": ["get_secret"]}}, "b": {"command": "y", "disabled": true}})).unwrap();
    assert_eq!(servers[0].call_timeout, Duration::from_secs(5));
    assert_eq!(servers[0].startup_timeout, Duration::from_millis(1500));
    assert!(!servers[0].enabled && !servers[1].enabled);
    assert_eq!(*servers[0].tools.deny, ["get_secret"]);
}

#[test]
fn idempotent_is_a_flag_or_a_glob_list() {
    let servers = parse(
        json!({"a": {"command": "x", "idempotent": true}, "b": {"command": "y", "idempotent": ["get_*", "list"]},
                               "c": {"command": "z", "idempotent": false}, "d": {"command": "w"}}),
    )
    .unwrap();
    assert_eq!(servers[0].idempotent, Idempotent::All);
    assert_eq!(servers[1].idempotent, Idempotent::Tools(GlobList(vec!["get_*".into(), "list".into()])));
    assert!(servers[2].idempotent.is_none() && servers[3].idempotent.is_none());
    let err = parse(json!({"a": {"command": "x", "idempotent": "yes"}})).unwrap_err().to_string();
    assert!(err.contains("idempotent") && err.contains("true, false or a list of tool-name globs"), "{err}");
    let value = json!({"a": {"command": "x", "idempotent": ["get_*"]}, "b": {"command": "y", "idempotent": true}});
    assert_eq!(serde_json::to_value(McpServers::from_json(&value, "t").unwrap()).unwrap(), value);
}

#[test]
fn errors_name_origin_server_and_field() {
    let err = parse(json!({"mcpServers": {"fs": {"comand": "x"}}})).unwrap_err().to_string();
    assert!(err.contains("test.json") && err.contains("\"fs\"") && err.contains("comand"), "{err}");
    let err = parse(json!({"fs": {"command": "${NOPE}/x"}})).unwrap_err().to_string();
    assert!(err.contains("NOPE") && err.contains("\"command\""), "{err}");
    let err = parse(json!({"fs": {"type": "websocket", "url": "ws://x"}})).unwrap_err().to_string();
    assert!(err.contains("websocket"), "{err}");
    let err = parse(json!({"fs": {"command": "x", "timeout": -1}})).unwrap_err().to_string();
    assert!(err.contains("\"timeout\""), "{err}");
    let err = parse(json!({"fs": {"command": "x", "args": "a b"}})).unwrap_err().to_string();
    assert!(err.contains("\"args\""), "{err}");
    let err = parse(json!({"fs": {}})).unwrap_err().to_string();
    assert!(err.contains("needs `command`"), "{err}");
    let err = parse_json("{\n  \"mcpServers\": {,}\n}", "bad.json").unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
    assert!(err.to_string().contains("bad.json") && err.to_string().contains("line 2"), "{err}");
}

#[test]
fn pool_key_covers_env_and_headers() {
    let a = parse(json!({"s": {"command": "x", "env": {"A": "1"}}})).unwrap();
    let b = parse(json!({"s": {"command": "x", "env": {"A": "2"}}})).unwrap();
    let c = parse(json!({"s": {"command": "x", "env": {"A": "1"}}})).unwrap();
    assert_ne!(a[0].pool_key(), b[0].pool_key());
    assert_eq!(a[0].pool_key(), c[0].pool_key());
}

/// Every field of a server entry, malformed: each error names the file, the server, the field
/// (dotted or indexed for nested values) and what was expected.
#[test]
fn every_malformed_field_is_named() {
    let cases = [
        (json!({"s": "npx server"}), "", "expected an object"),
        (json!({"s": {"command": 42}}), "command", "expected a string"),
        (json!({"s": {"command": "  "}}), "command", "is empty"),
        (json!({"s": {"command": "x", "args": [1]}}), "args[0]", "expected a string"),
        (json!({"s": {"command": "x", "args": ["ok", "${MISSING}"]}}), "args[1]", "MISSING is not set"),
        (json!({"s": {"command": "x", "args": {"a": 1}}}), "args", "expected a list of strings"),
        (json!({"s": {"command": "x", "env": ["A=1"]}}), "env", "expected an object of strings"),
        (json!({"s": {"command": "x", "env": {"A": {"nested": 1}}}}), "env.A", "expected a string"),
        (json!({"s": {"command": "x", "env": {"A": "${MISSING}"}}}), "env.A", "MISSING is not set"),
        (json!({"s": {"command": "x", "cwd": 7}}), "cwd", "expected a string"),
        (json!({"s": {"url": 7}}), "url", "expected a string"),
        (json!({"s": {"url": "ftp://host"}}), "url", "expected an http:// or https:// URL"),
        (json!({"s": {"type": "http"}}), "url", "needs `url`"),
        (json!({"s": {"type": "stdio"}}), "command", "needs `command`"),
        (json!({"s": {"url": "http://h", "headers": "Bearer x"}}), "headers", "expected an object of strings"),
        (
            json!({"s": {"url": "http://h", "headers": {"Authorization": null}}}),
            "headers.Authorization",
            "expected a string",
        ),
        (json!({"s": {"type": 3, "command": "x"}}), "type", "expected a string"),
        (json!({"s": {"type": "grpc", "command": "x"}}), "type", "unknown transport"),
        (json!({"s": {"command": "x", "timeout": "30s"}}), "timeout", "expected a number of seconds"),
        (json!({"s": {"command": "x", "timeout": 0}}), "timeout", "positive number of seconds"),
        (json!({"s": {"command": "x", "startup_timeout": 1e12}}), "startup_timeout", "positive number of seconds"),
        (json!({"s": {"command": "x", "enabled": "yes"}}), "enabled", "expected true or false"),
        (json!({"s": {"command": "x", "disabled": 1}}), "disabled", "expected true or false"),
        (json!({"s": {"command": "x", "tools": ["a"]}}), "tools", "expected {allow"),
        (json!({"s": {"command": "x", "tools": {"allow": "a*"}}}), "tools.allow", "expected a list of globs"),
        (json!({"s": {"command": "x", "tools": {"deny": [1]}}}), "tools.deny", "expected a string"),
        (json!({"s": {"command": "x", "tools": {"only": []}}}), "tools.only", "unknown field"),
        (json!({"s": {"command": "x", "comand": "y"}}), "comand", "unknown field"),
        (json!({"mcpServers": ["s"]}), "", "must be an object"),
        (json!(["s"]), "", "expected a JSON object"),
    ];
    for (config, field, expected) in cases {
        let error = parse(config.clone()).expect_err(&config.to_string()).to_string();
        assert!(error.contains("test.json"), "{config}: {error}");
        assert!(error.contains(expected), "{config}: expected {expected:?} in {error}");
        if !field.is_empty() {
            assert!(error.contains(&format!("\"{field}\"")) || error.contains(field), "{config}: {field} in {error}");
            assert!(error.contains("\"s\""), "{config}: the server name in {error}");
        }
    }
}

#[test]
fn secrets_are_substituted_values_and_secret_names() {
    let servers = parse(json!({
        "a": {"command": "x", "args": ["--key", "${TOKEN}"], "env": {"API_KEY": "literal-key-1", "MEMORY_FILE_PATH": "/tmp/memory.json"}},
        "b": {"url": "https://h/mcp?api_key=query-secret&x=1", "headers": {"Authorization": "Bearer header-secret"}}
    }))
    .unwrap();
    let secrets = Secrets::new();
    for server in &servers {
        server.register_secrets(&secrets);
    }
    let text = "s3cret literal-key-1 /tmp/memory.json query-secret header-secret";
    assert_eq!(secrets.scrub(text), "[redacted] [redacted] /tmp/memory.json [redacted] [redacted]");
}

#[test]
fn masking_keeps_templates_and_ordinary_values() {
    let servers = McpServers::from_json(
        &json!({"a": {"command": "x", "env": {"API_KEY": "sk-literal", "TOKEN": "${TOKEN}", "MEMORY_FILE_PATH": "/m.json"}},
                 "b": {"url": "https://h/mcp?token=abcdef123", "headers": {"Authorization": "Bearer lit"}}}),
        "t",
    )
    .unwrap();
    let shown = serde_json::to_value(servers.masked()).unwrap();
    assert_eq!(shown["a"]["env"]["API_KEY"], "[redacted]");
    assert_eq!(shown["a"]["env"]["TOKEN"], "${TOKEN}");
    assert_eq!(shown["a"]["env"]["MEMORY_FILE_PATH"], "/m.json");
    assert_eq!(shown["b"]["headers"]["Authorization"], "[redacted]");
    assert_eq!(shown["b"]["url"], "https://h/mcp?token=[redacted]");
}

#[test]
fn specs_round_trip_as_written() {
    let value = json!({"a": {"command": "${BIN}/srv", "args": ["-x"], "env": {"K": "{{TOKEN}}", "PORT": "8080"}, "timeout": 5},
                       "b": {"type": "http", "url": "http://h/mcp", "tools": {"deny": ["x"]}}});
    let servers = McpServers::from_json(&value, "t").unwrap();
    assert_eq!(serde_json::to_value(&servers).unwrap(), value);
    let numbers =
        McpServers::from_json(&json!({"a": {"command": "x", "env": {"PORT": 8080, "DEBUG": true}}}), "t").unwrap();
    assert_eq!(numbers.0["a"].env["PORT"].0, "8080");
    assert_eq!(numbers.0["a"].env["DEBUG"].0, "true");
}

#[test]
fn oversized_and_missing_files_are_refused() {
    let err = load_mcp_config(std::path::Path::new("/dev/zero")).unwrap_err();
    assert!(matches!(err, ConfigError::TooLarge { .. }), "{err}");
    let err = load_mcp_config(std::path::Path::new("/nonexistent/mcp.json")).unwrap_err();
    assert!(err.to_string().contains("cannot read MCP config /nonexistent/mcp.json"), "{err}");
}

#[test]
fn required_and_always_allow() {
    let servers = parse(json!({
        "a": {"command": "x", "required": true, "alwaysAllow": ["read_*", "list"]},
        "b": {"command": "y", "alwaysAllow": []},
        "c": {"command": "z", "autoApprove": ["one"], "tools": {"allow": ["two"]}},
    }))
    .unwrap();
    assert!(servers[0].required && !servers[1].required);
    assert_eq!(*servers[0].tools.allow, ["read_*", "list"]);
    assert!(servers[1].tools.allow.is_empty(), "an empty alwaysAllow restricts nothing");
    assert_eq!(*servers[2].tools.allow, ["two"], "an explicit tools.allow wins");
    let err = parse(json!({"a": {"command": "x", "alwaysAllow": "all"}})).unwrap_err().to_string();
    assert!(err.contains("alwaysAllow") && err.contains("list of tool names"), "{err}");
    let specs =
        McpServers::from_json(&json!({"a": {"command": "x", "required": true}, "b": {"command": "y"}}), "t").unwrap();
    assert_eq!(specs.required().collect::<Vec<_>>(), ["a"]);
}

#[test]
fn env_file_and_workspace_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".vscode")).unwrap();
    std::fs::write(dir.path().join(".env"), "API_KEY=from-file-123\nMEMORY_FILE_PATH=/m.json\nK=file\n").unwrap();
    let config = dir.path().join(".vscode/mcp.json");
    std::fs::write(
        &config,
        r#"{"servers": {"s": {"command": "${workspaceFolder}/bin/srv", "envFile": "${workspaceFolder}/.env", "env": {"K": "env"}},
                        "t": {"command": "x", "envFile": ".env"}},
            "inputs": [{"type": "promptString", "id": "tok", "description": "Token", "password": true}]}"#,
    )
    .unwrap();
    let file = load_mcp_file(&config).unwrap();
    assert_eq!(file.workspace_folder, dir.path());
    assert_eq!(file.inputs[0].id, "tok");
    let servers = file.servers.resolve("mcp.json", &env).unwrap();
    let TransportConfig::Stdio(stdio) = &servers[0].transport else { panic!() };
    assert_eq!(stdio.command, format!("{}/bin/srv", dir.path().display()));
    assert_eq!(stdio.env["API_KEY"].expose(), "from-file-123");
    assert_eq!(stdio.env["K"].expose(), "env", "env wins over envFile");
    assert!(servers[0].secrets.iter().any(|s| s.expose() == "from-file-123"));
    assert!(!servers[0].secrets.iter().any(|s| s.expose() == "/m.json"));
    let TransportConfig::Stdio(relative) = &servers[1].transport else { panic!() };
    assert_eq!(
        relative.env["API_KEY"].expose(),
        "from-file-123",
        "a relative envFile is read from the workspace folder"
    );
    std::fs::remove_file(dir.path().join(".env")).unwrap();
    let err = file.servers.resolve("mcp.json", &env).unwrap_err().to_string();
    assert!(err.contains("envFile") && err.contains(".env"), "{err}");
}

#[test]
fn inputs_resolve_from_the_environment_or_say_how() {
    let servers =
        McpServers::from_json(&json!({"s": {"command": "x", "env": {"K": "${input:config-test-missing}"}}}), "t")
            .unwrap();
    assert_eq!(servers.input_references(), ["config-test-missing"]);
    let err = servers.resolve("t", &ProcessEnv).unwrap_err().to_string();
    assert!(err.contains("TOOLBRIDGE_INPUT_CONFIG_TEST_MISSING"), "{err}");
    provide_input("config-test-given", "typed-value");
    let servers =
        McpServers::from_json(&json!({"s": {"command": "x", "args": ["${input:config-test-given}"]}}), "t").unwrap();
    let resolved = servers.resolve("t", &ProcessEnv).unwrap();
    let TransportConfig::Stdio(stdio) = &resolved[0].transport else { panic!() };
    assert_eq!(stdio.args, ["typed-value"]);
    assert!(resolved[0].secrets.iter().any(|s| s.expose() == "typed-value"), "an input's value is a secret");
}
