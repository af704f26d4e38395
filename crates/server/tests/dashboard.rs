//! The dashboard in a real browser against the real server: runs
//! `scripts/dashboard-check-server.sh` (headless Chromium, DOM checks of the execution list
//! and the tool-call timeline, screenshots under `target/dashboard/server/`). Skipped, saying
//! why, only when Chromium is missing and cannot be installed.

use std::process::Command;

use toolbridge_test_support::{binary, workspace};

#[test]
fn dashboard_in_headless_chromium_against_the_server() {
    let toolbridge = binary("toolbridge");
    let testbed = binary("testbed-mcp");
    let output = Command::new("bash")
        .arg(workspace().join("scripts/dashboard-check-server.sh"))
        .env("TOOLBRIDGE_BIN", &toolbridge)
        .env("TESTBED_BIN", &testbed)
        .output()
        .expect("run scripts/dashboard-check-server.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(77) {
        println!("skipped: {}", stderr.trim());
        return;
    }
    assert!(output.status.success(), "dashboard check failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all checks passed"), "{stdout}\n{stderr}");
}
