//! Terminal output: colours only on a terminal, a spinner while servers start, compact lines
//! for tool events.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use toolbridge_runtime::{ExecutionEvent, ToolStatus};

use crate::args::ColorChoice;

/// How to print.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    pub(crate) color: bool,
    pub(crate) quiet: bool,
    /// Interactive decorations (spinners) are allowed.
    pub(crate) interactive: bool,
}

impl Printer {
    pub(crate) fn new(choice: ColorChoice, quiet: bool, json: bool) -> Self {
        let stderr_tty = std::io::stderr().is_terminal();
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stderr_tty && std::env::var_os("NO_COLOR").is_none(),
        };
        Self { color, quiet, interactive: stderr_tty && !quiet && !json }
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
            eprintln!("{}", crate::logging::scrub(line));
        }
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
            ExecutionEvent::ContentChunk { text } => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            ExecutionEvent::ToolStart { tool_name, tool_args, .. } if !self.quiet => {
                eprintln!(
                    "{} {} {}",
                    self.dim("→"),
                    self.bold(tool_name),
                    self.dim(&short(&tool_args.to_string(), 80))
                );
            }
            ExecutionEvent::ToolComplete { tool_name, status, duration_ms, error, output, .. } if !self.quiet => {
                let (mark, detail) = match status {
                    ToolStatus::Success => (self.green("✓"), short(output.as_deref().unwrap_or_default(), 80)),
                    ToolStatus::Failed => (self.red("✗"), short(error.as_deref().unwrap_or_default(), 120)),
                };
                eprintln!(
                    "{mark} {} {} {}",
                    self.bold(tool_name),
                    self.dim(&format!("{duration_ms} ms")),
                    self.dim(&detail)
                );
            }
            ExecutionEvent::ThinkingStart if !self.quiet => eprintln!("{}", self.dim("(thinking…)")),
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

/// Pretty JSON on stdout.
pub(crate) fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("error: could not print JSON: {error}"),
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
