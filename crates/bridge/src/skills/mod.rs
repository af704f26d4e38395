//! Built-in skills: tools that run inside toolbridge, configured as
//! `[{name, type, configuration, enabled}]`. Each skill is a [`ToolTable`]: typed handlers
//! behind the same [`ToolSource`](crate::ToolSource) seam as MCP servers and custom tools.
//!
//! | type | tools | configuration |
//! |---|---|---|
//! | `file_system` | `read_file`, `save_file`, `list_files`, `search_files` | `base_dir` (required), `enable_read_file`, `enable_save_file`, `enable_list_files`, `enable_search_files` (all default true), `max_read_bytes`, `max_write_bytes` (1 MiB) |
//! | `shell` | `run_command` | `base_dir`, `allowed_commands` (then `{program, args}`, no shell), `blocked_commands` (a convenience, no boundary), `timeout` (30 s), `max_output_bytes` (100 000) |
//! | `python` | `run_python` | `base_dir`, `timeout` (30 s), `max_output_bytes`, `python` (`python3`) |
//!
//! `shell` and `python` run their commands in a sandbox by default (the skill's `sandbox`:
//! `true`, `false`, or `{read, write, network, required}`); the `file_system` skill's I/O
//! cannot leave `base_dir` whatever the path (see [`toolbridge_sandbox::ConfinedDir`]).
//! | `file_generation` | `generate_json`, `generate_csv`, `generate_markdown`, `generate_text` | `output_dir` (created), `max_bytes` (1 MiB) |
//! | `sleep` | `sleep` | `max_seconds` (60) |
//!
//! Presets ([`preset`]): `read_only` (file_system without save), `full_access` (file_system,
//! shell, python), `sandboxed` (file_system with save, shell limited to a few read-only
//! commands).

mod file_generation;
mod file_system;
mod python;
mod shell;
mod sleep;

use std::path::{Path, PathBuf};
use std::time::Duration;

use toolbridge_config::{ConfigError, FileSystemSettings, ShellSettings, SkillConfig, SkillSettings, StringList};

use crate::process::{Launcher, Limits};
use crate::source::ToolTable;

/// Builds a skill's tools from its configuration (commands launched through the sandbox
/// helper found next to this program; a catalogue built from a pool uses the pool's).
pub fn build_skill(config: &SkillConfig) -> Result<ToolTable, ConfigError> {
    build_skill_with(config, &Launcher::new(None))
}

/// Builds a skill's tools, its commands launched by `launcher`.
pub(crate) fn build_skill_with(config: &SkillConfig, launcher: &Launcher) -> Result<ToolTable, ConfigError> {
    let invalid = |field: &str, message: String| ConfigError::Skill {
        origin: "skills".into(),
        skill: format!("{:?}", config.name),
        field: format!("configuration.{field}"),
        message,
    };
    let name = config.name.as_str();
    match &config.settings {
        SkillSettings::FileSystem(settings) => file_system::build(name, settings, &invalid),
        SkillSettings::Shell(settings) => shell::build(name, settings, config.sandbox.as_ref(), launcher, &invalid),
        SkillSettings::Python(settings) => python::build(name, settings, config.sandbox.as_ref(), launcher, &invalid),
        SkillSettings::FileGeneration(settings) => file_generation::build(name, settings, &invalid),
        SkillSettings::Sleep(settings) => Ok(sleep::build(name, settings)),
    }
}

/// How a skill reports a configuration error: the field (under `configuration`) and why.
pub(crate) type Invalid<'a> = dyn Fn(&str, String) -> ConfigError + 'a;

/// The limits of a command-running skill.
pub(crate) fn limits(
    timeout: Option<f64>,
    max_output_bytes: Option<usize>,
    invalid: &Invalid<'_>,
) -> Result<Limits, ConfigError> {
    let timeout = match timeout {
        None => Duration::from_secs(30),
        Some(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => Duration::from_secs_f64(secs),
        Some(secs) => return Err(invalid("timeout", format!("must be between 0 and 86400 seconds, got {secs}"))),
    };
    Ok(Limits { timeout, max_output_bytes: max_output_bytes.unwrap_or(100_000).max(1) })
}

/// A skill's working directory, canonical (default: the current directory).
pub(crate) fn base_dir(dir: Option<&Path>, invalid: &Invalid<'_>) -> Result<PathBuf, ConfigError> {
    let dir = dir.unwrap_or(Path::new("."));
    let canonical = dir.canonicalize().map_err(|e| invalid("base_dir", format!("{}: {e}", dir.display())))?;
    if !canonical.is_dir() {
        return Err(invalid("base_dir", format!("{} is not a directory", canonical.display())));
    }
    Ok(canonical)
}

/// Presets like the seed platform's: `read_only`, `full_access`, `sandboxed`.
pub fn preset(name: &str, base_dir: &Path) -> Option<Vec<SkillConfig>> {
    let dir = Some(base_dir.to_path_buf());
    let files = |save: bool| {
        SkillConfig::new(
            "files",
            SkillSettings::FileSystem(FileSystemSettings {
                base_dir: dir.clone(),
                enable_save_file: (!save).then_some(false),
                ..FileSystemSettings::default()
            }),
        )
    };
    let shell = |allowed: &[&str]| {
        SkillConfig::new(
            "shell",
            SkillSettings::Shell(ShellSettings {
                base_dir: dir.clone(),
                allowed_commands: allowed.iter().copied().collect::<StringList>(),
                ..ShellSettings::default()
            }),
        )
    };
    Some(match name {
        "read_only" => vec![files(false)],
        "full_access" => vec![
            files(true),
            shell(&[]),
            SkillConfig::new(
                "python",
                SkillSettings::Python(toolbridge_config::PythonSettings {
                    base_dir: dir.clone(),
                    ..Default::default()
                }),
            ),
        ],
        "sandboxed" => vec![files(true), shell(&["ls", "cat", "echo", "grep", "wc", "head", "tail"])],
        _ => return None,
    })
}
