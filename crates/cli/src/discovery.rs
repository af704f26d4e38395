//! Where MCP servers come from when `--mcp-config` is not given, as Claude Code finds them:
//! the user-level configuration (`$XDG_CONFIG_HOME/toolbridge/mcp.json`, else
//! `~/.config/toolbridge/mcp.json`) and the nearest `.mcp.json` in the current directory or
//! its parents (a project's servers, which win over the user's of the same name).

use std::path::{Path, PathBuf};

use toolbridge::config::{InputSpec, McpFile, McpServers, load_mcp_file};

use crate::error::{CliError, CliResult};

/// The name of a project's MCP configuration.
pub(crate) const PROJECT_FILE: &str = ".mcp.json";

/// The user-level configuration file.
pub(crate) fn user_config() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("toolbridge").join("mcp.json")
}

/// The nearest `.mcp.json` in `start` or a parent.
pub(crate) fn project_config(start: &Path) -> Option<PathBuf> {
    start.ancestors().map(|dir| dir.join(PROJECT_FILE)).find(|file| file.is_file())
}

/// One configuration file that was read, and its servers.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) path: PathBuf,
    pub(crate) file: McpFile,
}

/// The servers of every file found (user-level first, then the project's), and the inputs
/// they declare.
#[derive(Debug, Default)]
pub(crate) struct Discovered {
    pub(crate) found: Vec<Found>,
}

impl Discovered {
    /// Reads the user-level configuration and the nearest `.mcp.json`, whichever exist.
    pub(crate) fn read() -> CliResult<Self> {
        let cwd =
            std::env::current_dir().map_err(|e| CliError::usage(format!("cannot read the current directory: {e}")))?;
        let mut found = Vec::new();
        for path in [Some(user_config()).filter(|p| p.is_file()), project_config(&cwd)].into_iter().flatten() {
            let file = load_mcp_file(&path).map_err(CliError::usage)?;
            found.push(Found { path, file });
        }
        Ok(Self { found })
    }

    /// Every server; a project's wins over the user's of the same name.
    pub(crate) fn servers(&self) -> McpServers {
        let mut servers = McpServers::new();
        for found in &self.found {
            servers.0.extend(found.file.servers.0.clone());
        }
        servers
    }

    /// Every declared input.
    pub(crate) fn inputs(&self) -> Vec<InputSpec> {
        self.found.iter().flat_map(|found| found.file.inputs.clone()).collect()
    }

    /// The files read, for messages (`a.json, b.json`).
    pub(crate) fn origin(&self) -> String {
        self.found.iter().map(|f| f.path.display().to_string()).collect::<Vec<_>>().join(", ")
    }
}
