//! examples/plugins/mcp_client_runtime.py: a plugin that reaches the tool endpoint with the
//! official MCP Python SDK (as LangChain/CrewAI adapters do), in the venv that
//! scripts/setup-python-plugins.sh makes.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use toolbridge_plugin::{PluginCommand, PluginRuntime};
use toolbridge_runtime::{EventCallback, ExecutionEvent, FinishReason, RuntimeExecutionContext};

use common::*;

/// The venv's python, or `None` (with the reason printed) when pip cannot reach the package
/// index at all; any other setup failure fails the test.
fn venv_python() -> Option<String> {
    static PYTHON: OnceLock<Option<String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let output = Command::new("bash")
                .arg(workspace().join("scripts/setup-python-plugins.sh"))
                .output()
                .expect("run scripts/setup-python-plugins.sh");
            if output.status.success() {
                return Some(String::from_utf8_lossy(&output.stdout).trim().to_owned());
            }
            let reachable = Command::new("python3")
                .args(["-m", "pip", "index", "versions", "mcp", "--disable-pip-version-check"])
                .output()
                .is_ok_and(|probe| probe.status.success());
            assert!(
                !reachable,
                "scripts/setup-python-plugins.sh failed although pip reaches the index:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            eprintln!("skipped: pip cannot reach the package index, so the `mcp` package cannot be installed");
            None
        })
        .clone()
}

fn mcp_command(python: &str) -> PluginCommand {
    PluginCommand::new(python).arg(workspace().join("examples/plugins/mcp_client_runtime.py").display().to_string())
}

#[tokio::test]
async fn the_sdk_client_lists_and_calls_the_catalogues_tools() {
    let Some(python) = venv_python() else { return };
    let tools = catalogue_tools();
    let (host, runtime) = runtime_for(mcp_command(&python), quick_options(), Arc::clone(&tools)).await;

    let info = host.start().await.unwrap();
    assert!(info.description().contains("MCP Python SDK"));
    let plugin = PluginRuntime::new(host.clone(), info, tools);
    plugin.check_config(None).await.expect("no validate_config: the schema alone decides");
    assert!(plugin.check_config(Some(&json!({"model": "x"}))).await.is_err());

    let listed = runtime.execute(&with_testbed(RuntimeExecutionContext::new("what can you do?"))).await;
    assert!(listed.success, "{listed:?}");
    let names: Vec<&str> = listed.response.strip_prefix("tools: ").expect("a tool list").split(", ").collect();
    for tool in ["testbed__add", "testbed__echo", "testbed__sleep_ms"] {
        assert!(names.contains(&tool), "{tool} offered: {names:?}");
    }

    let context = tool_context("x", json!({"tool": "testbed__echo", "arguments": {"message": "via the SDK"}}));
    let called = runtime.execute(&context).await;
    assert!(called.success, "{called:?}");
    assert_eq!(called.response, "testbed__echo: Echo: via the SDK");
    let log = called.tool_execution_messages.expect("toolbridge's log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].output, "Echo: via the SDK");

    let events = Arc::new(Mutex::new(Vec::new()));
    let callback = {
        let events = Arc::clone(&events);
        EventCallback::new(move |event: &ExecutionEvent| events.lock().unwrap().push(event.name()))
    };
    let items: Vec<_> = runtime
        .stream_execute(
            with_testbed(RuntimeExecutionContext::new(r#"/tool testbed__add {"a": 1, "b": 2}"#)),
            Some(callback),
        )
        .collect()
        .await;
    assert_eq!(items.last().unwrap().response, "testbed__add: 3");
    assert_eq!(*events.lock().unwrap(), ["tool_start", "tool_complete", "content_chunk", "usage", "done"]);
    host.shutdown().await;
}

#[tokio::test]
async fn cancelling_abandons_the_sdk_call() {
    let Some(python) = venv_python() else { return };
    let (host, runtime) = runtime_for(mcp_command(&python), quick_options(), catalogue_tools()).await;
    let context = with_testbed(RuntimeExecutionContext::new(r#"/tool testbed__sleep_ms {"ms": 30000}"#));
    let id = context.execution_id.clone();
    let task = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.execute(&context).await }
    });
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let started = Instant::now();
    assert!(runtime.cancel(&id).await);
    let result = task.await.unwrap();
    assert_eq!(result.finish_reason, Some(FinishReason::Cancelled), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    host.shutdown().await;
}
