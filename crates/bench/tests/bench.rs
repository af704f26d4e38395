//! The bench modes print the lines `scripts/bench-peers.sh` and `bench_table.py` read.

use std::process::Command;

use serde_json::Value;

fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_toolbridge-bench")).args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bench_modes_print_well_formed_lines() {
    let testbed = toolbridge_test_support::testbed();
    let (code, out, err) = run(&["run", "20", "10", "--server", &testbed]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["scenario"].as_str(), lines[1]["scenario"].as_str()), (Some("seq"), Some("conc32")));
    for line in &lines {
        assert_eq!(line["client"], "toolbridge");
        for key in ["n", "p50_us", "p99_us", "calls_per_s", "wall_s"] {
            assert!(line[key].is_number(), "{key} in {line}");
        }
    }
    let (code, out, err) = run(&["ready", "2", "concurrent", "--server", &testbed]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "READY");
}
