//! `toolbridge executions list|show`.

use toolbridge_runtime::ExecutionStatus;
use toolbridge_store::ExecutionFilter;

use crate::args::ExecutionsCommand;
use crate::error::{CliError, CliResult};
use crate::output::short;
use crate::setup::App;

pub(crate) async fn run(app: &App, command: ExecutionsCommand) -> CliResult {
    let printer = &app.printer;
    let store = app.store()?;
    match command {
        ExecutionsCommand::List { agent, limit, json } => {
            let filter = ExecutionFilter { agent, limit: Some(limit), ..ExecutionFilter::default() };
            let executions = store.list_executions(&filter).await?;
            if json {
                printer.json(&executions);
                return Ok(());
            }
            if executions.is_empty() {
                printer.status("no executions yet");
            }
            for e in executions {
                let status = if e.status == ExecutionStatus::Success {
                    printer.green(e.status.as_str())
                } else {
                    printer.red(e.status.as_str())
                };
                printer.line(&format!(
                    "{}  {}  {:<9}  {:>6} ms  {:>2} tools  {:>6} tok  {}",
                    printer.dim(&e.id[..e.id.len().min(8)]),
                    e.started_at.format("%Y-%m-%d %H:%M:%S"),
                    status,
                    e.duration_ms,
                    e.tool_calls,
                    e.total_tokens,
                    short(&e.prompt, 50)
                ));
            }
        }
        ExecutionsCommand::Show { id, json } => {
            let execution = store.get_execution(&id).await?.ok_or_else(|| {
                CliError::usage(format!("no execution {id:?}")).hint("list them with `toolbridge executions list`")
            })?;
            // A durable execution whose starter did not see its end: Temporal has it.
            #[cfg(feature = "temporal")]
            let execution = crate::commands::durable::settle(app, &store, execution).await?;
            if json {
                printer.json(&execution);
                return Ok(());
            }
            let s = &execution.summary;
            printer.line(&format!("{} {}", printer.bold("execution"), s.id));
            printer.line(&format!(
                "agent: {}  runtime: {}  model: {}",
                s.agent_id,
                s.runtime_type,
                s.model.as_deref().unwrap_or("-")
            ));
            printer.line(&format!(
                "status: {}  finish_reason: {}",
                s.status,
                s.finish_reason.as_deref().unwrap_or("-")
            ));
            printer.line(&format!("started: {}  duration: {} ms", s.started_at, s.duration_ms));
            let u = &execution.usage;
            printer.line(&format!(
                "usage: {} in / {} out / {} total ({} cached) via {}",
                u.input_tokens,
                u.output_tokens,
                u.total_tokens,
                u.cache_read_tokens,
                u.model_provider.as_deref().unwrap_or("-")
            ));
            printer.line(&format!("prompt: {}", s.prompt));
            if let Some(error) = &execution.result.error {
                printer.line(&format!("{} {error}", printer.red("error:")));
            }
            printer.line(&format!("\n{}\n{}", printer.bold("response"), execution.result.response));
            if !execution.tool_calls.is_empty() {
                printer.line(&format!("\n{}", printer.bold("tool calls")));
                for (i, call) in execution.tool_calls.iter().enumerate() {
                    let mark = if call.success { printer.green("✓") } else { printer.red("✗") };
                    let kind = call.error_type.map(|t| format!(" [{t}]")).unwrap_or_default();
                    printer.line(&format!(
                        "{:>3}. {mark} {} {}{kind}  {}",
                        i + 1,
                        call.tool,
                        printer.dim(&format!("{} ms", call.duration_ms)),
                        printer.dim(&short(&call.input.to_string(), 60))
                    ));
                    printer.line(&format!("       {}", short(&call.output, 100)));
                }
            }
        }
    }
    Ok(())
}
