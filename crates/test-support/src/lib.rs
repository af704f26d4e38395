//! Test helpers shared by toolbridge's crates: where the workspace's binaries are, and whether
//! a process is still there. Tests only; never a dependency of a library.
#![allow(clippy::missing_panics_doc, clippy::expect_used)]

pub mod temporal;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

/// The directory of the workspace's binaries for the running test's profile: the test
/// executable lives in `<target>/<profile>/deps/`, whatever `CARGO_TARGET_DIR` says.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent().and_then(Path::parent).expect("<target>/<profile>/deps/<test>").to_path_buf()
}

/// A binary of the workspace (`testbed-mcp`, `toolbridge`, `toolbridge-fake-model`, or the
/// example `examples/custom_cli`). When one is missing — a single crate's tests run on their
/// own — the workspace's binaries are built once, as `scripts/test.sh` builds them.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let path = bin_dir().join(name);
    if !path.exists() {
        BUILT.get_or_init(|| {
            let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
            command
                .args(["build", "-q", "--workspace", "--bins", "--example", "custom_cli"])
                .args(["--features", "toolbridge-providers/fake-server"])
                .current_dir(workspace());
            if bin_dir().file_name().is_some_and(|profile| profile == "release") {
                command.arg("--release");
            }
            let status = command.status().expect("run cargo build");
            assert!(status.success(), "building the workspace binaries failed");
        });
    }
    assert!(path.exists(), "{} is missing; build it with `cargo build --workspace --bins`", path.display());
    path
}

/// The testbed MCP server.
pub fn testbed() -> String {
    binary("testbed-mcp").display().to_string()
}

/// A testbed server over streamable HTTP, as a child process killed on drop.
#[derive(Debug)]
pub struct HttpTestbed {
    child: std::process::Child,
    /// The MCP endpoint, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
}

impl HttpTestbed {
    /// Starts `testbed-mcp --http 127.0.0.1:0 ARGS…` and waits for its address.
    pub fn start(args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(testbed())
            .args(["--http", "127.0.0.1:0"])
            .args(args)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the HTTP testbed");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = std::io::BufReader::new(stderr).lines();
        let url = loop {
            let line = lines.next().expect("the testbed said where it listens").expect("read stderr");
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_owned();
            }
        };
        // Keep draining its stderr so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let origin = url.trim_end_matches("/mcp").to_owned();
        Self { child, url, origin }
    }
}

impl Drop for HttpTestbed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a process exists (zombies count as gone).
pub fn alive(pid: i32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
        return false;
    }
    // A zombie still answers kill(0); look at its state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// Waits up to `limit` for a process to be gone.
pub fn gone_within(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

/// The public API of a library crate as its source declares it: the `pub` items of `lib.rs`
/// and of every `pub mod` (recursively), one line each, sorted. Items behind private modules
/// are public only through `lib.rs`'s `pub use`, which is listed.
pub fn public_api(crate_dir: &Path) -> Vec<String> {
    let mut items = Vec::new();
    collect_public(&crate_dir.join("src/lib.rs"), "", &mut items);
    items.sort();
    items.dedup();
    items
}

fn collect_public(file: &Path, prefix: &str, items: &mut Vec<String>) {
    let Ok(text) = std::fs::read_to_string(file) else { return };
    let dir = if file.file_name().is_some_and(|n| n == "lib.rs" || n == "mod.rs") {
        file.parent().map(Path::to_path_buf)
    } else {
        file.parent().map(|p| p.join(file.file_stem().unwrap_or_default()))
    };
    let mut depth = 0i32;
    let mut open_use: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(statement) = &mut open_use {
            statement.push(' ');
            statement.push_str(trimmed);
            if trimmed.ends_with(';') {
                items.push(format!("{prefix}{}", statement.split_whitespace().collect::<Vec<_>>().join(" ")));
                open_use = None;
            }
            continue;
        }
        if depth == 0 && trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if depth == 0 && trimmed.starts_with("pub ") {
            if trimmed.starts_with("pub use ") {
                if trimmed.ends_with(';') {
                    items.push(format!("{prefix}{trimmed}"));
                } else {
                    open_use = Some(trimmed.to_owned());
                }
                continue;
            } else if let Some(module) = trimmed.strip_prefix("pub mod ").and_then(|m| m.strip_suffix(';')) {
                items.push(format!("{prefix}pub mod {module}"));
                if let Some(dir) = &dir {
                    let path = if dir.join(format!("{module}.rs")).exists() {
                        dir.join(format!("{module}.rs"))
                    } else {
                        dir.join(module).join("mod.rs")
                    };
                    collect_public(&path, &format!("{prefix}{module}::"), items);
                }
            } else {
                let declaration = trimmed.split(['{', '(', '=', ';', '<']).next().unwrap_or_default().trim();
                items.push(format!("{prefix}{declaration}"));
            }
        }
        depth += count(trimmed, '{') - count(trimmed, '}');
    }
}

/// Checks a crate's public API against its `public-api.txt` (rewritten when
/// `UPDATE_PUBLIC_API=1`): widening or narrowing the API is a visible change in review.
pub fn check_public_api(crate_dir: &Path) {
    let listed = public_api(crate_dir).join("\n") + "\n";
    let snapshot = crate_dir.join("public-api.txt");
    if std::env::var_os("UPDATE_PUBLIC_API").is_some() {
        std::fs::write(&snapshot, &listed).expect("write public-api.txt");
        return;
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    assert!(
        expected == listed,
        "the public API of {} changed; if that is intended, run `UPDATE_PUBLIC_API=1 cargo test public_api` and \
         commit public-api.txt\n--- public-api.txt\n{expected}\n--- now\n{listed}",
        crate_dir.display()
    );
}

fn count(text: &str, c: char) -> i32 {
    i32::try_from(text.matches(c).count()).unwrap_or(i32::MAX)
}
