//! Resources, prompts, sampling, elicitation, roots and progress end to end through `run`
//! with the scripted model and the testbed's conformance fixtures (a real stdio server).

mod common;

use common::Env;
use serde_json::{Value, json};

#[test]
fn resources_prompts_sampling_elicitation_roots_and_progress_through_run() {
    let env = Env::new();
    let testbed = common::testbed();
    let mcp = env.file(
        "mcp.json",
        &json!({"mcpServers": {"fx": {
            "command": testbed, "args": ["--fixtures"],
            "resources": true, "prompts": true, "sampling": true,
            "elicitation": "accept_defaults", "roots": ["fixtures"],
        }}})
        .to_string(),
    );
    let call = |name: &str, arguments: Value| json!({"tool_calls": [{"name": name, "arguments": arguments}]});
    // The scripted model plays the turn matching the conversation's length: the server's
    // sampling request (one user message) gets the first turn's text, as a new conversation.
    let transcript = env.file(
        "transcript.json",
        &json!([
            {"content": "four", "usage": {"input_tokens": 700, "output_tokens": 30},
             "tool_calls": [{"name": "fx__list_resources", "arguments": {}}]},
            call("fx__read_resource", json!({"uri": "test://static-text"})),
            call("fx__list_prompts", json!({})),
            call("fx__get_prompt", json!({"name": "test_prompt_with_arguments", "arguments": {"arg1": "a", "arg2": "b"}})),
            call("fx__test_sampling", json!({"prompt": "What is 2+2?"})),
            call("fx__test_elicitation_sep1034_defaults", json!({})),
            call("fx__test_roots", json!({})),
            call("fx__test_tool_with_progress", json!({})),
            {"content": "all done", "usage": {"input_tokens": 1, "output_tokens": 1}},
        ])
        .to_string(),
    );
    let model = format!("scripted:{transcript}");
    let (code, out, err) = env.run(&["run", "--model", &model, "--mcp-config", &mcp, "use the fixtures"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("all done"), "{out}");
    let executions = env.executions();
    // Progress became tool_progress events of the call (stored with the execution; a terminal
    // shows them as a bar on the call's line).
    let id = executions[0]["id"].as_str().unwrap();
    let store = toolbridge_store::Store::open(&env.db_path()).unwrap();
    let events = tokio::runtime::Runtime::new().unwrap().block_on(store.execution_events(id)).unwrap();
    let progress: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            toolbridge_runtime::ExecutionEvent::ToolProgress { tool_name, progress, total, message, .. } => {
                Some((tool_name.clone(), *progress, *total, message.clone()))
            }
            _ => None,
        })
        .collect();
    assert!(
        progress.contains(&("fx__test_tool_with_progress".into(), 50.0, Some(100.0), Some("Halfway".into()))),
        "{progress:?}"
    );
    let (_, execution) = env.show(executions[0]["id"].as_str().unwrap());
    let calls = execution["tool_calls"].as_array().unwrap();
    let output = |tool: &str| -> String {
        let record = calls.iter().find(|c| c["tool"] == tool).unwrap_or_else(|| panic!("no call of {tool}"));
        assert_eq!(record["success"], true, "{record}");
        record["output"].as_str().unwrap().to_owned()
    };
    assert!(output("fx__list_resources").contains("test://static-text"));
    assert!(output("fx__list_resources").contains("test://template/{id}/data"));
    assert!(output("fx__read_resource").contains("This is the content of the static text resource."));
    assert!(output("fx__list_prompts").contains("test_prompt_with_arguments"));
    assert_eq!(output("fx__get_prompt"), "user: Prompt with arguments: arg1='a', arg2='b'");
    assert_eq!(output("fx__test_sampling"), "LLM response: four");
    let elicited = output("fx__test_elicitation_sep1034_defaults");
    assert!(elicited.contains("action=accept") && elicited.contains("John Doe"), "{elicited}");
    let root = format!("file://{}", common::root().join("fixtures").display());
    assert_eq!(output("fx__test_roots"), root);
    // The sampling answer's tokens are the execution's too (700 for the first turn, 700 again
    // for the sampling request it answered).
    let usage = &execution["usage"];
    assert!(usage["input_tokens"].as_u64().unwrap() >= 1400, "{usage}");
    assert_eq!(execution["result"]["metadata"]["sampling_requests"], 1);
}

#[test]
fn without_the_config_keys_sampling_is_refused_and_elicitation_declined() {
    let env = Env::new();
    let mcp = env.file(
        "mcp.json",
        &json!({"mcpServers": {"fx": {"command": common::testbed(), "args": ["--fixtures"]}}}).to_string(),
    );
    let transcript = env.file(
        "transcript.json",
        &json!([
            {"tool_calls": [{"name": "fx__test_sampling", "arguments": {"prompt": "hi"}}]},
            {"tool_calls": [{"name": "fx__test_elicitation", "arguments": {"message": "who are you?"}}]},
            {"content": "done"},
        ])
        .to_string(),
    );
    let (code, out, err) =
        env.run(&["run", "--json", "--model", &format!("scripted:{transcript}"), "--mcp-config", &mcp, "x"]);
    assert_eq!(code, 0, "{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    let calls = result["tool_execution_messages"].as_array().unwrap();
    assert!(calls[0]["output"].as_str().unwrap().contains("Sampling error"), "{}", calls[0]);
    assert!(calls[1]["output"].as_str().unwrap().contains("action=decline"), "{}", calls[1]);
    // No resource or prompt tools either.
    let (_, tools, _) = env.run(&["tools", "--mcp-config", &mcp, "--json"]);
    assert!(!tools.contains("fx__list_resources") && !tools.contains("fx__get_prompt"), "{tools}");
    assert!(result["metadata"].get("sampling_requests").is_none());
}

/// In a terminal (a pseudo-terminal from `script`), `run` asks the person each field of the
/// form, offering defaults and choices.
#[test]
fn in_a_terminal_run_asks_the_person() {
    use std::io::{Read, Write};
    let env = Env::new();
    let mcp = env.file(
        "mcp.json",
        &json!({"mcpServers": {"fx": {"command": common::testbed(), "args": ["--fixtures"]}}}).to_string(),
    );
    let transcript = env.file(
        "transcript.json",
        &json!([
            {"tool_calls": [{"name": "fx__test_elicitation_sep1034_defaults", "arguments": {}}]},
            {"content": "{{last_tool_result}}"},
        ])
        .to_string(),
    );
    let toolbridge = assert_cmd::cargo::cargo_bin("toolbridge");
    let command =
        format!("{} --color never run --model scripted:{transcript} --mcp-config {mcp} hi", toolbridge.display());
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(common::root())
        .env("TOOLBRIDGE_DB", env.db_path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("`script` (util-linux) runs the command on a pseudo-terminal");
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buffer = [0_u8; 4096];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !seen.contains("answer?") && std::time::Instant::now() < deadline {
        let n = stdout.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    assert!(seen.contains("server \"fx\" asks: Please provide values"), "{seen}");
    // yes; name; age and score by default; a status from the choices; not verified.
    child.stdin.as_mut().unwrap().write_all(b"y\nAda\n\n\ninactive\nn\n").unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{seen}{rest}");
    assert!(rest.contains("[active, inactive, pending]"), "{rest}");
    assert!(
        rest.contains(
            r#"action=accept, content={"name":"Ada","age":30,"score":95.5,"status":"inactive","verified":false}"#
        ),
        "{rest}"
    );
}
