//! `file_system`: read, save, list and search files under `base_dir`, and nowhere else.
//!
//! Every operation goes through a [`ConfinedDir`] (`openat2` with `RESOLVE_BENEATH`): no path,
//! `..`, absolute path, symlink — dangling or swapped while the call runs — or race reaches
//! outside `base_dir`; writes never follow a symlink or write through a hard link; FIFOs,
//! sockets and devices are refused; reads are size-capped and time-bounded.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use toolbridge_config::{ConfigError, FileSystemSettings};
use toolbridge_sandbox::confined::{EntryKind, WriteOptions};
use toolbridge_sandbox::{ConfinedDir, ConfinedError, SearchPattern};

use super::{Invalid, base_dir};
use crate::error::ToolError;
use crate::source::{ToolOutput, ToolTable};

/// How long one file operation may take (a slow network mount, a huge tree).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReadFile {
    /// Path relative to the base directory.
    path: String,
    /// Byte offset to start at.
    offset: Option<u64>,
    /// Most bytes to read.
    limit: Option<usize>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SaveFile {
    /// Path relative to the base directory.
    path: String,
    /// The text to write.
    content: String,
    /// Replace an existing file (default true).
    overwrite: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListFiles {
    /// Directory relative to the base directory (default: the base directory).
    path: Option<String>,
    /// Descend into subdirectories.
    recursive: Option<bool>,
    /// Most entries to return (default 200).
    max_entries: Option<usize>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchFiles {
    /// A glob (`*.rs`) or a substring of file names; with `content: true`, a substring of file contents.
    pattern: String,
    /// Directory to search (default: the base directory).
    path: Option<String>,
    /// Search file contents instead of names.
    content: Option<bool>,
    /// Most results (default 100).
    max_results: Option<usize>,
}

#[derive(Debug)]
struct Files {
    dir: ConfinedDir,
    max_read_bytes: usize,
    max_write_bytes: usize,
}

pub(crate) fn build(
    name: &str,
    settings: &FileSystemSettings,
    invalid: &Invalid<'_>,
) -> Result<ToolTable, ConfigError> {
    if settings.base_dir.is_none() {
        return Err(invalid("base_dir", "is required".into()));
    }
    let base = base_dir(settings.base_dir.as_deref(), invalid)?;
    let max_write_bytes = settings.max_write_bytes.unwrap_or(1 << 20);
    let dir = ConfinedDir::open(&base)
        .map_err(|e| invalid("base_dir", e.to_string()))?
        .with_max_write_bytes(max_write_bytes)
        .with_timeout(OPERATION_TIMEOUT);
    let files = Arc::new(Files { dir, max_read_bytes: settings.max_read_bytes.unwrap_or(1 << 20), max_write_bytes });
    let f = |files: &Arc<Files>| Arc::clone(files);
    let (read, save, list, search) = (f(&files), f(&files), f(&files), files);
    let mut table = ToolTable::skill(name);
    if settings.enable_read_file != Some(false) {
        table = table.handler("read_file", "Reads a text file under the base directory", move |p: ReadFile, _| {
            let files = Arc::clone(&read);
            async move { files.read(p).await }
        });
    }
    if settings.enable_save_file != Some(false) {
        table = table.handler("save_file", "Writes a text file under the base directory", move |p: SaveFile, _| {
            let files = Arc::clone(&save);
            async move { files.save(p).await }
        });
    }
    if settings.enable_list_files != Some(false) {
        table = table.handler(
            "list_files",
            "Lists files and directories under the base directory",
            move |p: ListFiles, _| {
                let files = Arc::clone(&list);
                async move { files.list(p).await }
            },
        );
    }
    if settings.enable_search_files != Some(false) {
        table = table.handler(
            "search_files",
            "Finds files by name (glob or substring) or by content",
            move |p: SearchFiles, _| {
                let files = Arc::clone(&search);
                async move { files.search(p).await }
            },
        );
    }
    Ok(table)
}

/// The one mapping from confined-I/O errors to tool-call errors.
fn tool_error(error: ConfinedError) -> ToolError {
    match error {
        // A symlink is never followed: where it points is outside as far as this skill goes.
        ConfinedError::OutsideBaseDir { .. }
        | ConfinedError::LinkCountTooHigh { .. }
        | ConfinedError::NotAFile { kind: "symbolic link", .. } => ToolError::outside_base_dir(error.to_string()),
        ConfinedError::TooLarge { .. } | ConfinedError::AlreadyExists { .. } => ToolError::denied(error.to_string()),
        ConfinedError::InvalidPattern { .. } | ConfinedError::NotAFile { .. } => {
            ToolError::invalid_arguments(error.to_string())
        }
        ConfinedError::TimedOut { after, .. } => {
            ToolError::Timeout { tool: "the file operation".into(), server: None, limit: after }
        }
        other => ToolError::failed(other.to_string()),
    }
}

impl Files {
    async fn read(&self, p: ReadFile) -> Result<ToolOutput, ToolError> {
        let limit = p.limit.unwrap_or(self.max_read_bytes).min(self.max_read_bytes);
        let offset = p.offset.unwrap_or(0);
        let read = self.dir.read_range(&p.path, offset, limit as u64, OPERATION_TIMEOUT).await.map_err(tool_error)?;
        let mut text = String::from_utf8_lossy(&read.bytes).into_owned();
        let end = offset + read.bytes.len() as u64;
        if end < read.total_size {
            let _ =
                write!(text, "\n[{} of {} bytes shown; read on with offset={end}]", read.bytes.len(), read.total_size);
        }
        Ok(ToolOutput::text(text))
    }

    async fn save(&self, p: SaveFile) -> Result<ToolOutput, ToolError> {
        if p.content.len() > self.max_write_bytes {
            return Err(ToolError::denied(format!(
                "content is {} bytes; this skill writes at most {} (max_write_bytes)",
                p.content.len(),
                self.max_write_bytes
            )));
        }
        let options = WriteOptions { create_dirs: true, overwrite: p.overwrite != Some(false) };
        let written = self.dir.write(&p.path, p.content.into_bytes(), options).await.map_err(tool_error)?;
        Ok(ToolOutput::text(format!("wrote {written} bytes to {}", p.path)))
    }

    async fn list(&self, p: ListFiles) -> Result<ToolOutput, ToolError> {
        let limit = p.max_entries.unwrap_or(200).clamp(1, 10_000);
        let dir = p.path.as_deref().unwrap_or(".");
        let listing = self.dir.list(dir, p.recursive.unwrap_or(false), limit).await.map_err(tool_error)?;
        let mut lines: Vec<String> = listing
            .entries
            .iter()
            .map(|entry| {
                let name = entry.path.display();
                match entry.kind {
                    EntryKind::Dir => format!("{name}/"),
                    EntryKind::Symlink => format!("{name} (symlink, not followed)"),
                    EntryKind::Other => format!("{name} (not a regular file)"),
                    EntryKind::File => format!("{name} ({} bytes)", entry.size),
                }
            })
            .collect();
        if lines.is_empty() {
            return Ok(ToolOutput::text("(empty directory)"));
        }
        if listing.truncated {
            lines.push(format!("[stopped at {limit} entries]"));
        }
        Ok(ToolOutput::text(lines.join("\n")))
    }

    async fn search(&self, p: SearchFiles) -> Result<ToolOutput, ToolError> {
        let limit = p.max_results.unwrap_or(100).clamp(1, 10_000);
        let pattern = if p.content.unwrap_or(false) {
            SearchPattern::Content(p.pattern)
        } else if p.pattern.contains(['*', '?', '[']) {
            SearchPattern::Glob(p.pattern)
        } else {
            SearchPattern::Name(p.pattern)
        };
        let dir = p.path.as_deref().unwrap_or(".");
        let hits = self.dir.search(dir, pattern, limit).await.map_err(tool_error)?;
        if hits.is_empty() {
            return Ok(ToolOutput::text("no matches"));
        }
        let lines: Vec<String> = hits
            .iter()
            .map(|hit| match &hit.line {
                Some((number, line)) => format!("{}:{number}: {}", hit.path.display(), line.trim()),
                None => hit.path.display().to_string(),
            })
            .collect();
        Ok(ToolOutput::text(lines.join("\n")))
    }
}
