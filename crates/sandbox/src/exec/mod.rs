//! The helper process: applies the sandbox to itself, then runs the program.
//!
//! Two stages, both this code, because each needs a different position in the tree:
//!
//! 1. **launcher** (`--policy-json`): what the parent spawned. It unshares the network,
//!    PID and mount namespaces (which take effect for its *children*, for PID), brings up
//!    a private loopback when asked, creates the private temp dir, and starts stage 2 from
//!    `/proc/self/exe`. It forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT, waits, removes the temp
//!    dir and exits with the program's status. Without a PID namespace it is a child
//!    subreaper and kills every remaining descendant once the program has exited.
//! 2. **init** (`--init`): sets `PR_SET_PDEATHSIG(SIGKILL)` on itself (so a SIGKILL of
//!    the launcher kills it), mounts the namespace's own `/proc`, restricts itself with
//!    Landlock, then either becomes a minimal init (PID 1: spawns the program as PID 2,
//!    forwards signals, reaps orphans and exits with the program, which makes the kernel
//!    kill everything left in the namespace) or, without a PID namespace, `exec`s the
//!    program so the death signal and the Landlock domain carry over to it.
//!
//! A real init is needed in the namespace because the kernel drops signals to PID 1 that
//! it has no handler for: a program running as PID 1 would ignore a forwarded SIGTERM.

mod init;
mod launch;
mod loopback;
mod rules;
mod supervise;

use std::ffi::OsString;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

use crate::command::{HELPER_FAILURE_EXIT_CODE, HELPER_MAGIC, HELPER_MESSAGE_PREFIX};
use crate::policy::SandboxPolicy;

/// What the launcher tells the init stage.
#[derive(Debug, Serialize, Deserialize)]
struct InitPlan {
    policy: SandboxPolicy,
    /// The launcher's pid, to detect that it died before the death signal was armed.
    launcher_pid: i32,
    tmp_dir: Option<std::path::PathBuf>,
    net_namespace: bool,
    pid_namespace: bool,
    mount_namespace: bool,
}

/// A failure before the program runs: reported on stderr with
/// [`HELPER_FAILURE_EXIT_CODE`].
#[derive(Debug)]
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

macro_rules! failure {
    ($($arg:tt)*) => { crate::exec::Failure(format!($($arg)*)) };
}
use failure;

enum Invocation {
    Launch(SandboxPolicy),
    Init(InitPlan),
}

/// The helper's `main`: `[--policy-json JSON | --init PLAN] -- PROGRAM [ARGS...]` (the
/// arguments after the program name, or after [`HELPER_MAGIC`]).
///
/// Exits with the program's exit code, 128 + the signal number when it was killed, or
/// [`HELPER_FAILURE_EXIT_CODE`] with a message on stderr when the sandbox could not be set
/// up.
pub fn exec_main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    ExitCode::from(exec_code(args))
}

/// Runs the helper and exits the process if the first argument is [`HELPER_MAGIC`];
/// returns otherwise. Call it first thing in `main` of a program that passes
/// [`Helper::CurrentExe`](crate::Helper::CurrentExe).
pub fn run_if_helper() {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|first| first == HELPER_MAGIC) {
        let code = exec_code(args);
        std::process::exit(i32::from(code));
    }
}

fn exec_code(args: impl IntoIterator<Item = OsString>) -> u8 {
    let outcome = parse(args.into_iter().collect()).and_then(|(invocation, program, args)| match invocation {
        Invocation::Launch(policy) => launch::run(policy, &program, &args),
        Invocation::Init(plan) => init::run(&plan, &program, &args),
    });
    match outcome {
        Ok(code) => code,
        Err(Failure(message)) => {
            eprintln!("{HELPER_MESSAGE_PREFIX}{message}");
            HELPER_FAILURE_EXIT_CODE
        }
    }
}

fn parse(args: Vec<OsString>) -> Result<(Invocation, OsString, Vec<OsString>), Failure> {
    const USAGE: &str = "usage: toolbridge-sandbox-exec --policy-json JSON -- PROGRAM [ARGS...]";
    let mut args = args.into_iter();
    let mut invocation = None;
    loop {
        let Some(flag) = args.next() else {
            return Err(failure!("no program given ({USAGE})"));
        };
        let flag = flag.to_string_lossy().into_owned();
        match flag.as_str() {
            "--" => break,
            "--policy-json" | "--init" => {
                let value = args.next().ok_or_else(|| failure!("{flag} needs a value ({USAGE})"))?;
                let text = value.into_string().map_err(|_| failure!("{flag}: not UTF-8"))?;
                invocation = Some(if flag == "--init" {
                    Invocation::Init(serde_json::from_str(&text).map_err(|e| failure!("--init: {e}"))?)
                } else {
                    Invocation::Launch(
                        serde_json::from_str(&text).map_err(|e| failure!("invalid sandbox policy: {e}"))?,
                    )
                });
            }
            other => return Err(failure!("unknown argument {other:?} ({USAGE})")),
        }
    }
    let invocation = invocation.ok_or_else(|| failure!("--policy-json is required ({USAGE})"))?;
    let program = args.next().ok_or_else(|| failure!("no program given ({USAGE})"))?;
    Ok((invocation, program, args.collect()))
}
