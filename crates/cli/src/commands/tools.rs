//! `toolbridge tools`: the catalogue.

use serde_json::{Value, json};

use crate::args::ToolArgs;
use crate::error::CliResult;
use crate::output::short;
use crate::setup::{App, plural};

pub(crate) async fn run(app: &App, args: &ToolArgs, json: bool) -> CliResult {
    let config = app.tools(args)?;
    let pool = app.pool();
    let origin = args.mcp_config.clone().unwrap_or_default();
    let catalogue = app.catalogue(&config, &origin, &pool).await;
    pool.shutdown().await;
    let catalogue = catalogue?;
    let printer = &app.printer;
    if json {
        let tools: Vec<Value> = catalogue
            .tools()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "source": tool.source,
                    "original_name": tool.original_name,
                    "description": tool.description,
                    "input_schema": *tool.input_schema,
                    "sandbox": tool.sandbox,
                })
            })
            .collect();
        printer.json(&tools);
        return Ok(());
    }
    let width = catalogue.tools().map(|t| t.name.len()).max().unwrap_or(0);
    for tool in catalogue.tools() {
        let name = format!("{:<width$}", tool.name, width = width);
        printer.line(&format!("{}  {}", printer.bold(&name), printer.dim(&short(&tool.description, 90))));
    }
    printer.status(&printer.dim(&format!(
        "{} from {}{}",
        plural(catalogue.len(), "tool"),
        plural(catalogue.sources().len(), "source"),
        if catalogue.failures().is_empty() {
            String::new()
        } else {
            format!(", {} unavailable", catalogue.failures().len())
        }
    )));
    Ok(())
}
