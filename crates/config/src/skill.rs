//! Skills as configured: `[{name, type, configuration, enabled}]`, each `configuration`
//! typed by its `type` (unknown keys refused, the field named).

use std::path::PathBuf;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::error::{ConfigError, from_value};
use crate::sandbox::SandboxSetting;
use crate::values::StringList;

/// `file_system`: files under `base_dir`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSystemSettings {
    /// The directory the tools work in, and nowhere else (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_dir: Option<PathBuf>,
    /// Offer `read_file` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_read_file: Option<bool>,
    /// Offer `save_file` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_save_file: Option<bool>,
    /// Offer `list_files` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_list_files: Option<bool>,
    /// Offer `search_files` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_search_files: Option<bool>,
    /// The most bytes one read returns (default 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_read_bytes: Option<usize>,
    /// The most bytes one write takes (default 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_write_bytes: Option<usize>,
}

/// `shell`: commands in `base_dir`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellSettings {
    /// The working directory (default: the current directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_dir: Option<PathBuf>,
    /// Only these programs may run.
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    pub allowed_commands: StringList,
    /// These programs may not run.
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    pub blocked_commands: StringList,
    /// Seconds per command (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// The most output bytes kept (default 100 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<usize>,
}

/// `python`: snippets run with the system Python in `base_dir`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonSettings {
    /// The working directory (default: the current directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_dir: Option<PathBuf>,
    /// Seconds per snippet (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// The most output bytes kept (default 100 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<usize>,
    /// The interpreter (default `python3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
}

/// `file_generation`: JSON, CSV, Markdown and text files written into `output_dir`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGenerationSettings {
    /// Where files go (required; created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_dir: Option<PathBuf>,
    /// The largest file (default 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<usize>,
}

/// `sleep`: a bounded, cancellable wait.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SleepSettings {
    /// The longest sleep (default 60 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seconds: Option<f64>,
}

/// A skill's type and its typed `configuration`.
#[derive(Debug, Clone, PartialEq)]
pub enum SkillSettings {
    /// `file_system`.
    FileSystem(FileSystemSettings),
    /// `shell`.
    Shell(ShellSettings),
    /// `python`.
    Python(PythonSettings),
    /// `file_generation`.
    FileGeneration(FileGenerationSettings),
    /// `sleep`.
    Sleep(SleepSettings),
}

/// The kind of a skill, as `type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

impl SkillSettings {
    /// The kind.
    pub fn kind(&self) -> SkillKind {
        match self {
            Self::FileSystem(_) => SkillKind::FileSystem,
            Self::Shell(_) => SkillKind::Shell,
            Self::Python(_) => SkillKind::Python,
            Self::FileGeneration(_) => SkillKind::FileGeneration,
            Self::Sleep(_) => SkillKind::Sleep,
        }
    }

    fn to_value(&self) -> Result<Value, serde_json::Error> {
        match self {
            Self::FileSystem(s) => serde_json::to_value(s),
            Self::Shell(s) => serde_json::to_value(s),
            Self::Python(s) => serde_json::to_value(s),
            Self::FileGeneration(s) => serde_json::to_value(s),
            Self::Sleep(s) => serde_json::to_value(s),
        }
    }

    fn from_value(kind: SkillKind, value: Value) -> Result<Self, (String, String)> {
        let value = if value.is_null() { Value::Object(serde_json::Map::new()) } else { value };
        Ok(match kind {
            SkillKind::FileSystem => Self::FileSystem(from_value(value)?),
            SkillKind::Shell => Self::Shell(from_value(value)?),
            SkillKind::Python => Self::Python(from_value(value)?),
            SkillKind::FileGeneration => Self::FileGeneration(from_value(value)?),
            SkillKind::Sleep => Self::Sleep(from_value(value)?),
        })
    }
}

/// One configured skill.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillConfig {
    /// The skill's name (the catalogue prefix of its tools).
    pub name: String,
    /// Its type and configuration.
    pub settings: SkillSettings,
    /// Whether to use it.
    pub enabled: bool,
    /// The sandbox the commands of a `shell` or `python` skill run in (default: the preset,
    /// `true`; `false` only contains them).
    pub sandbox: Option<SandboxSetting>,
}

impl SkillConfig {
    /// An enabled skill.
    pub fn new(name: impl Into<String>, settings: SkillSettings) -> Self {
        Self { name: name.into(), settings, enabled: true, sandbox: None }
    }

    /// Its kind.
    pub fn kind(&self) -> SkillKind {
        self.settings.kind()
    }
}

/// The skill as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a skill object {name, type, configuration, enabled}")]
struct RawSkill {
    name: String,
    #[serde(rename = "type")]
    kind: SkillKind,
    #[serde(default)]
    configuration: Value,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sandbox: Option<SandboxSetting>,
}

fn yes() -> bool {
    true
}

impl RawSkill {
    /// Only the skills that run commands have a sandbox.
    fn check_sandbox(&self) -> Result<(), String> {
        match (&self.sandbox, self.kind) {
            (None, _) | (Some(_), SkillKind::Shell | SkillKind::Python) => Ok(()),
            (Some(_), kind) => Err(format!(
                "`sandbox` applies to shell and python skills; a {} skill is confined by its configuration",
                serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            )),
        }
    }
}

impl Serialize for SkillConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let configuration = self.settings.to_value().map_err(serde::ser::Error::custom)?;
        RawSkill {
            name: self.name.clone(),
            kind: self.kind(),
            configuration,
            enabled: self.enabled,
            sandbox: self.sandbox.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SkillConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawSkill::deserialize(deserializer)?;
        raw.check_sandbox().map_err(de::Error::custom)?;
        let settings = SkillSettings::from_value(raw.kind, raw.configuration).map_err(|(field, message)| {
            de::Error::custom(format!("skill {:?}, field \"configuration.{field}\": {message}", raw.name))
        })?;
        Ok(Self { name: raw.name, settings, enabled: raw.enabled, sandbox: raw.sandbox })
    }
}

/// Parses skills: a JSON array, or `{"skills": [...]}`. Errors name `origin`, the skill (its
/// name, or its index when it has none) and the field.
pub fn parse_skills(value: &Value, origin: &str) -> Result<Vec<SkillConfig>, ConfigError> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(map) => match map.get("skills") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(ConfigError::Shape {
                    origin: origin.to_owned(),
                    message: "expected a JSON array of skills, or {\"skills\": [...]}".into(),
                });
            }
        },
        _ => {
            return Err(ConfigError::Shape {
                origin: origin.to_owned(),
                message: "expected a JSON array of skills".into(),
            });
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let label = item.get("name").and_then(Value::as_str).map_or_else(|| format!("#{i}"), |n| format!("{n:?}"));
            let raw: RawSkill =
                from_value(item.clone()).map_err(|(field, message)| skill_error(origin, &label, field, message))?;
            raw.check_sandbox().map_err(|message| skill_error(origin, &label, "sandbox".into(), message))?;
            let settings = SkillSettings::from_value(raw.kind, raw.configuration)
                .map_err(|(field, message)| skill_error(origin, &label, format!("configuration.{field}"), message))?;
            Ok(SkillConfig { name: raw.name, settings, enabled: raw.enabled, sandbox: raw.sandbox })
        })
        .collect()
}

fn skill_error(origin: &str, skill: &str, field: String, message: String) -> ConfigError {
    ConfigError::Skill { origin: origin.to_owned(), skill: skill.to_owned(), field, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_as_written() {
        let value = json!([
            {"name": "fs", "type": "file_system", "configuration": {"base_dir": "/tmp", "enable_save_file": false}, "enabled": true},
            {"name": "zz", "type": "sleep", "configuration": {}, "enabled": false}
        ]);
        let skills = parse_skills(&value, "skills.json").unwrap();
        assert_eq!(skills[0].kind(), SkillKind::FileSystem);
        assert!(!skills[1].enabled);
        assert_eq!(serde_json::to_value(&skills).unwrap(), value);
        let back: Vec<SkillConfig> = serde_json::from_value(value).unwrap();
        assert_eq!(back, skills);
    }

    #[test]
    fn errors_name_the_skill_and_field() {
        let err =
            parse_skills(&json!([{"name": "fs", "type": "file_system", "configuration": {"base_dri": "/"}}]), "s.json")
                .unwrap_err()
                .to_string();
        assert!(err.contains("s.json") && err.contains("\"fs\"") && err.contains("base_dri"), "{err}");
        let err = parse_skills(&json!([{"type": "shell"}]), "s.json").unwrap_err().to_string();
        assert!(err.contains("#0") && err.contains("name"), "{err}");
        let err = parse_skills(&json!([{"name": "x", "type": "teleport"}]), "s.json").unwrap_err().to_string();
        assert!(err.contains("teleport"), "{err}");
        let err =
            parse_skills(&json!([{"name": "x", "type": "shell", "configuration": {"timeout": "soon"}}]), "s.json")
                .unwrap_err()
                .to_string();
        assert!(err.contains("configuration.timeout"), "{err}");
    }
}
