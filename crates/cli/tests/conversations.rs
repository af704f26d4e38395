//! End to end, through the built binary: `run` and `chat` as a Claude Code or goose user
//! expects them — the prompt from stdin, `--continue`, an interactive chat in a terminal,
//! `--json` with the execution id, one duration, configuration errors before anything runs,
//! and tool progress in a terminal.

use std::time::Duration;

use serde_json::{Value, json};
use toolbridge_providers::fake::{FakeConfig, FakeMode, FakeModelServer, FakeTurn};

mod common;

use common::Env;

/// A fake OpenAI-compatible model server on its own runtime, answering `replies` in turn
/// (stateless: the turn is the number of assistant messages since the last user message).
struct Model {
    server: Option<FakeModelServer>,
    runtime: tokio::runtime::Runtime,
}

impl Model {
    fn start(replies: &[&str]) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let turns =
            replies.iter().map(|text| FakeTurn { content: Some((*text).to_owned()), ..FakeTurn::default() }).collect();
        let server = runtime
            .block_on(FakeModelServer::start(FakeConfig { mode: FakeMode::Transcript(turns), ..FakeConfig::default() }))
            .unwrap();
        Self { server: Some(server), runtime }
    }

    fn url(&self) -> String {
        self.server.as_ref().unwrap().openai_base_url()
    }

    /// The messages of every request, in order.
    fn conversations(&self) -> Vec<Vec<(String, String)>> {
        self.server
            .as_ref()
            .unwrap()
            .requests()
            .iter()
            .map(|request| {
                request["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| {
                        (
                            m["role"].as_str().unwrap_or_default().to_owned(),
                            m["content"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .collect()
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

#[test]
fn the_prompt_comes_from_stdin_with_a_dash_or_when_stdin_is_not_a_terminal() {
    let env = Env::new();
    let model = env.model("t.json", &json!([{"content": "ok"}]));
    let (code, out, err) = env.run_with_stdin(&["run", "--model", &model, "-"], "first prompt\nwith two lines\n");
    assert_eq!((code, out.trim()), (0, "ok"), "{err}");
    let (code, _, err) = env.run_with_stdin(&["run", "--model", &model], "second prompt\n");
    assert_eq!(code, 0, "{err}");
    let prompts: Vec<String> = env.executions().iter().map(|e| e["prompt"].as_str().unwrap().to_owned()).collect();
    assert_eq!(prompts, ["second prompt", "first prompt\nwith two lines"]);
    let (code, _, err) = env.run_with_stdin(&["run", "--model", &model, "-"], "  \n");
    assert_eq!(code, 2);
    assert!(err.contains("empty"), "{err}");
    // In a terminal without a prompt: say how to give one.
    let mut session = env.pty(&["--color", "never", "run", "--model", &model], &[]);
    session.exp_string("no prompt given").unwrap();
    session.exp_string("toolbridge chat").unwrap();
    session.exp_eof().unwrap();
    assert_eq!(common::pty_exit_code(&session), Some(2));
}

#[test]
fn continue_sends_the_previous_execution_as_conversation_history() {
    let env = Env::new();
    let model = Model::start(&["first answer", "second answer", "third answer"]);
    let run = |args: &[&str]| {
        let mut command = env.cmd(args);
        command.env("OPENAI_BASE_URL", model.url());
        Env::output(command)
    };
    let (code, out, err) = run(&["run", "--model", "openai:fake", "--json", "first question"]);
    assert_eq!(code, 0, "{err}");
    let first: Value = serde_json::from_str(&out).unwrap();
    let first_id = first["execution_id"].as_str().unwrap().to_owned();
    // The latest execution, its model reused.
    let (code, _, err) = run(&["run", "--continue", "second question"]);
    assert_eq!(code, 0, "{err}");
    // A named one (by a prefix of its id).
    let (code, _, err) = run(&["run", "--continue", &first_id[..8], "third question"]);
    assert_eq!(code, 0, "{err}");
    let sent = model.conversations();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(sent[0], pairs(&[("user", "first question")]));
    assert_eq!(
        sent[1],
        pairs(&[("user", "first question"), ("assistant", "first answer"), ("user", "second question")])
    );
    assert_eq!(
        sent[2],
        pairs(&[("user", "first question"), ("assistant", "first answer"), ("user", "third question")])
    );
    // A continuation of a continuation carries the whole conversation.
    let (code, _, err) = run(&["run", "--continue", "fourth"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(model.conversations()[3].len(), 5, "{:?}", model.conversations()[3]);
    let (code, _, err) = run(&["run", "--continue", "zzzz-no-such", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("no execution"), "{err}");
}

#[test]
fn chat_streams_keeps_the_conversation_and_ctrl_c_cancels_only_the_turn() {
    let env = Env::new();
    let model = Model::start(&["hello from the model"]);
    let slow = env.model(
        "slow.json",
        &json!([{"tool_calls": [{"name": "testbed__sleep_ms", "arguments": {"ms": 30000}}]}, {"content": "never"}]),
    );
    let config = env.mcp_config("mcp.json", &json!({}));
    let url = model.url();
    let mut session =
        env.pty(&["--color", "never", "chat", "--model", "openai:fake"], &[("OPENAI_BASE_URL", url.as_str())]);
    session.exp_string("chatting with adhoc").unwrap();
    session.exp_string("> ").unwrap();
    session.send_line("hi there").unwrap();
    session.exp_string("hello from the model").unwrap();
    session.exp_string("[stop]").unwrap();
    session.exp_string("> ").unwrap();
    session.send_line("and again").unwrap();
    session.exp_string("hello from the model").unwrap();
    session.exp_string("> ").unwrap();
    session.send_line("/exit").unwrap();
    session.exp_eof().unwrap();
    let sent = model.conversations();
    assert_eq!(sent[1], pairs(&[("user", "hi there"), ("assistant", "hello from the model"), ("user", "and again")]));
    assert_eq!(env.executions().len(), 2, "every turn is stored");

    // Ctrl-C in a turn cancels that turn; the session goes on.
    let mut session = env.pty(&["--color", "never", "chat", "--model", &slow, "--mcp-config", &config], &[]);
    session.exp_string("> ").unwrap();
    session.send_line("take your time").unwrap();
    // (rexpect reads bytes as Latin-1: expect ASCII only.)
    session.exp_string("testbed__sleep_ms {\"ms\":30000}").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    session.send_control('c').unwrap();
    session.exp_string("(cancelled; the conversation goes on)").unwrap();
    session.exp_string("> ").unwrap();
    // Ctrl-C at the prompt does not end it either; Ctrl-D does.
    session.send_control('c').unwrap();
    session.exp_string("> ").unwrap();
    session.send_control('d').unwrap();
    session.exp_eof().unwrap();
    assert_eq!(common::pty_exit_code(&session), Some(0));
    let cancelled: Vec<Value> = env.executions().into_iter().filter(|e| e["status"] == "cancelled").collect();
    assert_eq!(cancelled.len(), 1);
}

#[test]
fn run_json_has_the_execution_id_and_one_duration_everywhere() {
    let env = Env::new();
    let config = env.mcp_config("mcp.json", &json!({}));
    let model = env.model(
        "t.json",
        &json!([{"tool_calls": [{"name": "testbed__sleep_ms", "arguments": {"ms": 120}}]}, {"content": "done"}]),
    );
    let (code, out, err) = env.run(&["run", "--model", &model, "--mcp-config", &config, "--json", "go"]);
    assert_eq!(code, 0, "{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    let id = result["execution_id"].as_str().unwrap();
    let (_, stored) = env.show(id);
    assert_eq!(stored["summary"]["id"], id);
    assert_eq!(result["duration_ms"], stored["summary"]["duration_ms"], "the printed duration is the stored one");
    assert!(result["duration_ms"].as_u64().unwrap() >= 120);
    // The streamed run prints the stored duration, as `executions show` and `list` do.
    let (code, _, err) = env.run(&["run", "--model", &model, "--mcp-config", &config, "go"]);
    assert_eq!(code, 0, "{err}");
    let latest = &env.executions()[0];
    let ms = latest["duration_ms"].as_u64().unwrap();
    let shown = if ms < 1000 { format!("{ms} ms") } else { format!("{:.1} s", ms as f64 / 1000.0) };
    assert!(err.contains(&format!("[stop] {shown},")), "{shown} in {err}");
    let (_, out, _) = env.run(&["executions", "show", latest["id"].as_str().unwrap()]);
    assert!(out.contains(&format!("duration: {shown}")), "{out}");
    let (_, out, _) = env.run(&["executions", "list"]);
    assert!(out.contains(&shown), "{out}");
}

#[test]
fn a_missing_key_or_an_unknown_provider_is_a_configuration_error_and_nothing_is_stored() {
    let env = Env::new();
    let (code, _, err) = env.run(&["run", "--model", "openai:gpt-4o-mini", "hi"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("OPENAI_API_KEY"), "{err}");
    let (code, _, err) = env.run(&["run", "--model", "anthropic:claude-sonnet-4", "hi"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ANTHROPIC_API_KEY"), "{err}");
    let (code, _, err) = env.run(&["run", "--model", "foo:bar", "hi"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(r#"unknown model provider "foo""#) && err.contains("openai, anthropic, scripted"), "{err}");
    let (code, _, err) = env.run(&["run", "--model", "scripted:/no/such/transcript.json", "hi"]);
    assert_eq!(code, 2, "{err}");
    assert!(env.executions().is_empty(), "configuration errors are not executions");
}

#[test]
fn progress_and_a_spinner_show_on_the_tools_line_in_a_terminal_only() {
    let env = Env::new();
    let config = env.mcp_config("mcp.json", &json!({}));
    let model = env.model(
        "t.json",
        &json!([
            {"tool_calls": [{"name": "testbed__progress", "arguments": {"steps": 300}}]},
            {"tool_calls": [{"name": "testbed__sleep_ms", "arguments": {"ms": 1800}}]},
            {"content": "done"}
        ]),
    );
    let args = ["run", "--model", &model, "--mcp-config", &config, "go"];
    let mut session = env.pty(&args, &[]);
    // A bar with the server's counts on the progress tool's line, then a spinner with the
    // elapsed time on the slow call.
    session.exp_regex(r"testbed__progress.*\[[=> ]+\] \d+/300").unwrap();
    session.exp_regex(r"testbed__sleep_ms 1s").unwrap();
    session.exp_string("done").unwrap();
    session.exp_eof().unwrap();
    // Not in a pipe: the start and end lines only.
    let (code, _, err) = env.run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("/300") && !err.contains('\r') && !err.contains('\x1b'), "{err:?}");
    assert_eq!(err.lines().filter(|l| l.contains("testbed__progress")).count(), 2, "{err}");
}
