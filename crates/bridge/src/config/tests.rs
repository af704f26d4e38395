use super::*;
use serde_json::json;

fn env(name: &str) -> Option<String> {
    match name {
        "TOKEN" => Some("s3cret".into()),
        "BIN" => Some("/usr/bin".into()),
        _ => None,
    }
}

#[allow(clippy::needless_pass_by_value)]
fn parse(value: Value) -> Result<Vec<ServerConfig>, ConfigError> {
    parse_with_env(&value, "test.json", &env)
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
        let TransportConfig::Http(http) = &servers[0].transport else { panic!("{alias}") };
        assert_eq!(http.headers["Authorization"].expose(), "Bearer s3cret");
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
    assert_eq!(servers[0].tools.deny, ["get_secret"]);
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
    let err = parse_mcp_config("{\n  \"mcpServers\": {,}\n}", "bad.json").unwrap_err();
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
