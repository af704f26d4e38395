//! Built-in skills: real files in temporary directories, real processes, called through the
//! catalogue as a model's calls are.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use toolbridge::config::parse_skills;
use toolbridge::{
    CallLog, CallOptions, Catalogue, CatalogueBuilder, Pool, RawArguments, ToolCallRecord, ToolSource, build_skill,
    preset,
};

/// A catalogue holding one skill named `s`.
async fn skill(kind: &str, configuration: Value) -> Catalogue {
    let skills = parse_skills(&json!([{"name": "s", "type": kind, "configuration": configuration}]), "test").unwrap();
    CatalogueBuilder::new(Pool::default()).skills(skills).build().await.unwrap()
}

/// What a call gave back: its text, or its error type.
#[derive(Debug)]
struct Outcome(ToolCallRecord);

impl Outcome {
    fn ok(self) -> ToolCallRecord {
        assert!(self.0.success || self.0.error_type == Some(toolbridge::ToolErrorType::ToolError), "{:?}", self.0);
        self.0
    }

    fn err(self) -> &'static str {
        assert!(!self.0.success, "{:?}", self.0);
        self.0.error_type.map_or("none", toolbridge::ToolErrorType::as_str)
    }
}

async fn call_with(s: &Catalogue, tool: &str, args: Value, cancel: CancellationToken) -> Outcome {
    let options = CallOptions { cancel: Some(cancel), ..CallOptions::default() };
    Outcome(s.call(&CallLog::new(), &format!("s__{tool}"), RawArguments::Value(&args), "id", &options).await)
}

async fn call(s: &Catalogue, tool: &str, args: Value) -> Outcome {
    call_with(s, tool, args, CancellationToken::new()).await
}

#[tokio::test]
async fn file_system_stays_inside_base_dir() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
    let base = tempfile::tempdir().unwrap();
    std::fs::write(base.path().join("a.txt"), "alpha").unwrap();
    std::os::unix::fs::symlink(outside.path(), base.path().join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), base.path().join("link.txt")).unwrap();
    let fs = skill("file_system", json!({"base_dir": base.path()})).await;
    assert_eq!(call(&fs, "read_file", json!({"path": "a.txt"})).await.ok().output, "alpha");
    for path in ["../secret.txt", "/etc/passwd", "escape/secret.txt", "link.txt", "sub/../../x"] {
        let error = call(&fs, "read_file", json!({"path": path})).await.err();
        assert_eq!(error, "outside_base_dir", "{path}");
    }
    let error = call(&fs, "save_file", json!({"path": "escape/new.txt", "content": "x"})).await.err();
    assert_eq!(error, "outside_base_dir");
    assert!(!outside.path().join("new.txt").exists());
    call(&fs, "save_file", json!({"path": "sub/dir/b.txt", "content": "beta"})).await.ok();
    assert_eq!(std::fs::read_to_string(base.path().join("sub/dir/b.txt")).unwrap(), "beta");
    let listing = call(&fs, "list_files", json!({"recursive": true})).await.ok().output;
    assert!(listing.contains("a.txt") && listing.contains("sub/dir/b.txt"), "{listing}");
    assert!(!listing.contains("secret"), "symlinks out of the base are not followed: {listing}");
    let found = call(&fs, "search_files", json!({"pattern": "*.txt"})).await.ok().output;
    assert!(found.contains("a.txt") && !found.contains("secret"), "{found}");
    let found = call(&fs, "search_files", json!({"pattern": "bet", "content": true})).await.ok().output;
    assert!(found.contains("sub/dir/b.txt:1"), "{found}");
}

#[tokio::test]
async fn file_system_caps_and_switches() {
    let base = tempfile::tempdir().unwrap();
    std::fs::write(base.path().join("big.txt"), "x".repeat(5000)).unwrap();
    let fs = skill(
        "file_system",
        json!({"base_dir": base.path(), "max_read_bytes": 1000, "max_write_bytes": 10, "enable_search_files": false}),
    )
    .await;
    let read = call(&fs, "read_file", json!({"path": "big.txt"})).await.ok().output;
    assert!(read.contains("1000 of 5000 bytes shown"), "{}", &read[read.len() - 60..]);
    assert_eq!(call(&fs, "save_file", json!({"path": "c.txt", "content": "01234567890"})).await.err(), "policy_denied");
    assert!(fs.get("s__search_files").is_none());
    assert_eq!(call(&fs, "search_files", json!({"pattern": "x"})).await.err(), "unknown_tool");
    let ro = skill("file_system", json!({"base_dir": base.path(), "enable_save_file": false})).await;
    assert_eq!(call(&ro, "save_file", json!({"path": "d.txt", "content": "x"})).await.err(), "unknown_tool");
}

#[tokio::test]
async fn shell_blocks_smuggled_commands() {
    let base = tempfile::tempdir().unwrap();
    std::fs::write(base.path().join("x"), "keep me").unwrap();
    let shell = skill("shell", json!({"base_dir": base.path(), "blocked_commands": ["rm"]})).await;
    for line in [
        "rm x",
        "ls; rm x",
        "ls && rm x",
        "echo $(rm x)",
        "echo `rm x`",
        "env rm x",
        "/bin/rm x",
        "'r''m' x",
        "sh -c \"rm x\"",
        "X=1 rm x",
        "ls\nrm x",
        "find . -name x -exec rm {} ;",
        "eval rm x",
    ] {
        let error = call(&shell, "run_command", json!({"command": line})).await.err();
        assert_eq!(error, "policy_denied", "{line:?} was not refused");
    }
    assert!(base.path().join("x").exists(), "the file survived every attempt");
    let out = call(&shell, "run_command", json!({"command": "cat x"})).await.ok();
    assert!(out.output.starts_with("keep me") && out.success, "{}", out.output);
    let allowed = skill("shell", json!({"base_dir": base.path(), "allowed_commands": ["ls", "echo"]})).await;
    let out = call(&allowed, "run_command", json!({"program": "echo", "args": ["hi", "|", "ls"]})).await.ok();
    assert_eq!(out.output, "hi | ls\nexit code 0", "an argv, not a shell line");
    assert_eq!(
        call(&allowed, "run_command", json!({"program": "cat", "args": ["x"]})).await.err(),
        "invalid_arguments"
    );
    let failed = call(&allowed, "run_command", json!({"program": "ls", "args": ["/no/such/dir"]})).await.ok();
    assert!(!failed.success && failed.output.contains("exit code"), "{}", failed.output);
}

/// The attack on the release build: with `allowed_commands`, a leading redirect passed as
/// the allowed command and the shell ran the next word. There is no shell any more.
#[tokio::test]
async fn allowed_commands_cannot_be_smuggled_past() {
    let base = tempfile::tempdir().unwrap();
    let victim = base.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    let shell = skill("shell", json!({"base_dir": base.path(), "allowed_commands": ["ls", "cat", "echo"]})).await;
    for program in ["</bin/ls rm victim", "</bin/ls sh -c \"id\"", "rm", "sh", "/bin/ls"] {
        let outcome = call(&shell, "run_command", json!({"program": program, "args": ["victim"]})).await.err();
        assert_eq!(outcome, "invalid_arguments", "{program:?} was not refused");
    }
    // What was a write outside base_dir through an allowed echo is only an argument now.
    let out = call(&shell, "run_command", json!({"program": "echo", "args": ["x", ">", "/tmp/owned"]})).await.ok();
    assert_eq!(out.output, "x > /tmp/owned\nexit code 0");
    assert!(!std::path::Path::new("/tmp/owned").exists());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    // A shell line is not even the tool's shape.
    let outcome = call(&shell, "run_command", json!({"command": "</bin/ls rm victim"})).await.err();
    assert_eq!(outcome, "invalid_arguments");
    assert!(victim.exists());
}

#[tokio::test]
async fn shell_timeout_kills_the_whole_group() {
    let base = tempfile::tempdir().unwrap();
    let shell = skill("shell", json!({"base_dir": base.path(), "timeout": 0.5})).await;
    // A background child and a `setsid` one, each marked by a unique sleep length.
    let (background, detached) = (unique_seconds(), unique_seconds());
    let command = format!("sleep {background} & setsid sleep {detached} & sleep 100");
    let started = Instant::now();
    let error = call(&shell, "run_command", json!({"command": command})).await.err();
    assert_eq!(error, "timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
    for marker in [background, detached] {
        let deadline = Instant::now() + Duration::from_secs(3);
        while !processes_with_arg(&marker).is_empty() {
            assert!(Instant::now() < deadline, "a child (sleep {marker}) survived the timeout");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A sleep length no other process uses.
fn unique_seconds() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}.{:03}{n}", 1000 + std::process::id() % 1000, n)
}

/// Live processes whose command line has `arg`.
fn processes_with_arg(arg: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| !is_zombie(*pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|line| line.split(|b| *b == 0).any(|part| part == arg.as_bytes()))
        })
        .collect()
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
        .unwrap_or(true)
}

#[tokio::test]
async fn shell_output_cap_and_cancel() {
    let base = tempfile::tempdir().unwrap();
    let shell = skill("shell", json!({"base_dir": base.path(), "max_output_bytes": 100})).await;
    let out = call(&shell, "run_command", json!({"command": "yes | head -c 100000"})).await.ok();
    assert!(out.output.contains("[output truncated: 100 of 100000 bytes shown]\nexit code 0"), "{}", out.output);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let error = call_with(&shell, "run_command", json!({"command": "sleep 30"}), cancel).await.err();
    assert_eq!(error, "cancelled");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn python_runs_and_times_out() {
    let base = tempfile::tempdir().unwrap();
    let python = skill("python", json!({"base_dir": base.path(), "timeout": 1})).await;
    let out = call(&python, "run_python", json!({"code": "print(2+3)"})).await.ok();
    assert_eq!(out.output, "5\nexit code 0");
    assert_eq!(call(&python, "run_python", json!({"code": "import time; time.sleep(30)"})).await.err(), "timeout");
    let failed = call(&python, "run_python", json!({"code": "raise SystemExit(3)"})).await.ok();
    assert!(!failed.success && failed.output.ends_with("exit code 3"));
}

#[tokio::test]
async fn file_generation_writes_valid_files() {
    let out = tempfile::tempdir().unwrap();
    let generator = skill("file_generation", json!({"output_dir": out.path()})).await;
    call(&generator, "generate_json", json!({"filename": "data", "data": {"a": [1, 2]}})).await.ok();
    let parsed: Value = serde_json::from_str(&std::fs::read_to_string(out.path().join("data.json")).unwrap()).unwrap();
    assert_eq!(parsed, json!({"a": [1, 2]}));
    call(
        &generator,
        "generate_csv",
        json!({"filename": "t.csv", "headers": ["name", "note"], "rows": [["a,b", "say \"hi\"\nthen"], ["c", 3]]}),
    )
    .await
    .ok();
    let csv = std::fs::read_to_string(out.path().join("t.csv")).unwrap();
    assert_eq!(csv, "name,note\r\n\"a,b\",\"say \"\"hi\"\"\nthen\"\r\nc,3\r\n");
    assert_eq!(
        call(&generator, "generate_text", json!({"filename": "../x", "content": "no"})).await.err(),
        "outside_base_dir"
    );
    assert_eq!(
        call(&generator, "generate_csv", json!({"filename": "bad", "headers": ["a"], "rows": [[1, 2]]})).await.err(),
        "invalid_arguments"
    );
}

#[tokio::test]
async fn sleep_is_bounded_and_cancellable() {
    let sleep = skill("sleep", json!({"max_seconds": 2})).await;
    assert_eq!(call(&sleep, "sleep", json!({"seconds": 5})).await.err(), "invalid_arguments");
    let cancel = CancellationToken::new();
    cancel.cancel();
    assert_eq!(call_with(&sleep, "sleep", json!({"seconds": 1}), cancel).await.err(), "cancelled");
    assert_eq!(call(&sleep, "sleep", json!({"seconds": 0.01})).await.ok().output, "slept 0.01 s");
}

#[test]
fn config_errors_name_the_skill_and_field() {
    let err = parse_skills(&json!([{"name": "fs", "type": "file_sytem"}]), "skills.json").unwrap_err().to_string();
    assert!(err.contains("skills.json") && err.contains("\"fs\"") && err.contains("file_sytem"), "{err}");
    let err = parse_skills(
        &json!([{"name": "fs", "type": "file_system", "configuration": {"base_dir": "/tmp", "enable_reed_file": true}}]),
        "skills.json",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("enable_reed_file") && err.contains("\"fs\""), "{err}");
    let config = parse_skills(&json!([{"name": "fs", "type": "file_system", "configuration": {}}]), "x").unwrap();
    let err = build_skill(&config[0]).unwrap_err().to_string();
    assert!(err.contains("base_dir") && err.contains("\"fs\""), "{err}");
    let parsed = parse_skills(&json!({"skills": [{"name": "z", "type": "sleep", "enabled": false}]}), "x").unwrap();
    assert!(!parsed[0].enabled);
}

#[tokio::test]
async fn presets_and_schemas() {
    let base = tempfile::tempdir().unwrap();
    for name in ["read_only", "full_access", "sandboxed"] {
        for config in preset(name, base.path()).unwrap() {
            let skill = build_skill(&config).unwrap();
            for tool in skill.list_tools().await.unwrap() {
                assert_eq!(tool.input_schema["type"], "object", "{name}/{}", tool.name);
                jsonschema::validator_for(&serde_json::Value::Object((*tool.input_schema).clone())).unwrap();
            }
        }
    }
    assert!(preset("nope", base.path()).is_none());
}
