//! Shared helpers of the CLI tests (cli, lifecycle, secrets): an isolated store per test, the built
//! binaries, processes found by a marker in /proc, signals and waits.

#![allow(dead_code, unused_imports)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant, SystemTime};

use assert_cmd::cargo::CommandCargoExt;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Harness (a trimmed copy of tests/cli.rs's, plus /proc helpers)
// ---------------------------------------------------------------------------------------------

pub(crate) fn root() -> PathBuf {
    toolbridge_test_support::workspace()
}

pub(crate) fn testbed() -> PathBuf {
    toolbridge_test_support::binary("testbed-mcp")
}

/// The workspace's binaries are built by the test script; a test run on its own builds them.
pub(crate) fn ensure_testbed() {
    let _ = testbed();
}

/// One isolated store (`TOOLBRIDGE_DB` in its own directory) and a directory for config files.
pub(crate) struct Env {
    db: tempfile::TempDir,
    files: tempfile::TempDir,
}

impl Env {
    pub(crate) fn new() -> Self {
        ensure_testbed();
        Self { db: tempfile::tempdir().unwrap(), files: tempfile::tempdir().unwrap() }
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut command = self.bare();
        command.arg("--color").arg("never").args(args);
        command
    }

    /// `toolbridge` without arguments: the environment only (to choose `--color` yourself).
    pub(crate) fn bare(&self) -> Command {
        let mut command = Command::cargo_bin("toolbridge").unwrap();
        command
            .current_dir(root())
            .env("TOOLBRIDGE_DB", self.db.path().join("tb.db"))
            .env("XDG_CONFIG_HOME", self.files.path().join("xdg-config"))
            .env_remove("RUST_LOG")
            .env_remove("TOOLBRIDGE_MODEL")
            .env_remove("NO_COLOR")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("ANTHROPIC_BASE_URL");
        command
    }

    pub(crate) fn output(mut command: Command) -> (i32, String, String) {
        let output = command.output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    pub(crate) fn run(&self, args: &[&str]) -> (i32, String, String) {
        Self::output(self.cmd(args))
    }

    pub(crate) fn file(&self, name: &str, content: &str) -> String {
        let path = self.files.path().join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// The directory of the test's files.
    pub(crate) fn dir(&self) -> &Path {
        self.files.path()
    }

    /// The user-level configuration directory (`$XDG_CONFIG_HOME`) the commands see.
    pub(crate) fn xdg_config(&self) -> PathBuf {
        self.files.path().join("xdg-config")
    }

    /// `toolbridge ARGS` in a pseudo-terminal (stdin, stdout and stderr all a terminal), with
    /// colours as a terminal gets them (unless ARGS say `--color`).
    pub(crate) fn pty(&self, args: &[&str], envs: &[(&str, &str)]) -> rexpect::session::PtySession {
        let mut command = self.bare();
        command.args(args).env("TERM", "xterm-256color");
        for (key, value) in envs {
            command.env(key, value);
        }
        rexpect::session::spawn_command(command, Some(30_000)).unwrap()
    }

    /// `toolbridge ARGS` with `stdin` as its standard input.
    pub(crate) fn run_with_stdin(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        let mut command = self.cmd(args);
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// A scripted model (`scripted:FILE`) replaying `turns`.
    pub(crate) fn model(&self, name: &str, turns: &Value) -> String {
        format!("scripted:{}", self.file(name, &turns.to_string()))
    }

    /// An MCP config file with the testbed server (`testbed`) and more servers.
    pub(crate) fn mcp_config(&self, name: &str, more: &Value) -> String {
        let mut servers = json!({"testbed": {"command": testbed()}});
        if let (Some(servers), Some(more)) = (servers.as_object_mut(), more.as_object()) {
            servers.extend(more.clone());
        }
        self.file(name, &json!({"mcpServers": servers}).to_string())
    }

    /// An agent config file named after `marker` (so the `toolbridge` command line carries it)
    /// with a scripted model making `calls` one turn each, the testbed MCP server started with
    /// `--name marker`, and a `wait__sleep` skill.
    pub(crate) fn agent(&self, marker: &str, calls: &[(&str, Value)]) -> String {
        let mut turns: Vec<Value> = calls
            .iter()
            .map(|(name, arguments)| json!({"tool_calls": [{"name": name, "arguments": arguments}]}))
            .collect();
        turns.push(json!({"content": "never"}));
        let transcript = self.file(&format!("{marker}-transcript.json"), &Value::Array(turns).to_string());
        let agent = json!({
            "name": "lifecycle",
            "model_id": format!("scripted:{transcript}"),
            "mcp_servers": {"testbed": {"command": testbed(), "args": ["--name", marker]}},
            "skills": [{"name": "wait", "type": "sleep", "configuration": {"max_seconds": 30}, "enabled": true}],
        });
        self.file(&format!("{marker}.json"), &agent.to_string())
    }

    pub(crate) fn executions(&self) -> Vec<Value> {
        let (code, out, err) = self.run(&["executions", "list", "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    }

    pub(crate) fn show(&self, id: &str) -> (String, Value) {
        let (code, out, err) = self.run(&["executions", "show", id, "--json"]);
        assert_eq!(code, 0, "{err}");
        let value = serde_json::from_str(&out).unwrap();
        (out, value)
    }

    /// The database file.
    pub(crate) fn db_path(&self) -> std::path::PathBuf {
        self.db.path().join("tb.db")
    }

    /// The raw bytes of the store: the database and its WAL/SHM files.
    pub(crate) fn store_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.db.path()).unwrap().flatten() {
            bytes.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
        bytes
    }
}

/// The exit status of the program in a pseudo-terminal session (after its end of output).
pub(crate) fn pty_exit_code(session: &rexpect::session::PtySession) -> Option<i32> {
    // `Exited(Pid(123), 2)`: rexpect's nix is not ours, so its type is read through Debug.
    let status = format!("{:?}", session.process().wait().ok()?);
    status.strip_prefix("Exited(")?.rsplit_once(", ")?.1.strip_suffix(')')?.parse().ok()
}

pub(crate) fn marker(test: &str) -> String {
    format!("lc-{test}-{}", std::process::id())
}

/// (state, ppid) of a process, from /proc; `None` once it is gone.
pub(crate) fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = text.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Running or sleeping: not gone, not a zombie (orphans' zombies may linger under a PID 1 that
/// does not reap).
pub(crate) fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

pub(crate) fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default()
}

pub(crate) fn pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .collect()
}

/// Live processes whose command line holds `marker` (toolbridge itself and its servers).
pub(crate) fn processes_with(marker: &str) -> Vec<i32> {
    pids().into_iter().filter(|&pid| cmdline(pid).contains(marker) && alive(pid)).collect()
}

/// Live testbed servers started with `--name marker` (the server itself, not the sandbox
/// helper that launched it, whose command line names it too).
pub(crate) fn servers(marker: &str) -> Vec<i32> {
    processes_with(marker)
        .into_iter()
        .filter(|&pid| cmdline(pid).split_whitespace().next().is_some_and(|program| program.ends_with("testbed-mcp")))
        .collect()
}

pub(crate) fn children_of(parent: i32) -> Vec<i32> {
    pids().into_iter().filter(|&pid| stat(pid).is_some_and(|(_, ppid)| ppid == parent) && alive(pid)).collect()
}

/// Polls `done` every 20 ms for up to `limit`; how long it took, or `None`.
pub(crate) fn within(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if done() {
            return Some(started.elapsed());
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(i32::try_from(child.id()).unwrap()), signal).unwrap();
}

/// Waits for `child` for up to `limit`: its status and how long it took, or `None` (it is left
/// running; the [`Reaper`] takes it).
pub(crate) fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<(ExitStatus, Duration)> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((status, started.elapsed()));
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The lines of a child's pipe, read by a thread.
pub(crate) fn lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads lines until one matches, for up to `limit`; every line read is appended to `seen`.
pub(crate) fn wait_for_line(
    rx: &Receiver<String>,
    limit: Duration,
    seen: &mut Vec<String>,
    matches: impl Fn(&str) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                let hit = matches(&line);
                seen.push(line);
                if hit {
                    return true;
                }
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// The lines still coming from a pipe whose writer exited (bounded, should something else hold
/// the pipe open).
pub(crate) fn drain(rx: &Receiver<String>) -> Vec<String> {
    let mut rest = Vec::new();
    wait_for_line(rx, Duration::from_secs(2), &mut rest, |_| false);
    rest
}

/// Kills, however the test ends, what it may have left behind: every process whose command
/// line holds the marker, and the tracked grandchildren (re-checked by command line, against
/// pid reuse). Always by pid, never by name.
pub(crate) struct Reaper {
    marker: String,
    tracked: Vec<(i32, &'static str)>,
}

impl Reaper {
    pub(crate) fn new(marker: &str) -> Self {
        Self { marker: marker.to_owned(), tracked: Vec::new() }
    }

    pub(crate) fn track(&mut self, pid: i32, needle: &'static str) {
        self.tracked.push((pid, needle));
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        let tracked = self.tracked.iter().filter(|(pid, needle)| alive(*pid) && cmdline(*pid).contains(needle));
        for pid in processes_with(&self.marker).into_iter().chain(tracked.map(|(pid, _)| *pid)) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Starts `toolbridge run` on `agent` and waits until `tool` has started (its `→` line on
/// stderr). Returns the child, the marker's single server and the stderr lines so far.
pub(crate) fn start_run_until(
    env: &Env,
    agent: &str,
    marker: &str,
    tool: &str,
) -> (Child, i32, Receiver<String>, Vec<String>) {
    let mut child =
        env.cmd(&["run", "--config", agent, "go"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = lines(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let started =
        wait_for_line(&stderr, Duration::from_secs(20), &mut seen, |l| l.starts_with('→') && l.contains(tool));
    assert!(started, "{tool} never started; stderr: {seen:#?}");
    let servers = servers(marker);
    assert_eq!(servers.len(), 1, "one testbed server expected: {servers:?}");
    (child, servers[0], stderr, seen)
}

/// The grandchild (`sleep 3600`) the testbed spawned for `spawn_grandchild`.
pub(crate) fn grandchild_of(server: i32) -> i32 {
    let sleeps: Vec<i32> = children_of(server).into_iter().filter(|&pid| cmdline(pid).starts_with("sleep")).collect();
    assert_eq!(sleeps.len(), 1, "one grandchild expected under {server}: {sleeps:?}");
    sleeps[0]
}
