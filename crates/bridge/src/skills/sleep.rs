//! `sleep`: a bounded, cancellable sleep (useful to test cancellation and timeouts).

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use toolbridge_config::SleepSettings;

use crate::error::ToolError;
use crate::source::{ToolOutput, ToolTable};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SleepArgs {
    /// How long to sleep, in seconds.
    seconds: f64,
}

pub(crate) fn build(name: &str, settings: &SleepSettings) -> ToolTable {
    let max_seconds = settings.max_seconds.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(60.0);
    ToolTable::skill(name).handler("sleep", "Waits for the given number of seconds", move |p: SleepArgs, ctx| async move {
        if !(p.seconds.is_finite() && p.seconds >= 0.0 && p.seconds <= max_seconds) {
            return Err(ToolError::invalid_arguments(format!(
                "seconds must be between 0 and {max_seconds} (max_seconds), got {}",
                p.seconds
            )));
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs_f64(p.seconds)) => Ok(ToolOutput::text(format!("slept {} s", p.seconds))),
            () = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
        }
    })
}
