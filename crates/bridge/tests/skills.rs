//! Built-in skills: real files in temporary directories, real processes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use toolbridge::skills::{SkillConfig, SkillKind, build_skill, parse_skills, preset};

fn skill(kind: SkillKind, configuration: Value) -> std::sync::Arc<dyn toolbridge::skills::Skill> {
    build_skill(&SkillConfig { name: "s".into(), kind, configuration, enabled: true }).unwrap()
}

async fn call(
    s: &std::sync::Arc<dyn toolbridge::skills::Skill>,
    tool: &str,
    args: Value,
) -> Result<toolbridge::skills::SkillOutput, toolbridge::skills::SkillError> {
    s.call(tool, args, CancellationToken::new()).await
}

#[tokio::test]
async fn file_system_stays_inside_base_dir() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
    let base = tempfile::tempdir().unwrap();
    std::fs::write(base.path().join("a.txt"), "alpha").unwrap();
    std::os::unix::fs::symlink(outside.path(), base.path().join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), base.path().join("link.txt")).unwrap();
    let fs = skill(SkillKind::FileSystem, json!({"base_dir": base.path()}));
    assert_eq!(call(&fs, "read_file", json!({"path": "a.txt"})).await.unwrap().text, "alpha");
    for path in ["../secret.txt", "/etc/passwd", "escape/secret.txt", "link.txt", "sub/../../x"] {
        let error = call(&fs, "read_file", json!({"path": path})).await.unwrap_err();
        assert_eq!(error.kind(), "policy_denied", "{path}: {error}");
    }
    let error = call(&fs, "save_file", json!({"path": "escape/new.txt", "content": "x"})).await.unwrap_err();
    assert_eq!(error.kind(), "policy_denied");
    assert!(!outside.path().join("new.txt").exists());
    call(&fs, "save_file", json!({"path": "sub/dir/b.txt", "content": "beta"})).await.unwrap();
    assert_eq!(std::fs::read_to_string(base.path().join("sub/dir/b.txt")).unwrap(), "beta");
    let listing = call(&fs, "list_files", json!({"recursive": true})).await.unwrap().text;
    assert!(listing.contains("a.txt") && listing.contains("sub/dir/b.txt"), "{listing}");
    assert!(!listing.contains("secret"), "symlinks out of the base are not followed: {listing}");
    let found = call(&fs, "search_files", json!({"pattern": "*.txt"})).await.unwrap().text;
    assert!(found.contains("a.txt") && !found.contains("secret"), "{found}");
    let found = call(&fs, "search_files", json!({"pattern": "bet", "content": true})).await.unwrap().text;
    assert!(found.contains("sub/dir/b.txt:1"), "{found}");
}

#[tokio::test]
async fn file_system_caps_and_switches() {
    let base = tempfile::tempdir().unwrap();
    std::fs::write(base.path().join("big.txt"), "x".repeat(5000)).unwrap();
    let fs = skill(
        SkillKind::FileSystem,
        json!({"base_dir": base.path(), "max_read_bytes": 1000, "max_write_bytes": 10, "enable_search_files": false}),
    );
    let read = call(&fs, "read_file", json!({"path": "big.txt"})).await.unwrap().text;
    assert!(read.contains("1000 of 5000 bytes shown"), "{}", &read[read.len() - 60..]);
    assert_eq!(
        call(&fs, "save_file", json!({"path": "c.txt", "content": "01234567890"})).await.unwrap_err().kind(),
        "policy_denied"
    );
    assert!(!fs.tools().iter().any(|t| t.name == "search_files"));
    assert_eq!(call(&fs, "search_files", json!({"pattern": "x"})).await.unwrap_err().kind(), "unknown_tool");
    let ro = skill(SkillKind::FileSystem, json!({"base_dir": base.path(), "enable_save_file": false}));
    assert_eq!(
        call(&ro, "save_file", json!({"path": "d.txt", "content": "x"})).await.unwrap_err().kind(),
        "unknown_tool"
    );
}

#[tokio::test]
async fn shell_blocks_smuggled_commands() {
    let base = tempfile::tempdir().unwrap();
    std::fs::write(base.path().join("x"), "keep me").unwrap();
    let shell = skill(SkillKind::Shell, json!({"base_dir": base.path(), "blocked_commands": ["rm"]}));
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
        let error = call(&shell, "run_command", json!({"command": line})).await.unwrap_err();
        assert_eq!(error.kind(), "policy_denied", "{line:?} was not refused: {error}");
    }
    assert!(base.path().join("x").exists(), "the file survived every attempt");
    let out = call(&shell, "run_command", json!({"command": "cat x"})).await.unwrap();
    assert!(out.text.starts_with("keep me") && !out.is_error, "{}", out.text);
    let allowed = skill(SkillKind::Shell, json!({"base_dir": base.path(), "allowed_commands": ["ls", "echo"]}));
    assert!(call(&allowed, "run_command", json!({"command": "echo hi | ls"})).await.is_ok());
    assert_eq!(
        call(&allowed, "run_command", json!({"command": "echo hi | cat"})).await.unwrap_err().kind(),
        "policy_denied"
    );
    let failed = call(&allowed, "run_command", json!({"command": "ls /no/such/dir"})).await.unwrap();
    assert!(failed.is_error && failed.text.contains("exit code"), "{}", failed.text);
}

#[tokio::test]
async fn shell_timeout_kills_the_whole_group() {
    let base = tempfile::tempdir().unwrap();
    let shell = skill(SkillKind::Shell, json!({"base_dir": base.path(), "timeout": 0.5}));
    let marker = base.path().join("pids");
    let command = format!("sleep 100 & echo $! > {}; sleep 100", marker.display());
    let started = Instant::now();
    let error = call(&shell, "run_command", json!({"command": command})).await.unwrap_err();
    assert_eq!(error.kind(), "timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
    let pid: i32 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok() && !is_zombie(pid) {
        assert!(Instant::now() < deadline, "background child {pid} survived the timeout");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
        .unwrap_or(true)
}

#[tokio::test]
async fn shell_output_cap_and_cancel() {
    let base = tempfile::tempdir().unwrap();
    let shell = skill(SkillKind::Shell, json!({"base_dir": base.path(), "max_output_bytes": 100}));
    let out = call(&shell, "run_command", json!({"command": "yes | head -c 100000"})).await.unwrap();
    assert!(out.text.contains("[output truncated: 100 of 100000 bytes shown]"), "{}", out.text);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let error = shell.call("run_command", json!({"command": "sleep 30"}), cancel).await.unwrap_err();
    assert_eq!(error.kind(), "cancelled");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn python_runs_and_times_out() {
    let base = tempfile::tempdir().unwrap();
    let python = skill(SkillKind::Python, json!({"base_dir": base.path(), "timeout": 1}));
    let out = call(&python, "run_python", json!({"code": "print(2+3)"})).await.unwrap();
    assert_eq!(out.text, "5\nexit code 0");
    assert_eq!(
        call(&python, "run_python", json!({"code": "import time; time.sleep(30)"})).await.unwrap_err().kind(),
        "timeout"
    );
    let failed = call(&python, "run_python", json!({"code": "raise SystemExit(3)"})).await.unwrap();
    assert!(failed.is_error && failed.text.ends_with("exit code 3"));
}

#[tokio::test]
async fn file_generation_writes_valid_files() {
    let out = tempfile::tempdir().unwrap();
    let generator = skill(SkillKind::FileGeneration, json!({"output_dir": out.path()}));
    call(&generator, "generate_json", json!({"filename": "data", "data": {"a": [1, 2]}})).await.unwrap();
    let parsed: Value = serde_json::from_str(&std::fs::read_to_string(out.path().join("data.json")).unwrap()).unwrap();
    assert_eq!(parsed, json!({"a": [1, 2]}));
    call(
        &generator,
        "generate_csv",
        json!({"filename": "t.csv", "headers": ["name", "note"], "rows": [["a,b", "say \"hi\"\nthen"], ["c", 3]]}),
    )
    .await
    .unwrap();
    let csv = std::fs::read_to_string(out.path().join("t.csv")).unwrap();
    assert_eq!(csv, "name,note\r\n\"a,b\",\"say \"\"hi\"\"\nthen\"\r\nc,3\r\n");
    assert_eq!(
        call(&generator, "generate_text", json!({"filename": "../x", "content": "no"})).await.unwrap_err().kind(),
        "policy_denied"
    );
    assert_eq!(
        call(&generator, "generate_csv", json!({"filename": "bad", "headers": ["a"], "rows": [[1, 2]]}))
            .await
            .unwrap_err()
            .kind(),
        "invalid_arguments"
    );
}

#[tokio::test]
async fn sleep_is_bounded_and_cancellable() {
    let sleep = skill(SkillKind::Sleep, json!({"max_seconds": 2}));
    assert_eq!(call(&sleep, "sleep", json!({"seconds": 5})).await.unwrap_err().kind(), "invalid_arguments");
    let cancel = CancellationToken::new();
    cancel.cancel();
    assert_eq!(sleep.call("sleep", json!({"seconds": 1}), cancel).await.unwrap_err().kind(), "cancelled");
    assert_eq!(call(&sleep, "sleep", json!({"seconds": 0.01})).await.unwrap().text, "slept 0.01 s");
}

#[test]
fn config_errors_name_the_skill_and_field() {
    let err = parse_skills(&json!([{"name": "fs", "type": "file_sytem"}]), "skills.json").unwrap_err().to_string();
    assert!(err.contains("skills.json") && err.contains("\"fs\"") && err.contains("file_sytem"), "{err}");
    let err = build_skill(&SkillConfig {
        name: "fs".into(),
        kind: SkillKind::FileSystem,
        configuration: json!({"base_dir": "/tmp", "enable_reed_file": true}),
        enabled: true,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("enable_reed_file"), "{err}");
    let err = build_skill(&SkillConfig {
        name: "fs".into(),
        kind: SkillKind::FileSystem,
        configuration: json!({}),
        enabled: true,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("base_dir"), "{err}");
    let parsed = parse_skills(&json!({"skills": [{"name": "z", "type": "sleep", "enabled": false}]}), "x").unwrap();
    assert!(!parsed[0].enabled);
}

#[test]
fn presets_and_schemas() {
    let base = tempfile::tempdir().unwrap();
    for name in ["read_only", "full_access", "sandboxed"] {
        for config in preset(name, base.path()).unwrap() {
            let skill = build_skill(&config).unwrap();
            for tool in skill.tools() {
                assert_eq!(tool.input_schema["type"], "object", "{name}/{}", tool.name);
                jsonschema::validator_for(&tool.input_schema).unwrap();
            }
        }
    }
    assert!(preset("nope", base.path()).is_none());
}
