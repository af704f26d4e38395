//! Scenario: the file_system skill's I/O through `ConfinedDir` cannot reach outside its
//! base directory, whatever the path, the links in the tree, or a concurrent swap.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use toolbridge_sandbox::confined::WriteOptions;
use toolbridge_sandbox::{ConfinedDir, ConfinedError, EntryKind, SearchPattern};

const SECOND: Duration = Duration::from_secs(5);

/// A base dir and, beside it, an outside dir with a file that must never change.
struct Fixture {
    _root: tempfile::TempDir,
    base: PathBuf,
    outside: PathBuf,
    outside_file: PathBuf,
}

fn fixture() -> Fixture {
    let root = tempfile::tempdir().expect("temp dir");
    let base = root.path().join("base");
    let outside = root.path().join("outside");
    std::fs::create_dir(&base).expect("mkdir base");
    std::fs::create_dir(&outside).expect("mkdir outside");
    let outside_file = outside.join("x");
    std::fs::write(&outside_file, "ORIGINAL").expect("write outside file");
    Fixture { base, outside, outside_file, _root: root }
}

impl Fixture {
    fn dir(&self) -> ConfinedDir {
        ConfinedDir::open(&self.base).expect("open base")
    }

    fn assert_outside_untouched(&self) {
        assert_eq!(std::fs::read_to_string(&self.outside_file).expect("outside file"), "ORIGINAL");
        let names: Vec<_> =
            std::fs::read_dir(&self.outside).expect("list outside").flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x")], "something was created outside");
    }
}

fn write_opts() -> WriteOptions {
    WriteOptions::default()
}

#[tokio::test]
async fn reads_and_writes_inside_work() {
    let f = fixture();
    let dir = f.dir();
    assert_eq!(dir.write("sub/dir/a.txt", "0123456789", write_opts()).await.expect("write"), 10);
    let whole = dir.read("sub/dir/a.txt", 100, SECOND).await.expect("read");
    assert_eq!((whole.bytes.as_slice(), whole.truncated, whole.total_size), (&b"0123456789"[..], false, 10));
    let capped = dir.read("sub/dir/a.txt", 4, SECOND).await.expect("read capped");
    assert_eq!((capped.bytes.as_slice(), capped.truncated), (&b"0123"[..], true));
    // A symlink that stays inside the base is followed for reads.
    symlink("sub/dir/a.txt", f.base.join("inside-link")).expect("symlink");
    assert_eq!(dir.read("inside-link", 100, SECOND).await.expect("read via link").bytes, b"0123456789");
    // Overwrite replaces the content; overwrite off refuses.
    dir.write("sub/dir/a.txt", "new", write_opts()).await.expect("overwrite");
    assert_eq!(std::fs::read_to_string(f.base.join("sub/dir/a.txt")).expect("read back"), "new");
    let refused = dir.write("sub/dir/a.txt", "x", WriteOptions { overwrite: false, ..write_opts() }).await;
    assert!(matches!(refused, Err(ConfinedError::AlreadyExists { .. })), "{refused:?}");
    let missing = dir.read("nope.txt", 10, SECOND).await;
    assert!(matches!(missing, Err(ConfinedError::NotFound { .. })), "{missing:?}");
    let too_large = dir.clone().with_max_write_bytes(2).write("big", "123", write_opts()).await;
    assert!(matches!(too_large, Err(ConfinedError::TooLarge { size: 3, limit: 2, .. })), "{too_large:?}");
}

#[tokio::test]
async fn dotdot_and_absolute_paths_are_outside() {
    let f = fixture();
    let dir = f.dir();
    let escape = "../outside/x".to_owned();
    let absolute = f.outside_file.display().to_string();
    for path in [escape.as_str(), absolute.as_str(), "sub/../../outside/x"] {
        let read = dir.read(path, 100, SECOND).await;
        assert!(matches!(read, Err(ConfinedError::OutsideBaseDir { .. })), "read {path}: {read:?}");
        let write = dir.write(path, "PWNED", write_opts()).await;
        assert!(matches!(write, Err(ConfinedError::OutsideBaseDir { .. })), "write {path}: {write:?}");
        let error = write.expect_err("refused").to_string();
        assert!(error.contains(path), "the message names the path: {error}");
    }
    let list = dir.list("..", false, 10).await;
    assert!(matches!(list, Err(ConfinedError::OutsideBaseDir { .. })), "{list:?}");
    f.assert_outside_untouched();
}

#[tokio::test]
async fn dangling_symlink_to_outside_is_not_written_through() {
    let f = fixture();
    let target = f.outside.join("created-by-escape");
    symlink(&target, f.base.join("dangling")).expect("ln -s /outside/x base/dangling");
    let result = f.dir().write("dangling", "PWNED", write_opts()).await;
    assert!(
        matches!(
            result,
            Err(ConfinedError::NotAFile { kind: "symbolic link", .. } | ConfinedError::OutsideBaseDir { .. })
        ),
        "{result:?}"
    );
    assert!(!target.exists(), "the write created a file outside the base");
    f.assert_outside_untouched();
}

#[tokio::test]
async fn symlinked_directory_does_not_lead_outside() {
    let f = fixture();
    symlink(&f.outside, f.base.join("escape")).expect("absolute dir symlink");
    symlink("../outside", f.base.join("relative-escape")).expect("relative dir symlink");
    let dir = f.dir();
    for link in ["escape", "relative-escape"] {
        let read = dir.read(format!("{link}/x"), 100, SECOND).await;
        assert!(matches!(read, Err(ConfinedError::OutsideBaseDir { .. })), "{link}: {read:?}");
        let write = dir.write(format!("{link}/new"), "PWNED", write_opts()).await;
        assert!(matches!(write, Err(ConfinedError::OutsideBaseDir { .. })), "{link}: {write:?}");
        let overwrite = dir.write(format!("{link}/x"), "PWNED", write_opts()).await;
        assert!(matches!(overwrite, Err(ConfinedError::OutsideBaseDir { .. })), "{link}: {overwrite:?}");
        let list = dir.list(link, false, 10).await;
        assert!(list.is_err(), "{link}: listing through a symlink: {list:?}");
    }
    // A recursive listing reports the links and does not descend through them.
    let listing = dir.list("", true, 100).await.expect("list base");
    assert!(listing.entries.iter().all(|e| e.kind == EntryKind::Symlink), "{listing:?}");
    let hits = dir.search("", SearchPattern::Content("ORIGINAL".into()), 10).await.expect("search");
    assert!(hits.is_empty(), "search found outside content: {hits:?}");
    f.assert_outside_untouched();
}

#[tokio::test]
async fn hard_link_to_an_outside_file_is_refused_for_write() {
    let f = fixture();
    std::fs::hard_link(&f.outside_file, f.base.join("hardlink")).expect("hard link (same filesystem)");
    let result = f.dir().write("hardlink", "PWNED", write_opts()).await;
    assert!(matches!(result, Err(ConfinedError::LinkCountTooHigh { links: 2, .. })), "{result:?}");
    f.assert_outside_untouched();
}

#[tokio::test]
async fn fifo_and_socket_are_refused_promptly() {
    let f = fixture();
    nix::unistd::mkfifo(&f.base.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let _socket = std::os::unix::net::UnixListener::bind(f.base.join("socket")).expect("bind socket");
    let dir = f.dir();
    for (name, kind) in [("fifo", "FIFO"), ("socket", "socket")] {
        let started = Instant::now();
        let read = dir.read(name, 100, Duration::from_secs(10)).await;
        assert!(started.elapsed() < Duration::from_secs(2), "{name}: read took {:?}", started.elapsed());
        assert!(matches!(&read, Err(ConfinedError::NotAFile { kind: k, .. }) if *k == kind), "{name}: {read:?}");
        let write = dir.write(name, "x", write_opts()).await;
        assert!(started.elapsed() < Duration::from_secs(4), "{name}: write took {:?}", started.elapsed());
        assert!(matches!(write, Err(ConfinedError::NotAFile { .. } | ConfinedError::Io { .. })), "{name}: {write:?}");
    }
}

#[tokio::test]
async fn reads_are_time_bounded() {
    let f = fixture();
    std::fs::write(f.base.join("file"), vec![b'a'; 1 << 20]).expect("write");
    let result = f.dir().read("file", u64::MAX, Duration::ZERO).await;
    assert!(matches!(result, Err(ConfinedError::TimedOut { .. })), "{result:?}");
}

/// Removes whatever is at `path`: a file, a symlink (not what it points to) or a directory.
fn clear(path: &Path) {
    if std::fs::remove_file(path).is_err() {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// Swaps `path` between a regular entry (made by `make_regular`) and a symlink to `target`
/// until told to stop; returns how many times the symlink was in place.
fn swapper(
    path: PathBuf,
    target: PathBuf,
    stop: Arc<AtomicBool>,
    make_regular: fn(&Path),
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut swaps = 0;
        let staging = path.with_extension("staging");
        while !stop.load(Ordering::Relaxed) {
            clear(&staging);
            make_regular(&path);
            if symlink(&target, &staging).is_ok() {
                // A symlink cannot be renamed over a directory: clear it first.
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    clear(&path);
                }
                if std::fs::rename(&staging, &path).is_ok() {
                    swaps += 1;
                }
            }
            std::thread::yield_now();
            clear(&path);
        }
        swaps
    })
}

#[tokio::test]
async fn concurrent_symlink_swaps_never_write_outside() {
    let f = fixture();
    let dir = f.dir();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = swapper(f.base.join("target"), f.outside_file.clone(), Arc::clone(&stop), |p| {
        let _ = std::fs::write(p, "inside");
    });
    // Control: a plain path-based write loses this race, so the check below can fail.
    let escaped = (0..100_000).any(|_| {
        let _ = std::fs::write(f.base.join("target"), "PWNED");
        std::fs::read_to_string(&f.outside_file).is_ok_and(|content| content != "ORIGINAL")
    });
    assert!(escaped, "control: a naive write never went through the swapped-in symlink");
    std::fs::write(&f.outside_file, "ORIGINAL").expect("restore the outside file");

    let mut written = 0;
    // At least 1000 writes, and more (bounded) until some have landed between swaps.
    for attempt in 0..20_000 {
        if attempt >= 1000 && written > 0 {
            break;
        }
        if dir.write("target", "PWNED", write_opts()).await.is_ok() {
            written += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swaps.join().expect("swapper");
    eprintln!("{written} writes landed, {swaps} swaps");
    assert!(swaps > 0 && written > 0, "the race never happened: {written} writes landed, {swaps} swaps");
    f.assert_outside_untouched();
}

#[tokio::test]
async fn concurrent_directory_swaps_never_write_outside() {
    let f = fixture();
    let dir = f.dir();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = swapper(f.base.join("d"), f.outside.clone(), Arc::clone(&stop), |p| {
        let _ = std::fs::create_dir(p);
    });
    // Control: a plain path-based write through `d/` reaches the outside dir at times.
    let escaped = (0..100_000).any(|_| {
        let _ = std::fs::write(f.base.join("d/x"), "PWNED");
        std::fs::read_to_string(&f.outside_file).is_ok_and(|content| content != "ORIGINAL")
    });
    assert!(escaped, "control: a naive write never went through the swapped-in directory symlink");
    std::fs::write(&f.outside_file, "ORIGINAL").expect("restore the outside file");

    for _ in 0..1000 {
        let _ = dir.write("d/x", "PWNED", WriteOptions { create_dirs: false, ..write_opts() }).await;
        let _ = dir.write("d/new", "PWNED", WriteOptions { create_dirs: true, ..write_opts() }).await;
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swaps.join().expect("swapper");
    assert!(swaps > 0, "the race never happened");
    f.assert_outside_untouched();
}

#[tokio::test]
async fn list_and_search() {
    let f = fixture();
    let dir = f.dir();
    for (path, content) in [("a.rs", "fn main() {}\n"), ("src/lib.rs", "pub fn needle() {}\n"), ("src/notes.txt", "no")]
    {
        dir.write(path, content, write_opts()).await.expect("write");
    }
    let flat = dir.list("", false, 100).await.expect("list");
    let names: Vec<_> = flat.entries.iter().map(|e| (e.path.display().to_string(), e.kind)).collect();
    assert_eq!(names, vec![("a.rs".to_owned(), EntryKind::File), ("src".to_owned(), EntryKind::Dir)]);
    let deep = dir.list("", true, 100).await.expect("list recursive");
    assert_eq!(deep.entries.len(), 4);
    let capped = dir.list("", true, 2).await.expect("list capped");
    assert!(capped.truncated && capped.entries.len() == 2);

    let globbed = dir.search("", SearchPattern::Glob("*.rs".into()), 10).await.expect("glob");
    let paths: Vec<_> = globbed.iter().map(|h| h.path.display().to_string()).collect();
    assert_eq!(paths, ["a.rs", "src/lib.rs"]);
    let content = dir.search("src", SearchPattern::Content("needle".into()), 10).await.expect("content");
    assert_eq!(content.len(), 1);
    assert_eq!(content[0].line, Some((1, "pub fn needle() {}".to_owned())));
    let named = dir.search("", SearchPattern::Name("notes".into()), 10).await.expect("name");
    assert_eq!(named.len(), 1);
    let bad = dir.search("", SearchPattern::Glob("[".into()), 10).await;
    assert!(matches!(bad, Err(ConfinedError::InvalidPattern { .. })), "{bad:?}");
}
