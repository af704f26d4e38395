//! `toolbridge runtimes [add|remove]`: the registry's runtimes, and the runtime plugins
//! registered in the store.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use toolbridge_plugin::{PluginCommand, PluginHost, PluginOptions};
use toolbridge_runtime::{RuntimeInfo, RuntimeKind};
use toolbridge_store::StoreError;

use crate::args::{RuntimesArgs, RuntimesCommand};
use crate::error::{CliError, CliResult};
use crate::setup::App;

pub(crate) async fn run(app: &App, args: RuntimesArgs) -> CliResult {
    match args.command {
        None => list(app, args.json).await,
        Some(RuntimesCommand::Add { name, env, cwd, command }) => add(app, &name, &env, cwd, command).await,
        Some(RuntimesCommand::Remove { name }) => remove(app, &name).await,
    }
}

async fn list(app: &App, json: bool) -> CliResult {
    let printer = &app.printer;
    let registry = app.registry(&app.pool()).await?;
    let info = registry.runtime_info_all();
    let plugins = app.store()?.list_plugins().await?;
    let command_of = |name: &str| {
        plugins
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| serde_json::from_value::<PluginCommand>(p.command.clone()).ok())
    };
    if json {
        let plugins: Vec<Value> = plugins
            .iter()
            .map(|p| {
                let command = command_of(&p.name);
                json!({
                    "name": p.name,
                    "program": command.as_ref().map(|c| c.program.display().to_string()),
                    "args": command.as_ref().map(|c| c.args.clone()),
                    // Values may be credentials: names only.
                    "env": command.as_ref().map(|c| c.env.keys().cloned().collect::<Vec<_>>()),
                    "cwd": command.as_ref().and_then(|c| c.cwd.as_ref()).map(|d| d.display().to_string()),
                    "registered_at": p.created_at,
                    "active": info.contains_key(&p.name),
                })
            })
            .collect();
        printer.json(&json!({
            "available": registry.list_available(),
            "default": "agent_loop",
            "runtimes": info,
            "plugins": plugins,
        }));
        return Ok(());
    }
    for (name, runtime) in &info {
        let default = if name == "agent_loop" { " (default)" } else { "" };
        let kind = if runtime.kind == RuntimeKind::Plugin { " [plugin]" } else { "" };
        printer.line(&format!("{}{default}{kind}  {}", printer.bold(name), runtime.description));
        describe(app, runtime);
        if let Some(command) = command_of(name) {
            printer.line(&format!("  command: {}", command_line(&command)));
        }
    }
    Ok(())
}

fn describe(app: &App, runtime: &RuntimeInfo) {
    let printer = &app.printer;
    let caps = serde_json::to_value(runtime.capabilities).unwrap_or_default();
    let enabled: Vec<&str> = caps
        .as_object()
        .map(|m| m.iter().filter(|(_, v)| v.as_bool() == Some(true)).map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    printer
        .line(&format!("  capabilities: {}", if enabled.is_empty() { "none".to_owned() } else { enabled.join(", ") }));
    if runtime.requires_model {
        printer.line("  needs a model: yes");
    }
    if let Some(props) = runtime.runtime_config_schema.get("properties").and_then(|p| p.as_object()) {
        printer.line(&format!("  runtime_config: {}", props.keys().cloned().collect::<Vec<_>>().join(", ")));
    }
}

fn command_line(command: &PluginCommand) -> String {
    std::iter::once(command.program.display().to_string())
        .chain(command.args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A name agents can give as `--runtime`: letters, digits, `_`, `-`, `.`.
fn check_name(name: &str) -> CliResult {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid {
        Ok(())
    } else {
        Err(CliError::usage(format!("invalid runtime name {name:?}: use 1 to 64 letters, digits, `_`, `-` or `.`")))
    }
}

/// `path` made absolute against `base` (a registration must work from any directory).
fn absolute(path: &Path, base: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

async fn add(app: &App, name: &str, env: &[String], cwd: Option<PathBuf>, argv: Vec<String>) -> CliResult {
    let printer = &app.printer;
    check_name(name)?;
    let builtin = app.builtin_registry(&app.pool())?;
    if builtin.get(&name.into()).is_ok() || name == "default" {
        return Err(CliError::usage(format!("`{name}` is a built-in runtime; give the plugin another name")));
    }
    let here = std::env::current_dir().map_err(|e| CliError::failure(format!("current directory: {e}")))?;
    let cwd = absolute(&cwd.unwrap_or_else(|| here.clone()), &here);
    if !cwd.is_dir() {
        return Err(CliError::usage(format!("--cwd {}: not a directory", cwd.display())));
    }
    let mut argv = argv.into_iter();
    let program = argv.next().ok_or_else(|| CliError::usage("give the plugin's command after `--`"))?;
    // A program given as a path (not a name looked up in PATH) is kept absolute.
    let program = if program.contains('/') { absolute(Path::new(&program), &cwd) } else { PathBuf::from(program) };
    let mut command = PluginCommand::new(program).args(argv).cwd(cwd);
    for assignment in env {
        command =
            command.env_assignment(assignment).map_err(|e| CliError::usage(format!("--env {assignment}: {e}")))?;
    }
    let store = app.store()?;
    if store.get_plugin(name).await?.is_some() {
        return Err(already_registered(name));
    }
    // `initialize` now: a plugin that cannot start is not registered.
    let spinner = printer.spinner(format!("starting {name}…"));
    let host = PluginHost::new(name, command.clone(), PluginOptions::default());
    let started = host.start().await;
    host.shutdown().await;
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    let info = started.map_err(|e| {
        CliError::failure(format!("runtime plugin `{name}` did not start: {e}"))
            .hint("nothing was registered; fix the command and add it again")
    })?;
    let stored = serde_json::to_value(&command).map_err(CliError::failure)?;
    store.add_plugin(name, &stored, &info.to_json()).await.map_err(|e| match e {
        StoreError::PluginExists(_) => already_registered(name),
        other => other.into(),
    })?;
    printer.status(&format!("registered runtime plugin {}: {}", printer.bold(name), info.description()));
    printer.status(&printer.dim(&format!(
        "use it with `toolbridge agent create NAME --runtime {name}` or `toolbridge run --runtime {name} …`"
    )));
    Ok(())
}

fn already_registered(name: &str) -> CliError {
    CliError::usage(format!("a runtime plugin named `{name}` is already registered"))
        .hint(format!("remove it first with `toolbridge runtimes remove {name}`"))
}

async fn remove(app: &App, name: &str) -> CliResult {
    if !app.store()?.remove_plugin(name).await? {
        return Err(CliError::usage(format!("no runtime plugin named `{name}`"))
            .hint("list runtimes with `toolbridge runtimes`"));
    }
    app.printer.status(&format!("removed runtime plugin {name}"));
    Ok(())
}
