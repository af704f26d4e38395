//! `toolbridge run`: one execution, streamed to the terminal and stored; `--continue` carries
//! a previous execution's conversation on.

use serde_json::{Map, Value};
use toolbridge_runtime::{ConversationMessage, FinishReason, RuntimeExecutionResult};
use toolbridge_store::{ExecutionFilter, StoredExecution};

use crate::args::{AgentChoice, RunArgs};
use crate::commands::session::{Session, resolve_agent};
use crate::error::{CliError, CliResult};
use crate::live::Live;
use crate::output::duration;
use crate::setup::{App, plural};
use crate::terminal::prompt_from_stdin;

pub(crate) async fn run(app: &App, args: RunArgs) -> CliResult {
    let printer = &app.printer;
    #[cfg(feature = "temporal")]
    let attach_to = args.execution_id.clone();
    #[cfg(not(feature = "temporal"))]
    let RunArgs { prompt, continue_from, mut agent, json } = args;
    #[cfg(feature = "temporal")]
    let RunArgs { prompt, continue_from, mut agent, json, execution_id: _ } = args;
    let (prompt, previous) = match continue_from {
        None => (prompt, None),
        Some(value) => {
            let (id, prompt) = continuation_target(app, value, prompt).await?;
            let previous = previous_execution(app, id.as_deref(), &agent).await?;
            reuse_previous_agent(app, &previous, &mut agent).await?;
            (prompt, Some(previous))
        }
    };
    let prompt = match prompt.as_deref() {
        Some("-") => prompt_from_stdin()?,
        Some(text) => text.to_owned(),
        None if !std::io::IsTerminal::is_terminal(&std::io::stdin()) => prompt_from_stdin()?,
        None => {
            return Err(CliError::usage("no prompt given").hint(
                "give one (toolbridge run \"…\"), pipe it in (… | toolbridge run -), or talk with `toolbridge chat`",
            ));
        }
    };
    let definition = resolve_agent(app, &agent).await?;
    let session = Session::open(app, definition, &agent, crate::elicit::for_run(json)).await?;
    let mut context = session.agent.context(prompt);
    // A durable execution started earlier (by a starter that died) is attached to by its id.
    #[cfg(feature = "temporal")]
    if let Some(id) = attach_to {
        context.execution_id = toolbridge_runtime::ExecutionId::new(id);
    }
    if let Some(previous) = &previous {
        context.conversation_history = history_of(previous);
    }
    let execution_id = context.execution_id.to_string();
    let live = (!json).then(|| Live::new(printer.clone()));
    let result = session.execute(context, live.as_ref(), crate::signals::termination()).await;
    session.close().await;
    let stored = session.stored_duration(&execution_id).await;

    if json {
        printer.json(&with_execution_id(&result, &execution_id, stored));
    } else {
        finish_line(app, &result, stored);
    }
    outcome(&result, &execution_id).map_err(|e| session.name_the_file(e))
}

/// The command's outcome for an execution's result.
pub(crate) fn outcome(result: &RuntimeExecutionResult, execution_id: &str) -> CliResult {
    if let Some(Value::String(cause)) = result.metadata.get("record_error") {
        return Err(CliError::failure(format!(
            "execution {execution_id} ran but its record could not be stored: {cause}"
        )));
    }
    match result.finish_reason {
        _ if result.success => Ok(()),
        Some(FinishReason::Cancelled) => Err(CliError::failure(format!("execution {execution_id} cancelled"))),
        _ => Err(CliError::failure(result.error.clone().unwrap_or_else(|| "execution failed".into()))),
    }
}

/// The result as JSON, with the `execution_id` it is stored under first and its stored
/// `duration_ms`.
fn with_execution_id(result: &RuntimeExecutionResult, execution_id: &str, stored: Option<u64>) -> Value {
    let mut object = Map::new();
    object.insert("execution_id".into(), Value::String(execution_id.to_owned()));
    if let Some(ms) = stored {
        object.insert("duration_ms".into(), Value::from(ms));
    }
    if let Ok(Value::Object(fields)) = serde_json::to_value(result) {
        object.extend(fields);
    }
    Value::Object(object)
}

/// The last line: why it ended, how long it took (as stored), calls and tokens.
pub(crate) fn finish_line(app: &App, result: &RuntimeExecutionResult, stored_ms: Option<u64>) {
    let printer = &app.printer;
    if !result.response.is_empty() && !result.response.ends_with('\n') {
        printer.write("\n");
    }
    let calls = result.tool_execution_messages.as_ref().map_or(0, Vec::len);
    let reason = result.finish_reason.map_or("-", FinishReason::as_str);
    let took = stored_ms.map(duration).unwrap_or_else(|| "-".into());
    printer.status(&printer.dim(&format!(
        "[{reason}] {took}, {}, {} tokens ({} in / {} out)",
        plural(calls, "tool call"),
        result.usage.total_tokens,
        result.usage.input_tokens,
        result.usage.output_tokens
    )));
}

/// `--continue VALUE`: an execution id (with the prompt as usual), or — when no prompt is
/// given and VALUE names no execution — the prompt itself, continuing the latest execution.
async fn continuation_target(
    app: &App,
    value: String,
    prompt: Option<String>,
) -> CliResult<(Option<String>, Option<String>)> {
    if value.is_empty() {
        return Ok((None, prompt));
    }
    if prompt.is_some() {
        return Ok((Some(value), prompt));
    }
    let names_an_execution = matches!(app.store()?.get_execution(&value).await, Ok(Some(_)));
    Ok(if names_an_execution { (Some(value), None) } else { (None, Some(value)) })
}

/// The execution to continue: `id`, else the latest (of `--agent`'s, when given).
async fn previous_execution(app: &App, id: Option<&str>, agent: &AgentChoice) -> CliResult<StoredExecution> {
    let store = app.store()?;
    let id = match id {
        Some(id) => id.to_owned(),
        None => {
            let filter = ExecutionFilter { agent: agent.agent.clone(), limit: Some(1), ..ExecutionFilter::default() };
            let latest = store.list_executions(&filter).await?;
            let Some(latest) = latest.into_iter().next() else {
                return Err(CliError::usage("no execution to continue").hint("run one first with `toolbridge run`"));
            };
            latest.id
        }
    };
    store.get_execution(&id).await?.ok_or_else(|| {
        CliError::usage(format!("no execution {id:?} to continue")).hint("list them with `toolbridge executions list`")
    })
}

/// Continuing without naming an agent or a model: the previous execution's stored agent and
/// model carry on.
async fn reuse_previous_agent(app: &App, previous: &StoredExecution, choice: &mut AgentChoice) -> CliResult {
    if choice.agent.is_none() && choice.config.is_none() {
        let name = &previous.summary.agent_id;
        if app.store()?.get_agent(name).await?.is_some() {
            choice.agent = Some(name.clone());
        }
    }
    if choice.flags.model.is_none() && choice.agent.is_none() && choice.config.is_none() {
        choice.flags.model = previous.context.get("model_id").and_then(Value::as_str).map(str::to_owned);
    }
    Ok(())
}

/// A previous execution's conversation: its own history, its prompt, its answer.
fn history_of(previous: &StoredExecution) -> Vec<ConversationMessage> {
    let mut history: Vec<ConversationMessage> = previous
        .context
        .get("conversation_history")
        .cloned()
        .and_then(|h| serde_json::from_value(h).ok())
        .unwrap_or_default();
    let prompt = previous.context.get("prompt").and_then(Value::as_str).unwrap_or(&previous.summary.prompt);
    history.push(ConversationMessage::text("user", prompt));
    if !previous.result.response.is_empty() {
        history.push(ConversationMessage::text("assistant", previous.result.response.clone()));
    }
    history
}
