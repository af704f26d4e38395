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

/// Which streams get colours for `choice`: `(stdout, stderr)`. `auto` colours a stream only
/// when it is a terminal and `NO_COLOR` is not set.
pub(crate) fn colors(choice: ColorChoice) -> (bool, bool) {
    match choice {
        ColorChoice::Always => (true, true),
        ColorChoice::Never => (false, false),
        ColorChoice::Auto => {
            let allowed = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            (allowed && std::io::stdout().is_terminal(), allowed && std::io::stderr().is_terminal())
        }
    }
}

/// `text` without ANSI escape sequences (for a stream that gets no colours).
pub(crate) fn strip_ansi(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\x1b') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// How to print.
#[derive(Debug, Clone)]
pub(crate) struct Printer {
    /// Colours on stderr.
    color_err: bool,
    /// Colours on stdout.
    color_out: bool,
    pub(crate) quiet: bool,
    /// Interactive decorations (spinners, progress) are allowed.
    pub(crate) interactive: bool,
    secrets: Secrets,
}

impl Printer {
    pub(crate) fn new(colors: (bool, bool), quiet: bool, json: bool, secrets: Secrets) -> Self {
        let stderr_tty = std::io::stderr().is_terminal();
        let (color_out, color_err) = colors;
        Self { color_err, color_out, quiet, interactive: stderr_tty && !quiet && !json, secrets }
    }

    /// One line of result on stdout.
    pub(crate) fn line(&self, text: &str) {
        let text = if self.color_out { std::borrow::Cow::Borrowed(text) } else { strip_ansi(text) };
        let mut bytes = self.secrets.scrub(&text).into_bytes();
        bytes.push(b'\n');
        write_stdout(&bytes);
    }

    /// Text on stdout as it comes (streamed content).
    pub(crate) fn write(&self, text: &str) {
        let text = if self.color_out { std::borrow::Cow::Borrowed(text) } else { strip_ansi(text) };
        write_stdout(self.secrets.scrub(&text).as_bytes());
    }

    /// Pretty JSON on stdout.
    pub(crate) fn json(&self, value: &impl Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => self.line(&text),
            Err(error) => self.status(&format!("error: could not print JSON: {error}")),
        }
    }

    /// `text` in a colour; the escapes are dropped again from a stream that gets no colours.
    pub(crate) fn paint(&self, code: &str, text: &str) -> String {
        if self.color_err || self.color_out { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
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

    pub(crate) fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
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
        let line = if self.color_err { std::borrow::Cow::Borrowed(line) } else { strip_ansi(line) };
        let _ = writeln!(std::io::stderr().lock(), "{}", self.secrets.scrub(&line));
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
}

/// A duration as people read it, the same wherever it is shown: `850 ms`, `12.3 s`, `4m 05s`,
/// `2h 03m`.
pub(crate) fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m {:02}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h {:02}m", ms / 3_600_000, (ms / 60_000) % 60),
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
    fn durations() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_345), "12.3 s");
        assert_eq!(duration(245_000), "4m 05s");
        assert_eq!(duration(7_380_000), "2h 03m");
    }

    #[test]
    fn ansi_escapes_are_stripped() {
        assert_eq!(strip_ansi("\x1b[1mbold\x1b[0m and \x1b[2;31mred\x1b[0m"), "bold and red");
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn short_cuts_on_chars_and_flattens_lines() {
        assert_eq!(short("a\n b", 10), "a b");
        assert_eq!(short("ééééé", 3), "ééé…");
    }
}
