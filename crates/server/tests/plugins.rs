//! A runtime plugin behind the HTTP API, with the real binaries: registered with
//! `toolbridge runtimes add`, listed by `GET /runtimes`, 20 executions at once on one plugin
//! process (each with its own tool endpoint and call log), the plugin's events replayed, and
//! no plugin process left once the server stops.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::*;

/// Live processes whose command line holds `marker`.
fn plugin_processes(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
            !zombie && String::from_utf8_lossy(&cmdline).contains(marker)
        })
        .collect()
}

#[tokio::test]
async fn twenty_executions_through_the_api_share_one_plugin_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("toolbridge.db");
    let marker = format!("api-plugin-{}", std::process::id());
    let plugin = workspace().join("examples/plugins/echo_runtime.py");
    let added = Command::new(binary("toolbridge"))
        .args(["--db", db.to_str().unwrap(), "runtimes", "add", "echo_py", "--", "python3"])
        .arg(&plugin)
        .arg(&marker)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));

    let mut child = Command::new(binary("toolbridge"))
        .args(["--db", db.to_str().unwrap(), "server", "--listen", "127.0.0.1:0"])
        .env("TOOLBRIDGE_API_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().trim_end_matches('/').to_owned();
    std::thread::spawn(move || for _ in stderr.lines() {});
    let client = reqwest::Client::new();

    let runtimes: Value =
        client.get(format!("{base}/api/v1/runtimes")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert!(runtimes.to_string().contains("echo_py"), "{runtimes}");
    let agent = json!({
        "name": "echoer",
        "runtime": "echo_py",
        "runtime_config": {"greeting": "Hi", "tool": "echo", "arguments": {"message": "from the API"}},
        "mcp_servers": {"testbed": {"command": testbed()}},
    });
    let created = client.post(format!("{base}/api/v1/agents")).bearer_auth(TOKEN).json(&agent).send().await.unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    // The plugin's own validate_config answers through the API too.
    let mut bad = agent.clone();
    bad["name"] = json!("bad");
    bad["runtime_config"] = json!({"greeting": "Hi", "arguments": {}});
    let refused = client.post(format!("{base}/api/v1/agents")).bearer_auth(TOKEN).json(&bad).send().await.unwrap();
    assert_eq!(refused.status(), 422, "{}", refused.text().await.unwrap());

    let runs: Vec<_> = (0..20)
        .map(|i| {
            let request = client
                .post(format!("{base}/api/v1/executions"))
                .bearer_auth(TOKEN)
                .json(&json!({"agent": "echoer", "prompt": format!("n{i}")}));
            tokio::spawn(async move { (i, request.send().await.unwrap().json::<Value>().await.unwrap()) })
        })
        .collect();
    let mut ids = Vec::new();
    for run in runs {
        let (i, result) = run.await.unwrap();
        assert_eq!(result["success"], true, "{i}: {result}");
        assert_eq!(result["response"], format!("Hi, n{i}\nEcho: from the API"));
        assert_eq!(result["tool_execution_messages"].as_array().map(Vec::len), Some(1), "{result}");
        ids.push(result["execution_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(plugin_processes(&marker).len(), 1, "one plugin process served all 20");

    // The plugin's events and toolbridge's tool events, stored and replayed.
    let events = read_events(
        client.get(format!("{base}/api/v1/executions/{}/events", ids[0])).bearer_auth(TOKEN).send().await.unwrap(),
    )
    .await;
    let names: Vec<&str> = events.iter().map(|m| m.event.as_str()).collect();
    for expected in ["tool_start", "tool_complete", "content_chunk", "usage", "done", "result"] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }

    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !plugin_processes(&marker).is_empty() {
        assert!(Instant::now() < deadline, "plugin left running: {:?}", plugin_processes(&marker));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
