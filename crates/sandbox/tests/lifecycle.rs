//! Scenario: the process tree under the sandbox: nothing outlives the program, signals
//! and exit statuses pass through, stdio is the program's own, the environment is an
//! allow-list, and set-up failures are reported, never hung on.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    command, eventually, has_program, kill_all_with_arg, pids_with_arg, run, stdout, unique_sleep_arg, wait_output,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use toolbridge_sandbox::{
    HELPER_FAILURE_EXIT_CODE, HELPER_MESSAGE_PREFIX, Mechanism, SandboxError, SandboxPolicy, child_env, probe,
    sandboxed_command,
};

fn fallback(mut policy: SandboxPolicy) -> SandboxPolicy {
    policy.disable.push(Mechanism::PidNamespace);
    policy
}

/// A shell that starts a daemonised (`setsid`, backgrounded) sleeper, waits until it runs,
/// and exits.
fn daemonising_shell(marker: &std::path::Path, sleep_arg: &str) -> Vec<String> {
    let script = format!(
        "setsid sh -c 'echo running > {marker}; exec sleep {sleep_arg}' >/dev/null 2>&1 & \
         while [ ! -s {marker} ]; do sleep 0.01; done; echo started",
        marker = marker.display()
    );
    vec!["-c".into(), script]
}

fn assert_no_survivor(policy: &SandboxPolicy) {
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("marker");
    let sleep_arg = unique_sleep_arg();
    let mut policy = policy.clone();
    policy.write.push(dir.path().to_path_buf());
    let (command, _) = command(&policy, "sh", daemonising_shell(&marker, &sleep_arg));
    let output = run(command);
    assert_eq!(stdout(&output).trim(), "started", "{output:?}");
    assert!(marker.exists(), "the daemon never ran");
    let gone = eventually(Duration::from_secs(5), || pids_with_arg(&sleep_arg).is_empty());
    kill_all_with_arg(&sleep_arg);
    assert!(gone, "a daemonised descendant survived the program");
}

#[test]
fn daemonised_descendants_die_with_the_program_in_a_pid_namespace() {
    require!(probe().pid_namespace, "PID namespaces unavailable");
    // Control: the same shell outside any sandbox leaves its daemon running, so the
    // check below can fail.
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("marker");
    let sleep_arg = unique_sleep_arg();
    let output = run({
        let mut plain = Command::new("sh");
        plain.args(daemonising_shell(&marker, &sleep_arg));
        plain
    });
    assert_eq!(stdout(&output).trim(), "started");
    let survived = !pids_with_arg(&sleep_arg).is_empty();
    kill_all_with_arg(&sleep_arg);
    assert!(survived, "control: the unsandboxed daemon should outlive its shell");

    assert_no_survivor(&SandboxPolicy::preset("sh", &[]));
}

#[test]
fn daemonised_descendants_are_swept_in_the_subreaper_fallback() {
    let policy = fallback(SandboxPolicy::preset("sh", &[]));
    let (_, report) = command(&policy, "true", [""; 0]);
    assert!(report.subreaper_fallback && !report.pid_namespace, "{report:?}");
    assert_no_survivor(&policy);
}

fn assert_sigkill_of_helper_kills_program(policy: &SandboxPolicy) {
    let sleep_arg = unique_sleep_arg();
    let (mut command, _) = command(policy, "sleep", [&sleep_arg]);
    let mut helper = command.stdin(Stdio::null()).spawn().expect("spawn helper");
    assert!(eventually(Duration::from_secs(5), || !pids_with_arg(&sleep_arg).is_empty()), "program never started");
    helper.kill().expect("SIGKILL the helper");
    let _ = helper.wait();
    let gone = eventually(Duration::from_secs(5), || pids_with_arg(&sleep_arg).is_empty());
    kill_all_with_arg(&sleep_arg);
    assert!(gone, "the program outlived its SIGKILLed helper");
}

#[test]
fn sigkill_of_the_helper_kills_the_program() {
    require!(probe().pid_namespace, "PID namespaces unavailable");
    assert_sigkill_of_helper_kills_program(&SandboxPolicy::preset("sleep", &[]));
}

#[test]
fn sigkill_of_the_helper_kills_the_program_in_the_fallback() {
    assert_sigkill_of_helper_kills_program(&fallback(SandboxPolicy::preset("sleep", &[])));
}

#[test]
fn sigkill_of_the_helper_kills_grandchildren_in_a_pid_namespace() {
    require!(probe().pid_namespace, "PID namespaces unavailable");
    let (daemon, program) = (unique_sleep_arg(), unique_sleep_arg());
    let script = format!("setsid sleep {daemon} >/dev/null 2>&1 & exec sleep {program}");
    let (mut command, _) = command(&SandboxPolicy::preset("sh", &[]), "sh", ["-c", &script]);
    let mut helper = command.stdin(Stdio::null()).spawn().expect("spawn helper");
    let started = eventually(Duration::from_secs(5), || {
        !pids_with_arg(&daemon).is_empty() && !pids_with_arg(&program).is_empty()
    });
    helper.kill().expect("SIGKILL the helper");
    let _ = helper.wait();
    let gone =
        eventually(Duration::from_secs(5), || pids_with_arg(&daemon).is_empty() && pids_with_arg(&program).is_empty());
    kill_all_with_arg(&daemon);
    kill_all_with_arg(&program);
    assert!(started, "processes never started");
    assert!(gone, "a descendant outlived the SIGKILLed helper");
}

#[test]
fn sigterm_is_forwarded_and_statuses_pass_through() {
    for policy in [SandboxPolicy::preset("sleep", &[]), fallback(SandboxPolicy::preset("sleep", &[]))] {
        let sleep_arg = unique_sleep_arg();
        let (mut command, _) = command(&policy, "sleep", [&sleep_arg]);
        let helper = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        assert!(eventually(Duration::from_secs(5), || !pids_with_arg(&sleep_arg).is_empty()));
        kill(Pid::from_raw(i32::try_from(helper.id()).expect("pid")), Signal::SIGTERM).expect("SIGTERM");
        let output = wait_output(helper, Duration::from_secs(10));
        kill_all_with_arg(&sleep_arg);
        assert_eq!(output.status.code(), Some(128 + 15), "{policy:?}: {output:?}");
    }
    let (command, _) = command(&SandboxPolicy::preset("sh", &[]), "sh", ["-c", "exit 7"]);
    assert_eq!(run(command).status.code(), Some(7));
}

#[test]
fn stdio_passes_through_line_by_line() {
    require!(has_program("python3"), "python3 not installed");
    let script = "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)";
    let (mut command, _) = command(&SandboxPolicy::preset("python3", &[]), "python3", ["-c", script]);
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    // One request, one answer, before the next request: how an MCP server is driven.
    for request in ["{\"jsonrpc\":\"2.0\",\"id\":1}", "second line"] {
        writeln!(stdin, "{request}").expect("write request");
        stdin.flush().expect("flush");
        let mut answer = String::new();
        stdout.read_line(&mut answer).expect("read answer");
        assert_eq!(answer.trim_end(), request.to_uppercase());
    }
    drop(stdin);
    let output = wait_output(child, Duration::from_secs(10));
    assert!(output.status.success(), "{output:?}");
}

/// Environment variable set for the re-executed test process only.
const INNER: &str = "TOOLBRIDGE_SANDBOX_ENV_TEST_INNER";

#[test]
fn secrets_in_the_parent_environment_do_not_reach_the_child() {
    if std::env::var_os(INNER).is_none() {
        // Setting a variable in this process would need `unsafe`; run this test again in a
        // child process whose environment has the secret.
        let output = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "secrets_in_the_parent_environment_do_not_reach_the_child", "--nocapture"])
            .env(INNER, "1")
            .env("OPENAI_API_KEY", "sk-parent-secret")
            .output()
            .expect("re-run the test");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"), "the inner test did not run");
        return;
    }
    assert_eq!(std::env::var("OPENAI_API_KEY").as_deref(), Ok("sk-parent-secret"), "control: the parent has it");
    let show = |configured: &[(String, String)], inherit: bool| {
        let env = child_env(configured, inherit);
        let (command, _) = sandboxed_command(
            &SandboxPolicy::preset("sh", &[]),
            &common::helper(),
            "sh",
            ["-c", "echo \"key=${OPENAI_API_KEY:-unset} path=${PATH:+set}\""],
            &env,
            None,
        )
        .expect("command");
        stdout(&run(command)).trim().to_owned()
    };
    assert_eq!(show(&[], false), "key=unset path=set");
    assert_eq!(show(&[("OPENAI_API_KEY".into(), "sk-configured".into())], false), "key=sk-configured path=set");
    assert_eq!(show(&[], true), "key=sk-parent-secret path=set");
}

#[test]
fn required_sandbox_with_a_missing_mechanism_is_refused_clearly() {
    let mut policy = fallback(SandboxPolicy::preset("true", &[]));
    policy.required = true;
    let error = sandboxed_command(&policy, &common::helper(), "true", [""; 0], &[], None)
        .expect_err("a disabled mechanism is missing");
    assert!(matches!(&error, SandboxError::Unavailable { missing } if missing == &[Mechanism::PidNamespace]));
    let message = error.to_string();
    assert!(message.contains("pid_namespace") && message.contains("required"), "{message}");

    // The helper enforces it too when run directly.
    let output = run({
        let mut direct = Command::new(env!("CARGO_BIN_EXE_toolbridge-sandbox-exec"));
        direct.args(["--policy-json", &serde_json::to_string(&policy).expect("json"), "--", "true"]);
        direct
    });
    assert_eq!(output.status.code(), Some(i32::from(HELPER_FAILURE_EXIT_CODE)));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with(HELPER_MESSAGE_PREFIX) && stderr.contains("pid_namespace"), "{stderr}");
}

#[test]
fn start_up_failures_exit_with_the_helper_code_and_a_message() {
    let helper = env!("CARGO_BIN_EXE_toolbridge-sandbox-exec");
    let cases: [(&[&str], &str); 3] = [
        (&["--policy-json", "{\"reed\": []}", "--", "true"], "unknown field `reed`"),
        (&["--policy-json", "{}", "--", "/nonexistent/program"], "cannot run /nonexistent/program"),
        (&["--", "true"], "--policy-json is required"),
    ];
    for (args, expected) in cases {
        let output = run({
            let mut direct = Command::new(helper);
            direct.args(args);
            direct
        });
        assert_eq!(output.status.code(), Some(i32::from(HELPER_FAILURE_EXIT_CODE)), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn report_is_serialisable() {
    let (_, report) = command(&SandboxPolicy::preset("true", &[]), "true", [""; 0]);
    let json = serde_json::to_value(&report).expect("serialise");
    for key in ["landlock_fs", "landlock_net", "net_namespace", "pid_namespace", "subreaper_fallback", "not_enforced"] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
}

#[test]
fn the_program_has_no_capabilities() {
    require!(probe().pid_namespace && probe().mount_namespace, "no private /proc without PID and mount namespaces");
    let (command, _) = command(&SandboxPolicy::preset("grep", &[]), "grep", ["^Cap", "/proc/self/status"]);
    let output = run(command);
    let text = stdout(&output);
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        let line = text.lines().find(|l| l.starts_with(set)).unwrap_or_else(|| panic!("{set} missing: {output:?}"));
        assert!(line.ends_with("0000000000000000"), "{line}");
    }
}

/// Containment without confinement (what unsandboxed servers and skills run under): the
/// process may read outside anything a preset grants, but nothing it starts outlives it.
#[test]
fn containment_keeps_the_tree_without_confining() {
    let policy = SandboxPolicy::containment();
    let (_, report) = command(&policy, "true", [""; 0]);
    assert!(!report.confined && !report.landlock_fs && !report.net_namespace, "{report:?}");
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("note"), "readable").expect("write");
    let (command_, _) = command(&policy, "cat", [outside.path().join("note")]);
    assert_eq!(stdout(&run(command_)), "readable", "not confined");
    if probe().pid_namespace {
        assert_no_survivor(&policy);
    }
    assert_no_survivor(&fallback(policy));
}
