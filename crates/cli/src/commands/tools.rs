//! `toolbridge tools [NAME…]`: the catalogue, or the named tools in detail (description and a
//! table of their parameters). A server that did not start fails the command (exit 1) unless
//! `--allow-degraded`.

use serde_json::{Value, json};
use toolbridge::{Catalogue, ToolInfo, ToolSourceKind};

use crate::args::ToolArgs;
use crate::commands::schema_table::parameters;
use crate::error::{CliError, CliResult};
use crate::output::short;
use crate::setup::{App, plural};

pub(crate) async fn run(app: &App, args: &ToolArgs, names: &[String], allow_degraded: bool, json: bool) -> CliResult {
    let tools = app.tools(args)?;
    let pool = app.pool();
    let catalogue = app.catalogue(&tools, &pool).await;
    pool.shutdown().await;
    let catalogue = catalogue?;
    let printer = &app.printer;
    let shown: Vec<&ToolInfo> = if names.is_empty() { catalogue.tools().collect() } else { named(&catalogue, names)? };
    if json {
        let tools: Vec<Value> = shown
            .iter()
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
    } else if names.is_empty() {
        let width = shown.iter().map(|t| t.name.len()).max().unwrap_or(0);
        for tool in &shown {
            let name = format!("{:<width$}", tool.name, width = width);
            printer.line(&format!("{}  {}", printer.bold(&name), printer.dim(&short(&tool.description, 90))));
        }
        let failed = catalogue.failures().len();
        printer.status(&printer.dim(&format!(
            "{} from {}{}",
            plural(catalogue.len(), "tool"),
            plural(catalogue.sources().len(), "source"),
            if failed == 0 { String::new() } else { format!(", {failed} unavailable") }
        )));
        if catalogue.sources().is_empty() && failed == 0 {
            printer.status(&no_tools_hint());
        }
    } else {
        for (i, tool) in shown.iter().enumerate() {
            if i > 0 {
                printer.line("");
            }
            detail(app, tool);
        }
    }
    degraded(&catalogue, allow_degraded)
}

/// The named tools; a name not in the catalogue is an error suggesting the nearest ones.
fn named<'a>(catalogue: &'a Catalogue, names: &[String]) -> CliResult<Vec<&'a ToolInfo>> {
    names
        .iter()
        .map(|name| {
            catalogue.get(name).ok_or_else(|| {
                let near = catalogue.nearest(name);
                let error = CliError::usage(format!("unknown tool `{name}`"));
                if near.is_empty() {
                    error.hint("list the catalogue with `toolbridge tools`")
                } else {
                    let near: Vec<String> = near.iter().map(|n| format!("`{n}`")).collect();
                    error.hint(format!("did you mean {}?", near.join(" or ")))
                }
            })
        })
        .collect()
}

/// One tool: where it comes from, what it does, its parameters.
fn detail(app: &App, tool: &ToolInfo) {
    let p = &app.printer;
    let origin = match tool.source_kind {
        ToolSourceKind::Mcp => format!("tool {:?} of MCP server {:?}", tool.original_name, tool.source),
        ToolSourceKind::Skill => format!("tool {:?} of skill {:?}", tool.original_name, tool.source),
        _ => format!("tool {:?} of {:?}", tool.original_name, tool.source),
    };
    p.line(&format!("{}  {}", p.bold(&tool.name), p.dim(&format!("({origin})"))));
    for line in tool.description.lines() {
        p.line(&format!("  {line}"));
    }
    let rows = parameters(&tool.input_schema);
    if rows.is_empty() {
        p.line(&format!("  {}", p.dim("no parameters")));
        return;
    }
    let headers = ["parameter", "type", "required", "description"];
    let widths: Vec<usize> = (0..3)
        .map(|i| rows.iter().map(|r| r.cells()[i].chars().count()).chain([headers[i].len()]).max().unwrap_or(0))
        .collect();
    p.line("");
    p.line(&p.dim(&format!(
        "  {:<w0$}  {:<w1$}  {:<w2$}  {}",
        headers[0],
        headers[1],
        headers[2],
        headers[3],
        w0 = widths[0],
        w1 = widths[1],
        w2 = widths[2]
    )));
    for row in rows {
        let cells = row.cells();
        p.line(&format!(
            "  {:<w0$}  {:<w1$}  {:<w2$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        ));
    }
}

/// Unavailable servers fail the command unless degraded catalogues are allowed.
fn degraded(catalogue: &Catalogue, allow_degraded: bool) -> CliResult {
    let failed: Vec<&str> = catalogue.failures().iter().map(|f| f.source.as_str()).collect();
    if failed.is_empty() || allow_degraded {
        return Ok(());
    }
    Err(CliError::failure(format!(
        "{} unavailable: {}",
        plural(failed.len(), "server"),
        failed.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
    ))
    .hint("pass --allow-degraded to list the rest anyway"))
}

/// How to configure tools, for when none are.
pub(crate) fn no_tools_hint() -> String {
    "no tools are configured: give --mcp-config FILE, put a .mcp.json in this directory (or a parent), \
     add servers with `toolbridge mcp add NAME -- COMMAND [ARGS…]`, or give skills with --skills FILE"
        .to_owned()
}
