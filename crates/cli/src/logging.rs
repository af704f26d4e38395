//! Logs to stderr, scrubbed of secrets, coloured only when the CLI's colours are on.
//!
//! Every log line (ours and our dependencies': rmcp quotes servers' error bodies, which may
//! echo a credential back) passes through [`ScrubbingStderr`], which replaces every value the
//! process's [`Secrets`] knows — the model API keys, and the secrets of every server
//! configuration resolved so far (the set is shared, so it grows as configurations load).

use std::io::Write;

use toolbridge::config::Secrets;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// One log event's bytes, scrubbed and written to stderr when dropped.
#[derive(Debug)]
pub(crate) struct ScrubbingStderr {
    buffer: Vec<u8>,
    secrets: Secrets,
}

impl Write for ScrubbingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbingStderr {
    fn drop(&mut self) {
        if !self.buffer.is_empty() {
            let text = self.secrets.scrub(&String::from_utf8_lossy(&self.buffer));
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }
}

#[derive(Debug, Clone)]
struct MakeScrubbingStderr(Secrets);

impl<'a> MakeWriter<'a> for MakeScrubbingStderr {
    type Writer = ScrubbingStderr;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingStderr { buffer: Vec::new(), secrets: self.0.clone() }
    }
}

/// Logs to stderr (stdout stays clean for results and JSON) at the level `-q`/`-v…` ask for,
/// unless `RUST_LOG` says otherwise; ANSI colours only when `color` is on.
pub(crate) fn init(verbose: u8, quiet: bool, color: bool, secrets: &Secrets) {
    // rmcp logs a failed connection on its own (an error dump of the transport), and the
    // catalogue warns of every unavailable source: the CLI prints one line per failure itself,
    // so by default those stay quiet (`-v` shows them).
    let default = match (quiet, verbose) {
        (true, _) => "error,rmcp=off",
        (false, 0) => "warn,rmcp=off,toolbridge::catalogue=error",
        (false, 1) => "info,toolbridge=info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeScrubbingStderr(secrets.clone()))
        .with_ansi(color)
        .with_target(false)
        .try_init();
}
