//! The streaming display of an execution (`run`, `chat`): content on stdout as it comes, one
//! line per tool call start and end on stderr, and — in a terminal only — a spinner with the
//! elapsed time on any call that takes over a second, which turns into a bar (or a counter)
//! when the server reports progress.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use toolbridge_runtime::{ExecutionEvent, ToolStatus};

use crate::output::{Printer, duration, short};

/// How long a call runs before its spinner shows.
const SPINNER_AFTER: Duration = Duration::from_secs(1);

/// Prints an execution's events; cheap to clone (clones share the running calls).
#[derive(Debug, Clone)]
pub(crate) struct Live {
    printer: Printer,
    bars: MultiProgress,
    calls: Arc<Mutex<HashMap<String, ProgressBar>>>,
}

impl Live {
    pub(crate) fn new(printer: Printer) -> Self {
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        Self { printer, bars, calls: Arc::default() }
    }

    /// A status line on stderr, kept clear of the spinners.
    fn status(&self, line: &str) {
        if self.printer.interactive {
            self.bars.suspend(|| self.printer.status(line));
        } else {
            self.printer.status(line);
        }
    }

    /// Says a stop was asked for.
    pub(crate) fn cancelling(&self) {
        self.status(&self.printer.dim("\ncancelling…"));
    }

    /// Prints one event.
    pub(crate) fn event(&self, event: &ExecutionEvent) {
        let p = &self.printer;
        match event {
            ExecutionEvent::ContentChunk { text } => p.write(text),
            ExecutionEvent::ThinkingStart => self.status(&p.dim("(thinking…)")),
            ExecutionEvent::ToolStart { tool_name, tool_args, tool_execution_id } => {
                self.status(&format!(
                    "{} {} {}",
                    p.dim("→"),
                    p.bold(tool_name),
                    p.dim(&short(&tool_args.to_string(), 80))
                ));
                if p.interactive {
                    self.start_spinner(tool_name, tool_execution_id);
                }
            }
            ExecutionEvent::ToolProgress { tool_execution_id, progress, total, message, .. } => {
                let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(bar) = calls.get(tool_execution_id) {
                    show_progress(bar, *progress, *total, message.as_deref());
                }
            }
            ExecutionEvent::ToolComplete { tool_name, tool_execution_id, status, duration_ms, error, output } => {
                let bar = self.calls.lock().unwrap_or_else(PoisonError::into_inner).remove(tool_execution_id);
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                    self.bars.remove(&bar);
                }
                let (mark, detail) = match status {
                    ToolStatus::Success => (p.green("✓"), short(output.as_deref().unwrap_or_default(), 80)),
                    ToolStatus::Failed => (p.red("✗"), short(error.as_deref().unwrap_or_default(), 120)),
                };
                self.status(&format!(
                    "{mark} {} {} {}",
                    p.bold(tool_name),
                    p.dim(&duration(*duration_ms)),
                    p.dim(&detail)
                ));
            }
            _ => {}
        }
    }

    /// A spinner for a call, shown once it has run for [`SPINNER_AFTER`].
    fn start_spinner(&self, tool: &str, id: &str) {
        let bar = ProgressBar::hidden();
        if let Ok(style) = ProgressStyle::with_template("  {spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(tool.to_owned());
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).insert(id.to_owned(), bar);
        let (calls, bars, id) = (Arc::clone(&self.calls), self.bars.clone(), id.to_owned());
        // Events arrive inside the execution's runtime: the timer lives there too, and ends
        // at once when the call already has.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                tokio::time::sleep(SPINNER_AFTER).await;
                let calls = calls.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(bar) = calls.get(&id) {
                    let shown = bars.add(bar.clone());
                    shown.enable_steady_tick(Duration::from_millis(100));
                }
            });
        }
    }
}

/// A bar when the total is known, a counter otherwise.
fn show_progress(bar: &ProgressBar, progress: f64, total: Option<f64>, message: Option<&str>) {
    let suffix = message.map(|m| format!(" {}", short(m, 40))).unwrap_or_default();
    match total.filter(|t| *t > 0.0) {
        Some(total) => {
            if let Ok(style) = ProgressStyle::with_template(&format!(
                "  {{spinner}} {{msg}} [{{bar:20}}] {{pos}}/{{len}} {{elapsed}}{suffix}"
            )) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_length(as_count(total));
            bar.set_position(as_count(progress));
        }
        None => {
            if let Ok(style) =
                ProgressStyle::with_template(&format!("  {{spinner}} {{msg}} {{pos}} {{elapsed}}{suffix}"))
            {
                bar.set_style(style);
            }
            bar.set_position(as_count(progress));
        }
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn as_count(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 { value.round() as u64 } else { 0 }
}
