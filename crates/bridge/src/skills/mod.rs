//! Built-in skills: tools that run inside toolbridge, configured as
//! `[{name, type, configuration, enabled}]`.
//!
//! | type | tools | configuration |
//! |---|---|---|
//! | `file_system` | `read_file`, `save_file`, `list_files`, `search_files` | `base_dir` (required), `enable_read_file`, `enable_save_file`, `enable_list_files`, `enable_search_files` (all default true), `max_read_bytes`, `max_write_bytes` (1 MiB) |
//! | `shell` | `run_command` | `base_dir`, `allowed_commands`, `blocked_commands`, `timeout` (30 s), `max_output_bytes` (100 000) |
//! | `python` | `run_python` | `base_dir`, `timeout` (30 s), `max_output_bytes`, `python` (`python3`) |
//! | `file_generation` | `generate_json`, `generate_csv`, `generate_markdown`, `generate_text` | `output_dir` (created), `max_bytes` (1 MiB) |
//! | `sleep` | `sleep` | `max_seconds` (60) |
//!
//! Presets ([`preset`]): `read_only` (file_system without save), `full_access` (file_system,
//! shell, python), `sandboxed` (file_system with save, shell limited to a few read-only
//! commands).

mod file_generation;
mod file_system;
mod process;
mod python;
mod shell;
mod sleep;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The kind of a skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkillKind {
    /// Files under a base directory.
    FileSystem,
    /// Shell commands.
    Shell,
    /// Python snippets.
    Python,
    /// Writing JSON/CSV/Markdown/text files.
    FileGeneration,
    /// A bounded sleep.
    Sleep,
}

/// One configured skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillConfig {
    /// The skill's name (the catalogue prefix of its tools).
    pub name: String,
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: SkillKind,
    /// Kind-specific settings.
    #[serde(default)]
    pub configuration: Value,
    /// Whether to use it.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A skill configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SkillConfigError {
    /// The file cannot be read.
    #[error("cannot read skills file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not valid JSON.
    #[error("{origin}: invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// Where from.
        origin: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A skill entry is wrong.
    #[error("{origin}: skill {skill}: {message}")]
    Invalid {
        /// Where from.
        origin: String,
        /// The skill's name or index.
        skill: String,
        /// What is wrong.
        message: String,
    },
}

/// Parses skills: a JSON array, or `{"skills": [...]}`.
pub fn parse_skills(value: &Value, origin: &str) -> Result<Vec<SkillConfig>, SkillConfigError> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(map) => match map.get("skills") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(SkillConfigError::Invalid {
                    origin: origin.into(),
                    skill: "(file)".into(),
                    message: "expected a JSON array of skills, or {\"skills\": [...]}".into(),
                });
            }
        },
        _ => {
            return Err(SkillConfigError::Invalid {
                origin: origin.into(),
                skill: "(file)".into(),
                message: "expected a JSON array of skills".into(),
            });
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let label = item.get("name").and_then(Value::as_str).map_or_else(|| format!("#{i}"), |n| format!("{n:?}"));
            serde_json::from_value::<SkillConfig>(item.clone()).map_err(|e| SkillConfigError::Invalid {
                origin: origin.into(),
                skill: label,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Reads and parses a skills file.
pub fn load_skills(path: &Path) -> Result<Vec<SkillConfig>, SkillConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| SkillConfigError::Read { path: path.to_owned(), source })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| SkillConfigError::Syntax {
        origin: path.display().to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    parse_skills(&value, &path.display().to_string())
}

/// Builds a skill from its configuration (validated strictly: unknown keys are rejected).
pub fn build_skill(config: &SkillConfig) -> Result<Arc<dyn Skill>, SkillConfigError> {
    let invalid = |message: String| SkillConfigError::Invalid {
        origin: "skills".into(),
        skill: format!("{:?}", config.name),
        message,
    };
    Ok(match config.kind {
        SkillKind::FileSystem => {
            Arc::new(file_system::FileSystem::new(&config.name, settings(config)?).map_err(invalid)?)
        }
        SkillKind::Shell => Arc::new(shell::Shell::new(&config.name, settings(config)?).map_err(invalid)?),
        SkillKind::Python => Arc::new(python::Python::new(&config.name, settings(config)?).map_err(invalid)?),
        SkillKind::FileGeneration => {
            Arc::new(file_generation::FileGeneration::new(&config.name, settings(config)?).map_err(invalid)?)
        }
        SkillKind::Sleep => Arc::new(sleep::Sleep::new(&config.name, &settings(config)?)),
    })
}

fn settings<T: DeserializeOwned + Default>(config: &SkillConfig) -> Result<T, SkillConfigError> {
    match &config.configuration {
        Value::Null => Ok(T::default()),
        value => serde_json::from_value(value.clone()).map_err(|e| SkillConfigError::Invalid {
            origin: "skills".into(),
            skill: format!("{:?}", config.name),
            message: format!("configuration: {e}"),
        }),
    }
}

/// One tool of a skill.
#[derive(Debug, Clone)]
pub struct SkillTool {
    /// Its name within the skill.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its input schema (schemars-derived).
    pub input_schema: Value,
}

/// What a skill call produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillOutput {
    /// The text for the model.
    pub text: String,
    /// The operation failed in a way the model should see (e.g. a non-zero exit).
    pub is_error: bool,
}

impl SkillOutput {
    fn ok(text: impl Into<String>) -> Self {
        Self { text: text.into(), is_error: false }
    }
}

/// Why a skill call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SkillError {
    /// No such tool (or it is disabled).
    #[error("unknown tool {0:?}")]
    UnknownTool(String),
    /// Bad arguments.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// Refused: escape attempt, blocked command, size cap.
    #[error("{0}")]
    Denied(String),
    /// Ran out of time.
    #[error("{0}")]
    Timeout(String),
    /// Cancelled.
    #[error("cancelled")]
    Cancelled,
    /// An I/O failure.
    #[error("{0}")]
    Io(String),
}

impl SkillError {
    /// The call record's `error_type` for this error.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnknownTool(_) => "unknown_tool",
            Self::InvalidArguments(_) => "invalid_arguments",
            Self::Denied(_) => "policy_denied",
            Self::Timeout(_) => "timeout",
            Self::Cancelled => "cancelled",
            Self::Io(_) => "tool_error",
        }
    }
}

/// A built-in skill.
#[async_trait]
pub trait Skill: Send + Sync + fmt::Debug {
    /// The configured name.
    fn name(&self) -> &str;
    /// The kind.
    fn kind(&self) -> SkillKind;
    /// Its enabled tools.
    fn tools(&self) -> &[SkillTool];
    /// Runs a tool.
    async fn call(&self, tool: &str, arguments: Value, cancel: CancellationToken) -> Result<SkillOutput, SkillError>;
}

pub(crate) fn tool<P: schemars::JsonSchema>(name: &str, description: &str) -> SkillTool {
    SkillTool {
        name: name.into(),
        description: description.into(),
        input_schema: Value::Object(crate::source::schema_of::<P>()),
    }
}

pub(crate) fn args<P: DeserializeOwned>(arguments: Value) -> Result<P, SkillError> {
    serde_json::from_value(arguments).map_err(|e| SkillError::InvalidArguments(e.to_string()))
}

/// Presets like the seed platform's: `read_only`, `full_access`, `sandboxed`.
pub fn preset(name: &str, base_dir: &Path) -> Option<Vec<SkillConfig>> {
    let dir = base_dir.display().to_string();
    let skill = |name: &str, kind: SkillKind, configuration: Value| SkillConfig {
        name: name.into(),
        kind,
        configuration,
        enabled: true,
    };
    Some(match name {
        "read_only" => vec![skill("files", SkillKind::FileSystem, json!({"base_dir": dir, "enable_save_file": false}))],
        "full_access" => vec![
            skill("files", SkillKind::FileSystem, json!({"base_dir": dir})),
            skill("shell", SkillKind::Shell, json!({"base_dir": dir})),
            skill("python", SkillKind::Python, json!({"base_dir": dir})),
        ],
        "sandboxed" => vec![
            skill("files", SkillKind::FileSystem, json!({"base_dir": dir})),
            skill(
                "shell",
                SkillKind::Shell,
                json!({"base_dir": dir, "allowed_commands": ["ls", "cat", "echo", "grep", "wc", "head", "tail"]}),
            ),
        ],
        _ => return None,
    })
}
