//! What `run` and `chat` share: the agent to execute (stored, from a file, or made of the
//! flags), checked before anything runs (runtime config, model and its provider's key), its
//! servers started (unavailable ones named at the top; a required one fails the command), and
//! one execution at a time, streamed, cancellable, with its stored duration.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use serde_json::Value;
use toolbridge::Pool;
use toolbridge::config::ProcessEnv;
use toolbridge_agent::MODEL_VARIABLE;
use toolbridge_providers::{ProviderEnv, ProviderOptions, provider_for_model};
use toolbridge_runtime::{
    AgentDefinition, EventCallback, RuntimeDeps, RuntimeExecutionContext, RuntimeExecutionResult, RuntimeHandle,
    RuntimeType,
};
use toolbridge_store::Store;

use crate::args::AgentChoice;
use crate::commands::agent::{attach_tools, load_agent_file, unknown_agent};
use crate::error::{CliError, CliResult};
use crate::live::Live;
use crate::setup::{App, parse_json_arg, plural, without_name};
use crate::terminal::ask_for_inputs;

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

/// The agent a `run` or `chat` executes: stored, from a file, or made of the flags (with the
/// discovered MCP configuration when no `--mcp-config` is given).
pub(crate) async fn resolve_agent(app: &App, choice: &AgentChoice) -> CliResult<AgentDefinition> {
    let mut agent = if let Some(name) = &choice.agent {
        app.store()?.get_agent(name).await?.ok_or_else(|| unknown_agent(name))?.definition
    } else if let Some(path) = &choice.config {
        load_agent_file(path)?
    } else {
        AgentDefinition::named("adhoc")
    };
    let flags = &choice.flags;
    if let Some(model) = &flags.model {
        agent.model_id = Some(model.clone());
    }
    if let Some(runtime) = &flags.runtime {
        agent.runtime = RuntimeType::new(runtime);
    }
    if let Some(text) = &flags.runtime_config {
        agent.runtime_config = Some(merge(agent.runtime_config.take(), parse_json_arg(text, "--runtime-config")?));
    }
    if let Some(system_prompt) = &flags.system_prompt {
        agent.system_prompt = Some(system_prompt.clone());
    }
    let adhoc = choice.agent.is_none() && choice.config.is_none();
    attach_tools(app, &mut agent, &flags.tools, adhoc)?;
    Ok(agent)
}

/// An agent ready to execute prompts.
pub(crate) struct Session {
    pub(crate) agent: AgentDefinition,
    pub(crate) store: Arc<Store>,
    pub(crate) runtime: RuntimeHandle,
    pool: Pool,
    /// The `--mcp-config` file the servers came from, named in login hints.
    mcp_config: Option<std::path::PathBuf>,
}

impl Session {
    /// Checks the agent, creates its runtime and starts its servers. `elicitor` answers the
    /// servers' elicitations (the person at the terminal), when there is one.
    pub(crate) async fn open(
        app: &App,
        agent: AgentDefinition,
        choice: &AgentChoice,
        elicitor: Option<Arc<dyn toolbridge::Responder>>,
    ) -> CliResult<Self> {
        let store = app.store()?;
        let pool = app.pool();
        let registry = app.registry_with(&pool, elicitor).await?;
        registry.validate_config(&agent.runtime, agent.runtime_config.as_ref()).map_err(CliError::usage)?;
        let runtime = registry.create(&agent.runtime, RuntimeDeps::new(store.clone())).map_err(CliError::usage)?;
        if runtime.requires_model() {
            check_model(&agent, &runtime)?;
        }
        ask_for_inputs(&agent.mcp_servers, &[])?;
        // The servers resolved once here: their secrets are scrubbed from everything printed
        // from now on, and they start while nothing else happens (the runtime finds them warm).
        let servers = agent.mcp_servers.resolve(&agent.name, &ProcessEnv).map_err(CliError::usage)?;
        for server in &servers {
            server.register_secrets(&app.secrets);
        }
        let mcp_config = choice.flags.tools.mcp_config.clone();
        let session = Self { agent, store, runtime, pool, mcp_config };
        let enabled: Vec<_> = servers.into_iter().filter(|s| s.enabled).collect();
        if enabled.is_empty() {
            return Ok(session);
        }
        let printer = &app.printer;
        let spinner = printer.spinner(format!("starting {}…", plural(enabled.len(), "MCP server")));
        let connected = tokio::select! {
            connected = session.pool.connect_all(&enabled) => connected,
            () = crate::signals::termination() => Vec::new(),
        };
        if let Some(spinner) = spinner {
            spinner.finish_and_clear();
        }
        for (name, outcome) in connected {
            let Err(error) = outcome else { continue };
            let error = session.name_file_in(&error.to_string());
            if enabled.iter().any(|s| s.name == name && s.required) {
                session.close().await;
                return Err(CliError::failure(format!(
                    "required server {name:?} is unavailable: {}",
                    without_name(&name, &error)
                )));
            }
            app.unavailable(&toolbridge::SourceFailure { source: name, error, login_command: None });
        }
        Ok(session)
    }

    /// A login hint (`--mcp-config FILE`) naming the file the servers came from, when they
    /// came from one.
    pub(crate) fn name_file_in(&self, message: &str) -> String {
        match &self.mcp_config {
            Some(file) => message.replace("--mcp-config FILE", &format!("--mcp-config {}", file.display())),
            None => message.to_owned(),
        }
    }

    /// [`name_file_in`](Self::name_file_in) for a command's error.
    pub(crate) fn name_the_file(&self, error: CliError) -> CliError {
        CliError { message: self.name_file_in(&error.message), ..error }
    }

    /// Runs one execution: streamed to `live` (or silently), cancelled cleanly when `stop`
    /// resolves (it then ends `cancelled` and is stored).
    pub(crate) async fn execute(
        &self,
        context: RuntimeExecutionContext,
        live: Option<&Live>,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> RuntimeExecutionResult {
        let cancel = tokio::spawn({
            let runtime = self.runtime.clone();
            let execution_id = context.execution_id.clone();
            let live = live.cloned();
            async move {
                stop.await;
                if let Some(live) = &live {
                    live.cancelling();
                }
                // A stop that came before the execution registered keeps asking until it has.
                while !runtime.cancel(&execution_id).await {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        });
        let result = match live {
            None => self.runtime.execute(&context).await,
            Some(live) => {
                let live = live.clone();
                let events = EventCallback::new(move |event| live.event(event));
                let mut stream = self.runtime.stream_execute(context, Some(events));
                let mut last = None;
                while let Some(item) = stream.next().await {
                    last = Some(item);
                }
                last.unwrap_or_else(|| RuntimeExecutionResult::failure("the runtime produced no result"))
            }
        };
        cancel.abort();
        result
    }

    /// How long the stored execution took (the duration every view shows).
    pub(crate) async fn stored_duration(&self, execution_id: &str) -> Option<u64> {
        self.store.get_execution(execution_id).await.ok().flatten().map(|e| e.summary.duration_ms)
    }

    /// Stops the servers.
    pub(crate) async fn close(&self) {
        self.pool.shutdown().await;
    }
}

/// A model is given and its provider is usable (known prefix, key or endpoint set): a
/// configuration error now (exit 2), not a failed execution later.
fn check_model(agent: &AgentDefinition, runtime: &RuntimeHandle) -> CliResult {
    let from_env = std::env::var(MODEL_VARIABLE).ok().filter(|m| !m.trim().is_empty());
    let Some(model) = agent.model_id.clone().filter(|m| !m.trim().is_empty()).or(from_env) else {
        return Err(CliError::usage(format!("agent {:?} has no model", agent.name)).hint(format!(
            "pass --model ID (e.g. --model openai:gpt-4o-mini, or scripted:fixtures/transcripts/demo.json), \
             give the agent one with `toolbridge agent create … --model ID`, or set {MODEL_VARIABLE}"
        )));
    };
    // Only the bundled loop speaks our model ids; other runtimes bring their own clients.
    if *runtime.runtime_type() == RuntimeType::agent_loop() {
        provider_for_model(&model, &ProviderEnv::from_env(), ProviderOptions::default())
            .map_err(|error| CliError::usage(format!("model {model:?}: {error}")))?;
    }
    Ok(())
}
