//! `toolbridge executions list|show`.

use toolbridge_store::ExecutionFilter;

use crate::args::ExecutionsCommand;
use crate::error::{CliError, CliResult};
use crate::output::{Printer, print_json, short};
use crate::setup::store;

pub(crate) async fn run(command: ExecutionsCommand, db: Option<&std::path::Path>, printer: &Printer) -> CliResult {
    let store = store(db)?;
    match command {
        ExecutionsCommand::List { agent, limit, json } => {
            let filter = ExecutionFilter { agent, limit: Some(limit), ..ExecutionFilter::default() };
            let executions = store.list_executions(&filter).await?;
            if json {
                print_json(&executions);
                return Ok(());
            }
            if executions.is_empty() {
                printer.status("no executions yet");
            }
            for e in executions {
                let status = if e.status == "success" { printer.green(&e.status) } else { printer.red(&e.status) };
                println!(
                    "{}  {}  {:<9}  {:>6} ms  {:>2} tools  {:>6} tok  {}",
                    printer.dim(&e.id[..e.id.len().min(8)]),
                    e.started_at.format("%Y-%m-%d %H:%M:%S"),
                    status,
                    e.duration_ms,
                    e.tool_calls,
                    e.total_tokens,
                    short(&e.prompt, 50)
                );
            }
        }
        ExecutionsCommand::Show { id, json } => {
            let execution = store.get_execution(&id).await?.ok_or_else(|| {
                CliError::usage(format!("no execution {id:?}")).hint("list them with `toolbridge executions list`")
            })?;
            if json {
                print_json(&execution);
                return Ok(());
            }
            let s = &execution.summary;
            println!("{} {}", printer.bold("execution"), s.id);
            println!(
                "agent: {}  runtime: {}  model: {}",
                s.agent_id,
                s.runtime_type,
                s.model.as_deref().unwrap_or("-")
            );
            println!("status: {}  finish_reason: {}", s.status, s.finish_reason.as_deref().unwrap_or("-"));
            println!("started: {}  duration: {} ms", s.started_at, s.duration_ms);
            let u = &execution.usage;
            println!(
                "usage: {} in / {} out / {} total ({} cached) via {}",
                u.input_tokens,
                u.output_tokens,
                u.total_tokens,
                u.cache_read_tokens,
                u.model_provider.as_deref().unwrap_or("-")
            );
            println!("prompt: {}", s.prompt);
            if let Some(error) = &execution.result.error {
                println!("{} {error}", printer.red("error:"));
            }
            println!("\n{}\n{}", printer.bold("response"), execution.result.response);
            if !execution.tool_calls.is_empty() {
                println!("\n{}", printer.bold("tool calls"));
                for (i, call) in execution.tool_calls.iter().enumerate() {
                    let mark = if call.success { printer.green("✓") } else { printer.red("✗") };
                    let kind = call.error_type.map(|t| format!(" [{t}]")).unwrap_or_default();
                    println!(
                        "{:>3}. {mark} {} {}{kind}  {}",
                        i + 1,
                        call.tool,
                        printer.dim(&format!("{} ms", call.duration_ms)),
                        printer.dim(&short(&call.input.to_string(), 60))
                    );
                    println!("       {}", short(&call.output, 100));
                }
            }
        }
    }
    Ok(())
}
