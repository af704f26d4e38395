//! `toolbridge call`: one tool call, printed as its call record.

use std::time::Duration;

use toolbridge::{CallLog, CallOptions, RawArguments};

use crate::args::ToolArgs;
use crate::error::{CliError, CliResult};
use crate::setup::{App, parse_json_arg};

pub(crate) async fn run(
    app: &App,
    name: &str,
    args: &str,
    tools: &ToolArgs,
    timeout: Option<f64>,
    json: bool,
) -> CliResult {
    let arguments = parse_json_arg(args, "--args")?;
    if !arguments.is_object() {
        return Err(CliError::usage(format!("--args must be a JSON object, got {arguments}")));
    }
    let timeout = match timeout {
        Some(secs) if secs.is_finite() && secs > 0.0 => Some(Duration::from_secs_f64(secs)),
        Some(secs) => {
            return Err(CliError::usage(format!("--timeout must be a positive number of seconds, got {secs}")));
        }
        None => None,
    };
    let config = app.tools(tools)?;
    let pool = app.pool();
    let origin = tools.mcp_config.clone().unwrap_or_default();
    let outcome = async {
        let catalogue = app.catalogue(&config, &origin, &pool).await?;
        let log = CallLog::new();
        let options = CallOptions { timeout, ..CallOptions::default() };
        Ok::<_, CliError>(catalogue.call(&log, name, RawArguments::Value(&arguments), "cli", &options).await)
    }
    .await;
    pool.shutdown().await;
    let record = outcome?;
    if json {
        app.printer.json(&record);
    } else if record.success {
        app.printer.line(&record.output);
    }
    if record.success {
        Ok(())
    } else {
        let kind = record.error_type.map_or("tool_error", |t| t.as_str());
        let message = record.error.clone().unwrap_or_else(|| record.output.clone());
        let error = CliError::failure(format!("{kind}: {message}"));
        Err(match record.error_type {
            Some(toolbridge_runtime::ToolErrorType::UnknownTool)
                if tools.mcp_config.is_some() || tools.skills.is_some() =>
            {
                error.hint("list the catalogue with `toolbridge tools`")
            }
            _ => error,
        })
    }
}
