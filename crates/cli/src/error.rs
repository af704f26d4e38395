//! CLI errors and exit codes: 0 ok, 1 execution/tool failure, 2 usage or configuration error.

use std::fmt;
use std::process::ExitCode;

/// What kind of failure, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The execution or tool call failed (exit 1).
    Failure,
    /// Bad arguments or configuration (exit 2).
    Usage,
}

/// An error the CLI reports and exits with.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) kind: Kind,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl CliError {
    pub(crate) fn usage(message: impl fmt::Display) -> Self {
        Self { kind: Kind::Usage, message: message.to_string(), hint: None }
    }

    pub(crate) fn failure(message: impl fmt::Display) -> Self {
        Self { kind: Kind::Failure, message: message.to_string(), hint: None }
    }

    #[must_use]
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        match self.kind {
            Kind::Failure => ExitCode::from(1),
            Kind::Usage => ExitCode::from(2),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

/// A store failure is the machine's problem, not the user's: exit 1.
impl From<toolbridge_store::StoreError> for CliError {
    fn from(error: toolbridge_store::StoreError) -> Self {
        Self::failure(format!("store: {error}"))
    }
}

pub(crate) type CliResult<T = ()> = Result<T, CliError>;
