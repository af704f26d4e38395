//! All the CLI writes: results on stdout, status and events on stderr — scrubbed of secrets,
//! coloured only when the colours are on (a terminal, no `NO_COLOR`, not `--color never`).
//!
//! stdout is written through one locked handle per write; a closed stdout (`toolbridge … |
//! head`) is a normal end, not a panic: the write is dropped, nothing more is written, and the
//! command exits 0 once it has cleaned up (ripgrep does the same).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use toolbridge::config::Secrets;
use toolbridge_runtime::{ExecutionEvent, ToolStatus};

use crate::args::ColorChoice;

/// Set once stdout is found closed.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether stdout was closed under us (the command then exits quietly with 0).
pub(crate) fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Writes to stdout; a closed stdout is remembered, other errors reported once on stderr.
fn write_stdout(bytes: &[u8]) {
    if stdout_closed() {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_all(bytes).and_then(|()| out.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            let _ = writeln!(std::io::stderr(), "error: cannot write to stdout: {error}");
        }
    }
}

/// One line on stdout as it is, secrets included (`agent show --reveal`).
pub(crate) fn line_unscrubbed(text: &str) {
    write_stdout(format!("{text}\n").as_bytes());
}

/// Whether colours are on for `choice`.
pub(crate) fn colors(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// How to print.
#[derive(Debug, Clone)]
pub(crate) struct Printer {
    pub(crate) color: bool,
    pub(crate) quiet: bool,
    /// Interactive decorations (spinners) are allowed.
    pub(crate) interactive: bool,
    secrets: Secrets,
}

impl Printer {
    pub(crate) fn new(color: bool, quiet: bool, json: bool, secrets: Secrets) -> Self {
        let stderr_tty = std::io::stderr().is_terminal();
        Self { color, quiet, interactive: stderr_tty && !quiet && !json, secrets }
    }

    /// One line of result on stdout.
    pub(crate) fn line(&self, text: &str) {
        let mut bytes = self.secrets.scrub(text).into_bytes();
        bytes.push(b'\n');
        write_stdout(&bytes);
    }

    /// Text on stdout as it comes (streamed content).
    pub(crate) fn write(&self, text: &str) {
        write_stdout(self.secrets.scrub(text).as_bytes());
    }

    /// Pretty JSON on stdout.
    pub(crate) fn json(&self, value: &impl Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => self.line(&text),
            Err(error) => self.status(&format!("error: could not print JSON: {error}")),
        }
    }

    pub(crate) fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    pub(crate) fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    pub(crate) fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    pub(crate) fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    pub(crate) fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// A status line on stderr (hidden with --quiet).
    pub(crate) fn status(&self, line: &str) {
        if !self.quiet {
            self.stderr(line);
        }
    }

    /// A line on stderr, whatever `--quiet` says (errors).
    pub(crate) fn stderr(&self, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{}", self.secrets.scrub(line));
    }

    /// A spinner on stderr while something slow runs (nothing when not interactive).
    pub(crate) fn spinner(&self, message: impl Into<String>) -> Option<ProgressBar> {
        if !self.interactive {
            return None;
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(100));
        Some(bar)
    }

    /// Prints one streaming event of `run`.
    pub(crate) fn event(&self, event: &ExecutionEvent) {
        match event {
            ExecutionEvent::ContentChunk { text } => self.write(text),
            ExecutionEvent::ToolStart { tool_name, tool_args, .. } => {
                self.status(&format!(
                    "{} {} {}",
                    self.dim("→"),
                    self.bold(tool_name),
                    self.dim(&short(&tool_args.to_string(), 80))
                ));
            }
            ExecutionEvent::ToolComplete { tool_name, status, duration_ms, error, output, .. } => {
                let (mark, detail) = match status {
                    ToolStatus::Success => (self.green("✓"), short(output.as_deref().unwrap_or_default(), 80)),
                    ToolStatus::Failed => (self.red("✗"), short(error.as_deref().unwrap_or_default(), 120)),
                };
                self.status(&format!(
                    "{mark} {} {} {}",
                    self.bold(tool_name),
                    self.dim(&format!("{duration_ms} ms")),
                    self.dim(&detail)
                ));
            }
            ExecutionEvent::ThinkingStart => self.status(&self.dim("(thinking…)")),
            ExecutionEvent::ToolProgress { tool_name, progress, total, message, .. } => {
                let of = total.map(|t| format!("/{t}")).unwrap_or_default();
                let message = message.as_deref().map(|m| format!(" {}", short(m, 60))).unwrap_or_default();
                self.status(&self.dim(&format!("  … {tool_name} {progress}{of}{message}")));
            }
            _ => {}
        }
    }
}

/// One line, at most `max` characters, with an ellipsis when cut.
pub(crate) fn short(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_cuts_on_chars_and_flattens_lines() {
        assert_eq!(short("a\n b", 10), "a b");
        assert_eq!(short("ééééé", 3), "ééé…");
    }
}
