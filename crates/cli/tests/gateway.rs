//! `toolbridge serve` as a gateway, with a real client (the PyPI `mcp` client, installed by
//! `scripts/setup-python-mcp.sh`): a stdio server served over streamable HTTP — tools under
//! their own names (`--prefix auto`), content passed on as sent, progress, sampling and
//! elicitation relayed to the client, resources and prompts re-exported — and an HTTP server
//! served over stdio.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::Env;
use serde_json::{Value, json};
use toolbridge_test_support::HttpTestbed;

fn python() -> String {
    let output = Command::new("bash")
        .arg(common::root().join("scripts/setup-python-mcp.sh"))
        .output()
        .expect("run scripts/setup-python-mcp.sh");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn client(python: &str, args: &[&str]) -> Value {
    let script = common::root().join("crates/cli/tests/gateway_client.py");
    let output = Command::new(python).arg(script).args(args).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A stdio server behind `serve --http`, reached by the Python client over streamable HTTP.
#[test]
fn a_stdio_server_served_over_http_to_the_python_client() {
    let python = python();
    let env = Env::new();
    let mcp = env.file(
        "mcp.json",
        &json!({"mcpServers": {"fx": {"command": common::testbed(), "args": ["--fixtures"], "sampling": true}}})
            .to_string(),
    );
    let mut serve =
        env.cmd(&["serve", "--mcp-config", &mcp, "--http", "127.0.0.1:0"]).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = serve.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().expect("serve said where it listens").unwrap();
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let seen = client(&python, &["http", &url]);
    let _ = serve.kill();
    let _ = serve.wait();

    let tools: Vec<&str> = seen["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(tools.contains(&"echo") && tools.contains(&"test_sampling"), "unprefixed with one server: {tools:?}");
    assert_eq!(seen["echo"], "Echo: through the gateway");
    assert_eq!(seen["progress_result"], "Progress test completed");
    assert_eq!(
        seen["progress"],
        json!([[0.0, 100.0, "Starting"], [50.0, 100.0, "Halfway"], [100.0, 100.0, "Complete"]])
    );
    assert_eq!(seen["image_type"], "image");
    assert_eq!(seen["sampling"], "LLM response: python says 2+2");
    assert!(seen["elicitation"].as_str().unwrap().contains("action=accept"), "{}", seen["elicitation"]);
    assert!(seen["elicitation"].as_str().unwrap().contains("py@example.com"), "{}", seen["elicitation"]);
    assert!(seen["resources"].as_array().unwrap().contains(&json!("test://static-text")));
    assert_eq!(seen["resource_text"], "This is the content of the static text resource.");
    assert!(seen["prompts"].as_array().unwrap().contains(&json!("test_prompt_with_arguments")));
    assert_eq!(seen["prompt"], "Prompt with arguments: arg1='x', arg2='y'");
}

/// An HTTP server behind `serve --stdio`, reached by the Python client over stdio.
#[test]
fn an_http_server_served_over_stdio_to_the_python_client() {
    let python = python();
    let env = Env::new();
    let testbed = HttpTestbed::start(&[]);
    let mcp = env.file("mcp.json", &json!({"mcpServers": {"remote": {"url": testbed.url}}}).to_string());
    let toolbridge = assert_cmd::cargo::cargo_bin("toolbridge");
    let db = env.db_path();
    let seen = client(
        &python,
        &[
            "stdio",
            "--",
            "env",
            &format!("TOOLBRIDGE_DB={}", db.display()),
            toolbridge.to_str().unwrap(),
            "serve",
            "--mcp-config",
            &mcp,
            "--stdio",
        ],
    );
    let tools: Vec<&str> = seen["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(tools.contains(&"echo"), "{tools:?}");
    assert_eq!(seen["echo"], "Echo: through the gateway");
}

/// `--prefix always` names every tool `server__tool`, even with one server.
#[test]
fn prefix_always_keeps_catalogue_names() {
    let python = python();
    let env = Env::new();
    let testbed = HttpTestbed::start(&[]);
    let mcp = env.file("mcp.json", &json!({"mcpServers": {"remote": {"url": testbed.url}}}).to_string());
    let toolbridge = assert_cmd::cargo::cargo_bin("toolbridge");
    let db = env.db_path();
    let serve = ["stdio", "--", "env", &format!("TOOLBRIDGE_DB={}", db.display()), toolbridge.to_str().unwrap()];
    let listed = |prefix: &str| {
        let mut args: Vec<&str> = serve.to_vec();
        args[0] = "list";
        args.extend(["serve", "--mcp-config", &mcp, "--stdio", "--prefix", prefix]);
        client(&python, &args)["tools"].clone()
    };
    let always = listed("always");
    assert!(always.as_array().unwrap().contains(&json!("remote__echo")), "{always}");
    assert!(!always.as_array().unwrap().contains(&json!("echo")), "{always}");
    let never = listed("never");
    assert!(never.as_array().unwrap().contains(&json!("echo")), "{never}");
    let (code, out, err) = env.run(&["tools", "--mcp-config", &mcp, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("remote__echo"), "{out}");
}
