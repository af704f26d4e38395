//! Why a configuration cannot be used: every error names where it came from (a file, an
//! agent), the entry (server, skill) and the field, and says what was expected.

use std::path::PathBuf;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {what} {path}: {source}")]
    Read {
        /// What the file is (`MCP config`, `skills file`, …).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than a configuration file can be.
    #[error("{what} {path} is larger than {limit} bytes; is it the right file?")]
    TooLarge {
        /// What the file is.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// The text is not valid JSON.
    #[error("{origin}: invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// Where the text came from.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The document does not have the expected shape.
    #[error("{origin}: {message}")]
    Shape {
        /// Where it came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A server's field is wrong.
    #[error("{origin}: server {server:?}, field {field:?}: {message}")]
    Server {
        /// Where it came from.
        origin: String,
        /// The server.
        server: String,
        /// The field (`args[0]`, `env.TOKEN`), empty for the entry itself.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A skill's field is wrong.
    #[error("{origin}: skill {skill}, field {field:?}: {message}")]
    Skill {
        /// Where it came from.
        origin: String,
        /// The skill's name (quoted) or index (`#2`).
        skill: String,
        /// The field (`configuration.base_dir`), empty for the entry itself.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The policy is wrong.
    #[error("{origin}: policy, field {field:?}: {message}")]
    Policy {
        /// Where it came from.
        origin: String,
        /// The field (`deny[0]`).
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The same error, said to come from `origin` (a file name, an agent).
    #[must_use]
    pub fn with_origin(self, new: &str) -> Self {
        match self {
            Self::Syntax { line, column, message, .. } => {
                Self::Syntax { origin: new.to_owned(), line, column, message }
            }
            Self::Shape { message, .. } => Self::Shape { origin: new.to_owned(), message },
            Self::Server { server, field, message, .. } => {
                Self::Server { origin: new.to_owned(), server, field, message }
            }
            Self::Skill { skill, field, message, .. } => Self::Skill { origin: new.to_owned(), skill, field, message },
            Self::Policy { field, message, .. } => Self::Policy { origin: new.to_owned(), field, message },
            other => other,
        }
    }
}

/// The field path of a serde error, as we write fields (`args[0]`, `env.TOKEN`).
pub(crate) fn field_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut field = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => field.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    field
}

/// Deserializes `T` from a JSON value, reporting the failing field's path.
pub(crate) fn from_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = field_of(error.path());
        (field, error.into_inner().to_string())
    })
}
