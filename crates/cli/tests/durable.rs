//! `toolbridge worker`, `run --runtime durable_agent_loop` and `executions show` against a
//! Temporal dev server (started here; installed by `scripts/setup-temporal.sh`).
#![cfg(feature = "temporal")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Env, within};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use toolbridge_test_support::temporal::{DevServer, free_port};

/// A `toolbridge worker` process, stopped (SIGTERM, then SIGKILL) on drop.
struct Worker {
    child: Child,
}

impl Worker {
    fn start(env: &Env, server: &DevServer, queue: &str) -> Self {
        let mut command = env.cmd(&["worker", "--temporal", &server.address(), "--namespace", "default"]);
        command.args(["--task-queue", queue]).stdout(Stdio::null()).stderr(Stdio::piped()).process_group(0);
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (ready, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[worker] {line}");
                if line.contains("worker polling") {
                    let _ = ready.send(());
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(60)).expect("the worker polls");
        Self { child }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = kill(pid, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn queue(test: &str) -> String {
    format!("cli-{test}-{}", std::process::id())
}

fn durable_run<'a>(server: &'a DevServer, queue: &'a str) -> Vec<String> {
    ["--runtime", "durable_agent_loop", "--temporal", &server.address(), "--task-queue", queue]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

#[test]
fn run_on_a_worker_matches_the_in_process_runtime_and_is_stored() {
    let server = DevServer::shared();
    let env = Env::new();
    let queue = queue("run");
    let _worker = Worker::start(&env, server, &queue);
    let demo = ["--config", "fixtures/agents/demo.json", "--json", "What is the sum of a and b in numbers.csv?"];

    let mut args: Vec<String> = vec!["run".into()];
    args.extend(durable_run(server, &queue));
    args.extend(demo.iter().map(|s| (*s).to_owned()));
    let (code, out, err) = env.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let durable: Value = serde_json::from_str(&out).unwrap();

    let mut local_args = vec!["run"];
    local_args.extend(demo);
    let (code, out, err) = env.run(&local_args);
    assert_eq!(code, 0, "{err}");
    let local: Value = serde_json::from_str(&out).unwrap();

    for field in ["response", "usage", "success", "finish_reason", "model", "tool_messages"] {
        assert_eq!(durable[field], local[field], "{field}");
    }
    let calls = |result: &Value| {
        result["tool_execution_messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["tool"].clone(), r["output"].clone(), r["success"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(calls(&durable), calls(&local));
    assert_eq!(calls(&durable).len(), 4);

    let id = durable["run_id"].as_str().unwrap();
    let (_, shown) = env.show(id);
    assert_eq!(shown["summary"]["runtime_type"], "durable_agent_loop");
    assert_eq!(shown["summary"]["status"], "success");
    assert_eq!(shown["tool_calls"].as_array().unwrap().len(), 4);

    // The same through Temporal's own environment variables instead of flags.
    let mut command = env.cmd(&["run", "--runtime", "durable_agent_loop", "--task-queue", &queue]);
    command.args(demo).env("TEMPORAL_ADDRESS", server.address()).env("TEMPORAL_NAMESPACE", "default");
    let (code, out, err) = Env::output(command);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["response"], local["response"]);
}

#[test]
fn a_killed_starter_leaves_the_execution_to_finish_and_show_finds_it() {
    let server = DevServer::shared();
    let env = Env::new();
    let queue = queue("starter");
    let _worker = Worker::start(&env, server, &queue);
    let effects = env.file("effects.txt", "");
    let transcript = env.file(
        "slow.json",
        &json!([
            {"tool_calls": [{"name": "testbed__append", "arguments": {"path": effects, "line": "first"}}]},
            {"tool_calls": [{"name": "testbed__append", "arguments": {"path": effects, "line": "slow", "delay_ms": 2500}}]},
            {"content": "finished"},
        ])
        .to_string(),
    );
    let model = format!("scripted:{transcript}");
    let id = format!("durable-starter-{}", std::process::id());
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(durable_run(server, &queue));
    args.extend(
        ["--model", &model, "--mcp-config", "fixtures/mcp/testbed.json", "--execution-id", &id, "--json", "go"]
            .map(str::to_owned),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let mut starter = env.cmd(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let read = || std::fs::read_to_string(&effects).unwrap_or_default();
    within(Duration::from_secs(30), || read().contains("first")).expect("the execution runs");
    kill(Pid::from_raw(i32::try_from(starter.id()).unwrap()), Signal::SIGKILL).unwrap();
    let _ = starter.wait();

    // Nobody is waiting for it, yet it finishes on the worker; `executions show` finds out.
    let mut shown = Value::Null;
    within(Duration::from_secs(60), || {
        let (code, out, err) = env.run(&["executions", "show", &id, "--json", "--temporal", &server.address()]);
        assert_eq!(code, 0, "{err}");
        shown = serde_json::from_str(&out).unwrap();
        shown["summary"]["status"] == "success"
    })
    .unwrap_or_else(|| panic!("never settled: {shown}"));
    assert_eq!(shown["result"]["response"], "finished");
    assert_eq!(shown["tool_calls"].as_array().unwrap().len(), 2);

    // A restarted starter attaches to the finished execution: the same result, nothing rerun.
    let (code, out, err) = env.run(&args);
    assert_eq!(code, 0, "{err}");
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["response"], "finished");
    assert_eq!(again["tool_execution_messages"].as_array().unwrap().len(), 2);
    assert_eq!(read(), "first\nslow\n", "each tool call ran once");
}

#[test]
fn an_unreachable_server_is_a_clear_error_not_a_hang() {
    let env = Env::new();
    let port = free_port();
    let started = Instant::now();
    let (code, _, err) = env.run(&["worker", "--temporal", &format!("127.0.0.1:{port}")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("cannot reach the Temporal server at 127.0.0.1:{port}")), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15));

    // A server that accepts connections and never answers: the connect timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap().to_string();
    let started = Instant::now();
    let (code, _, err) = env.run(&["worker", "--temporal", &address, "--connect-timeout", "2"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("did not answer within 2s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());

    // A starter says the same, and the failed execution is stored.
    let (code, _, err) = env.run(&[
        "run",
        "--runtime",
        "durable_agent_loop",
        "--temporal",
        &format!("127.0.0.1:{port}"),
        "--model",
        "scripted:fixtures/transcripts/demo.json",
        "hi",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot reach the Temporal server"), "{err}");
    assert_eq!(env.executions()[0]["status"], "error");
}

#[test]
fn the_durable_runtime_is_listed_with_its_config() {
    let env = Env::new();
    let (code, out, err) = env.run(&["runtimes", "--json"]);
    assert_eq!(code, 0, "{err}");
    let runtimes: Value = serde_json::from_str(&out).unwrap();
    let durable = &runtimes["runtimes"]["durable_agent_loop"];
    let properties = &durable["runtime_config_schema"]["properties"];
    assert!(properties.get("task_queue").is_some() && properties.get("max_iterations").is_some(), "{durable}");
    let (code, _, err) = env.run(&[
        "agent",
        "create",
        "d",
        "--runtime",
        "durable_agent_loop",
        "--model",
        "scripted:x",
        "--runtime-config",
        r#"{"task_qeue": "q"}"#,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("task_qeue"), "{err}");
    let (code, _, err) = env.run(&[
        "agent",
        "create",
        "d",
        "--runtime",
        "durable_agent_loop",
        "--model",
        "scripted:x",
        "--runtime-config",
        r#"{"task_queue": "q", "max_iterations": 3, "heartbeat_timeout_ms": 2000}"#,
    ]);
    assert_eq!(code, 0, "{err}");
}
