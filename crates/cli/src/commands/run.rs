//! `toolbridge run`: one execution, streamed to the terminal and stored.

use std::time::Instant;

use futures::StreamExt;
use serde_json::Value;
use toolbridge::config::ProcessEnv;
use toolbridge_agent::MODEL_VARIABLE;
use toolbridge_runtime::{
    AgentDefinition, EventCallback, FinishReason, RuntimeDeps, RuntimeExecutionResult, RuntimeType,
};

use crate::args::RunArgs;
use crate::commands::agent::{attach_tools, unknown_agent};
use crate::error::{CliError, CliResult};
use crate::setup::{App, parse_json_arg, plural};

fn load_agent_file(path: &std::path::Path) -> CliResult<AgentDefinition> {
    let value = toolbridge::config::read_json_file(path, "agent config").map_err(CliError::usage)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        CliError::usage(format!("agent config {}: field {:?}: {}", path.display(), e.path().to_string(), e.inner()))
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

/// The agent this run executes: stored, from a file, or made of the flags.
async fn agent(app: &App, args: &RunArgs) -> CliResult<AgentDefinition> {
    let mut agent = if let Some(name) = &args.agent {
        app.store()?.get_agent(name).await?.ok_or_else(|| unknown_agent(name))?.definition
    } else if let Some(path) = &args.config {
        load_agent_file(path)?
    } else {
        AgentDefinition::named("adhoc")
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
    attach_tools(app, &mut agent, &args.tools)?;
    Ok(agent)
}

/// A login hint names the `--mcp-config` file the servers came from, when they came from one.
fn name_the_file(message: &str, args: &RunArgs) -> String {
    match &args.tools.mcp_config {
        Some(file) => message.replace("--mcp-config FILE", &format!("--mcp-config {}", file.display())),
        None => message.to_owned(),
    }
}

pub(crate) async fn run(app: &App, args: RunArgs) -> CliResult {
    let printer = &app.printer;
    let store = app.store()?;
    let agent = agent(app, &args).await?;
    let pool = app.pool();
    let registry = app.registry_with(&pool, crate::elicit::for_run(args.json)).await?;
    registry.validate_config(&agent.runtime, agent.runtime_config.as_ref()).map_err(CliError::usage)?;
    let runtime = registry.create(&agent.runtime, RuntimeDeps::new(store.clone())).map_err(CliError::usage)?;
    if runtime.requires_model()
        && agent.model_id.is_none()
        && std::env::var(MODEL_VARIABLE).map_or(true, |m| m.trim().is_empty())
    {
        return Err(CliError::usage(format!("agent {:?} has no model", agent.name)).hint(format!(
            "pass --model ID (e.g. --model openai:gpt-4o-mini, or scripted:fixtures/transcripts/demo.json), \
             give the agent one with `toolbridge agent create … --model ID`, or set {MODEL_VARIABLE}"
        )));
    }
    // The servers resolved once here: their secrets are scrubbed from everything printed from
    // now on, and they start while nothing else happens (the runtime finds them warm).
    let servers = agent.mcp_servers.resolve(&agent.name, &ProcessEnv).map_err(CliError::usage)?;
    for server in &servers {
        server.register_secrets(&app.secrets);
    }
    let context = agent.context(args.prompt.clone());
    let execution_id = context.execution_id.clone();

    // Ctrl-C / SIGTERM / SIGHUP cancel the execution cleanly: it ends `cancelled` and is stored.
    // A signal that came before the execution registered keeps asking until it has.
    let signals = tokio::spawn({
        let runtime = runtime.clone();
        let execution_id = execution_id.clone();
        let printer = printer.clone();
        async move {
            crate::signals::termination().await;
            printer.status(&printer.dim("\ncancelling…"));
            while !runtime.cancel(&execution_id).await {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    });

    let enabled: Vec<_> = servers.into_iter().filter(|s| s.enabled).collect();
    if !enabled.is_empty() {
        let spinner = printer.spinner(format!("starting {}…", plural(enabled.len(), "MCP server")));
        let connected = tokio::select! {
            connected = pool.connect_all(&enabled) => connected,
            () = crate::signals::termination() => Vec::new(),
        };
        if let Some(spinner) = spinner {
            spinner.finish_and_clear();
        }
        for (name, outcome) in connected {
            if let Err(error) = outcome {
                let error = name_the_file(&error.to_string(), &args);
                printer.status(&format!("{} server {name:?} unavailable: {error}", printer.red("warning:")));
            }
        }
    }

    let started = Instant::now();
    let result = if args.json {
        runtime.execute(&context).await
    } else {
        let events_printer = printer.clone();
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
        printer.json(&result);
    } else {
        finish_line(app, &result, started);
    }
    if let Some(Value::String(cause)) = result.metadata.get("record_error") {
        return Err(CliError::failure(format!(
            "execution {execution_id} ran but its record could not be stored: {cause}"
        )));
    }
    match result.finish_reason {
        _ if result.success => Ok(()),
        Some(FinishReason::Cancelled) => Err(CliError::failure(format!("execution {execution_id} cancelled"))),
        _ => Err(CliError::failure(name_the_file(result.error.as_deref().unwrap_or("execution failed"), &args))),
    }
}

fn finish_line(app: &App, result: &RuntimeExecutionResult, started: Instant) {
    let printer = &app.printer;
    if !result.response.is_empty() && !result.response.ends_with('\n') {
        printer.write("\n");
    }
    let calls = result.tool_execution_messages.as_ref().map_or(0, Vec::len);
    let reason = result.finish_reason.map_or("-", FinishReason::as_str);
    printer.status(&printer.dim(&format!(
        "[{reason}] {} ms, {}, {} tokens ({} in / {} out)",
        started.elapsed().as_millis(),
        plural(calls, "tool call"),
        result.usage.total_tokens,
        result.usage.input_tokens,
        result.usage.output_tokens
    )));
}
