//! `toolbridge run`: one execution, streamed to the terminal and stored.

use std::time::Instant;

use futures::StreamExt;
use serde_json::Value;
use toolbridge_runtime::{
    AgentDefinition, EventCallback, FinishReason, RuntimeDeps, RuntimeExecutionResult, RuntimeType,
};

use crate::args::RunArgs;
use crate::commands::agent::{attach_tools, unknown_agent};
use crate::error::{CliError, CliResult};
use crate::output::{Printer, print_json};
use crate::setup::{parse_json_arg, pool, registry, store};

fn load_agent_file(path: &std::path::Path) -> CliResult<AgentDefinition> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read agent config {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        CliError::usage(format!("agent config {}: line {}, column {}: {e}", path.display(), e.line(), e.column()))
    })
}

/// Merges `over`'s keys into `base` (both JSON objects).
fn merge(base: Option<Value>, over: Value) -> Value {
    match (base, over) {
        (Some(Value::Object(mut base)), Value::Object(over)) => {
            base.extend(over);
            Value::Object(base)
        }
        (_, over) => over,
    }
}

pub(crate) async fn run(args: RunArgs, db: Option<&std::path::Path>, printer: &Printer) -> CliResult {
    let store = store(db)?;
    let mut agent = if let Some(name) = &args.agent {
        store.get_agent(name).await?.ok_or_else(|| unknown_agent(name))?.definition
    } else if let Some(path) = &args.config {
        load_agent_file(path)?
    } else {
        let model = args.model.clone().ok_or_else(|| {
            CliError::usage("no model: pass --model ID, --agent NAME or --config agent.json")
                .hint("try --model scripted:fixtures/transcripts/demo.json, or set OPENAI_API_KEY and use --model openai:gpt-4o-mini")
        })?;
        AgentDefinition::new("adhoc", model)
    };
    if let Some(model) = &args.model {
        agent.model_id = Some(model.clone());
    }
    if let Some(runtime) = &args.runtime {
        agent.runtime = RuntimeType::new(runtime);
    }
    if let Some(text) = &args.runtime_config {
        agent.runtime_config = Some(merge(agent.runtime_config.take(), parse_json_arg(text, "--runtime-config")?));
    }
    if let Some(system_prompt) = &args.system_prompt {
        agent.system_prompt = Some(system_prompt.clone());
    }
    attach_tools(&mut agent, &args.tools)?;
    // Parsed here only to start the servers early and keep their secrets out of logs; the
    // runtime parses (and reports errors in) the agent's own copy.
    let servers = agent
        .mcp_servers
        .as_ref()
        .and_then(|servers| toolbridge::config::parse_mcp_servers(&Value::Object(servers.clone()), &agent.name).ok())
        .unwrap_or_default();
    crate::setup::register_server_secrets(&servers);
    if agent.model_id.is_none() {
        return Err(CliError::usage(format!("agent {:?} has no model; pass --model ID", agent.name)));
    }

    let pool = pool();
    let registry = registry(&pool)?;
    registry.validate_config(&agent.runtime, agent.runtime_config.as_ref()).map_err(CliError::usage)?;
    let deps = RuntimeDeps::new(store.clone());
    let runtime = registry.create(&agent.runtime, deps, None).map_err(CliError::usage)?;
    let context = agent.context(args.prompt.clone());
    let execution_id = context.execution_id.clone();

    // Ctrl-C / SIGTERM / SIGHUP cancel the execution cleanly: it ends `cancelled` and is stored.
    // A signal that came before the execution registered keeps asking until it has.
    let signals = tokio::spawn({
        let runtime = runtime.clone();
        let execution_id = execution_id.clone();
        let printer = *printer;
        async move {
            crate::signals::termination().await;
            printer.status(&printer.dim("\ncancelling…"));
            while !runtime.cancel(&execution_id).await {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    });

    // Start the servers now, with a spinner, so the execution finds them warm (a signal stops
    // the wait; the execution then starts and ends `cancelled`).
    if !servers.is_empty() {
        let spinner = printer.spinner(format!("starting {} MCP server(s)…", servers.len()));
        tokio::select! {
            _ = pool.connect_all(&servers) => {}
            () = crate::signals::termination() => {}
        }
        if let Some(spinner) = spinner {
            spinner.finish_and_clear();
        }
    }

    let started = Instant::now();
    let result = if args.json {
        runtime.execute(&context).await
    } else {
        let events_printer = *printer;
        let events = EventCallback::new(move |event| events_printer.event(event));
        let mut stream = runtime.stream_execute(context, Some(events));
        let mut last = None;
        while let Some(item) = stream.next().await {
            last = Some(item);
        }
        last.unwrap_or_else(|| RuntimeExecutionResult::failure("the runtime produced no result"))
    };
    signals.abort();
    pool.shutdown().await;

    if args.json {
        print_json(&result);
    } else {
        finish_line(&result, started, printer);
    }
    match result.finish_reason {
        _ if result.success => Ok(()),
        Some(FinishReason::Cancelled) => Err(CliError::failure(format!("execution {execution_id} cancelled"))),
        _ => Err(CliError::failure(result.error.unwrap_or_else(|| "execution failed".into()))),
    }
}

fn finish_line(result: &RuntimeExecutionResult, started: Instant, printer: &Printer) {
    if !result.response.is_empty() && !result.response.ends_with('\n') {
        println!();
    }
    let calls = result.tool_execution_messages.as_ref().map_or(0, Vec::len);
    let reason = result.finish_reason.map_or("-", FinishReason::as_str);
    printer.status(&printer.dim(&format!(
        "[{reason}] {} ms, {} tool call(s), {} tokens ({} in / {} out)",
        started.elapsed().as_millis(),
        calls,
        result.usage.total_tokens,
        result.usage.input_tokens,
        result.usage.output_tokens
    )));
}
