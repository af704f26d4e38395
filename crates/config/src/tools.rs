//! A tool configuration read from files: MCP servers, skills, policy — each file read once,
//! size-limited, parsed into types.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ConfigError, from_value};
use crate::inputs::{InputSpec, parse_inputs};
use crate::mcp::McpServers;
use crate::paths::{absolute, expand_workspace_folder, workspace_folder};
use crate::policy::PolicyConfig;
use crate::skill::{SkillConfig, parse_skills};

/// The largest configuration file read (a bigger one is almost surely the wrong file, e.g.
/// `/dev/zero`).
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Where an execution's tools come from: MCP servers, skills and a policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolConfig {
    /// MCP servers by name.
    #[serde(default, skip_serializing_if = "McpServers::is_empty")]
    pub mcp_servers: McpServers,
    /// Skills.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<SkillConfig>,
    /// Which tools may be offered and called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyConfig>,
}

/// Reads a JSON file of at most [`MAX_CONFIG_FILE_BYTES`]; syntax errors carry line and column.
pub fn read_json_file(path: &Path, what: &'static str) -> Result<Value, ConfigError> {
    let read = |source| ConfigError::Read { what, path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(read)?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(read(std::io::Error::other("it is a directory")));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_FILE_BYTES + 1).read_to_string(&mut text).map_err(read)?;
    if text.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(ConfigError::TooLarge { what, path: path.to_owned(), limit: MAX_CONFIG_FILE_BYTES });
    }
    parse_json(&text, &path.display().to_string())
}

/// Parses JSON text; syntax errors name `origin`, the line and the column.
pub fn parse_json(text: &str, origin: &str) -> Result<Value, ConfigError> {
    serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
        origin: origin.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// An MCP config file as read: its servers and the `inputs` they may ask for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct McpFile {
    /// The servers, `${workspaceFolder}` expanded and a relative `envFile` made absolute.
    pub servers: McpServers,
    /// VS Code's `inputs`.
    pub inputs: Vec<InputSpec>,
    /// What `${workspaceFolder}` meant (see [`workspace_folder`]).
    pub workspace_folder: PathBuf,
}

/// Reads an MCP config file (any of the three shapes) with its `inputs`; `${workspaceFolder}`
/// is the file's folder (the one above for a file in `.vscode/`), against which a relative
/// `envFile` is read too.
pub fn load_mcp_file(path: &Path) -> Result<McpFile, ConfigError> {
    let origin = path.display().to_string();
    let mut document = read_json_file(path, "MCP config")?;
    let folder = workspace_folder(path);
    expand_workspace_folder(&mut document, &folder);
    let mut servers = McpServers::from_json(&document, &origin)?;
    for spec in servers.0.values_mut() {
        if let Some(file) = &spec.env_file {
            spec.env_file = Some(absolute(Path::new(file), &folder).display().to_string());
        }
    }
    let inputs = parse_inputs(&document, &origin)?;
    Ok(McpFile { servers, inputs, workspace_folder: folder })
}

/// Reads an MCP config file (any of the three shapes; see [`load_mcp_file`]).
pub fn load_mcp_config(path: &Path) -> Result<McpServers, ConfigError> {
    load_mcp_file(path).map(|file| file.servers)
}

/// Reads a skills file (`[...]` or `{"skills": [...]}`).
pub fn load_skills(path: &Path) -> Result<Vec<SkillConfig>, ConfigError> {
    parse_skills(&read_json_file(path, "skills file")?, &path.display().to_string())
}

/// Reads a policy file.
pub fn load_policy(path: &Path) -> Result<PolicyConfig, ConfigError> {
    parse_policy(read_json_file(path, "policy file")?, &path.display().to_string())
}

/// Parses a policy from JSON.
pub fn parse_policy(value: Value, origin: &str) -> Result<PolicyConfig, ConfigError> {
    from_value(value).map_err(|(field, message)| ConfigError::Policy { origin: origin.to_owned(), field, message })
}

impl ToolConfig {
    /// Reads whichever of the three files are given.
    pub fn load(mcp_config: Option<&Path>, skills: Option<&Path>, policy: Option<&Path>) -> Result<Self, ConfigError> {
        Ok(Self {
            mcp_servers: mcp_config.map(load_mcp_config).transpose()?.unwrap_or_default(),
            skills: skills.map(load_skills).transpose()?.unwrap_or_default(),
            policy: policy.map(load_policy).transpose()?,
        })
    }

    /// Whether no tool source is configured.
    pub fn is_empty(&self) -> bool {
        self.mcp_servers.is_empty() && self.skills.is_empty()
    }
}
