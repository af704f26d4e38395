//! MCP server configuration: the three accepted formats (Claude `{"mcpServers": …}`, VS Code
//! `{"servers": …}`, the seed's plain `{name: server}` dict) parsed into one typed model, with
//! templating of values (`${VAR}`, `${VAR:-default}`, `${env:VAR}`, `{{VAR}}`).
//!
//! Errors name the file (or origin), the server and the field; JSON syntax errors carry the
//! line and column. Unknown server fields are rejected so that typos (`comand`) do not pass
//! silently; a few keys other tools write (`description`, `disabled`, `autoApprove`,
//! `alwaysAllow`, `note`) are tolerated.

mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use template::{MissingVariable, expand};

/// The default time limit of one tool call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The default time limit of a server's start-up (spawn + initialize).
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A configuration value that may be a secret (env values, headers): never printed.
#[derive(Clone)]
pub struct SecretValue(SecretString);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The value, for where it is used (the child's environment, a header on the wire).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for SecretValue {}

/// A stdio server: a command to spawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdioConfig {
    /// The program.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables added to the parent's.
    pub env: BTreeMap<String, SecretValue>,
    /// Its working directory.
    pub cwd: Option<PathBuf>,
}

/// A streamable HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The MCP endpoint URL.
    pub url: String,
    /// Headers sent with every request (e.g. `Authorization`).
    pub headers: BTreeMap<String, SecretValue>,
}

/// How to reach a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportConfig {
    /// A child process over stdin/stdout.
    Stdio(StdioConfig),
    /// Streamable HTTP (also used for `sse` configurations).
    Http(HttpConfig),
}

/// Which of a server's tools are offered (globs on the server's own tool names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolFilter {
    /// Only these (when non-empty).
    pub allow: Vec<String>,
    /// Never these.
    pub deny: Vec<String>,
}

/// One configured MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The server's name (the catalogue prefix of its tools).
    pub name: String,
    /// How to reach it.
    pub transport: TransportConfig,
    /// Time limit of one tool call (`timeout`, seconds; default 60).
    pub call_timeout: Duration,
    /// Time limit of start-up (`startup_timeout`, seconds; default 30).
    pub startup_timeout: Duration,
    /// Whether to use it (`enabled`, or `disabled: true`).
    pub enabled: bool,
    /// Which tools are offered.
    pub tools: ToolFilter,
}

/// The identity of a server configuration in the pool: a hash of the whole configuration,
/// env values and headers included.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PoolKey([u8; 32]);

impl fmt::Debug for PoolKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..6] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl ServerConfig {
    /// A stdio server with defaults.
    pub fn stdio(name: impl Into<String>, command: impl Into<String>, args: &[&str]) -> Self {
        Self::with_transport(
            name,
            TransportConfig::Stdio(StdioConfig {
                command: command.into(),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                env: BTreeMap::new(),
                cwd: None,
            }),
        )
    }

    /// A streamable HTTP server with defaults.
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self::with_transport(name, TransportConfig::Http(HttpConfig { url: url.into(), headers: BTreeMap::new() }))
    }

    fn with_transport(name: impl Into<String>, transport: TransportConfig) -> Self {
        Self {
            name: name.into(),
            transport,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            enabled: true,
            tools: ToolFilter::default(),
        }
    }

    /// The pool key: equal configurations share one connection.
    pub fn pool_key(&self) -> PoolKey {
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(self.name.as_bytes());
        match &self.transport {
            TransportConfig::Stdio(s) => {
                field(b"stdio");
                field(s.command.as_bytes());
                for arg in &s.args {
                    field(arg.as_bytes());
                }
                field(b"env");
                for (k, v) in &s.env {
                    field(k.as_bytes());
                    field(v.expose().as_bytes());
                }
                field(s.cwd.as_deref().map(|p| p.as_os_str().as_encoded_bytes()).unwrap_or_default());
            }
            TransportConfig::Http(c) => {
                field(b"http");
                field(c.url.as_bytes());
                for (k, v) in &c.headers {
                    field(k.as_bytes());
                    field(v.expose().as_bytes());
                }
            }
        }
        field(&self.startup_timeout.as_nanos().to_le_bytes());
        PoolKey(h.finalize().into())
    }

    /// `text` with every env and header value of this server replaced by `[redacted]`: error
    /// messages quote servers' replies and stderr, which may echo a credential back. For
    /// `Scheme value` headers (`Bearer sk-…`) the value alone is scrubbed too. Values shorter
    /// than 6 characters (`1`, `true`) are left alone.
    pub fn redact(&self, text: &str) -> String {
        let values: Vec<&str> = match &self.transport {
            TransportConfig::Stdio(s) => s.env.values().map(SecretValue::expose).collect(),
            TransportConfig::Http(c) => c
                .headers
                .values()
                .map(SecretValue::expose)
                .flat_map(|v| [Some(v), v.split_once(' ').map(|(_, rest)| rest.trim())])
                .flatten()
                .collect(),
        };
        let mut text = text.to_owned();
        for value in values {
            if value.len() >= MIN_SECRET_LEN && text.contains(value) {
                text = text.replace(value, "[redacted]");
            }
        }
        text
    }
}

/// The shortest configured value [`ServerConfig::redact`] scrubs.
const MIN_SECRET_LEN: usize = 6;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read MCP config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("{origin}: invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// Where the text came from.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The document does not have the expected shape.
    #[error("{origin}: {message}")]
    Shape {
        /// Where it came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A server's field is wrong.
    #[error("{origin}: server {server:?}, field {field:?}: {message}")]
    Field {
        /// Where it came from.
        origin: String,
        /// The server.
        server: String,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads and parses an MCP config file.
pub fn load_mcp_config(path: &Path) -> Result<Vec<ServerConfig>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    parse_mcp_config(&text, &path.display().to_string())
}

/// Parses an MCP config document; `origin` names it in errors.
pub fn parse_mcp_config(text: &str, origin: &str) -> Result<Vec<ServerConfig>, ConfigError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
        origin: origin.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    parse_mcp_servers(&value, origin)
}

/// Parses any of the three shapes given as JSON, with the process environment for templates.
pub fn parse_mcp_servers(value: &Value, origin: &str) -> Result<Vec<ServerConfig>, ConfigError> {
    parse_with_env(value, origin, &|name| std::env::var(name).ok())
}

/// Parses any of the three shapes, looking template variables up with `lookup`.
pub fn parse_with_env(
    value: &Value,
    origin: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ServerConfig>, ConfigError> {
    let shape = |message: &str| ConfigError::Shape { origin: origin.to_owned(), message: message.to_owned() };
    let Value::Object(top) = value else { return Err(shape("expected a JSON object of MCP servers")) };
    let servers = ["mcpServers", "servers", "mcp_servers"].iter().find_map(|key| top.get(*key));
    let servers = match servers {
        Some(Value::Object(servers)) => servers,
        Some(_) => return Err(shape("`mcpServers`/`servers` must be an object of name → server")),
        None => top,
    };
    servers.iter().map(|(name, server)| parse_server(name, server, origin, lookup)).collect()
}

const TOLERATED: &[&str] = &["description", "autoApprove", "alwaysAllow", "note", "notes", "disabled"];
const KNOWN: &[&str] = &[
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "type",
    "transport_type",
    "transport",
    "timeout",
    "startup_timeout",
    "enabled",
    "tools",
];

fn parse_server(
    name: &str,
    server: &Value,
    origin: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ServerConfig, ConfigError> {
    let err = |field: &str, message: String| ConfigError::Field {
        origin: origin.to_owned(),
        server: name.to_owned(),
        field: field.to_owned(),
        message,
    };
    let Value::Object(fields) = server else {
        return Err(err("", format!("expected an object, got {server}")));
    };
    if let Some(unknown) = fields.keys().find(|k| !KNOWN.contains(&k.as_str()) && !TOLERATED.contains(&k.as_str())) {
        return Err(err(unknown, format!("unknown field; expected one of: {}", KNOWN.join(", "))));
    }
    let text = |field: &str, value: &Value| -> Result<String, ConfigError> {
        let raw = value.as_str().ok_or_else(|| err(field, format!("expected a string, got {value}")))?;
        expand(raw, lookup).map_err(|MissingVariable(var)| {
            err(field, format!("variable {var} is not set (set it, or write ${{{var}:-default}})"))
        })
    };
    let opt_text = |field: &str| fields.get(field).map(|v| text(field, v)).transpose();
    let map = |field: &str| -> Result<BTreeMap<String, SecretValue>, ConfigError> {
        match fields.get(field) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(entries)) => entries
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        Value::String(_) => text(&format!("{field}.{k}"), v)?,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        other => return Err(err(&format!("{field}.{k}"), format!("expected a string, got {other}"))),
                    };
                    Ok((k.clone(), SecretValue::new(value)))
                })
                .collect(),
            Some(other) => Err(err(field, format!("expected an object of strings, got {other}"))),
        }
    };
    let seconds = |field: &str, default: Duration| -> Result<Duration, ConfigError> {
        match fields.get(field) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Ok(Duration::from_secs_f64(secs)),
                _ => Err(err(field, format!("expected a positive number of seconds, got {n}"))),
            },
            Some(other) => Err(err(field, format!("expected a number of seconds, got {other}"))),
        }
    };
    let kind = match fields.get("type").or_else(|| fields.get("transport_type")).or_else(|| fields.get("transport")) {
        None | Some(Value::Null) => None,
        Some(Value::String(kind)) => Some(kind.as_str()),
        Some(other) => return Err(err("type", format!("expected a string, got {other}"))),
    };
    let transport = match kind {
        Some("stdio") => stdio(fields, &text, &opt_text, &map, &err)?,
        Some("http" | "streamable-http" | "streamableHttp" | "streamable_http" | "streamable") => {
            http(fields, &text, &map, &err)?
        }
        Some("sse") => {
            tracing::warn!(
                server = name,
                "server type `sse` is served through streamable HTTP (the SSE transport is deprecated)"
            );
            http(fields, &text, &map, &err)?
        }
        Some(other) => {
            return Err(err(
                "type",
                format!(
                    "unknown transport {other:?}; expected stdio, http, streamable-http, streamableHttp, streamable_http or sse"
                ),
            ));
        }
        None if fields.contains_key("command") => stdio(fields, &text, &opt_text, &map, &err)?,
        None if fields.contains_key("url") => http(fields, &text, &map, &err)?,
        None => return Err(err("command", "a server needs `command` (stdio) or `url` (HTTP)".into())),
    };
    let enabled = match (fields.get("enabled"), fields.get("disabled")) {
        (Some(Value::Bool(enabled)), _) => *enabled,
        (Some(other), _) => return Err(err("enabled", format!("expected true or false, got {other}"))),
        (None, Some(Value::Bool(disabled))) => !disabled,
        (None, Some(other)) => return Err(err("disabled", format!("expected true or false, got {other}"))),
        (None, None) => true,
    };
    let tools = match fields.get("tools") {
        None | Some(Value::Null) => ToolFilter::default(),
        Some(Value::Object(filter)) => {
            let list = |key: &str| -> Result<Vec<String>, ConfigError> {
                match filter.get(key) {
                    None => Ok(Vec::new()),
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| err(&format!("tools.{key}"), format!("expected strings, got {i}")))
                        })
                        .collect(),
                    Some(other) => Err(err(&format!("tools.{key}"), format!("expected a list of globs, got {other}"))),
                }
            };
            if let Some(unknown) = filter.keys().find(|k| *k != "allow" && *k != "deny") {
                return Err(err(&format!("tools.{unknown}"), "unknown field; expected allow or deny".into()));
            }
            ToolFilter { allow: list("allow")?, deny: list("deny")? }
        }
        Some(other) => return Err(err("tools", format!("expected {{allow: [...], deny: [...]}}, got {other}"))),
    };
    Ok(ServerConfig {
        name: name.to_owned(),
        transport,
        call_timeout: seconds("timeout", DEFAULT_CALL_TIMEOUT)?,
        startup_timeout: seconds("startup_timeout", DEFAULT_STARTUP_TIMEOUT)?,
        enabled,
        tools,
    })
}

type TextFn<'a> = dyn Fn(&str, &Value) -> Result<String, ConfigError> + 'a;
type OptTextFn<'a> = dyn Fn(&str) -> Result<Option<String>, ConfigError> + 'a;
type MapFn<'a> = dyn Fn(&str) -> Result<BTreeMap<String, SecretValue>, ConfigError> + 'a;
type ErrFn<'a> = dyn Fn(&str, String) -> ConfigError + 'a;

fn stdio(
    fields: &Map<String, Value>,
    text: &TextFn<'_>,
    opt_text: &OptTextFn<'_>,
    map: &MapFn<'_>,
    err: &ErrFn<'_>,
) -> Result<TransportConfig, ConfigError> {
    let command = match fields.get("command") {
        Some(value) => text("command", value)?,
        None => return Err(err("command", "a stdio server needs `command`".into())),
    };
    if command.trim().is_empty() {
        return Err(err("command", "is empty".into()));
    }
    let args = match fields.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            items.iter().enumerate().map(|(i, item)| text(&format!("args[{i}]"), item)).collect::<Result<_, _>>()?
        }
        Some(other) => return Err(err("args", format!("expected a list of strings, got {other}"))),
    };
    Ok(TransportConfig::Stdio(StdioConfig {
        command,
        args,
        env: map("env")?,
        cwd: opt_text("cwd")?.map(PathBuf::from),
    }))
}

fn http(
    fields: &Map<String, Value>,
    text: &TextFn<'_>,
    map: &MapFn<'_>,
    err: &ErrFn<'_>,
) -> Result<TransportConfig, ConfigError> {
    let url = match fields.get("url") {
        Some(value) => text("url", value)?,
        None => return Err(err("url", "an HTTP server needs `url`".into())),
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(err("url", format!("expected an http:// or https:// URL, got {url:?}")));
    }
    Ok(TransportConfig::Http(HttpConfig { url, headers: map("headers")? }))
}

#[cfg(test)]
mod tests;
