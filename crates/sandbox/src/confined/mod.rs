//! File I/O that cannot leave a base directory, for the `file_system` skill.
//!
//! Paths are never joined onto the base and then checked: every operation resolves its
//! path relative to an open directory handle with `openat2(RESOLVE_BENEATH)` (through
//! `cap-std`, which falls back to a careful component-by-component walk on kernels without
//! openat2). So `..`, absolute paths, absolute or escaping symlinks, and a symlink swapped
//! in mid-operation all fail in the kernel, not in a string check that a race can beat.
//!
//! On top of that:
//! - writes never follow a symlink in the final component (`O_NOFOLLOW`), open without
//!   `O_TRUNC`, and truncate only after checking the opened file: a regular file with one
//!   link (a hard link to an outside file is refused);
//! - FIFOs, sockets and devices are refused, checked on the opened descriptor; files are
//!   opened `O_NONBLOCK`, so opening a FIFO cannot hang;
//! - reads are capped in size and bounded in time; walks do not descend through symlinks.
//!
//! The I/O is blocking and runs on tokio's blocking pool; each async method gives up
//! after its timeout (the blocking work checks the same deadline and stops soon after).

mod error;
mod walk;

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};

pub use error::ConfinedError;
pub use walk::{Entry, EntryKind, Listing, SearchHit, SearchPattern};

/// Default bound on write, list and search operations.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default largest write.
pub const DEFAULT_MAX_WRITE_BYTES: usize = 1 << 20;
/// Largest file whose content [`SearchPattern::Content`] looks into.
pub const MAX_CONTENT_SEARCH_BYTES: u64 = 1 << 20;

/// A directory whose I/O cannot reach outside it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConfinedDir {
    dir: Arc<Dir>,
    base: PathBuf,
    max_write_bytes: usize,
    timeout: Duration,
}

/// The result of a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOutcome {
    /// The bytes read (at most the requested maximum).
    pub bytes: Vec<u8>,
    /// More bytes follow.
    pub truncated: bool,
    /// The file's size when opened.
    pub total_size: u64,
}

/// How [`ConfinedDir::write`] treats missing parents and existing files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Create missing parent directories (inside the base).
    pub create_dirs: bool,
    /// Replace an existing file's content (else [`ConfinedError::AlreadyExists`]).
    pub overwrite: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self { create_dirs: true, overwrite: true }
    }
}

impl ConfinedDir {
    /// Opens `base` (which must be a directory) as the confinement root.
    pub fn open(base: impl AsRef<Path>) -> Result<Self, ConfinedError> {
        let base = base.as_ref();
        let dir =
            Dir::open_ambient_dir(base, cap_std::ambient_authority()).map_err(|e| ConfinedError::classify(base, e))?;
        Ok(Self {
            dir: Arc::new(dir),
            base: base.to_path_buf(),
            max_write_bytes: DEFAULT_MAX_WRITE_BYTES,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The base directory as given to [`open`](Self::open) (for messages only: it is
    /// never used to resolve paths).
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Sets the largest write (default [`DEFAULT_MAX_WRITE_BYTES`]).
    pub fn with_max_write_bytes(mut self, limit: usize) -> Self {
        self.max_write_bytes = limit;
        self
    }

    /// Sets the bound on write, list and search (default [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Reads at most `max_bytes` from the start of the regular file `path`.
    pub async fn read(
        &self,
        path: impl AsRef<Path>,
        max_bytes: u64,
        timeout: Duration,
    ) -> Result<ReadOutcome, ConfinedError> {
        self.read_range(path, 0, max_bytes, timeout).await
    }

    /// Reads at most `max_bytes` from `offset` of the regular file `path`.
    pub async fn read_range(
        &self,
        path: impl AsRef<Path>,
        offset: u64,
        max_bytes: u64,
        timeout: Duration,
    ) -> Result<ReadOutcome, ConfinedError> {
        let path = path.as_ref().to_path_buf();
        self.blocking(path.clone(), timeout, move |this, deadline| {
            this.read_blocking(&path, offset, max_bytes, deadline)
        })
        .await
    }

    /// Writes `bytes` to `path` (replacing its content); returns the bytes written.
    pub async fn write(
        &self,
        path: impl AsRef<Path>,
        bytes: impl Into<Vec<u8>>,
        options: WriteOptions,
    ) -> Result<u64, ConfinedError> {
        let path = path.as_ref().to_path_buf();
        let bytes = bytes.into();
        self.blocking(path.clone(), self.timeout, move |this, _| this.write_blocking(&path, &bytes, options)).await
    }

    /// Entries of `dir` (breadth first, sorted by name within a directory), descending
    /// into subdirectories when `recursive` but never through symlinks; at most `limit`.
    pub async fn list(&self, dir: impl AsRef<Path>, recursive: bool, limit: usize) -> Result<Listing, ConfinedError> {
        let path = dir.as_ref().to_path_buf();
        self.blocking(path.clone(), self.timeout, move |this, deadline| {
            this.list_blocking(&path, recursive, limit, deadline)
        })
        .await
    }

    /// Regular files under `dir` matching `pattern` (content matches give one hit per
    /// line); at most `limit` hits.
    pub async fn search(
        &self,
        dir: impl AsRef<Path>,
        pattern: SearchPattern,
        limit: usize,
    ) -> Result<Vec<SearchHit>, ConfinedError> {
        let path = dir.as_ref().to_path_buf();
        self.blocking(path.clone(), self.timeout, move |this, deadline| {
            this.search_blocking(&path, &pattern, limit, deadline)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        path: PathBuf,
        timeout: Duration,
        work: impl FnOnce(&ConfinedDir, Instant) -> Result<T, ConfinedError> + Send + 'static,
    ) -> Result<T, ConfinedError> {
        let this = self.clone();
        let deadline = Instant::now() + timeout;
        let task = tokio::task::spawn_blocking(move || work(&this, deadline));
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(ConfinedError::Io { path, source: std::io::Error::other(join.to_string()) }),
            Err(_) => Err(ConfinedError::TimedOut { path, after: timeout }),
        }
    }

    fn read_blocking(
        &self,
        path: &Path,
        offset: u64,
        max_bytes: u64,
        deadline: Instant,
    ) -> Result<ReadOutcome, ConfinedError> {
        let rel = relative(path)?;
        let err = |e| ConfinedError::classify(path, e);
        // Refuse special files before opening them (opening a device can have effects);
        // the check on the opened descriptor below is the one that counts.
        let before = self.dir.metadata(&rel).map_err(err)?;
        check_regular(path, &before.file_type())?;
        let mut options = OpenOptions::new();
        options.read(true).custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY);
        let mut file = self.dir.open_with(&rel, &options).map_err(err)?.into_std();
        let meta = file.metadata().map_err(err)?;
        check_regular(path, &meta.file_type())?;
        let total_size = meta.len();
        file.seek(SeekFrom::Start(offset)).map_err(err)?;

        let mut bytes = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let mut truncated = false;
        loop {
            if Instant::now() > deadline {
                return Err(ConfinedError::TimedOut { path: path.to_path_buf(), after: Duration::ZERO });
            }
            let read = file.read(&mut chunk).map_err(err)?;
            if read == 0 {
                break;
            }
            let room = usize::try_from(max_bytes).unwrap_or(usize::MAX).saturating_sub(bytes.len());
            if read > room {
                bytes.extend_from_slice(chunk.get(..room).unwrap_or_default());
                truncated = true;
                break;
            }
            bytes.extend_from_slice(chunk.get(..read).unwrap_or_default());
        }
        Ok(ReadOutcome { bytes, truncated, total_size })
    }

    fn write_blocking(&self, path: &Path, bytes: &[u8], write: WriteOptions) -> Result<u64, ConfinedError> {
        let rel = relative(path)?;
        let err = |e| ConfinedError::classify(path, e);
        if rel.as_os_str().is_empty() {
            return Err(ConfinedError::NotAFile { path: path.to_path_buf(), kind: "directory" });
        }
        if bytes.len() > self.max_write_bytes {
            return Err(ConfinedError::TooLarge {
                path: path.to_path_buf(),
                size: bytes.len() as u64,
                limit: self.max_write_bytes as u64,
            });
        }
        if write.create_dirs
            && let Some(parent) = rel.parent()
            && !parent.as_os_str().is_empty()
        {
            match self.dir.create_dir_all(parent) {
                // Something other than a directory is in the way (e.g. a symlink): the
                // open below reports what it is, with the right error.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                other => other.map_err(err)?,
            }
        }
        let mut options = OpenOptions::new();
        options
            .write(true)
            .mode(0o644)
            .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
            .follow(FollowSymlinks::No);
        if write.overwrite {
            options.create(true);
        } else {
            options.create_new(true);
        }
        // No O_TRUNC: a file is emptied only once it is known to be ours to write.
        let mut file =
            self.dir.open_with(&rel, &options).map_err(|e| ConfinedError::classify_write(path, e))?.into_std();
        let meta = file.metadata().map_err(err)?;
        check_regular(path, &meta.file_type())?;
        if meta.nlink() > 1 {
            return Err(ConfinedError::LinkCountTooHigh { path: path.to_path_buf(), links: meta.nlink() });
        }
        file.set_len(0).map_err(err)?;
        file.write_all(bytes).map_err(err)?;
        Ok(bytes.len() as u64)
    }

    /// The directory `path` (relative; empty means the base), opened without following
    /// a symlink in its last component.
    fn open_subdir(&self, path: &Path) -> Result<Dir, ConfinedError> {
        use cap_fs_ext::DirExt;
        let rel = relative(path)?;
        if rel.as_os_str().is_empty() {
            return self.dir.try_clone().map_err(|e| ConfinedError::classify(path, e));
        }
        self.dir.open_dir_nofollow(&rel).map_err(|e| ConfinedError::classify(path, e))
    }
}

/// `path` as a plain relative path: no root, no `..` (refused even when it would stay
/// inside: there is no need for it, and refusing it keeps the rule simple), no `.`.
fn relative(path: &Path) -> Result<PathBuf, ConfinedError> {
    let mut rel = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) | Component::ParentDir => {
                return Err(ConfinedError::OutsideBaseDir { path: path.to_path_buf() });
            }
        }
    }
    Ok(rel)
}

/// File types as both `std` and `cap-std` report them.
trait FileKind {
    fn is_file(&self) -> bool;
    fn is_dir(&self) -> bool;
    fn is_symlink(&self) -> bool;
    fn is_fifo(&self) -> bool;
    fn is_socket(&self) -> bool;
    fn is_device(&self) -> bool;
}

impl FileKind for std::fs::FileType {
    fn is_file(&self) -> bool {
        std::fs::FileType::is_file(self)
    }
    fn is_dir(&self) -> bool {
        std::fs::FileType::is_dir(self)
    }
    fn is_symlink(&self) -> bool {
        std::fs::FileType::is_symlink(self)
    }
    fn is_fifo(&self) -> bool {
        FileTypeExt::is_fifo(self)
    }
    fn is_socket(&self) -> bool {
        FileTypeExt::is_socket(self)
    }
    fn is_device(&self) -> bool {
        FileTypeExt::is_char_device(self) || FileTypeExt::is_block_device(self)
    }
}

impl FileKind for cap_std::fs::FileType {
    fn is_file(&self) -> bool {
        cap_std::fs::FileType::is_file(self)
    }
    fn is_dir(&self) -> bool {
        cap_std::fs::FileType::is_dir(self)
    }
    fn is_symlink(&self) -> bool {
        cap_std::fs::FileType::is_symlink(self)
    }
    fn is_fifo(&self) -> bool {
        cap_std::fs::FileTypeExt::is_fifo(self)
    }
    fn is_socket(&self) -> bool {
        cap_std::fs::FileTypeExt::is_socket(self)
    }
    fn is_device(&self) -> bool {
        cap_std::fs::FileTypeExt::is_char_device(self) || cap_std::fs::FileTypeExt::is_block_device(self)
    }
}

/// A word for what a non-regular file is, `None` for a regular file.
fn special_kind(file_type: &impl FileKind) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("directory")
    } else if file_type.is_symlink() {
        Some("symbolic link")
    } else if file_type.is_fifo() {
        Some("FIFO")
    } else if file_type.is_socket() {
        Some("socket")
    } else if file_type.is_device() {
        Some("device")
    } else {
        Some("special file")
    }
}

fn check_regular(path: &Path, file_type: &impl FileKind) -> Result<(), ConfinedError> {
    match special_kind(file_type) {
        None => Ok(()),
        Some(kind) => Err(ConfinedError::NotAFile { path: path.to_path_buf(), kind }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_refuses_roots_and_parents() {
        assert!(relative(Path::new("/etc/passwd")).is_err());
        assert!(relative(Path::new("a/../b")).is_err());
        assert!(relative(Path::new("..")).is_err());
        assert_eq!(relative(Path::new("./a/./b")).expect("plain path"), PathBuf::from("a/b"));
    }
}
