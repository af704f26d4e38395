//! Shared helpers of the sandbox scenarios: running a program through the real helper
//! binary, finding processes by a unique argument, and skipping where the kernel lacks a
//! feature.
#![allow(dead_code, unreachable_pub)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use toolbridge_sandbox::{Helper, SandboxPolicy, SandboxReport, child_env, sandboxed_command};

/// The helper binary built with these tests.
pub fn helper() -> Helper {
    Helper::Binary(PathBuf::from(env!("CARGO_BIN_EXE_toolbridge-sandbox-exec")))
}

/// Returns early from the test with a printed reason when `$available` is false.
#[macro_export]
macro_rules! require {
    ($available:expr, $why:expr) => {
        if !$available {
            eprintln!("skipped: {}", $why);
            return;
        }
    };
}

/// Whether `program` is found on PATH.
pub fn has_program(program: &str) -> bool {
    toolbridge_sandbox::policy::resolve_program(OsStr::new(program), std::env::var_os("PATH")).is_some()
}

/// A command for `program args` under `policy`, with the allow-listed environment.
pub fn command<I, A>(policy: &SandboxPolicy, program: &str, args: I) -> (Command, SandboxReport)
where
    I: IntoIterator<Item = A>,
    A: AsRef<OsStr>,
{
    sandboxed_command(policy, &helper(), program, args, &child_env(&[], false), None).expect("sandboxed command")
}

/// Runs to completion (killed after 60 s, which fails the test) and returns the output.
pub fn run(mut command: Command) -> Output {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().expect("spawn the helper");
    wait_output(child, Duration::from_secs(60))
}

/// Waits for `child` with a deadline; a child still running then is killed and the test
/// fails rather than hangs.
pub fn wait_output(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("collect output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect output");
            panic!("still running after {limit:?}: {output:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Text of stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Pids (as the host sees them) of live `sleep NEEDLE` processes.
pub fn pids_with_arg(needle: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
                // The helper's own command line names the program too: match the program only.
                args.len() >= 2 && args[0].ends_with(b"sleep") && args[1] == needle.as_bytes()
            })
        })
        .filter(|pid| !is_zombie(*pid))
        .collect()
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(true)
}

/// Polls until `condition` holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// A unique argument for `sleep` (a duration nobody else uses) to find our processes by.
pub fn unique_sleep_arg() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    format!("1000.{}{:04}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// SIGKILLs every process with `needle` among its arguments (clean-up after a test).
pub fn kill_all_with_arg(needle: &str) {
    for pid in pids_with_arg(needle) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
}

/// Writes `content` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write fixture");
    path
}
