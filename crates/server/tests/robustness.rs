//! The server under load and when it stops: 200 concurrent executions against the fake model
//! server sharing one pool, every record stored; `toolbridge server` stopped by SIGTERM in the
//! middle of an execution, which is cancelled and stored; an execution run by the CLI replays
//! its events through the server.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Setup, TOKEN, TestServer, agent_body, binary, read_events, testbed, workspace};
use serde_json::json;
use toolbridge_providers::fake::{FakeConfig, FakeMode, FakeModelServer, FakeToolCall, FakeTurn};
use toolbridge_store::{ExecutionFilter, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_executions_share_the_pool_and_are_all_stored() {
    let model = FakeModelServer::start(FakeConfig {
        mode: FakeMode::Transcript(vec![
            FakeTurn {
                tool_calls: vec![FakeToolCall { name: "testbed__echo".into(), arguments: r#"{"message":"x"}"#.into() }],
                ..FakeTurn::default()
            },
            FakeTurn { content: Some("done".into()), ..FakeTurn::default() },
        ]),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let server = TestServer::with(Setup {
        token: Some(TOKEN),
        openai_base_url: Some(model.openai_base_url()),
        ..Setup::default()
    })
    .await;
    let body =
        json!({"name": "fake", "model_id": "openai:test-model", "mcp_servers": {"testbed": {"command": testbed()}}});
    assert_eq!(server.send("POST", "/api/v1/agents", &body).await.0, 201);
    let runs = (0..200).map(|i| {
        let client = server.client.clone();
        let url = server.url("/api/v1/executions");
        async move {
            let response = client.post(url).json(&json!({"agent": "fake", "prompt": format!("run {i}")})).send().await;
            let response = response.expect("request");
            assert_eq!(response.status(), 200);
            let result: serde_json::Value = response.json().await.expect("json");
            assert_eq!(result["success"], true, "{result}");
            result["execution_id"].as_str().expect("id").to_owned()
        }
    });
    let ids = futures::future::join_all(runs).await;
    assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), 200);
    let stored = server
        .store
        .list_executions(&ExecutionFilter { limit: Some(1000), ..ExecutionFilter::default() })
        .await
        .unwrap();
    assert_eq!(stored.len(), 200);
    assert!(stored.iter().all(|e| e.status.as_str() == "success" && e.tool_calls == 1));
    // One testbed connection served them all.
    assert_eq!(server.pool.stats().starts, 1, "{:?}", server.pool.stats());
    assert_eq!(model.request_count(), 400);
    server.stop().await;
}

/// Starts `toolbridge server` on a free port; its address from the first line it prints.
fn start_server(db: &std::path::Path) -> (std::process::Child, String) {
    let mut child = Command::new(binary("toolbridge"))
        .args(["--db", db.to_str().unwrap(), "server", "--listen", "127.0.0.1:0"])
        .env("TOOLBRIDGE_API_TOKEN", TOKEN)
        .current_dir(workspace())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start toolbridge server");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    std::thread::spawn(move || for _ in stderr.lines() {});
    (child, base)
}

#[tokio::test]
async fn sigterm_mid_execution_cancels_it_and_stores_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("toolbridge.db");
    let (mut child, base) = start_server(&db);
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/api/v1/agents"))
        .bearer_auth(TOKEN)
        .json(&agent_body("slow", "slow-tool.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let started: serde_json::Value = client
        .post(format!("{base}/api/v1/executions?async=true"))
        .bearer_auth(TOKEN)
        .json(&json!({"agent": "slow", "prompt": "sleep"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["execution_id"].as_str().unwrap().to_owned();
    // A viewer follows it; the sleep (3 s) is in flight when SIGTERM comes.
    let viewer = tokio::spawn({
        let request = client.get(format!("{base}/api/v1/executions/{id}/events")).bearer_auth(TOKEN);
        async move { read_events(request.send().await.unwrap()).await }
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    let messages = viewer.await.unwrap();
    let last = messages.last().unwrap();
    assert_eq!(last.event, "result");
    assert_eq!(last.data["status"], "cancelled", "{:?}", last.data);
    let store = Store::open(&db).unwrap();
    let stored = store.get_execution(&id).await.unwrap().unwrap();
    assert_eq!(stored.summary.status.as_str(), "cancelled");
    assert!(stored.tool_calls.iter().any(|c| c.tool == "testbed__sleep_ms" && !c.success));
    let events = store.execution_events(&id).await.unwrap();
    assert!(matches!(events.last().map(|e| e.event.name()), Some("done")), "{events:?}");
}

#[tokio::test]
async fn an_execution_run_by_the_cli_replays_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("toolbridge.db");
    let agent = dir.path().join("agent.json");
    std::fs::write(&agent, agent_body("cli", "one-call.json").to_string()).unwrap();
    let output = Command::new(binary("toolbridge"))
        .args(["--db", db.to_str().unwrap(), "run", "--config", agent.to_str().unwrap(), "--json", "hello"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let id = result["run_id"].as_str().unwrap().to_owned();
    let (mut child, base) = start_server(&db);
    let response = reqwest::Client::new()
        .get(format!("{base}/api/v1/executions/{id}/events"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let messages = read_events(response).await;
    let names: Vec<&str> = messages.iter().map(|m| m.event.as_str()).collect();
    assert!(names.contains(&"tool_start") && names.ends_with(&["done", "result"]), "{names:?}");
    assert_eq!(messages.last().unwrap().data["agent_id"], "cli");
    child.kill().unwrap();
    child.wait().unwrap();
}
