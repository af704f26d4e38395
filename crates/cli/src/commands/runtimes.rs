//! `toolbridge runtimes`: the registry's runtimes.

use crate::error::CliResult;
use crate::setup::App;

pub(crate) fn run(app: &App, json: bool) -> CliResult {
    let printer = &app.printer;
    let registry = app.registry(&app.pool())?;
    let info = registry.runtime_info_all();
    if json {
        printer.json(&serde_json::json!({
            "available": registry.list_available(),
            "default": "agent_loop",
            "runtimes": info,
        }));
        return Ok(());
    }
    for (name, runtime) in &info {
        let caps = serde_json::to_value(runtime.capabilities).unwrap_or_default();
        let enabled: Vec<&str> = caps
            .as_object()
            .map(|m| m.iter().filter(|(_, v)| v.as_bool() == Some(true)).map(|(k, _)| k.as_str()).collect())
            .unwrap_or_default();
        let default = if name == "agent_loop" { " (default)" } else { "" };
        printer.line(&format!("{}{default}  {}", printer.bold(name), runtime.description));
        printer.line(&format!("  capabilities: {}", enabled.join(", ")));
        if runtime.requires_model {
            printer.line("  needs a model: yes");
        }
        if let Some(props) = runtime.runtime_config_schema.get("properties").and_then(|p| p.as_object()) {
            printer.line(&format!("  runtime_config: {}", props.keys().cloned().collect::<Vec<_>>().join(", ")));
        }
    }
    Ok(())
}
