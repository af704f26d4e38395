//! Test helpers shared by toolbridge's crates: where the workspace's binaries are, and whether
//! a process is still there. Tests only; never a dependency of a library.
#![allow(clippy::missing_panics_doc, clippy::expect_used)]

pub mod temporal;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

/// The directory of the workspace's binaries for the running test's profile: the test
/// executable lives in `<target>/<profile>/deps/`, whatever `CARGO_TARGET_DIR` says.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent().and_then(Path::parent).expect("<target>/<profile>/deps/<test>").to_path_buf()
}

/// A binary of the workspace (`testbed-mcp`, `toolbridge`, `toolbridge-fake-model`). When one
/// is missing — a single crate's tests run on their own — the workspace's binaries are built
/// once, as `scripts/test.sh` builds them.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let path = bin_dir().join(name);
    if !path.exists() {
        BUILT.get_or_init(|| {
            let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
            command
                .args(["build", "-q", "--workspace", "--bins", "--features", "toolbridge-providers/fake-server"])
                .current_dir(workspace());
            if bin_dir().file_name().is_some_and(|profile| profile == "release") {
                command.arg("--release");
            }
            let status = command.status().expect("run cargo build");
            assert!(status.success(), "building the workspace binaries failed");
        });
    }
    assert!(path.exists(), "{} is missing; build it with `cargo build --workspace --bins`", path.display());
    path
}

/// The testbed MCP server.
pub fn testbed() -> String {
    binary("testbed-mcp").display().to_string()
}

/// Whether a process exists (zombies count as gone).
pub fn alive(pid: i32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
        return false;
    }
    // A zombie still answers kill(0); look at its state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// Waits up to `limit` for a process to be gone.
pub fn gone_within(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}
