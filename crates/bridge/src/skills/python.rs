//! `python`: runs a snippet with the system Python, inside the sandbox by default, under the
//! same limits as `shell`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use toolbridge_config::sandbox::SandboxSetting;
use toolbridge_config::{ConfigError, PythonSettings};

use super::shell::Commands;
use super::{Invalid, base_dir, limits};
use crate::process::{Launcher, run};
use crate::source::ToolTable;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RunPython {
    /// Python source to run; print what you want to see.
    code: String,
}

pub(crate) fn build(
    name: &str,
    settings: &PythonSettings,
    sandbox: Option<&SandboxSetting>,
    launcher: &Launcher,
    invalid: &Invalid<'_>,
) -> Result<ToolTable, ConfigError> {
    let base = base_dir(settings.base_dir.as_deref(), invalid)?;
    let python: Arc<str> = settings.python.as_deref().unwrap_or("python3").into();
    let limits = limits(settings.timeout, settings.max_output_bytes, invalid)?;
    let commands = Arc::new(Commands::new(&python, sandbox, base, limits, launcher));
    Ok(ToolTable::skill(name).sandboxed(commands.report()).handler(
        "run_python",
        "Runs a Python snippet (python3 -c) in the base directory",
        move |p: RunPython, ctx| {
            let (commands, python) = (Arc::clone(&commands), Arc::clone(&python));
            async move { run(&python, &["-c", &p.code], &commands.run_how(ctx.max_output_bytes), &ctx.cancel).await }
        },
    ))
}
