//! `sleep`: a bounded, cancellable sleep (useful to test cancellation and timeouts).

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{Skill, SkillError, SkillKind, SkillOutput, SkillTool, args, tool};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    max_seconds: Option<f64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SleepArgs {
    /// How long to sleep, in seconds.
    seconds: f64,
}

/// The `sleep` skill.
#[derive(Debug)]
pub(crate) struct Sleep {
    name: String,
    max_seconds: f64,
    tools: Vec<SkillTool>,
}

impl Sleep {
    pub(crate) fn new(name: &str, settings: &Settings) -> Self {
        Self {
            name: name.to_owned(),
            max_seconds: settings.max_seconds.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(60.0),
            tools: vec![tool::<SleepArgs>("sleep", "Waits for the given number of seconds")],
        }
    }
}

#[async_trait]
impl Skill for Sleep {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> SkillKind {
        SkillKind::Sleep
    }

    fn tools(&self) -> &[SkillTool] {
        &self.tools
    }

    async fn call(&self, name: &str, arguments: Value, cancel: CancellationToken) -> Result<SkillOutput, SkillError> {
        if name != "sleep" {
            return Err(SkillError::UnknownTool(name.to_owned()));
        }
        let p: SleepArgs = args(arguments)?;
        if !(p.seconds.is_finite() && p.seconds >= 0.0 && p.seconds <= self.max_seconds) {
            return Err(SkillError::InvalidArguments(format!(
                "seconds must be between 0 and {} (max_seconds), got {}",
                self.max_seconds, p.seconds
            )));
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs_f64(p.seconds)) => Ok(SkillOutput { text: format!("slept {} s", p.seconds), is_error: false }),
            () = cancel.cancelled() => Err(SkillError::Cancelled),
        }
    }
}
