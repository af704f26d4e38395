//! `toolbridge agent create|list|show|delete`.

use toolbridge_runtime::{AgentDefinition, RegistryError, RuntimeError, RuntimeType};

use crate::args::{AgentCommand, ToolArgs};
use crate::error::{CliError, CliResult};
use crate::setup::{App, parse_json_arg};

pub(crate) async fn run(app: &App, command: AgentCommand) -> CliResult {
    let printer = &app.printer;
    let store = app.store()?;
    match command {
        AgentCommand::Create { name, runtime, model, runtime_config, system_prompt, tools, force } => {
            let mut agent = AgentDefinition::named(&name);
            agent.runtime = RuntimeType::new(runtime);
            agent.model_id = model;
            agent.runtime_config =
                runtime_config.as_deref().map(|text| parse_json_arg(text, "--runtime-config")).transpose()?;
            agent.system_prompt = system_prompt;
            attach_tools(app, &mut agent, &tools)?;
            validate(app, &agent).await?;
            if force {
                store.upsert_agent(&agent).await?;
            } else {
                store.create_agent(&agent).await.map_err(|e| match e {
                    toolbridge_store::StoreError::AgentExists(_) => {
                        CliError::usage(e).hint("pass --force to replace it, or `toolbridge agent delete` it first")
                    }
                    other => other.into(),
                })?;
            }
            printer.status(&format!("created agent {}", printer.bold(&name)));
        }
        AgentCommand::List { json } => {
            let agents = store.list_agents().await?;
            if json {
                printer.json(&agents.iter().map(|a| masked(&a.definition)).collect::<Vec<_>>());
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
            let shown = if reveal { agent.definition.clone() } else { masked(&agent.definition) };
            if reveal {
                // Asked for: the stored values, unscrubbed.
                crate::output::line_unscrubbed(&serde_json::to_string_pretty(&shown).unwrap_or_default());
            } else {
                printer.json(&shown);
            }
            if !json {
                printer.status(&printer.dim(&format!("created {}, updated {}", agent.created_at, agent.updated_at)));
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

/// Reads `--mcp-config`, `--skills` and `--policy` into an agent definition: typed once, stored
/// as written (so that `${VAR}` templates keep secrets out of the store).
pub(crate) fn attach_tools(app: &App, agent: &mut AgentDefinition, tools: &ToolArgs) -> CliResult {
    let config = app.tools(tools)?;
    if tools.mcp_config.is_some() {
        agent.mcp_servers = config.mcp_servers;
    }
    if tools.skills.is_some() {
        agent.skills = config.skills;
    }
    if tools.policy.is_some() {
        agent.policy = config.policy;
    }
    Ok(())
}

/// The definition with secret-looking literal values of its MCP servers masked (`${VAR}`
/// references and ordinary values such as paths stay readable).
fn masked(definition: &AgentDefinition) -> AgentDefinition {
    AgentDefinition { mcp_servers: definition.mcp_servers.masked(), ..definition.clone() }
}
