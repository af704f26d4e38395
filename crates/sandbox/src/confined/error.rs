//! Typed errors of confined I/O, each naming the path as the caller gave it.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a confined operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfinedError {
    /// The path (through `..`, an absolute path or a symlink) leads outside the base dir.
    #[error("{}: outside the base directory", path.display())]
    OutsideBaseDir {
        /// The path as given.
        path: PathBuf,
    },
    /// The path is not a regular file (a directory, symlink, FIFO, socket or device).
    #[error("{}: is a {kind}, not a regular file", path.display())]
    NotAFile {
        /// The path as given.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file has other hard links, possibly outside the base dir: writing it would
    /// write there too.
    #[error("{}: has {links} hard links; refusing to write through a hard link", path.display())]
    LinkCountTooHigh {
        /// The path as given.
        path: PathBuf,
        /// Its link count.
        links: u64,
    },
    /// The content exceeds the configured limit.
    #[error("{}: {size} bytes exceed the limit of {limit}", path.display())]
    TooLarge {
        /// The path as given.
        path: PathBuf,
        /// The size asked for.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The operation did not finish in time.
    #[error("{}: timed out after {after:?}", path.display())]
    TimedOut {
        /// The path as given.
        path: PathBuf,
        /// The bound that was exceeded.
        after: Duration,
    },
    /// Nothing at that path.
    #[error("{}: not found", path.display())]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// A file exists where a new one was to be created.
    #[error("{}: already exists (overwrite is off)", path.display())]
    AlreadyExists {
        /// The path as given.
        path: PathBuf,
    },
    /// A search pattern that does not parse.
    #[error("invalid pattern {pattern:?}: {message}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// Why it does not parse.
        message: String,
    },
    /// Any other I/O failure.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl ConfinedError {
    /// Maps an I/O error on `path` to the variant a caller can act on.
    pub(crate) fn classify(path: &Path, error: io::Error) -> Self {
        let path = path.to_path_buf();
        match error.raw_os_error() {
            Some(nix::libc::EXDEV) => return Self::OutsideBaseDir { path },
            Some(nix::libc::ENXIO) => return Self::NotAFile { path, kind: "FIFO" },
            Some(nix::libc::EISDIR) => return Self::NotAFile { path, kind: "directory" },
            _ => {}
        }
        match error.kind() {
            io::ErrorKind::NotFound => Self::NotFound { path },
            io::ErrorKind::AlreadyExists => Self::AlreadyExists { path },
            // cap-std's word for a resolution that escaped (its own walk, or EXDEV).
            io::ErrorKind::PermissionDenied if error.to_string().contains("outside of the filesystem") => {
                Self::OutsideBaseDir { path }
            }
            _ => Self::Io { path, source: error },
        }
    }

    /// As [`classify`](Self::classify), for an open with `O_NOFOLLOW`: `ELOOP` there
    /// means the last component is a symlink, which writes refuse.
    pub(crate) fn classify_write(path: &Path, error: io::Error) -> Self {
        if error.raw_os_error() == Some(nix::libc::ELOOP) {
            return Self::NotAFile { path: path.to_path_buf(), kind: "symbolic link" };
        }
        Self::classify(path, error)
    }
}
