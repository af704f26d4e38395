//! `python`: runs a snippet with the system Python under the same limits as `shell`.

use std::path::PathBuf;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::process::{Limits, run};
use super::shell::{base_dir, limits};
use super::{Skill, SkillError, SkillKind, SkillOutput, SkillTool, args, tool};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    base_dir: Option<PathBuf>,
    timeout: Option<f64>,
    max_output_bytes: Option<usize>,
    python: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RunPython {
    /// Python source to run; print what you want to see.
    code: String,
}

/// The `python` skill.
#[derive(Debug)]
pub(crate) struct Python {
    name: String,
    base: PathBuf,
    python: String,
    limits: Limits,
    tools: Vec<SkillTool>,
}

impl Python {
    pub(crate) fn new(name: &str, settings: Settings) -> Result<Self, String> {
        Ok(Self {
            name: name.to_owned(),
            base: base_dir(settings.base_dir)?,
            python: settings.python.unwrap_or_else(|| "python3".into()),
            limits: limits(settings.timeout, settings.max_output_bytes)?,
            tools: vec![tool::<RunPython>("run_python", "Runs a Python snippet (python3 -c) in the base directory")],
        })
    }
}

#[async_trait]
impl Skill for Python {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> SkillKind {
        SkillKind::Python
    }

    fn tools(&self) -> &[SkillTool] {
        &self.tools
    }

    async fn call(&self, name: &str, arguments: Value, cancel: CancellationToken) -> Result<SkillOutput, SkillError> {
        if name != "run_python" {
            return Err(SkillError::UnknownTool(name.to_owned()));
        }
        let p: RunPython = args(arguments)?;
        run(&self.python, &["-c", &p.code], &self.base, self.limits, &cancel).await
    }
}
