//! `toolbridge tools`: the catalogue.

use serde_json::{Value, json};

use crate::args::ToolArgs;
use crate::error::CliResult;
use crate::output::{Printer, print_json, short};
use crate::setup::{ToolSetup, pool};

pub(crate) async fn run(args: &ToolArgs, json: bool, printer: &Printer) -> CliResult {
    let setup = ToolSetup::load(args)?;
    let pool = pool();
    let catalogue = setup.catalogue(&pool, printer).await;
    pool.shutdown().await;
    let catalogue = catalogue?;
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
                })
            })
            .collect();
        print_json(&tools);
        return Ok(());
    }
    let width = catalogue.tools().map(|t| t.name.len()).max().unwrap_or(0);
    for tool in catalogue.tools() {
        println!("{:<width$}  {}", printer.bold(&tool.name), printer.dim(&short(&tool.description, 90)), width = width);
    }
    printer.status(&printer.dim(&format!(
        "{} tools from {} sources{}",
        catalogue.len(),
        catalogue.sources().len(),
        if catalogue.failures().is_empty() {
            String::new()
        } else {
            format!(", {} unavailable", catalogue.failures().len())
        }
    )));
    Ok(())
}
