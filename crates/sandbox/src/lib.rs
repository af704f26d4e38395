//! Kernel-enforced confinement for toolbridge.
//!
//! Skills and stdio MCP servers run code on behalf of a model; string checks on commands
//! and paths do not confine that code. This crate confines it with kernel mechanisms:
//!
//! | module | what it gives |
//! |---|---|
//! | [`policy`] | [`SandboxPolicy`] (read/write paths, [`NetworkPolicy`], `required`), its preset, and the configuration form [`SandboxSetting`] (`sandbox: true \| false \| {...}`) |
//! | [`command`] | [`sandboxed_command`]: a `Command` running the program through the helper, plus a [`SandboxReport`] of what is enforced |
//! | [`exec`] | the helper: [`exec_main`] and [`run_if_helper`] (Landlock, network/PID/mount namespaces, signal relay, reaping) |
//! | [`probe`](mod@probe) | [`probe()`]: what this kernel offers, cached |
//! | [`env`](mod@env) | [`child_env`]: the allow-listed environment for any child process |
//! | [`confined`] | [`ConfinedDir`]: file I/O that cannot leave a base directory (openat2 `RESOLVE_BENEATH`) |
//!
//! The crate's README states exactly what each mechanism guarantees and where it stops.
//!
//! # Example
//!
//! A host binary that is its own helper: `run_if_helper` first thing in `main`, then
//! [`Helper::CurrentExe`].
//!
//! ```no_run
//! use std::path::PathBuf;
//! use toolbridge_sandbox::{Helper, SandboxPolicy, child_env, sandboxed_command};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     toolbridge_sandbox::run_if_helper();
//!
//!     let work = PathBuf::from("/srv/work");
//!     let policy = SandboxPolicy::preset("python3", &[work.clone()]);
//!     let env = child_env(&[], false);
//!     let (mut command, report) =
//!         sandboxed_command(&policy, &Helper::CurrentExe, "python3", ["-c", "print(1)"], &env, Some(&work))?;
//!     println!("{}", serde_json::to_string(&report)?);
//!     let status = command.status()?;
//!     assert!(status.success());
//!     Ok(())
//! }
//! ```
//!
//! And the file_system skill's I/O:
//!
//! ```no_run
//! # async fn demo() -> Result<(), toolbridge_sandbox::ConfinedError> {
//! use std::time::Duration;
//! use toolbridge_sandbox::ConfinedDir;
//! use toolbridge_sandbox::confined::WriteOptions;
//!
//! let dir = ConfinedDir::open("/srv/work")?;
//! dir.write("notes/today.md", "hello", WriteOptions::default()).await?;
//! let read = dir.read("notes/today.md", 64 * 1024, Duration::from_secs(5)).await?;
//! assert_eq!(read.bytes, b"hello");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod command;
pub mod confined;
pub mod env;
mod error;
pub mod exec;
pub mod probe;
pub mod report;

pub use command::{
    HELPER_BINARY, HELPER_FAILURE_EXIT_CODE, HELPER_MAGIC, HELPER_MESSAGE_PREFIX, Helper, sandboxed_command,
};
pub use confined::{ConfinedDir, ConfinedError, Entry, EntryKind, ReadOutcome, SearchPattern};
pub use env::{ENV_ALLOW_LIST, child_env};
pub use error::SandboxError;
pub use exec::{exec_main, run_if_helper};
pub use probe::{HostCapabilities, probe};
pub use report::SandboxReport;
/// The sandbox as configured (types in `toolbridge-config`, where every configuration is).
pub use toolbridge_config::sandbox as policy;
pub use toolbridge_config::sandbox::{Endpoint, Mechanism, NetworkPolicy, SandboxPolicy, SandboxSetting};
