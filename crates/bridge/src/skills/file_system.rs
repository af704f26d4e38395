//! `file_system`: read, save, list and search files under `base_dir`, and nowhere else.
//!
//! Every path is resolved against `base_dir` and canonicalised; a path whose canonical form
//! leaves `base_dir` — by `..`, an absolute path elsewhere, or a symlink pointing out — is
//! refused. For a file that does not exist yet, its nearest existing ancestor is checked.
//! Listing and searching never follow symlinks that lead outside.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{Skill, SkillError, SkillKind, SkillOutput, SkillTool, args, tool};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    base_dir: Option<PathBuf>,
    #[serde(default = "yes")]
    enable_read_file: bool,
    #[serde(default = "yes")]
    enable_save_file: bool,
    #[serde(default = "yes")]
    enable_list_files: bool,
    #[serde(default = "yes")]
    enable_search_files: bool,
    #[serde(default = "mib")]
    max_read_bytes: usize,
    #[serde(default = "mib")]
    max_write_bytes: usize,
}

fn yes() -> bool {
    true
}

fn mib() -> usize {
    1 << 20
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            base_dir: None,
            enable_read_file: true,
            enable_save_file: true,
            enable_list_files: true,
            enable_search_files: true,
            max_read_bytes: mib(),
            max_write_bytes: mib(),
        }
    }
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

/// The `file_system` skill.
#[derive(Debug)]
pub(crate) struct FileSystem {
    inner: std::sync::Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    base: PathBuf,
    settings: Settings,
    tools: Vec<SkillTool>,
}

impl FileSystem {
    pub(crate) fn new(name: &str, settings: Settings) -> Result<Self, String> {
        Inner::new(name, settings).map(|inner| Self { inner: std::sync::Arc::new(inner) })
    }
}

impl Inner {
    pub(crate) fn new(name: &str, settings: Settings) -> Result<Self, String> {
        let base_dir = settings.base_dir.clone().ok_or("configuration: `base_dir` is required")?;
        let base =
            base_dir.canonicalize().map_err(|e| format!("configuration: base_dir {}: {e}", base_dir.display()))?;
        if !base.is_dir() {
            return Err(format!("configuration: base_dir {} is not a directory", base.display()));
        }
        let mut tools = Vec::new();
        if settings.enable_read_file {
            tools.push(tool::<ReadFile>("read_file", "Reads a text file under the base directory"));
        }
        if settings.enable_save_file {
            tools.push(tool::<SaveFile>("save_file", "Writes a text file under the base directory"));
        }
        if settings.enable_list_files {
            tools.push(tool::<ListFiles>("list_files", "Lists files and directories under the base directory"));
        }
        if settings.enable_search_files {
            tools.push(tool::<SearchFiles>("search_files", "Finds files by name (glob or substring) or by content"));
        }
        Ok(Self { name: name.to_owned(), base, settings, tools })
    }

    /// The canonical path for `path`, refused if it leaves the base directory.
    fn resolve(&self, path: &str) -> Result<PathBuf, SkillError> {
        let requested = Path::new(path);
        let joined = if requested.is_absolute() { requested.to_path_buf() } else { self.base.join(requested) };
        let escape = || SkillError::Denied(format!("path {path:?} is outside the base directory"));
        // The nearest existing ancestor decides where symlinks lead.
        let mut existing = joined.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            let Some(name) = existing.file_name() else { return Err(escape()) };
            rest.push(name.to_owned());
            existing = existing.parent().ok_or_else(escape)?;
        }
        let mut resolved = existing.canonicalize().map_err(|e| SkillError::Io(format!("{path}: {e}")))?;
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

    fn read(&self, p: &ReadFile) -> Result<SkillOutput, SkillError> {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.resolve(&p.path)?;
        let mut file = std::fs::File::open(&path).map_err(|e| SkillError::Io(format!("{}: {e}", p.path)))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let offset = p.offset.unwrap_or(0);
        let limit = p.limit.unwrap_or(self.settings.max_read_bytes).min(self.settings.max_read_bytes);
        file.seek(SeekFrom::Start(offset)).map_err(|e| SkillError::Io(e.to_string()))?;
        let mut buffer = Vec::with_capacity(limit.min(1 << 16));
        file.take(limit as u64).read_to_end(&mut buffer).map_err(|e| SkillError::Io(e.to_string()))?;
        let mut text = String::from_utf8_lossy(&buffer).into_owned();
        let end = offset + buffer.len() as u64;
        if end < size {
            let _ = write!(text, "\n[{} of {size} bytes shown; read on with offset={end}]", buffer.len());
        }
        Ok(SkillOutput::ok(text))
    }

    fn save(&self, p: &SaveFile) -> Result<SkillOutput, SkillError> {
        if p.content.len() > self.settings.max_write_bytes {
            return Err(SkillError::Denied(format!(
                "content is {} bytes; this skill writes at most {} (max_write_bytes)",
                p.content.len(),
                self.settings.max_write_bytes
            )));
        }
        let path = self.resolve(&p.path)?;
        if path.is_dir() {
            return Err(SkillError::InvalidArguments(format!("{:?} is a directory", p.path)));
        }
        if path.exists() && p.overwrite == Some(false) {
            return Err(SkillError::Denied(format!("{:?} exists and overwrite is false", p.path)));
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| SkillError::Io(e.to_string()))?;
        }
        std::fs::write(&path, &p.content).map_err(|e| SkillError::Io(format!("{}: {e}", p.path)))?;
        Ok(SkillOutput::ok(format!("wrote {} bytes to {}", p.content.len(), self.relative(&path).display())))
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

    fn list(&self, p: &ListFiles) -> Result<SkillOutput, SkillError> {
        let dir = self.resolve(p.path.as_deref().unwrap_or("."))?;
        let limit = p.max_entries.unwrap_or(200).clamp(1, 10_000);
        let mut lines = Vec::new();
        self.walk(&dir, p.recursive.unwrap_or(false), limit, |path, meta| {
            let name = self.relative(path).display().to_string();
            lines.push(if meta.is_dir() { format!("{name}/") } else { format!("{name} ({} bytes)", meta.len()) });
            true
        });
        if lines.is_empty() {
            return Ok(SkillOutput::ok("(empty directory)"));
        }
        if lines.len() >= limit {
            lines.push(format!("[stopped at {limit} entries]"));
        }
        Ok(SkillOutput::ok(lines.join("\n")))
    }

    fn search(&self, p: &SearchFiles) -> Result<SkillOutput, SkillError> {
        let dir = self.resolve(p.path.as_deref().unwrap_or("."))?;
        let limit = p.max_results.unwrap_or(100).clamp(1, 10_000);
        let by_content = p.content.unwrap_or(false);
        let glob = (!by_content && p.pattern.contains(['*', '?', '[']))
            .then(|| globset::Glob::new(&p.pattern).map(|g| g.compile_matcher()))
            .transpose()
            .map_err(|e| SkillError::InvalidArguments(format!("pattern: {e}")))?;
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
        Ok(SkillOutput::ok(if hits.is_empty() { "no matches".to_owned() } else { hits.join("\n") }))
    }
}

#[async_trait]
impl Skill for FileSystem {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn kind(&self) -> SkillKind {
        SkillKind::FileSystem
    }

    fn tools(&self) -> &[SkillTool] {
        &self.inner.tools
    }

    async fn call(&self, name: &str, arguments: Value, _cancel: CancellationToken) -> Result<SkillOutput, SkillError> {
        if !self.inner.tools.iter().any(|t| t.name == name) {
            return Err(SkillError::UnknownTool(name.to_owned()));
        }
        // File I/O is blocking: it runs on the blocking pool, bounded by the size caps.
        let inner = std::sync::Arc::clone(&self.inner);
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || match name.as_str() {
            "read_file" => inner.read(&args(arguments)?),
            "save_file" => inner.save(&args(arguments)?),
            "list_files" => inner.list(&args(arguments)?),
            "search_files" => inner.search(&args(arguments)?),
            other => Err(SkillError::UnknownTool(other.to_owned())),
        })
        .await
        .map_err(|e| SkillError::Io(format!("the file operation failed: {e}")))?
    }
}
