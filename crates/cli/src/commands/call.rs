//! `toolbridge call`: one tool call, printed as its call record.

use std::io::Read;
use std::time::Duration;

use serde_json::Value;
use toolbridge::{CallLog, CallOptions, RawArguments};

use crate::args::ToolArgs;
use crate::commands::tools::no_tools_hint;
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
    let arguments = arguments(args)?;
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
    let loaded = app.tools(tools)?;
    if loaded.config.is_empty() {
        return Err(CliError::usage(format!("cannot call `{name}`: no tools are configured")).hint(no_tools_hint()));
    }
    let pool = app.pool();
    let outcome = async {
        let catalogue = app.catalogue(&loaded, &pool).await?;
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
            Some(toolbridge_runtime::ToolErrorType::UnknownTool) => {
                error.hint("list the catalogue with `toolbridge tools`")
            }
            _ => error,
        })
    }
}

/// `--args`: JSON text, `@FILE` (a file holding it), or `-` (stdin).
fn arguments(args: &str) -> CliResult<Value> {
    let (text, origin) = if args == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::usage(format!("--args -: cannot read stdin: {e}")))?;
        (text, "--args - (stdin)".to_owned())
    } else if let Some(path) = args.strip_prefix('@') {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("--args @{path}: cannot read {path}: {e}")))?;
        (text, format!("--args @{path}"))
    } else {
        return parse_json_arg(args, "--args");
    };
    serde_json::from_str(&text).map_err(|e| {
        CliError::usage(format!("{origin}: invalid JSON at line {}, column {}: {e}", e.line(), e.column()))
    })
}
