//! A Temporal dev server for tests: `temporal server start-dev` (in memory) on a free port.
//! It runs under a small shell that kills its process group when the test process's end closes
//! its stdin, so a server shared by a whole test binary ([`DevServer::shared`]) goes with it;
//! one owned by a test is killed on drop. The CLI comes from `scripts/setup-temporal.sh`
//! (`target/temporal-venv/bin/temporal`) or `$TEMPORAL_CLI`; a test that cannot get one fails
//! saying why — it is never skipped silently.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// A running dev server.
#[derive(Debug)]
pub struct DevServer {
    child: Child,
    port: u16,
}

/// The `temporal` CLI.
pub fn cli() -> PathBuf {
    if let Some(path) = std::env::var_os("TEMPORAL_CLI") {
        return PathBuf::from(path);
    }
    let path = crate::workspace().join("target/temporal-venv/bin/temporal");
    assert!(
        path.exists(),
        "the Temporal CLI is not installed ({} is missing): run `bash scripts/setup-temporal.sh` \
         (or set TEMPORAL_CLI to a `temporal` binary)",
        path.display()
    );
    path
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl DevServer {
    /// Starts a dev server and waits until its `default` namespace answers (30 s at most).
    pub fn start() -> Self {
        let cli = cli();
        let port = free_port();
        // `read` returns when the test process is gone (its end of the pipe closes); the
        // shell then kills its whole group, the server with it.
        let script = r#"temporal_cli="$1"; shift; "$temporal_cli" "$@" & read -r _; kill -KILL 0"#;
        let child = Command::new("sh")
            .args(["-c", script, "sh"])
            .arg(&cli)
            .args(["server", "start-dev", "--ip", "127.0.0.1", "--port", &port.to_string(), "--headless"])
            .args(["--log-level", "error"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the Temporal dev server ({}): {e}", cli.display()));
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(&cli)
                .args(["operator", "namespace", "describe", "-n", "default", "--address", &server.address()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return server;
            }
            assert!(Instant::now() < deadline, "the Temporal dev server did not become ready within 30 s");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// One server for the whole test binary, started on first use.
    pub fn shared() -> &'static Self {
        static SERVER: OnceLock<DevServer> = OnceLock::new();
        SERVER.get_or_init(Self::start)
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}
