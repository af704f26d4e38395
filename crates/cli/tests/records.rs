//! End to end, through the built binary: stored executions and agents, the tool detail view,
//! `--args` from a file or stdin, colours, help and the messages around them.

use serde_json::{Value, json};

mod common;

use common::{Env, testbed};

/// Runs one quick execution of `agent` (a name for `--agent`, else ad hoc) and returns its id.
fn execute(env: &Env, model: &str, prompt: &str) -> String {
    let (code, out, err) = env.run(&["run", "--model", model, "--json", prompt]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<Value>(&out).unwrap()["execution_id"].as_str().unwrap().to_owned()
}

#[test]
fn executions_are_listed_a_page_at_a_time_filtered_and_deleted() {
    let env = Env::new();
    let model = env.model("t.json", &json!([{"content": "ok"}]));
    let ids: Vec<String> = (0..5).map(|i| execute(&env, &model, &format!("prompt {i}"))).collect();
    // One failed execution: a model endpoint that does not answer.
    let mut failing = env.cmd(&["run", "--model", "openai:m", "broken"]);
    failing.env("OPENAI_BASE_URL", "http://127.0.0.1:9");
    assert_eq!(Env::output(failing).0, 1);

    let (code, out, err) = env.run(&["executions", "list", "--limit", "2"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("broken") && out.contains("prompt 4"), "newest first: {out}");
    assert!(err.contains("page 1 of 3 (6 executions); next: --page 2"), "{err}");
    let (_, out, err) = env.run(&["executions", "list", "--limit", "2", "--page", "3"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("prompt 0") && err.contains("page 3 of 3") && !err.contains("next"), "{err}");
    let (_, out, _) = env.run(&["executions", "list", "--limit", "2", "--page", "2", "--json"]);
    let page: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(page.iter().map(|e| e["prompt"].as_str().unwrap()).collect::<Vec<_>>(), ["prompt 3", "prompt 2"]);

    let list = |args: &[&str]| -> Vec<Value> {
        let mut all = vec!["executions", "list", "--json"];
        all.extend_from_slice(args);
        let (code, out, err) = env.run(&all);
        assert_eq!(code, 0, "{args:?}: {err}");
        serde_json::from_str(&out).unwrap()
    };
    assert_eq!(list(&["--status", "error"]).len(), 1);
    assert_eq!(list(&["--status", "success"]).len(), 5);
    assert_eq!(list(&["--agent", "adhoc", "--since", "1h"]).len(), 6);
    assert_eq!(list(&["--agent", "someone-else"]).len(), 0);
    assert_eq!(list(&["--until", "2000-01-01"]).len(), 0);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    assert_eq!(list(&["--since", &tomorrow]).len(), 0);
    let (code, _, err) = env.run(&["executions", "list", "--since", "last tuesday"]);
    assert_eq!(code, 2);
    assert!(err.contains("--since") && err.contains("7d"), "{err}");

    // Deleting: by id prefix, then everything older than a duration.
    let (code, _, err) = env.run(&["executions", "delete", &ids[0][..10]]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&ids[0]), "{err}");
    let (code, _, err) = env.run(&["executions", "show", &ids[0]]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = env.run(&["executions", "delete", &ids[0]]);
    assert_eq!(code, 2);
    assert!(err.contains("no execution"), "{err}");
    let (code, _, err) = env.run(&["executions", "delete", "--older-than", "1d"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("deleted 0 executions"), "{err}");
    assert_eq!(env.executions().len(), 5);
    let (code, _, err) = env.run(&["executions", "delete", "--older-than", "0s"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("deleted 5 executions"), "{err}");
    assert!(env.executions().is_empty());
    let (code, _, err) = env.run(&["executions", "delete", "--older-than", "3 fortnights"]);
    assert_eq!(code, 2);
    assert!(err.contains("--older-than"), "{err}");
    let (code, _, _) = env.run(&["executions", "delete"]);
    assert_eq!(code, 2);
}

#[test]
fn agents_store_absolute_paths_update_come_from_files_and_show_readably() {
    let env = Env::new();
    let work = env.dir().join("work");
    std::fs::create_dir_all(work.join("data")).unwrap();
    std::fs::write(work.join("t.json"), json!([{"content": "from the stored agent"}]).to_string()).unwrap();
    std::fs::write(work.join("server.args"), "").unwrap();
    std::fs::write(
        work.join("mcp.json"),
        json!({"mcpServers": {"mem": {
            "command": testbed(), "args": ["--name", "server.args"],
            "env": {"MEMORY_FILE_PATH": "/var/lib/memory.json", "API_KEY": "sk-literal-0123456789", "TOKEN_REF": "${SOME_TOKEN}"}
        }}})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        work.join("skills.json"),
        json!([{"name": "files", "type": "file_system", "configuration": {"base_dir": "data"}}]).to_string(),
    )
    .unwrap();
    let in_work = |args: &[&str]| {
        let mut command = env.cmd(args);
        command.current_dir(&work);
        Env::output(command)
    };
    let (code, _, err) = in_work(&[
        "agent",
        "create",
        "keeper",
        "--model",
        "scripted:t.json",
        "--mcp-config",
        "mcp.json",
        "--skills",
        "skills.json",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = env.run(&["agent", "show", "keeper", "--json"]);
    assert_eq!(code, 0);
    let agent: Value = serde_json::from_str(&out).unwrap();
    let base = work.display().to_string();
    assert_eq!(agent["model_id"], format!("scripted:{base}/t.json"));
    assert_eq!(agent["mcp_servers"]["mem"]["args"], json!(["--name", format!("{base}/server.args")]));
    assert_eq!(agent["skills"][0]["configuration"]["base_dir"], format!("{base}/data"));
    // Only what looks secret is masked.
    let env_vars = &agent["mcp_servers"]["mem"]["env"];
    assert_eq!(env_vars["MEMORY_FILE_PATH"], "/var/lib/memory.json");
    assert_eq!(env_vars["API_KEY"], "[redacted]");
    assert_eq!(env_vars["TOKEN_REF"], "${SOME_TOKEN}");
    // It runs from anywhere.
    let mut command = env.cmd(&["run", "--agent", "keeper", "hi"]);
    command.env("SOME_TOKEN", "a-token-value");
    let (code, out, err) = Env::output(command);
    assert_eq!((code, out.trim()), (0, "from the stored agent"), "{err}");

    // The readable summary.
    let (code, out, _) = env.run(&["agent", "show", "keeper"]);
    assert_eq!(code, 0);
    for expected in [
        "keeper",
        "runtime:       agent_loop",
        &format!("model:         scripted:{base}/t.json"),
        "mcp servers:",
        "env MEMORY_FILE_PATH=/var/lib/memory.json",
        "env API_KEY=[redacted]",
        "env TOKEN_REF=${SOME_TOKEN}",
        "skills:",
        &format!("files  file_system  {base}/data"),
    ] {
        assert!(out.contains(expected), "{expected:?} in\n{out}");
    }
    assert!(!out.contains("sk-literal") && !out.trim_start().starts_with('{'), "{out}");

    // Update changes what the flags say, nothing else.
    let (code, _, err) = env.run(&["agent", "update", "keeper", "--system-prompt", "be brief"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = env.run(&["agent", "show", "keeper", "--json"]);
    let updated: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(updated["system_prompt"], "be brief");
    assert_eq!(updated["model_id"], agent["model_id"]);
    assert_eq!(updated["mcp_servers"], agent["mcp_servers"]);
    let (code, _, err) = env.run(&["agent", "update", "nobody", "--model", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("no agent named"), "{err}");
    let (code, _, err) = env.run(&["agent", "update", "keeper", "--runtime-config", r#"{"max_iterations": 0}"#]);
    assert_eq!(code, 2, "validated like create: {err}");

    // From a file: its name, or the one given.
    std::fs::write(
        work.join("agent.json"),
        json!({"name": "filed", "model_id": "scripted:t.json", "system_prompt": "from a file"}).to_string(),
    )
    .unwrap();
    let (code, _, err) = in_work(&["agent", "create", "--from", "agent.json"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = in_work(&["agent", "create", "renamed", "--from", "agent.json", "--model", "scripted:t.json"]);
    assert_eq!(code, 0, "{err}");
    for name in ["filed", "renamed"] {
        let (_, out, _) = env.run(&["agent", "show", name, "--json"]);
        let stored: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(stored["name"], name);
        assert_eq!(stored["system_prompt"], "from a file");
        assert_eq!(stored["model_id"], format!("scripted:{base}/t.json"));
    }
    std::fs::write(work.join("bad-agent.json"), r#"{"name": "x", "modle_id": "y"}"#).unwrap();
    let (code, _, err) = in_work(&["agent", "create", "--from", "bad-agent.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("bad-agent.json") && err.contains("modle_id"), "{err}");
}

#[test]
fn tools_shows_named_tools_in_detail_and_suggests_the_nearest_names() {
    let env = Env::new();
    let config = env.mcp_config("mcp.json", &json!({}));
    let (code, out, err) = env.run(&["tools", "testbed__add", "testbed__structured", "--mcp-config", &config]);
    assert_eq!(code, 0, "{err}");
    for expected in [
        r#"testbed__add  (tool "add" of MCP server "testbed")"#,
        "  Adds two numbers",
        "parameter  type    required  description",
        "a          number  yes       First number.",
        "b          number  yes       Second number.",
        "city       string | null  no        The city.",
    ] {
        assert!(out.contains(expected), "{expected:?} in\n{out}");
    }
    assert!(!out.contains("testbed__echo"), "{out}");
    let (code, out, _) = env.run(&["tools", "testbed__echo", "--mcp-config", &config, "--json"]);
    assert_eq!(code, 0);
    let tools: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["input_schema"]["required"], json!(["message"]));
    let (code, out, err) = env.run(&["tools", "testbed__ech", "--mcp-config", &config]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("unknown tool `testbed__ech`") && err.contains("did you mean `testbed__echo`"), "{err}");
    assert!(!err.contains("testbed__stats"), "not the whole catalogue: {err}");
    let (code, _, err) = env.run(&["call", "testbed__ech", "--mcp-config", &config]);
    assert_eq!(code, 1);
    assert!(err.contains("did you mean `testbed__echo`"), "{err}");
}

#[test]
fn call_arguments_come_from_a_file_or_stdin() {
    let env = Env::new();
    let config = env.mcp_config("mcp.json", &json!({}));
    let args = env.file("args.json", r#"{"a": 40, "b": 2}"#);
    let (code, out, err) = env.run(&["call", "testbed__add", "--args", &format!("@{args}"), "--mcp-config", &config]);
    assert_eq!((code, out.trim()), (0, "42"), "{err}");
    let (code, out, err) =
        env.run_with_stdin(&["call", "testbed__add", "--args", "-", "--mcp-config", &config], r#"{"a": 1, "b": 2}"#);
    assert_eq!((code, out.trim()), (0, "3"), "{err}");
    let (code, _, err) = env.run(&["call", "testbed__add", "--args", "@/no/such/args.json", "--mcp-config", &config]);
    assert_eq!(code, 2);
    assert!(err.contains("/no/such/args.json"), "{err}");
    let bad = env.file("bad.json", "{\n  \"a\": 1,\n}");
    let (code, _, err) = env.run(&["call", "testbed__add", "--args", &format!("@{bad}"), "--mcp-config", &config]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.json") && err.contains("line 3"), "{err}");
}

#[test]
fn colours_only_on_a_terminal_and_never_with_color_never() {
    let env = Env::new();
    let config = env.mcp_config("mcp.json", &json!({"gone": {"command": "/nonexistent/server"}}));
    let model = env.model(
        "t.json",
        &json!([{"tool_calls": [{"name": "testbed__echo", "arguments": {"message": "x"}}]}, {"content": "ok"}]),
    );
    let args = ["run", "--model", &model, "--mcp-config", &config, "go"];
    // Piped, with the default `auto`: no escape codes anywhere.
    let mut piped = env.bare();
    piped.args(args);
    let (code, out, err) = Env::output(piped);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains('\x1b') && !err.contains('\x1b'), "{out:?} {err:?}");
    // In a terminal: colours.
    let mut session = env.pty(&args, &[]);
    let seen = session.exp_eof().unwrap();
    // (rexpect reads bytes as Latin-1: the checks are on ASCII.)
    assert!(seen.contains("\x1b[33mwarning:") && seen.contains("\x1b[32m"), "{seen:?}");
    // In a terminal with --color never: no colour (a spinner still moves the cursor).
    let mut never = vec!["--color", "never"];
    never.extend_from_slice(&args);
    let mut session = env.pty(&never, &[]);
    let seen = session.exp_eof().unwrap();
    assert!(!has_colour(&seen) && seen.contains("warning:") && seen.contains("testbed__echo"), "{seen:?}");
    // NO_COLOR is honoured too.
    let mut session = env.pty(&args, &[("NO_COLOR", "1")]);
    let seen = session.exp_eof().unwrap();
    assert!(!has_colour(&seen), "{seen:?}");
}

/// Whether `text` has an SGR escape (`ESC [ … m`: colours, bold, dim).
fn has_colour(text: &str) -> bool {
    text.match_indices("\x1b[").any(|(at, _)| {
        let rest = &text[at + 2..];
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == ';')).unwrap_or(rest.len());
        rest[end..].starts_with('m')
    })
}

#[test]
fn help_lists_global_options_once_and_serve_names_its_transports() {
    let env = Env::new();
    let (_, top, _) = env.run(&["--help"]);
    assert!(top.contains("Global options:") && top.contains("--db <PATH>") && top.contains("--color <WHEN>"), "{top}");
    for command in
        [&["run", "--help"][..], &["tools", "--help"], &["agent", "create", "--help"], &["mcp", "add", "--help"]]
    {
        let (code, help, _) = env.run(command);
        assert_eq!(code, 0);
        assert!(!help.contains("--db <PATH>") && !help.contains("-v, --verbose"), "{command:?}:\n{help}");
        assert!(help.contains("see `toolbridge --help`"), "{command:?}:\n{help}");
    }
    // Global options still work after a subcommand.
    let (code, _, _) = env.run(&["runtimes", "--quiet"]);
    assert_eq!(code, 0);
    let (code, _, err) = env.run(&["serve"]);
    assert_eq!(code, 2);
    assert!(err.contains("--stdio or --http ADDR"), "{err}");
    let (code, _, err) = env.run(&["mcp", "serve"]);
    assert_eq!(code, 2);
    assert!(err.contains("--stdio or --http ADDR"), "{err}");
    // Plurals.
    let model = env.model(
        "one.json",
        &json!([{"tool_calls": [{"name": "testbed__echo", "arguments": {"message": "x"}}]}, {"content": "ok"}]),
    );
    let config = env.mcp_config("mcp.json", &json!({}));
    let (_, _, err) = env.run(&["run", "--model", &model, "--mcp-config", &config, "go"]);
    assert!(err.contains(", 1 tool call,"), "{err}");
}
