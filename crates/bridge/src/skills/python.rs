//! `python`: runs a snippet with the system Python under the same limits as `shell`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use toolbridge_config::{ConfigError, PythonSettings};

use super::{Invalid, base_dir, limits};
use crate::process::run;
use crate::source::ToolTable;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RunPython {
    /// Python source to run; print what you want to see.
    code: String,
}

pub(crate) fn build(name: &str, settings: &PythonSettings, invalid: &Invalid<'_>) -> Result<ToolTable, ConfigError> {
    let base = Arc::new(base_dir(settings.base_dir.as_deref(), invalid)?);
    let python: Arc<str> = settings.python.as_deref().unwrap_or("python3").into();
    let limits = limits(settings.timeout, settings.max_output_bytes, invalid)?;
    let env = Arc::new(super::shell::child_env());
    Ok(ToolTable::skill(name).handler(
        "run_python",
        "Runs a Python snippet (python3 -c) in the base directory",
        move |p: RunPython, ctx| {
            let (base, python, env) = (Arc::clone(&base), Arc::clone(&python), Arc::clone(&env));
            let limits = super::shell::capped(limits, ctx.max_output_bytes);
            async move { run(&python, &["-c", &p.code], &base, &env, limits, &ctx.cancel).await }
        },
    ))
}
