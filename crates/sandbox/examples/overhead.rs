//! Start-up overhead of the sandbox: median wall time of running `true` directly and
//! through the helper (preset policy), N runs each.
//!
//! `cargo build --release -p toolbridge-sandbox --bin toolbridge-sandbox-exec &&
//!  cargo run --release -p toolbridge-sandbox --example overhead -- 50`

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use toolbridge_sandbox::{Helper, Mechanism, SandboxPolicy, child_env, sandboxed_command};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(runs: usize, mut make: impl FnMut() -> Command) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                let status = make().status().expect("run");
                assert!(status.success(), "{status:?}");
                started.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let runs = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(50);
    // The helper is built next to the examples directory.
    let exe = std::env::current_exe().expect("current exe");
    let helper = exe.parent().and_then(|examples| examples.parent()).map(|dir| dir.join("toolbridge-sandbox-exec"));
    let helper = Helper::Binary(helper.unwrap_or_else(|| PathBuf::from("toolbridge-sandbox-exec")));
    let env = child_env(&[], false);
    let sandboxed = |policy: SandboxPolicy| {
        let (helper, env) = (&helper, &env);
        move || sandboxed_command(&policy, helper, "true", [""; 0], env, None).expect("sandboxed command").0
    };
    let preset = SandboxPolicy::preset("true", &[]);
    let mut fallback = preset.clone();
    fallback.disable = vec![Mechanism::PidNamespace, Mechanism::NetNamespace];
    let mut landlock_only = fallback.clone();
    landlock_only.private_tmp = false;

    let direct = time(runs, || Command::new("true"));
    println!("{:<36}median {:>8.2} ms", "direct", direct.as_secs_f64() * 1e3);
    for (name, policy) in [
        ("sandboxed (all mechanisms)", preset),
        ("sandboxed (no namespaces)", fallback),
        ("sandboxed (no namespaces, no tmp)", landlock_only),
    ] {
        let median = time(runs, sandboxed(policy));
        println!(
            "{name:<36}median {:>8.2} ms  (+{:.2} ms)",
            median.as_secs_f64() * 1e3,
            (median.saturating_sub(direct)).as_secs_f64() * 1e3
        );
    }
}
