//! `toolbridge agent create|list|show|delete`.

use serde_json::Value;
use toolbridge_runtime::{AgentDefinition, RuntimeType};

use crate::args::{AgentCommand, ToolArgs};
use crate::error::{CliError, CliResult};
use crate::output::{Printer, print_json};
use crate::setup::{parse_json_arg, pool, read_json_file, registry, store};

pub(crate) async fn run(command: AgentCommand, db: Option<&std::path::Path>, printer: &Printer) -> CliResult {
    let store = store(db)?;
    match command {
        AgentCommand::Create { name, runtime, model, runtime_config, system_prompt, tools, force } => {
            let runtime_config =
                runtime_config.as_deref().map(|text| parse_json_arg(text, "--runtime-config")).transpose()?;
            let registry = registry(&pool())?;
            let runtime = RuntimeType::new(runtime);
            registry.validate_config(&runtime, runtime_config.as_ref()).map_err(|e| {
                let error = CliError::usage(e.to_string());
                match registry.get(&runtime) {
                    Ok(_) => error.hint(format!("see the schema with `toolbridge runtimes --json` ({runtime})")),
                    Err(_) => error,
                }
            })?;
            let mut agent = AgentDefinition::new(&name, model);
            agent.runtime = runtime;
            agent.runtime_config = runtime_config;
            agent.system_prompt = system_prompt;
            attach_tools(&mut agent, &tools)?;
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
                print_json(&agents.iter().map(|a| masked(&a.definition)).collect::<Vec<_>>());
            } else if agents.is_empty() {
                printer.status("no agents yet; create one with `toolbridge agent create NAME --model ID`");
            } else {
                for agent in agents {
                    let d = &agent.definition;
                    println!(
                        "{}  {}  {}",
                        printer.bold(&d.name),
                        d.runtime,
                        d.model_id.as_deref().unwrap_or("(no model)")
                    );
                }
            }
        }
        AgentCommand::Show { name, json, reveal } => {
            let agent = store.get_agent(&name).await?.ok_or_else(|| unknown_agent(&name))?;
            let shown = if reveal {
                serde_json::to_value(&agent.definition).unwrap_or_default()
            } else {
                masked(&agent.definition)
            };
            print_json(&shown);
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

pub(crate) fn unknown_agent(name: &str) -> CliError {
    CliError::usage(format!("no agent named {name:?}")).hint("list agents with `toolbridge agent list`")
}

/// Reads `--mcp-config`, `--skills` and `--policy` files into an agent definition (validated
/// first, stored as written so that `${VAR}` templates keep secrets out of the store).
pub(crate) fn attach_tools(agent: &mut AgentDefinition, tools: &ToolArgs) -> CliResult {
    crate::setup::ToolSetup::load(tools)?;
    if let Some(path) = &tools.mcp_config {
        match read_json_file(path, "MCP config")? {
            Value::Object(map) => agent.mcp_servers = Some(map),
            _ => return Err(CliError::usage(format!("{}: expected a JSON object", path.display()))),
        }
    }
    if let Some(path) = &tools.skills {
        agent.skills = match read_json_file(path, "skills file")? {
            Value::Array(skills) => skills,
            Value::Object(mut map) => match map.remove("skills") {
                Some(Value::Array(skills)) => skills,
                _ => return Err(CliError::usage(format!("{}: expected a JSON array of skills", path.display()))),
            },
            _ => return Err(CliError::usage(format!("{}: expected a JSON array of skills", path.display()))),
        };
    }
    if let Some(path) = &tools.policy {
        agent.policy = Some(read_json_file(path, "policy file")?);
    }
    Ok(())
}

/// The definition with the literal `env`/`headers` values of its MCP servers masked (`${VAR}`
/// and `{{VAR}}` references are not secrets and stay readable).
fn masked(definition: &AgentDefinition) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    match child {
                        Value::Object(entries) if key == "env" || key == "headers" => {
                            for entry in entries.values_mut() {
                                let template = entry.as_str().is_some_and(|s| s.contains("${") || s.contains("{{"));
                                if !template {
                                    *entry = Value::String("[redacted]".into());
                                }
                            }
                        }
                        _ => walk(child),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(definition).unwrap_or_default();
    if let Some(servers) = value.get_mut("mcp_servers") {
        walk(servers);
    }
    value
}
