//! `file_system`: read, save, list and search files under `base_dir`, and nowhere else.
//!
//! Every path is resolved against `base_dir` and canonicalised; a path whose canonical form
//! leaves `base_dir` — by `..`, an absolute path elsewhere, or a symlink pointing out — is
//! refused. For a file that does not exist yet, its nearest existing ancestor is checked.
//! Listing and searching never follow symlinks that lead outside.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toolbridge_config::{ConfigError, FileSystemSettings};

use super::{Invalid, base_dir};
use crate::error::ToolError;
use crate::source::{CallContext, ToolOutput, ToolTable};

/// The settings with defaults applied.
#[derive(Debug)]
struct Settings {
    max_read_bytes: usize,
    max_write_bytes: usize,
}

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
struct Inner {
    base: PathBuf,
    settings: Settings,
}

pub(crate) fn build(
    name: &str,
    settings: &FileSystemSettings,
    invalid: &Invalid<'_>,
) -> Result<ToolTable, ConfigError> {
    if settings.base_dir.is_none() {
        return Err(invalid("base_dir", "is required".into()));
    }
    let inner = Arc::new(Inner {
        base: base_dir(settings.base_dir.as_deref(), invalid)?,
        settings: Settings {
            max_read_bytes: settings.max_read_bytes.unwrap_or(1 << 20),
            max_write_bytes: settings.max_write_bytes.unwrap_or(1 << 20),
        },
    });
    let mut table = ToolTable::skill(name);
    if settings.enable_read_file != Some(false) {
        table = table.handler("read_file", "Reads a text file under the base directory", blocking(&inner, Inner::read));
    }
    if settings.enable_save_file != Some(false) {
        table =
            table.handler("save_file", "Writes a text file under the base directory", blocking(&inner, Inner::save));
    }
    if settings.enable_list_files != Some(false) {
        table = table.handler(
            "list_files",
            "Lists files and directories under the base directory",
            blocking(&inner, Inner::list),
        );
    }
    if settings.enable_search_files != Some(false) {
        table = table.handler(
            "search_files",
            "Finds files by name (glob or substring) or by content",
            blocking(&inner, Inner::search),
        );
    }
    Ok(table)
}

/// A handler running `operation` on the blocking pool (file I/O blocks), bounded by the size
/// caps.
fn blocking<P: DeserializeOwned + Send + 'static>(
    inner: &Arc<Inner>,
    operation: fn(&Inner, &P) -> Result<ToolOutput, ToolError>,
) -> impl Fn(P, CallContext) -> futures::future::BoxFuture<'static, Result<ToolOutput, ToolError>> + Send + Sync + 'static
{
    let inner = Arc::clone(inner);
    move |params: P, _ctx: CallContext| {
        let inner = Arc::clone(&inner);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || operation(&inner, &params))
                .await
                .map_err(|e| ToolError::failed_with("the file operation did not finish", e))?
        })
    }
}

impl Inner {
    /// The canonical path for `path`, refused if it leaves the base directory.
    fn resolve(&self, path: &str) -> Result<PathBuf, ToolError> {
        let requested = Path::new(path);
        let joined = if requested.is_absolute() { requested.to_path_buf() } else { self.base.join(requested) };
        let escape = || ToolError::outside_base_dir(format!("path {path:?} is outside the base directory"));
        // The nearest existing ancestor decides where symlinks lead.
        let mut existing = joined.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            let Some(name) = existing.file_name() else { return Err(escape()) };
            rest.push(name.to_owned());
            existing = existing.parent().ok_or_else(escape)?;
        }
        let mut resolved = existing.canonicalize().map_err(|e| ToolError::failed(format!("{path}: {e}")))?;
        for part in rest.iter().rev() {
            if Path::new(part).components().any(|c| !matches!(c, Component::Normal(_))) {
                return Err(escape());
            }
            resolved.push(part);
        }
        if resolved.starts_with(&self.base) { Ok(resolved) } else { Err(escape()) }
    }

    fn relative<'p>(&self, path: &'p Path) -> &'p Path {
        path.strip_prefix(&self.base).unwrap_or(path)
    }

    fn read(&self, p: &ReadFile) -> Result<ToolOutput, ToolError> {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.resolve(&p.path)?;
        let mut file = std::fs::File::open(&path).map_err(|e| ToolError::failed(format!("{}: {e}", p.path)))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let offset = p.offset.unwrap_or(0);
        let limit = p.limit.unwrap_or(self.settings.max_read_bytes).min(self.settings.max_read_bytes);
        file.seek(SeekFrom::Start(offset)).map_err(|e| ToolError::failed(e.to_string()))?;
        let mut buffer = Vec::with_capacity(limit.min(1 << 16));
        file.take(limit as u64).read_to_end(&mut buffer).map_err(|e| ToolError::failed(e.to_string()))?;
        let mut text = String::from_utf8_lossy(&buffer).into_owned();
        let end = offset + buffer.len() as u64;
        if end < size {
            let _ = write!(text, "\n[{} of {size} bytes shown; read on with offset={end}]", buffer.len());
        }
        Ok(ToolOutput::text(text))
    }

    fn save(&self, p: &SaveFile) -> Result<ToolOutput, ToolError> {
        if p.content.len() > self.settings.max_write_bytes {
            return Err(ToolError::denied(format!(
                "content is {} bytes; this skill writes at most {} (max_write_bytes)",
                p.content.len(),
                self.settings.max_write_bytes
            )));
        }
        let path = self.resolve(&p.path)?;
        if path.is_dir() {
            return Err(ToolError::invalid_arguments(format!("{:?} is a directory", p.path)));
        }
        if path.exists() && p.overwrite == Some(false) {
            return Err(ToolError::denied(format!("{:?} exists and overwrite is false", p.path)));
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ToolError::failed(e.to_string()))?;
        }
        std::fs::write(&path, &p.content).map_err(|e| ToolError::failed(format!("{}: {e}", p.path)))?;
        Ok(ToolOutput::text(format!("wrote {} bytes to {}", p.content.len(), self.relative(&path).display())))
    }

    /// Files under `dir` (not following symlinks out of the base), breadth first.
    fn walk(
        &self,
        dir: &Path,
        recursive: bool,
        limit: usize,
        mut visit: impl FnMut(&Path, &std::fs::Metadata) -> bool,
    ) {
        let mut queue = std::collections::VecDeque::from([dir.to_path_buf()]);
        let mut seen = 0usize;
        while let Some(current) = queue.pop_front() {
            let Ok(entries) = std::fs::read_dir(&current) else { continue };
            let mut entries: Vec<_> = entries.flatten().collect();
            entries.sort_by_key(std::fs::DirEntry::file_name);
            for entry in entries {
                let path = entry.path();
                let Ok(link_meta) = entry.path().symlink_metadata() else { continue };
                let is_link = link_meta.file_type().is_symlink();
                let meta = if is_link {
                    match path.canonicalize() {
                        Ok(target) if target.starts_with(&self.base) => match target.metadata() {
                            Ok(meta) => meta,
                            Err(_) => continue,
                        },
                        _ => continue,
                    }
                } else {
                    link_meta
                };
                if !visit(&path, &meta) {
                    return;
                }
                seen += 1;
                if seen >= limit {
                    return;
                }
                if recursive && meta.is_dir() && !is_link {
                    queue.push_back(path);
                }
            }
        }
    }

    fn list(&self, p: &ListFiles) -> Result<ToolOutput, ToolError> {
        let dir = self.resolve(p.path.as_deref().unwrap_or("."))?;
        let limit = p.max_entries.unwrap_or(200).clamp(1, 10_000);
        let mut lines = Vec::new();
        self.walk(&dir, p.recursive.unwrap_or(false), limit, |path, meta| {
            let name = self.relative(path).display().to_string();
            lines.push(if meta.is_dir() { format!("{name}/") } else { format!("{name} ({} bytes)", meta.len()) });
            true
        });
        if lines.is_empty() {
            return Ok(ToolOutput::text("(empty directory)"));
        }
        if lines.len() >= limit {
            lines.push(format!("[stopped at {limit} entries]"));
        }
        Ok(ToolOutput::text(lines.join("\n")))
    }

    fn search(&self, p: &SearchFiles) -> Result<ToolOutput, ToolError> {
        let dir = self.resolve(p.path.as_deref().unwrap_or("."))?;
        let limit = p.max_results.unwrap_or(100).clamp(1, 10_000);
        let by_content = p.content.unwrap_or(false);
        let glob = (!by_content && p.pattern.contains(['*', '?', '[']))
            .then(|| globset::Glob::new(&p.pattern).map(|g| g.compile_matcher()))
            .transpose()
            .map_err(|e| ToolError::invalid_arguments(format!("pattern: {e}")))?;
        let mut hits = Vec::new();
        self.walk(&dir, true, 100_000, |path, meta| {
            if !meta.is_file() {
                return true;
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let relative = self.relative(path).display().to_string();
            if by_content {
                if meta.len() as usize <= self.settings.max_read_bytes
                    && let Ok(text) = std::fs::read_to_string(path)
                {
                    for (number, line) in text.lines().enumerate() {
                        if line.contains(&p.pattern) {
                            hits.push(format!("{relative}:{}: {}", number + 1, line.trim()));
                            if hits.len() >= limit {
                                return false;
                            }
                        }
                    }
                }
            } else if glob
                .as_ref()
                .map_or_else(|| name.contains(&p.pattern), |g| g.is_match(&name) || g.is_match(&relative))
            {
                hits.push(relative);
            }
            hits.len() < limit
        });
        Ok(ToolOutput::text(if hits.is_empty() { "no matches".to_owned() } else { hits.join("\n") }))
    }
}
