//! Listing and searching under a confined directory.
//!
//! The walk holds a directory handle per level and opens children relative to it with
//! `O_NOFOLLOW`, so a subdirectory swapped for a symlink mid-walk is skipped, never
//! followed.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Instant;

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};

use super::{ConfinedDir, ConfinedError, MAX_CONTENT_SEARCH_BYTES, special_kind};

/// What a directory entry is (symlinks are reported, not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (not followed).
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

/// One entry of a [`Listing`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Path relative to the base dir.
    pub path: PathBuf,
    /// What it is.
    pub kind: EntryKind,
    /// Size in bytes (of the link itself for a symlink).
    pub size: u64,
}

/// The result of [`ConfinedDir::list`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listing {
    /// The entries, breadth first, sorted by name within each directory.
    pub entries: Vec<Entry>,
    /// The limit cut the listing short.
    pub truncated: bool,
}

/// What [`ConfinedDir::search`] looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchPattern {
    /// A glob over the path relative to the search dir, or the file name (`*.rs`).
    Glob(String),
    /// A substring of the file name.
    Name(String),
    /// A substring of a line of content (files up to [`MAX_CONTENT_SEARCH_BYTES`]).
    Content(String),
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SearchHit {
    /// Path relative to the base dir.
    pub path: PathBuf,
    /// For content matches: the 1-based line number and the line.
    pub line: Option<(u64, String)>,
}

/// What a visitor wants next.
enum Visit {
    Continue,
    Stop,
}

impl ConfinedDir {
    pub(super) fn list_blocking(
        &self,
        dir: &Path,
        recursive: bool,
        limit: usize,
        deadline: Instant,
    ) -> Result<Listing, ConfinedError> {
        let mut entries = Vec::new();
        let mut truncated = false;
        self.walk(dir, recursive, deadline, |_, path, kind, size| {
            if entries.len() >= limit {
                truncated = true;
                return Ok(Visit::Stop);
            }
            entries.push(Entry { path: path.to_path_buf(), kind, size });
            Ok(Visit::Continue)
        })?;
        Ok(Listing { entries, truncated })
    }

    pub(super) fn search_blocking(
        &self,
        dir: &Path,
        pattern: &SearchPattern,
        limit: usize,
        deadline: Instant,
    ) -> Result<Vec<SearchHit>, ConfinedError> {
        let glob = match pattern {
            SearchPattern::Glob(text) => Some(
                globset::Glob::new(text)
                    .map_err(|e| ConfinedError::InvalidPattern { pattern: text.clone(), message: e.to_string() })?
                    .compile_matcher(),
            ),
            _ => None,
        };
        let root = super::relative(dir)?;
        let mut hits = Vec::new();
        self.walk(dir, true, deadline, |parent, path, kind, size| {
            if hits.len() >= limit {
                return Ok(Visit::Stop);
            }
            if kind != EntryKind::File {
                return Ok(Visit::Continue);
            }
            let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            let below = path.strip_prefix(&root).unwrap_or(path);
            match pattern {
                SearchPattern::Glob(_) => {
                    if glob.as_ref().is_some_and(|g| g.is_match(below) || g.is_match(name.as_ref())) {
                        hits.push(SearchHit { path: path.to_path_buf(), line: None });
                    }
                }
                SearchPattern::Name(part) => {
                    if name.contains(part.as_str()) {
                        hits.push(SearchHit { path: path.to_path_buf(), line: None });
                    }
                }
                SearchPattern::Content(needle) => {
                    if size <= MAX_CONTENT_SEARCH_BYTES {
                        search_content(parent, path, needle, limit, &mut hits);
                    }
                }
            }
            Ok(Visit::Continue)
        })?;
        hits.truncate(limit);
        Ok(hits)
    }

    /// Breadth-first walk from `dir`; `visit(parent_handle, path_from_base, kind, size)`.
    fn walk(
        &self,
        dir: &Path,
        recursive: bool,
        deadline: Instant,
        mut visit: impl FnMut(&Dir, &Path, EntryKind, u64) -> Result<Visit, ConfinedError>,
    ) -> Result<(), ConfinedError> {
        let root = super::relative(dir)?;
        let mut queue = VecDeque::from([(self.open_subdir(&root)?, root)]);
        while let Some((handle, path)) = queue.pop_front() {
            let Ok(entries) = handle.entries() else {
                continue;
            };
            let mut entries: Vec<_> = entries.flatten().collect();
            entries.sort_by_key(cap_std::fs::DirEntry::file_name);
            for entry in entries {
                if Instant::now() > deadline {
                    return Err(ConfinedError::TimedOut { path: dir.to_path_buf(), after: std::time::Duration::ZERO });
                }
                let name = entry.file_name();
                let child = path.join(&name);
                // DirEntry metadata does not follow symlinks.
                let Ok(meta) = entry.metadata() else { continue };
                let file_type = meta.file_type();
                let kind = match special_kind(&file_type) {
                    None => EntryKind::File,
                    Some("directory") => EntryKind::Dir,
                    Some("symbolic link") => EntryKind::Symlink,
                    Some(_) => EntryKind::Other,
                };
                if let Visit::Stop = visit(&handle, &child, kind, meta.len())? {
                    return Ok(());
                }
                if recursive
                    && kind == EntryKind::Dir
                    && let Ok(sub) = handle.open_dir_nofollow(&name)
                {
                    queue.push_back((sub, child));
                }
            }
        }
        Ok(())
    }
}

/// Appends a hit per line of `parent/name(path)` containing `needle`, up to `limit` hits.
/// The file is opened without following symlinks and must still be a regular file.
fn search_content(parent: &Dir, path: &Path, needle: &str, limit: usize, hits: &mut Vec<SearchHit>) {
    let Some(name) = path.file_name() else { return };
    let mut options = OpenOptions::new();
    options.read(true).custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY).follow(FollowSymlinks::No);
    let Ok(file) = parent.open_with(name, &options) else {
        return;
    };
    let file = file.into_std();
    let Ok(meta) = file.metadata() else { return };
    if !meta.is_file() || meta.len() > MAX_CONTENT_SEARCH_BYTES {
        return;
    }
    let reader = BufReader::new(file).take_lines();
    for (number, line) in reader.enumerate() {
        if line.contains(needle) {
            hits.push(SearchHit { path: path.to_path_buf(), line: Some((number as u64 + 1, line.trim().to_owned())) });
            if hits.len() >= limit {
                return;
            }
        }
    }
}

/// Lines as lossy UTF-8, stopping at the first read error.
trait TakeLines {
    fn take_lines(self) -> impl Iterator<Item = String>;
}

impl<R: BufRead> TakeLines for R {
    fn take_lines(self) -> impl Iterator<Item = String> {
        self.split(b'\n').map_while(Result::ok).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }
}
