//! The plugin's `log` notifications and stderr reach `tracing`. Alone in its binary: `tracing`
//! caches per-callsite interest process-wide, so a test thread without a subscriber hitting the
//! same callsites first could hide them from this test's thread-local subscriber.

mod common;

use std::sync::{Arc, Mutex};

use toolbridge_plugin::{NoTools, PluginProcess};

use common::*;

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn log_notifications_and_stderr_go_to_tracing() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let (host, _runtime) = echo_runtime(Arc::new(NoTools)).await;
    host.shutdown().await;
    let _ = PluginProcess::start("dies", &faulty_command("exit-at-start"), &quick_options()).await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.lines().any(|line| line.contains("INFO")
            && line.contains("toolbridge_plugin::log")
            && line.contains("echo_runtime ready")
            && line.contains("plugin=\"echo_py\"")),
        "the plugin's `log` notification at its level:\n{text}"
    );
    assert!(
        text.lines().any(|line| line.contains("DEBUG")
            && line.contains("toolbridge_plugin::stderr")
            && line.contains("faulty: cannot start, giving up")),
        "the plugin's stderr:\n{text}"
    );
}
