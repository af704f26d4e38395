//! `toolbridge runtimes`: the registry's runtimes.

use crate::error::CliResult;
use crate::output::{Printer, print_json};
use crate::setup::{pool, registry};

pub(crate) fn run(json: bool, printer: &Printer) -> CliResult {
    let registry = registry(&pool())?;
    let info = registry.runtime_info_all();
    if json {
        print_json(&serde_json::json!({
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
        println!("{}{default}  {}", printer.bold(name), runtime.description);
        println!("  capabilities: {}", enabled.join(", "));
        if let Some(props) = runtime.runtime_config_schema.get("properties").and_then(|p| p.as_object()) {
            println!("  runtime_config: {}", props.keys().cloned().collect::<Vec<_>>().join(", "));
        }
    }
    Ok(())
}
