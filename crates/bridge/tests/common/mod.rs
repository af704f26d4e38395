//! Shared helpers: the testbed MCP server binary and process checks.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use toolbridge::config::ServerConfig;

/// The workspace root.
pub(crate) fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The testbed MCP server binary, built once if missing.
pub(crate) fn testbed() -> String {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = workspace();
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
            let binary = target.join("debug/testbed-mcp");
            // Always ask cargo (with the workspace's feature set, as the test script builds it): a
            // no-op when fresh, a rebuild when the testbed changed.
            {
                let status = Command::new(env!("CARGO"))
                    .args(["build", "-q", "--workspace", "--bins"])
                    .current_dir(&root)
                    .status()
                    .expect("cargo build testbed-mcp");
                assert!(status.success(), "building the workspace binaries failed");
            }
            binary
        })
        .display()
        .to_string()
}

/// A stdio testbed server config.
pub(crate) fn testbed_server(name: &str, args: &[&str]) -> ServerConfig {
    ServerConfig::stdio(name, testbed(), args)
}

/// Whether a process exists (zombies count as gone).
pub(crate) fn alive(pid: i32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
        return false;
    }
    // A zombie still answers kill(0); look at its state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// Waits up to `limit` for a process to be gone.
pub(crate) fn gone_within(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

/// The text of the first content block.
pub(crate) fn text(result: &rmcp::model::CallToolResult) -> String {
    result.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone()).unwrap_or_default()
}
