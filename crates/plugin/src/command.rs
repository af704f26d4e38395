//! How a plugin is started (`runtimes add NAME [--env K=V]… [--cwd DIR] -- CMD [ARGS…]`) and
//! the limits the host applies to it. Parsed once at the edge, then passed typed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::PluginError;

/// The command line of a plugin: program, arguments, extra environment, working directory.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginCommand {
    /// The program (a path, or a name looked up in `PATH`).
    pub program: PathBuf,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables set on top of toolbridge's own.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The working directory (toolbridge's own when absent).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
}

impl fmt::Debug for PluginCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Environment values are often API keys: names only.
        f.debug_struct("PluginCommand")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &self.env.keys())
            .field("cwd", &self.cwd)
            .finish()
    }
}

impl PluginCommand {
    /// A command running `program` with no arguments.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into(), args: Vec::new(), env: BTreeMap::new(), cwd: None }
    }

    /// Appends an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Sets an environment variable from a `KEY=VALUE` assignment (the CLI's `--env`).
    pub fn env_assignment(mut self, assignment: &str) -> Result<Self, PluginError> {
        let (key, value) = parse_env_assignment(assignment)?;
        self.env.insert(key, value);
        Ok(self)
    }

    /// Sets the working directory.
    #[must_use]
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }
}

/// Splits `KEY=VALUE` (the value may contain `=`; the key may not be empty).
pub fn parse_env_assignment(assignment: &str) -> Result<(String, String), PluginError> {
    match assignment.split_once('=') {
        Some((key, value)) if !key.is_empty() && !key.contains('\0') && !value.contains('\0') => {
            Ok((key.to_owned(), value.to_owned()))
        }
        _ => Err(PluginError::EnvAssignment(assignment.to_owned())),
    }
}

/// Limits and timings of a plugin host. The defaults are the protocol's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginOptions {
    /// How long a fresh process has to answer `initialize` (10 s).
    pub initialize_timeout: Duration,
    /// How long a cancelled execution waits for the plugin's own answer before toolbridge ends
    /// it `cancelled` itself (5 s).
    pub cancel_wait: Duration,
    /// How long `validate_config` and `cancel` may take to be answered (10 s).
    pub control_timeout: Duration,
    /// After `shutdown` and closing stdin, how long the process has to exit before SIGTERM
    /// (3 s).
    pub shutdown_wait: Duration,
    /// After SIGTERM, how long before SIGKILL of the process group (2 s).
    pub term_wait: Duration,
    /// The longest line (one message) accepted on the plugin's stdout; a longer one ends the
    /// process (16 MiB).
    pub max_line_bytes: usize,
    /// Events buffered per execution before the reader waits for the execution to take them
    /// (1024).
    pub event_buffer: usize,
}

impl Default for PluginOptions {
    fn default() -> Self {
        Self {
            initialize_timeout: Duration::from_secs(10),
            cancel_wait: Duration::from_secs(5),
            control_timeout: Duration::from_secs(10),
            shutdown_wait: Duration::from_secs(3),
            term_wait: Duration::from_secs(2),
            max_line_bytes: 16 * 1024 * 1024,
            event_buffer: 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_assignments_parse() {
        assert_eq!(parse_env_assignment("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(parse_env_assignment("A=").unwrap(), ("A".into(), String::new()));
        assert!(parse_env_assignment("=x").is_err());
        assert!(parse_env_assignment("novalue").unwrap_err().to_string().contains("KEY=VALUE"));
    }

    #[test]
    fn debug_hides_env_values() {
        let command = PluginCommand::new("python3").arg("x.py").env("API_KEY", "sk-secret");
        let shown = format!("{command:?}");
        assert!(shown.contains("API_KEY") && !shown.contains("sk-secret"), "{shown}");
    }
}
