//! Paths in configurations: `${workspaceFolder}` (VS Code), and relative paths made absolute
//! for a configuration that is stored and run later from another directory.

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use crate::mcp::McpServers;
use crate::server::ServerSpec;
use crate::skill::{SkillConfig, SkillSettings};
use crate::template::is_template;

/// What `${workspaceFolder}` means in a configuration file: the file's folder, or the folder
/// above for a file in a `.vscode` folder (where VS Code keeps `mcp.json`).
pub fn workspace_folder(config_file: &Path) -> PathBuf {
    let file = absolute(config_file, &current_dir());
    let folder = file.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    match (folder.file_name(), folder.parent()) {
        (Some(name), Some(parent)) if name == ".vscode" => parent.to_path_buf(),
        _ => folder,
    }
}

/// Replaces `${workspaceFolder}` (and `${workspaceFolderBasename}`) in every string of a
/// configuration document.
pub fn expand_workspace_folder(document: &mut Value, folder: &Path) {
    let text = folder.display().to_string();
    let base = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    expand_strings(document, &|s: &str| {
        if s.contains("${workspaceFolder") {
            s.replace("${workspaceFolderBasename}", &base).replace("${workspaceFolder}", &text)
        } else {
            s.to_owned()
        }
    });
}

fn expand_strings(value: &mut Value, map: &dyn Fn(&str) -> String) {
    match value {
        Value::String(text) => *text = map(text),
        Value::Array(items) => items.iter_mut().for_each(|item| expand_strings(item, map)),
        Value::Object(entries) => entries.values_mut().for_each(|item| expand_strings(item, map)),
        _ => {}
    }
}

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

/// `path` joined onto `base` when relative, with `.` and `..` resolved lexically.
pub fn absolute(path: &Path, base: &Path) -> PathBuf {
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A relative path written in a configuration, as an absolute one (templates and absolute
/// paths unchanged).
fn absolute_text(text: &str, base: &Path) -> String {
    if is_template(text) || text.starts_with('~') || Path::new(text).is_absolute() {
        text.to_owned()
    } else {
        absolute(Path::new(text), base).display().to_string()
    }
}

impl ServerSpec {
    /// The spec with its relative paths made absolute against `base`: `cwd`, `envFile`, a
    /// `command` naming a file (`./server`, not `npx`), and the arguments that name an
    /// existing file or directory under `base` (`server.py`, `.`) — what they meant when the
    /// spec was written there.
    #[must_use]
    pub fn with_absolute_paths(&self, base: &Path) -> Self {
        let mut spec = self.clone();
        spec.cwd = spec.cwd.map(|cwd| absolute_text(&cwd, base));
        spec.env_file = spec.env_file.map(|file| absolute_text(&file, base));
        if let Some(command) = &spec.command
            && command.contains('/')
        {
            spec.command = Some(absolute_text(command, base));
        }
        // Arguments are relative to the server's own `cwd` when it has one.
        if spec.cwd.is_none() {
            for arg in &mut spec.args.0 {
                let names_a_path = !arg.starts_with('-')
                    && !is_template(arg)
                    && !Path::new(arg.as_str()).is_absolute()
                    && base.join(arg.as_str()).exists();
                if names_a_path {
                    *arg = absolute_text(arg, base);
                }
            }
        }
        spec
    }
}

impl McpServers {
    /// Every server's relative paths made absolute (see [`ServerSpec::with_absolute_paths`]).
    #[must_use]
    pub fn with_absolute_paths(&self, base: &Path) -> Self {
        Self(self.0.iter().map(|(name, spec)| (name.clone(), spec.with_absolute_paths(base))).collect())
    }
}

impl SkillConfig {
    /// The skill with its relative directories (`base_dir`, `output_dir`) made absolute
    /// against `base`.
    #[must_use]
    pub fn with_absolute_paths(&self, base: &Path) -> Self {
        let mut skill = self.clone();
        let fix = |dir: &mut Option<PathBuf>| {
            if let Some(path) = dir {
                *path = PathBuf::from(absolute_text(&path.display().to_string(), base));
            }
        };
        match &mut skill.settings {
            SkillSettings::FileSystem(s) => fix(&mut s.base_dir),
            SkillSettings::Shell(s) => fix(&mut s.base_dir),
            SkillSettings::Python(s) => fix(&mut s.base_dir),
            SkillSettings::FileGeneration(s) => fix(&mut s.output_dir),
            SkillSettings::Sleep(_) => {}
        }
        skill
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_folder_of_vscode_files() {
        assert_eq!(workspace_folder(Path::new("/w/p/.vscode/mcp.json")), Path::new("/w/p"));
        assert_eq!(workspace_folder(Path::new("/w/p/.mcp.json")), Path::new("/w/p"));
        let mut doc = serde_json::json!({"a": ["${workspaceFolder}/x", 1], "b": "${workspaceFolderBasename}"});
        expand_workspace_folder(&mut doc, Path::new("/w/p"));
        assert_eq!(doc, serde_json::json!({"a": ["/w/p/x", 1], "b": "p"}));
    }

    #[test]
    fn relative_paths_become_absolute() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("server.py"), "").unwrap();
        let spec: ServerSpec = serde_json::from_value(serde_json::json!({
            "command": "./bin/srv", "args": ["server.py", "-v", "missing.txt", "${X}/y", "."], "envFile": ".env"
        }))
        .unwrap();
        let fixed = spec.with_absolute_paths(dir.path());
        let base = dir.path().display().to_string();
        assert_eq!(fixed.command.as_deref(), Some(format!("{base}/bin/srv").as_str()));
        assert_eq!(
            *fixed.args,
            [format!("{base}/server.py"), "-v".into(), "missing.txt".into(), "${X}/y".into(), base.clone()]
        );
        assert_eq!(fixed.env_file.as_deref(), Some(format!("{base}/.env").as_str()));
        let npx: ServerSpec = serde_json::from_value(serde_json::json!({"command": "npx"})).unwrap();
        assert_eq!(npx.with_absolute_paths(dir.path()).command.as_deref(), Some("npx"));
    }
}
