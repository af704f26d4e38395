//! Bad plugins get clear errors, never a hang or a panic: one test per way a plugin can be
//! wrong (tests/plugins/faulty.py has a mode for each), plus crashes and restarts.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use toolbridge_plugin::{NoTools, PluginCommand, PluginError, PluginHost, PluginOptions, PluginProcess, PluginRuntime};
use toolbridge_runtime::{FinishReason, ToolErrorType};

use common::*;

async fn start_error(command: PluginCommand, options: PluginOptions) -> PluginError {
    PluginProcess::start("bad", &command, &options).await.expect_err("the plugin must not start")
}

#[tokio::test]
async fn a_missing_command_is_named() {
    let error = start_error(PluginCommand::new("/no/such/plugin"), quick_options()).await;
    assert_eq!(
        error.to_string(),
        "plugin `bad`: command \"/no/such/plugin\" not found (check the path, or that it is on PATH)"
    );
    let error = start_error(echo_command().cwd("/no/such/dir"), quick_options()).await;
    assert_eq!(error.to_string(), "plugin `bad`: working directory /no/such/dir does not exist");
}

#[tokio::test]
async fn a_command_that_is_not_executable_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("plugin.py");
    std::fs::write(&script, "print('hi')\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = start_error(PluginCommand::new(&script), quick_options()).await;
    let text = error.to_string();
    assert!(text.contains("is not executable") && text.contains("python3"), "{text}");
}

#[tokio::test]
async fn a_plugin_that_exits_at_start_says_why() {
    let error = start_error(faulty_command("exit-at-start"), quick_options()).await;
    assert!(error.is_ended());
    assert_eq!(
        error.to_string(),
        "plugin `bad` stopped: it exited with status 3; last stderr: faulty: cannot start, giving up"
    );
}

#[tokio::test]
async fn garbage_on_stdout_is_quoted() {
    let error = start_error(faulty_command("garbage"), quick_options()).await;
    let text = error.to_string();
    assert!(text.starts_with("plugin `bad` stopped: it broke the protocol"), "{text}");
    assert!(text.contains("log to stderr"), "says what to do: {text}");
    assert!(text.contains(r#""hello from a stray print() in the plugin""#), "quotes the line: {text}");
}

#[tokio::test]
async fn another_protocol_version_is_refused() {
    let error = start_error(faulty_command("wrong-version"), quick_options()).await;
    assert!(matches!(error, PluginError::ProtocolVersion { ref found, .. } if found == "2"));
    assert!(error.to_string().contains(r#"speaks runtime plugin protocol version "2", toolbridge speaks version "1""#));
}

#[tokio::test]
async fn no_answer_to_initialize_times_out_and_the_process_is_killed() {
    let options = PluginOptions { initialize_timeout: Duration::from_millis(400), ..quick_options() };
    let started = Instant::now();
    let error = start_error(faulty_command("silent"), options).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(error, PluginError::InitializeTimeout { .. }), "{error}");
    assert!(error.to_string().contains("did not answer `initialize` within 400ms"), "{error}");
    assert_eq!(PluginOptions::default().initialize_timeout, Duration::from_secs(10), "the default stays 10 s");
}

#[tokio::test]
async fn an_execute_result_missing_a_field_names_it() {
    let (host, runtime) = runtime_for(faulty_command("missing-field"), quick_options(), Arc::new(NoTools)).await;
    let result = runtime.execute(&context("hello")).await;
    assert!(!result.success);
    assert_eq!(result.finish_reason, Some(FinishReason::Error));
    assert_eq!(
        result.error.as_deref(),
        Some("plugin `echo_py`: invalid `execute` result: missing field `finish_reason`")
    );
    assert!(host.pid().is_some(), "a bad answer does not end the process");
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_without_validate_config_relies_on_its_schema() {
    let (host, runtime) = runtime_for(faulty_command("no-validate"), quick_options(), Arc::new(NoTools)).await;
    let plugin = PluginRuntime::new(host.clone(), host.start().await.unwrap(), Arc::new(NoTools));
    plugin.check_config(Some(&json!({"greeting": ""}))).await.expect("-32601: no extra checks");
    assert!(plugin.check_config(Some(&json!({}))).await.is_err(), "the schema still applies");
    let result = runtime.execute(&context("hello")).await;
    assert!(result.success, "{result:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn answers_to_unknown_ids_are_ignored() {
    let (host, runtime) = runtime_for(faulty_command("unknown-id"), quick_options(), Arc::new(NoTools)).await;
    let pid = host.pid();
    for prompt in ["one", "two"] {
        let result = runtime.execute(&context(prompt)).await;
        assert!(result.success, "{result:?}");
    }
    assert_eq!(host.pid(), pid, "same process");
    host.shutdown().await;
}

#[tokio::test]
async fn a_request_from_the_plugin_is_refused_politely() {
    let (host, runtime) = runtime_for(faulty_command("wrong-request"), quick_options(), Arc::new(NoTools)).await;
    assert!(runtime.execute(&context("x")).await.success);
    host.shutdown().await;
}

#[tokio::test]
async fn a_line_over_16_mib_ends_the_process_with_a_clear_error() {
    let (host, runtime) = runtime_for(faulty_command("huge-line"), quick_options(), Arc::new(NoTools)).await;
    let pid = host.pid().unwrap();
    let result = runtime.execute(&context("x")).await;
    assert!(!result.success);
    let error = result.error.unwrap();
    assert!(
        error.starts_with(
            "plugin `echo_py` stopped: it wrote a message longer than 16777216 bytes on stdout (the limit for one \
             message)"
        ),
        "{error}"
    );
    assert!(group_gone_within(pid, Duration::from_secs(5)), "the process was killed");
    host.shutdown().await;
}

#[tokio::test]
async fn a_json_rpc_error_fails_the_execution_with_its_message() {
    let (host, runtime) = runtime_for(faulty_command("rpc-error"), quick_options(), Arc::new(NoTools)).await;
    let result = runtime.execute(&context("x")).await;
    assert!(!result.success);
    assert_eq!(result.finish_reason, Some(FinishReason::Error));
    assert_eq!(result.error.as_deref(), Some("the model refused to answer"));
    host.shutdown().await;
}

#[tokio::test]
async fn a_crash_fails_the_executions_in_flight_and_the_next_one_restarts_the_plugin() {
    let (host, runtime) = runtime_for(faulty_command("crash-on-prompt"), quick_options(), catalogue_tools()).await;
    let first_pid = host.pid().unwrap();
    let sleepy = tool_context("sleepy", json!({"greeting": "Hi", "tool": "sleep_ms", "arguments": {"ms": 20_000}}));
    let in_flight = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.execute(&sleepy).await }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;

    let crashed = runtime.execute(&context("crash")).await;
    let expected = "plugin `echo_py` stopped: it exited with status 7; last stderr: faulty: crashing on request";
    assert!(!crashed.success);
    assert_eq!(crashed.finish_reason, Some(FinishReason::Error));
    assert_eq!(crashed.error.as_deref(), Some(expected));
    let other = tokio::time::timeout(Duration::from_secs(5), in_flight).await.expect("no hang").unwrap();
    assert_eq!(other.error.as_deref(), Some(expected), "the execution in flight fails too");
    let log = other.tool_execution_messages.expect("its tool log is kept");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].tool, "testbed__sleep_ms");
    assert_eq!(log[0].error_type, Some(ToolErrorType::Cancelled), "the endpoint closed under the call: {log:?}");

    let next = runtime.execute(&context("hello")).await;
    assert!(next.success, "{next:?}");
    let second_pid = host.pid().unwrap();
    assert_ne!(first_pid, second_pid, "a fresh process");
    assert!(!alive(first_pid));
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_that_ignores_cancel_is_ended_cancelled_after_the_wait() {
    let options = PluginOptions { cancel_wait: Duration::from_millis(800), ..quick_options() };
    let (host, runtime) = runtime_for(faulty_command("ignore-cancel"), options, Arc::new(NoTools)).await;
    let context = context("forever");
    let id = context.execution_id.clone();
    let task = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.execute(&context).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    assert!(runtime.cancel(&id).await);
    let result = task.await.unwrap();
    let took = started.elapsed();
    assert_eq!(result.finish_reason, Some(FinishReason::Cancelled));
    assert!(took >= Duration::from_millis(700) && took < Duration::from_secs(3), "waited {took:?}");
    let error = result.error.unwrap();
    assert!(error.contains("did not answer within 800ms of the cancellation"), "{error}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_stubborn_plugin_and_its_children_are_killed_on_shutdown() {
    let (host, runtime) = runtime_for(faulty_command("stubborn"), quick_options(), Arc::new(NoTools)).await;
    assert!(runtime.execute(&context("x")).await.success);
    let pid = host.pid().unwrap();
    assert!(group_members(pid).len() >= 2, "the plugin and its grandchild: {:?}", group_members(pid));
    let started = Instant::now();
    host.shutdown().await;
    let took = started.elapsed();
    // shutdown answer (0.5 s) + stdin closed (0.5 s) + SIGTERM ignored (0.5 s), then SIGKILL.
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_secs(4), "took {took:?}");
    assert!(group_gone_within(pid, Duration::from_secs(2)), "left: {:?}", group_members(pid));
}

#[tokio::test]
async fn a_host_that_cannot_start_its_plugin_fails_each_execution_clearly() {
    let host = PluginHost::new("gone", PluginCommand::new("/no/such/plugin"), quick_options());
    let error = host.start().await.unwrap_err();
    assert!(error.to_string().contains("not found"), "{error}");
    assert!(host.process().await.is_err(), "and again, without a panic");
}

#[tokio::test]
async fn a_plugin_that_requires_a_model_never_sees_an_execution_without_one() {
    let (host, runtime) = runtime_for(faulty_command("requires-model"), quick_options(), Arc::new(NoTools)).await;
    let refused = runtime.execute(&context("x")).await;
    assert_eq!(
        refused.error.as_deref(),
        Some("invalid execution context: runtime `echo_py` requires a model: set model_id")
    );
    let accepted = runtime.execute(&context("x").model("openai:gpt-4o-mini")).await;
    assert!(accepted.success, "{accepted:?}");
    assert_eq!(accepted.model.as_deref(), Some("openai:gpt-4o-mini"));
    host.shutdown().await;
}
