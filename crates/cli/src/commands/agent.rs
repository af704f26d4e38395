//! `toolbridge agent create|update|list|show|delete`.
//!
//! A stored agent runs later, from any directory: every path in it is stored absolute (a
//! `scripted:FILE` model, the servers' `cwd`, `envFile`, a `command` or arguments naming files,
//! the skills' directories), resolved against the directory it was created in.

use std::path::Path;

use toolbridge::config::{ServerSpec, absolute};
use toolbridge_runtime::{AgentDefinition, RegistryError, RuntimeError, RuntimeType};

use crate::args::{AgentArgs, AgentCommand, ToolArgs};
use crate::commands::agent_view;
use crate::error::{CliError, CliResult};
use crate::setup::{App, parse_json_arg};

pub(crate) async fn run(app: &App, command: AgentCommand) -> CliResult {
    let printer = &app.printer;
    let store = app.store()?;
    match command {
        AgentCommand::Create { name, from, flags, force } => {
            let mut agent = match &from {
                Some(path) => load_agent_file(path)?,
                None => AgentDefinition::named(name.as_deref().unwrap_or_default()),
            };
            if let Some(name) = name {
                agent.name = name;
            }
            if agent.name.trim().is_empty() {
                return Err(CliError::usage("the agent has no name").hint("give one: toolbridge agent create NAME …"));
            }
            apply(app, &mut agent, &flags)?;
            validate(app, &agent).await?;
            if force {
                store.upsert_agent(&agent).await?;
            } else {
                store.create_agent(&agent).await.map_err(|e| match e {
                    toolbridge_store::StoreError::AgentExists(_) => CliError::usage(e)
                        .hint("pass --force to replace it, `toolbridge agent update` it, or delete it first"),
                    other => other.into(),
                })?;
            }
            printer.status(&format!("created agent {}", printer.bold(&agent.name)));
        }
        AgentCommand::Update { name, flags } => {
            let mut agent = store.get_agent(&name).await?.ok_or_else(|| unknown_agent(&name))?.definition;
            apply(app, &mut agent, &flags)?;
            validate(app, &agent).await?;
            store.upsert_agent(&agent).await?;
            printer.status(&format!("updated agent {}", printer.bold(&name)));
        }
        AgentCommand::List { json } => {
            let agents = store.list_agents().await?;
            if json {
                printer.json(&agents.iter().map(|a| agent_view::masked(&a.definition)).collect::<Vec<_>>());
            } else if agents.is_empty() {
                printer.status("no agents yet; create one with `toolbridge agent create NAME --model ID`");
            } else {
                for agent in agents {
                    let d = &agent.definition;
                    printer.line(&format!(
                        "{}  {}  {}",
                        printer.bold(&d.name),
                        d.runtime,
                        d.model_id.as_deref().unwrap_or("(no model)")
                    ));
                }
            }
        }
        AgentCommand::Show { name, json, reveal } => {
            let agent = store.get_agent(&name).await?.ok_or_else(|| unknown_agent(&name))?;
            if reveal {
                // Asked for: the stored values, unscrubbed.
                crate::output::line_unscrubbed(&serde_json::to_string_pretty(&agent.definition).unwrap_or_default());
            } else if json {
                printer.json(&agent_view::masked(&agent.definition));
            } else {
                agent_view::show(printer, &agent);
            }
        }
        AgentCommand::Delete { name } => {
            if !store.delete_agent(&name).await? {
                return Err(unknown_agent(&name));
            }
            printer.status(&format!("deleted agent {name}"));
        }
    }
    Ok(())
}

/// The flags given, over what the agent had; paths made absolute.
fn apply(app: &App, agent: &mut AgentDefinition, flags: &AgentArgs) -> CliResult {
    let cwd =
        std::env::current_dir().map_err(|e| CliError::usage(format!("cannot read the current directory: {e}")))?;
    if let Some(model) = &flags.model {
        agent.model_id = Some(model.clone());
    }
    if let Some(runtime) = &flags.runtime {
        agent.runtime = RuntimeType::new(runtime);
    }
    if let Some(text) = &flags.runtime_config {
        agent.runtime_config = Some(parse_json_arg(text, "--runtime-config")?);
    }
    if let Some(system_prompt) = &flags.system_prompt {
        agent.system_prompt = Some(system_prompt.clone());
    }
    attach_tools(app, agent, &flags.tools, false)?;
    absolute_paths(agent, &cwd);
    Ok(())
}

/// Every path of a stored agent made absolute against `base`.
pub(crate) fn absolute_paths(agent: &mut AgentDefinition, base: &Path) {
    if let Some(path) = agent.model_id.as_deref().and_then(|m| m.strip_prefix("scripted:")) {
        agent.model_id = Some(format!("scripted:{}", absolute(Path::new(path), base).display()));
    }
    agent.mcp_servers = agent.mcp_servers.with_absolute_paths(base);
    agent.skills = agent.skills.iter().map(|skill| skill.with_absolute_paths(base)).collect();
}

/// Reads an agent JSON file (`{name, runtime, model_id, …, mcp_servers, skills, policy}`);
/// errors name the file and the field.
pub(crate) fn load_agent_file(path: &Path) -> CliResult<AgentDefinition> {
    let value = toolbridge::config::read_json_file(path, "agent config").map_err(CliError::usage)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        CliError::usage(format!("agent config {}: field {:?}: {}", path.display(), e.path().to_string(), e.inner()))
    })
}

/// Everything that can be checked before the agent runs: its runtime, its `runtime_config`
/// (the runtime's schema, then its own `validate_config`; a plugin's is asked of the plugin,
/// which starts it).
pub(crate) async fn validate(app: &App, agent: &AgentDefinition) -> CliResult {
    let registry = app.registry(&app.pool()).await?;
    registry.check_agent(agent).await.map_err(|error| {
        let hint = matches!(
            error,
            RegistryError::Config { .. } | RegistryError::Invalid { source: RuntimeError::Config(_), .. }
        )
        .then(|| format!("see the schema with `toolbridge runtimes --json` ({})", agent.runtime));
        let error = match error {
            // A runtime that could not answer (a plugin that did not start) is not a usage error.
            RegistryError::Invalid { source, runtime }
                if !matches!(source, RuntimeError::Config(_) | RuntimeError::InvalidContext(_)) =>
            {
                CliError::failure(format!("runtime `{runtime}` could not validate the agent: {source}"))
            }
            other => CliError::usage(other),
        };
        match hint {
            Some(hint) => error.hint(hint),
            None => error,
        }
    })
}

pub(crate) fn unknown_agent(name: &str) -> CliError {
    CliError::usage(format!("no agent named {name:?}")).hint("list agents with `toolbridge agent list`")
}

/// Reads `--mcp-config` (or, when `discover`, the discovered configuration), `--skills` and
/// `--policy` into an agent definition: typed once, stored as written (so that `${VAR}`
/// templates keep secrets out of the store).
pub(crate) fn attach_tools(app: &App, agent: &mut AgentDefinition, tools: &ToolArgs, discover: bool) -> CliResult {
    let loaded = app.load_tools(tools, discover)?;
    if tools.mcp_config.is_some() || (discover && !loaded.config.mcp_servers.is_empty()) {
        agent.mcp_servers = loaded.config.mcp_servers;
    }
    if tools.skills.is_some() {
        agent.skills = loaded.config.skills;
    }
    if tools.policy.is_some() {
        agent.policy = loaded.config.policy;
    }
    Ok(())
}

/// A server's one-line description: its command line or URL.
pub(crate) fn describe_server(spec: &ServerSpec) -> String {
    match (&spec.command, &spec.url) {
        (Some(command), _) => {
            std::iter::once(command.as_str()).chain(spec.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
        }
        (None, Some(url)) => url.clone(),
        (None, None) => "(no command or url)".to_owned(),
    }
}
