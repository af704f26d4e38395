//! `toolbridge mcp add|remove|list`: the user-level MCP configuration
//! (`$XDG_CONFIG_HOME/toolbridge/mcp.json`) or the project's `.mcp.json`, edited like
//! `claude mcp add NAME -- COMMAND ARGS`. The file keeps Claude's shape (`{"mcpServers": …}`),
//! so Claude Code, VS Code extensions and toolbridge read the same file; other keys in it are
//! kept as they are.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use toolbridge::config::{McpServers, read_json_file};

use crate::args::{McpCommand, Scope, TransportChoice};
use crate::commands::agent::describe_server;
use crate::discovery::{Discovered, PROJECT_FILE, user_config};
use crate::error::{CliError, CliResult};
use crate::setup::App;

/// The keys a configuration may keep its servers under.
const WRAPPERS: [&str; 3] = ["mcpServers", "servers", "mcp_servers"];

pub(crate) fn run(app: &App, command: McpCommand) -> CliResult {
    let printer = &app.printer;
    match command {
        McpCommand::Add { name, command, transport, env, headers, required, scope, force } => {
            let path = file_of(scope)?;
            let server = server_entry(&command, transport, &env, &headers, required)?;
            let mut document = read_or_new(&path)?;
            let servers = servers_of(&mut document, &path)?;
            if servers.contains_key(&name) && !force {
                return Err(CliError::usage(format!("a server named {name:?} is already in {}", path.display()))
                    .hint("pass --force to replace it, or `toolbridge mcp remove` it first"));
            }
            servers.insert(name.clone(), server);
            // What is written must read back (a typo in a flag must not break the file).
            McpServers::from_json(&document, &path.display().to_string()).map_err(CliError::usage)?;
            write(&path, &document)?;
            printer.status(&format!("added server {} to {}", printer.bold(&name), path.display()));
        }
        McpCommand::Remove { name, scope } => {
            let path = file_of(scope)?;
            if !path.is_file() {
                return Err(no_such_server(&name, &path));
            }
            let mut document = read_or_new(&path)?;
            if servers_of(&mut document, &path)?.remove(&name).is_none() {
                return Err(no_such_server(&name, &path));
            }
            write(&path, &document)?;
            printer.status(&format!("removed server {name} from {}", path.display()));
        }
        McpCommand::List { json } => {
            let found = Discovered::read()?;
            let mut rows = Vec::new();
            for (index, file) in found.found.iter().enumerate() {
                let later = &found.found[index + 1..];
                for (name, spec) in file.file.servers.iter() {
                    let overridden = later.iter().any(|f| f.file.servers.0.contains_key(name));
                    rows.push((name.clone(), spec.masked(), file.path.clone(), overridden));
                }
            }
            if json {
                let list: Vec<Value> = rows
                    .iter()
                    .map(|(name, spec, path, overridden)| {
                        json!({"name": name, "file": path, "overridden": overridden, "server": spec})
                    })
                    .collect();
                printer.json(&list);
                return Ok(());
            }
            if rows.is_empty() {
                printer.status(&format!(
                    "no MCP servers configured (looked in {} and for {PROJECT_FILE} here and above); \
                     add one with `toolbridge mcp add NAME -- COMMAND [ARGS…]`",
                    user_config().display()
                ));
            }
            let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
            for (name, spec, path, overridden) in &rows {
                let kind = match (spec.kind, &spec.url) {
                    (Some(kind), _) => serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)),
                    (None, Some(_)) => Some("http".to_owned()),
                    (None, None) => Some("stdio".to_owned()),
                }
                .unwrap_or_default();
                let note = if *overridden { printer.dim("  (overridden)") } else { String::new() };
                printer.line(&format!(
                    "{}  {kind:<5}  {}  {}{note}",
                    printer.bold(&format!("{name:<width$}")),
                    describe_server(spec),
                    printer.dim(&path.display().to_string())
                ));
            }
        }
        McpCommand::Serve(_) => return Err(CliError::failure("internal error: `mcp serve` dispatched here")),
    }
    Ok(())
}

/// The file a scope edits.
fn file_of(scope: Scope) -> CliResult<PathBuf> {
    Ok(match scope {
        Scope::User => user_config(),
        Scope::Project => std::env::current_dir()
            .map_err(|e| CliError::usage(format!("cannot read the current directory: {e}")))?
            .join(PROJECT_FILE),
    })
}

fn no_such_server(name: &str, path: &Path) -> CliError {
    CliError::usage(format!("no server named {name:?} in {}", path.display()))
        .hint("see the configured servers with `toolbridge mcp list`")
}

/// The server as it is written: `{command, args, env}` or `{type, url, headers}`.
fn server_entry(
    command: &[String],
    transport: Option<TransportChoice>,
    env: &[String],
    headers: &[String],
    required: bool,
) -> CliResult<Value> {
    let Some((first, rest)) = command.split_first() else {
        return Err(CliError::usage("give the server's command (after --) or its URL"));
    };
    let is_url = first.starts_with("http://") || first.starts_with("https://");
    let transport = transport.unwrap_or(if is_url { TransportChoice::Http } else { TransportChoice::Stdio });
    let pairs = |items: &[String], separator: char, flag: &str| -> CliResult<Map<String, Value>> {
        items
            .iter()
            .map(|item| {
                let (key, value) = item
                    .split_once(separator)
                    .ok_or_else(|| CliError::usage(format!("{flag} {item:?}: expected KEY{separator}VALUE")))?;
                Ok((key.trim().to_owned(), Value::String(value.trim_start().to_owned())))
            })
            .collect()
    };
    let mut server = Map::new();
    match transport {
        TransportChoice::Stdio => {
            if is_url {
                return Err(CliError::usage(format!("{first} is a URL: a stdio server needs a command"))
                    .hint("leave out --transport stdio, or give --transport http|sse"));
            }
            if !headers.is_empty() {
                return Err(CliError::usage("--header is for HTTP servers; a stdio server takes --env"));
            }
            server.insert("command".into(), Value::String(first.clone()));
            if !rest.is_empty() {
                server.insert("args".into(), json!(rest));
            }
            let env = pairs(env, '=', "--env")?;
            if !env.is_empty() {
                server.insert("env".into(), Value::Object(env));
            }
        }
        TransportChoice::Http | TransportChoice::Sse => {
            if !is_url || !rest.is_empty() {
                return Err(CliError::usage(format!(
                    "an HTTP server is given by its URL alone, got {}",
                    command.join(" ")
                )));
            }
            if !env.is_empty() {
                return Err(CliError::usage("--env is for stdio servers; an HTTP server takes --header"));
            }
            server.insert("type".into(), json!(if transport == TransportChoice::Sse { "sse" } else { "http" }));
            server.insert("url".into(), Value::String(first.clone()));
            let headers = pairs(headers, ':', "--header")?;
            if !headers.is_empty() {
                server.insert("headers".into(), Value::Object(headers));
            }
        }
    }
    if required {
        server.insert("required".into(), Value::Bool(true));
    }
    Ok(Value::Object(server))
}

/// The file's document, or a new one.
fn read_or_new(path: &Path) -> CliResult<Value> {
    if path.exists() {
        read_json_file(path, "MCP config").map_err(CliError::usage)
    } else {
        Ok(json!({"mcpServers": {}}))
    }
}

/// The object holding the servers of a document.
fn servers_of<'a>(document: &'a mut Value, path: &Path) -> CliResult<&'a mut Map<String, Value>> {
    let shape = || CliError::usage(format!("{}: expected a JSON object of MCP servers", path.display()));
    let Value::Object(top) = document else { return Err(shape()) };
    let key = WRAPPERS.iter().find(|key| top.contains_key(**key)).copied();
    let servers = match key {
        Some(key) => top.get_mut(key),
        None if top.is_empty() => top.entry("mcpServers").or_insert_with(|| json!({})).into(),
        // The plain `{name: server}` shape.
        None => return Ok(top),
    };
    match servers {
        Some(Value::Object(servers)) => Ok(servers),
        _ => Err(shape()),
    }
}

fn write(path: &Path, document: &Value) -> CliResult {
    let fail = |e: std::io::Error| CliError::failure(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let text = serde_json::to_string_pretty(document).map_err(|e| CliError::failure(e.to_string()))?;
    // Written whole, then renamed: a reader never sees half a file.
    // Only its owner reads it: `--env`/`--header` values may be credentials.
    let temporary = path.with_extension("json.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(fail)?;
    file.write_all(format!("{text}\n").as_bytes()).map_err(fail)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(fail)
}
