//! How a stored agent is shown: a readable summary (`agent show`), or its JSON (`--json`),
//! with only the values that look like secrets masked — literal `env`/`headers` values under
//! names like `*KEY*`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*` or `Authorization`, and secret URL
//! parameters. `${VAR}` references are shown as written (they hold no secret); ordinary
//! values such as `MEMORY_FILE_PATH` stay readable.

use toolbridge::config::{SkillSettings, mask_secret_keys};
use toolbridge_runtime::AgentDefinition;
use toolbridge_store::StoredAgent;

use crate::commands::agent::describe_server;
use crate::output::Printer;

/// The definition with its secret-looking values masked.
pub(crate) fn masked(definition: &AgentDefinition) -> AgentDefinition {
    let mut runtime_config = definition.runtime_config.clone();
    if let Some(config) = &mut runtime_config {
        mask_secret_keys(config);
    }
    AgentDefinition { mcp_servers: definition.mcp_servers.masked(), runtime_config, ..definition.clone() }
}

/// The readable summary.
pub(crate) fn show(printer: &Printer, agent: &StoredAgent) {
    let d = masked(&agent.definition);
    let field = |name: &str, value: &str| printer.line(&format!("{:<15}{value}", format!("{name}:")));
    printer.line(&printer.bold(&d.name));
    if let Some(description) = &d.description {
        field("description", description);
    }
    field("runtime", d.runtime.as_str());
    field("model", d.model_id.as_deref().unwrap_or("(none: give one at run time)"));
    if let Some(prompt) = &d.system_prompt {
        field("system prompt", &crate::output::short(prompt, 100));
    }
    if let Some(config) = &d.runtime_config {
        field("runtime_config", &config.to_string());
    }
    if d.mcp_servers.is_empty() {
        field("mcp servers", "(none)");
    } else {
        printer.line("mcp servers:");
        for (name, spec) in d.mcp_servers.iter() {
            let mut notes = Vec::new();
            if let Some(kind) = spec.kind.and_then(|k| serde_json::to_value(k).ok()) {
                notes.push(kind.as_str().unwrap_or_default().to_owned());
            }
            if spec.required.is_some_and(|f| f.0) {
                notes.push("required".to_owned());
            }
            if spec.enabled.is_some_and(|f| !f.0) || spec.disabled.is_some_and(|f| f.0) {
                notes.push("disabled".to_owned());
            }
            let notes = if notes.is_empty() { String::new() } else { format!("  ({})", notes.join(", ")) };
            printer.line(&format!("  {}  {}{notes}", printer.bold(name), describe_server(spec)));
            if let Some(cwd) = &spec.cwd {
                printer.line(&format!("      cwd: {cwd}"));
            }
            if let Some(file) = &spec.env_file {
                printer.line(&format!("      envFile: {file}"));
            }
            for (key, value) in &spec.env {
                printer.line(&format!("      env {key}={}", value.0));
            }
            for (key, value) in &spec.headers {
                printer.line(&format!("      header {key}: {}", value.0));
            }
            if !spec.tools.allow.is_empty() {
                printer.line(&format!("      tools allowed: {}", spec.tools.allow.join(", ")));
            }
            if !spec.tools.deny.is_empty() {
                printer.line(&format!("      tools denied: {}", spec.tools.deny.join(", ")));
            }
        }
    }
    if d.skills.is_empty() {
        field("skills", "(none)");
    } else {
        printer.line("skills:");
        for skill in &d.skills {
            let dir = match &skill.settings {
                SkillSettings::FileSystem(s) => s.base_dir.as_ref(),
                SkillSettings::Shell(s) => s.base_dir.as_ref(),
                SkillSettings::Python(s) => s.base_dir.as_ref(),
                SkillSettings::FileGeneration(s) => s.output_dir.as_ref(),
                SkillSettings::Sleep(_) => None,
            };
            let dir = dir.map(|d| format!("  {}", d.display())).unwrap_or_default();
            let off = if skill.enabled { "" } else { "  (disabled)" };
            let kind = serde_json::to_value(skill.kind()).ok().and_then(|v| v.as_str().map(str::to_owned));
            printer.line(&format!("  {}  {}{dir}{off}", printer.bold(&skill.name), kind.unwrap_or_default()));
        }
    }
    if let Some(policy) = &d.policy {
        field("policy", &serde_json::to_string(policy).unwrap_or_default());
    }
    printer.status(&printer.dim(&format!("created {}, updated {}", agent.created_at, agent.updated_at)));
}
