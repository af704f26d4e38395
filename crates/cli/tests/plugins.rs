//! Runtime plugins through the real binary (#19): `runtimes add|remove`, listing, agent
//! create validated by the plugin, runs whose tool calls go through toolbridge's endpoint
//! (logged, policy applied), Ctrl-C mid tool call, a crash mid-execution, bad plugins refused
//! at registration, and no plugin process left behind.

mod common;

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{Value, json};

use common::*;

fn echo_plugin() -> String {
    root().join("examples/plugins/echo_runtime.py").display().to_string()
}

fn faulty_plugin() -> String {
    root().join("crates/plugin/tests/plugins/faulty.py").display().to_string()
}

/// A store with `echo_py` registered, from a command line holding `marker` (to find its
/// processes), and a tool config with the testbed and a policy denying `testbed__add`.
fn registered(marker: &str) -> (Env, String, String) {
    let env = Env::new();
    let plugin = echo_plugin();
    let (code, _, err) = env.run(&[
        "runtimes",
        "add",
        "echo_py",
        "--env",
        &format!("MARKER={marker}"),
        "--",
        "python3",
        &plugin,
        marker,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("registered runtime plugin echo_py"), "{err}");
    let mcp = env.file("mcp.json", &json!({"mcpServers": {"testbed": {"command": testbed()}}}).to_string());
    let policy = env.file("policy.json", r#"{"deny": ["testbed__add"]}"#);
    (env, mcp, policy)
}

fn plugin_processes(marker: &str) -> Vec<i32> {
    processes_with(marker).into_iter().filter(|&pid| cmdline(pid).contains("echo_runtime.py")).collect()
}

#[test]
fn register_list_and_remove() {
    let marker = marker("plugins-list");
    let _reaper = Reaper::new(&marker);
    let (env, _, _) = registered(&marker);

    let (code, out, err) = env.run(&["runtimes"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("agent_loop (default)"), "{out}");
    assert!(out.contains("echo_py [plugin]  Echoes the prompt"), "{out}");
    assert!(out.contains("runtime_config: greeting, tool, arguments"), "{out}");
    assert!(out.contains(&format!("command: python3 {}", echo_plugin())), "{out}");

    let (code, out, err) = env.run(&["runtimes", "--json"]);
    assert_eq!(code, 0, "{err}");
    let listing: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listing["available"], json!(["agent_loop", "echo_py"]));
    let echo = &listing["runtimes"]["echo_py"];
    assert_eq!(echo["kind"], "plugin");
    assert_eq!(echo["capabilities"]["streaming"], true);
    assert_eq!(echo["runtime_config_schema"]["required"], json!(["greeting"]));
    assert_eq!(listing["plugins"][0]["env"], json!(["MARKER"]), "env values are not shown");

    // Registering checks the plugin at once; nothing keeps running afterwards.
    assert!(plugin_processes(&marker).is_empty(), "{:?}", plugin_processes(&marker));
    let (code, _, err) = env.run(&["runtimes", "add", "echo_py", "--", "python3", &echo_plugin()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already registered") && err.contains("toolbridge runtimes remove echo_py"), "{err}");
    let (code, _, err) = env.run(&["runtimes", "add", "agent_loop", "--", "python3", &echo_plugin()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`agent_loop` is a built-in runtime"), "{err}");

    let (code, _, err) = env.run(&["runtimes", "remove", "echo_py"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = env.run(&["runtimes"]);
    assert_eq!(code, 0);
    assert!(!out.contains("echo_py"), "{out}");
    let (code, _, err) = env.run(&["runtimes", "remove", "echo_py"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no runtime plugin named `echo_py`"), "{err}");
}

#[test]
fn bad_plugins_are_not_registered() {
    let env = Env::new();
    let faulty = faulty_plugin();
    let not_executable = env.file("plugin.sh", "echo hi");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["/no/such/plugin"], "/no/such/plugin"),
        (vec![not_executable.as_str()], "not executable"),
        (vec!["python3", "-c", "import sys; sys.stderr.write('boom at start\\n'); sys.exit(3)"], "boom at start"),
        (vec!["python3", "-c", "print('garbage')"], "not JSON"),
        (vec!["python3", faulty.as_str(), "wrong-version"], "protocol"),
    ];
    for (argv, expected) in cases {
        let mut args = vec!["runtimes", "add", "bad", "--"];
        args.extend(&argv);
        let (code, _, err) = env.run(&args);
        assert_eq!(code, 1, "{argv:?}: {err}");
        assert!(err.contains("runtime plugin `bad` did not start") && err.contains(expected), "{argv:?}: {err}");
        assert!(err.contains("nothing was registered"), "{err}");
    }
    let (_, out, _) = env.run(&["runtimes"]);
    assert!(!out.contains("bad"), "{out}");
    let (code, _, err) = env.run(&["runtimes", "add", "no/slash", "--", "python3", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("invalid runtime name"), "{err}");
}

#[test]
fn agent_create_validates_with_the_schema_then_the_plugin() {
    let marker = marker("plugins-create");
    let _reaper = Reaper::new(&marker);
    let (env, mcp, _) = registered(&marker);
    let create = |name: &str, config: &str| {
        env.run(&["agent", "create", name, "--runtime", "echo_py", "--runtime-config", config, "--mcp-config", &mcp])
    };
    let (code, _, err) = create("ok", r#"{"greeting": "Hi"}"#);
    assert_eq!(code, 0, "{err}");
    // The plugin's schema: exit 2 naming the field.
    let (code, _, err) = create("typed", r#"{"greeting": 3}"#);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("runtime_config.greeting"), "{err}");
    // The plugin's own validate_config.
    let (code, _, err) = create("own", r#"{"greeting": "Hi", "arguments": {}}"#);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("runtime_config.arguments: only meaningful with `tool`"), "{err}");
    let (code, out, _) = env.run(&["agent", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("ok") && !out.contains("typed") && !out.contains("own"), "{out}");
    assert!(plugin_processes(&marker).is_empty(), "validation leaves no plugin running");
}

#[test]
fn runs_stream_log_tools_and_apply_policy() {
    let marker = marker("plugins-run");
    let _reaper = Reaper::new(&marker);
    let (env, mcp, policy) = registered(&marker);
    let config = r#"{"greeting": "Yo", "tool": "echo", "arguments": {"message": "via the plugin"}}"#;
    let (code, _, err) = env.run(&[
        "agent",
        "create",
        "echoer",
        "--runtime",
        "echo_py",
        "--runtime-config",
        config,
        "--mcp-config",
        &mcp,
        "--policy",
        &policy,
    ]);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = env.run(&["run", "--agent", "echoer", "hello there"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim_end(), "Yo, hello there\nEcho: via the plugin", "streamed on stdout");
    assert!(err.contains(r#"→ testbed__echo {"message":"via the plugin"}"#), "{err}");
    assert!(err.contains("✓ testbed__echo"), "{err}");

    let (code, out, err) = env.run(&["run", "--agent", "echoer", "--json", "again"]);
    assert_eq!(code, 0, "{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["success"], true);
    let log = result["tool_execution_messages"].as_array().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["tool"], "testbed__echo");
    assert_eq!(log[0]["input"], json!({"message": "via the plugin"}));
    assert_eq!(log[0]["output"], "Echo: via the plugin");

    // A denied tool is refused by toolbridge, and the refusal is logged.
    let (code, out, err) = env.run(&[
        "run",
        "--agent",
        "echoer",
        "--runtime-config",
        r#"{"greeting": "Yo", "tool": "testbed__add", "arguments": {"a": 1, "b": 2}}"#,
        "--json",
        "add",
    ]);
    assert_eq!(code, 0, "{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    let log = result["tool_execution_messages"].as_array().unwrap();
    assert_eq!(log[0]["tool"], "testbed__add");
    assert_eq!(log[0]["error_type"], "policy_denied", "{log:?}");

    // Each run stored, with its log.
    let executions = env.executions();
    assert_eq!(executions.len(), 3, "{executions:?}");
    let (_, stored) = env.show(executions[2]["id"].as_str().unwrap());
    assert_eq!(stored["tool_calls"][0]["tool"], "testbed__echo", "{stored}");
    assert!(
        within(Duration::from_secs(5), || plugin_processes(&marker).is_empty()).is_some(),
        "no plugin process left after the CLI exits: {:?}",
        plugin_processes(&marker)
    );
}

#[test]
fn ctrl_c_mid_tool_call_ends_cancelled_and_stored() {
    let marker = marker("plugins-cancel");
    let _reaper = Reaper::new(&marker);
    let (env, mcp, _) = registered(&marker);
    let config = r#"{"greeting": "Yo", "tool": "sleep_ms", "arguments": {"ms": 30000}}"#;
    let (code, _, err) = env.run(&[
        "agent",
        "create",
        "sleeper",
        "--runtime",
        "echo_py",
        "--runtime-config",
        config,
        "--mcp-config",
        &mcp,
    ]);
    assert_eq!(code, 0, "{err}");
    let mut child =
        env.cmd(&["run", "--agent", "sleeper", "zzz"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = lines(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let started = wait_for_line(&stderr, Duration::from_secs(20), &mut seen, |l| l.starts_with("→ testbed__sleep_ms"));
    assert!(started, "the tool call never started: {seen:#?}");
    assert_eq!(plugin_processes(&marker).len(), 1);
    signal(&child, Signal::SIGINT);
    let (status, took) = wait_for_exit(&mut child, Duration::from_secs(10)).expect("the run ends");
    // As for any runtime: a cancelled execution exits 1 (130 is for a second Ctrl-C).
    assert_eq!(status.code(), Some(1), "{seen:#?}");
    assert!(took < Duration::from_secs(6), "ended in {took:?}");
    let executions = env.executions();
    assert_eq!(executions[0]["status"], "cancelled", "{executions:?}");
    let (_, stored) = env.show(executions[0]["id"].as_str().unwrap());
    assert_eq!(stored["tool_calls"][0]["tool"], "testbed__sleep_ms", "{stored}");
    assert_eq!(stored["tool_calls"][0]["error_type"], "cancelled", "{stored}");
    assert!(
        within(Duration::from_secs(5), || plugin_processes(&marker).is_empty()).is_some(),
        "plugin left running: {:?}",
        plugin_processes(&marker)
    );
}

#[test]
fn a_crash_mid_execution_is_stored_as_an_error() {
    let env = Env::new();
    let faulty = faulty_plugin();
    let (code, _, err) = env.run(&["runtimes", "add", "crashy", "--", "python3", &faulty, "crash-on-prompt"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run(&["run", "--runtime", "crashy", "--runtime-config", r#"{"greeting": "Hi"}"#, "crash"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("plugin `crashy` stopped: it exited with status 7"), "{err}");
    let executions = env.executions();
    assert_eq!(executions[0]["status"], "error", "{executions:?}");
    let (_, stored) = env.show(executions[0]["id"].as_str().unwrap());
    assert_eq!(stored["result"]["finish_reason"], "error", "{stored}");
    // The next execution starts the plugin afresh.
    let (code, out, err) =
        env.run(&["run", "--runtime", "crashy", "--runtime-config", r#"{"greeting": "Hi"}"#, "fine"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim_end(), "Hi, fine");
}

#[test]
fn a_cli_of_ones_own_registers_its_runtime() {
    let env = Env::new();
    let custom = toolbridge_test_support::binary("examples/custom_cli");
    let run = |args: &[&str]| {
        let mut command = env.cmd(args);
        command.env("TOOLBRIDGE_DB", env.db_path());
        let mut custom_command = std::process::Command::new(&custom);
        custom_command.args(command.get_args()).current_dir(root());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => custom_command.env(key, value),
                None => custom_command.env_remove(key),
            };
        }
        Env::output(custom_command)
    };
    let (code, out, err) = run(&["runtimes"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("agent_loop (default)") && out.contains("word_count  Counts words"), "{out}");
    let (code, _, err) =
        run(&["agent", "create", "counter", "--runtime", "word_count", "--runtime-config", r#"{"min_len": 4}"#]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        run(&["agent", "create", "bad", "--runtime", "word_count", "--runtime-config", r#"{"min_len": 0}"#]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("runtime_config.min_len"), "{err}");
    let (code, out, err) = run(&["run", "--agent", "counter", "--json", "the quick brown fox"]);
    assert_eq!(code, 0, "{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["response"], "2 words in the prompt, 0 in the history");
    // The same store as the stock binary: it sees the execution.
    let executions = env.executions();
    assert_eq!(executions[0]["runtime_type"], "word_count", "{executions:?}");
}

#[test]
fn the_readme_plugin_is_the_tested_one_and_works() {
    let plugin = root().join("examples/plugins/minimal_runtime.py");
    let source = std::fs::read_to_string(&plugin).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("```python\n{source}```")),
        "README.md shows examples/plugins/minimal_runtime.py verbatim"
    );

    let env = Env::new();
    let plugin = plugin.display().to_string();
    let (code, _, err) = env.run(&["runtimes", "add", "shout", "--", "python3", &plugin]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = env.run(&["run", "--runtime", "shout", "--runtime-config", r#"{"times": 2}"#, "hello"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim_end(), "HELLO HELLO");
    assert!(err.contains("[stop]") && err.contains("3 tokens (1 in / 2 out)"), "{err}");
    let (code, _, err) =
        env.run(&["agent", "create", "loud", "--runtime", "shout", "--runtime-config", r#"{"times": 11}"#]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("runtime_config.times: at most 10"), "{err}");
    let (code, _, err) =
        env.run(&["agent", "create", "typo", "--runtime", "shout", "--runtime-config", r#"{"tiems": 1}"#]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tiems"), "{err}");
}
