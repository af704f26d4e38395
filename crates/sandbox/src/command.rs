//! The parent side of a launch: one `Command` that runs the program through the helper.
//!
//! The standard library offers no safe hook between `fork` and `exec`, and `unsafe` is
//! forbidden here, so the restrictions cannot be applied in the child before it execs the
//! program. Instead the command runs a helper (this crate's own code, in its own process)
//! that restricts itself and then runs the program; see [`exec_main`](crate::exec_main).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::SandboxError;
use crate::policy::SandboxPolicy;
use crate::probe::probe;
use crate::report::SandboxReport;

/// The first argument that makes [`run_if_helper`](crate::run_if_helper) run the helper.
pub const HELPER_MAGIC: &str = "__toolbridge_sandbox_exec";

/// Exit status of the helper when it fails before the program runs (bad policy, a
/// `required` mechanism missing, Landlock failure, program not found or not executable).
/// Its stderr then carries one line starting with [`HELPER_MESSAGE_PREFIX`].
pub const HELPER_FAILURE_EXIT_CODE: u8 = 125;

/// Prefix of the helper's own messages on stderr.
pub const HELPER_MESSAGE_PREFIX: &str = "toolbridge-sandbox: ";

/// How to invoke the helper process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Helper {
    /// A `toolbridge-sandbox-exec` binary (or any binary whose `main` calls
    /// [`exec_main`](crate::exec_main) with its arguments).
    Binary(PathBuf),
    /// The running executable, with [`HELPER_MAGIC`] as its first argument: its `main`
    /// must call [`run_if_helper`](crate::run_if_helper) first thing.
    CurrentExe,
}

/// The helper binary's file name.
pub const HELPER_BINARY: &str = "toolbridge-sandbox-exec";

impl Helper {
    /// A [`HELPER_BINARY`] next to the running executable, or one directory up (test
    /// executables live in `target/<profile>/deps/`), or on `PATH`.
    pub fn discover() -> Option<Self> {
        let exe = std::env::current_exe().ok()?;
        let dir = exe.parent()?;
        let nearby = [dir.join(HELPER_BINARY), dir.parent()?.join(HELPER_BINARY)];
        nearby
            .into_iter()
            .find(|path| path.is_file())
            .or_else(|| {
                std::env::split_paths(&std::env::var_os("PATH")?)
                    .map(|dir| dir.join(HELPER_BINARY))
                    .find(|path| path.is_file())
            })
            .map(Self::Binary)
    }

    fn command(&self) -> Command {
        match self {
            Self::Binary(path) => Command::new(path),
            Self::CurrentExe => {
                // `/proc/self/exe` resolves in the child to the parent's image, so an
                // executable replaced on disk since start-up still works.
                let mut command = Command::new("/proc/self/exe");
                command.arg(HELPER_MAGIC);
                command
            }
        }
    }

    fn check(&self) -> Result<(), SandboxError> {
        let path = match self {
            Self::Binary(path) => path.as_path(),
            Self::CurrentExe => Path::new("/proc/self/exe"),
        };
        std::fs::metadata(path).map(drop).map_err(|source| SandboxError::Helper { path: path.to_path_buf(), source })
    }
}

/// A command that runs `program args` under `policy` through `helper`, and the report of
/// what that launch enforces on this host.
///
/// `env` is the program's complete environment (see [`child_env`](crate::child_env)); the
/// helper also runs with it, and sets `TMPDIR` to the private temp dir when the policy has
/// one. stdin, stdout and stderr are whatever the caller sets on the returned command:
/// the program inherits them from the helper unchanged, with no copying. Convert with
/// `tokio::process::Command::from` for async use.
///
/// # Errors
/// [`SandboxError::Unavailable`] when the policy is `required` and a mechanism it needs is
/// missing; [`SandboxError::Encode`] for a policy with non-UTF-8 paths;
/// [`SandboxError::Helper`] when the helper binary does not exist.
pub fn sandboxed_command<I, A>(
    policy: &SandboxPolicy,
    helper: &Helper,
    program: impl AsRef<OsStr>,
    args: I,
    env: &[(OsString, OsString)],
    cwd: Option<&Path>,
) -> Result<(Command, SandboxReport), SandboxError>
where
    I: IntoIterator<Item = A>,
    A: AsRef<OsStr>,
{
    let report = SandboxReport::plan(policy, &probe());
    if policy.required && !report.missing.is_empty() {
        return Err(SandboxError::Unavailable { missing: report.missing });
    }
    helper.check()?;
    let policy_json = serde_json::to_string(policy).map_err(SandboxError::Encode)?;
    let mut command = helper.command();
    command
        .arg("--policy-json")
        .arg(policy_json)
        .arg("--")
        .arg(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    Ok((command, report))
}
