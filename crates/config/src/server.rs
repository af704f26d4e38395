//! One MCP server: as written ([`ServerSpec`], templates kept, what is stored and shown) and
//! as used ([`ServerConfig`], templates expanded, durations typed, secrets noted).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ConfigError;
use crate::features::{ElicitationAnswer, OAuthConfig, OAuthGrant, OAuthSpec, ServerFeatures};
use crate::inputs::input_env_var;
use crate::sandbox::{SandboxPolicy, SandboxSetting};
use crate::secrets::{SecretValue, Secrets, looks_secret, url_query_secrets};
use crate::template::{Env, MissingVariable, expand_noting, is_template};
use crate::values::{Flag, GlobList, Idempotent, ScalarString, Seconds, StringList};

/// The default time limit of one tool call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The default time limit of a server's start-up (spawn + initialize).
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How a server is reached, as `type` (or `transport_type`, `transport`) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// A child process over stdin/stdout.
    Stdio,
    /// Streamable HTTP (`http`, `streamable-http`, `streamableHttp`, `streamable_http`).
    Http,
    /// The legacy HTTP+SSE transport (protocol version 2024-11-05): a `GET` opens an event
    /// stream whose first event names the endpoint messages are `POST`ed to.
    Sse,
}

const TRANSPORTS: &str = "stdio, http, streamable-http, streamableHttp, streamable_http or sse";

impl<'de> Deserialize<'de> for TransportKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = TransportKind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, kind: &str) -> Result<TransportKind, E> {
                Ok(match kind {
                    "stdio" => TransportKind::Stdio,
                    "http" | "streamable-http" | "streamableHttp" | "streamable_http" | "streamable" => {
                        TransportKind::Http
                    }
                    "sse" => TransportKind::Sse,
                    other => return Err(E::custom(format!("unknown transport {other:?}; expected {TRANSPORTS}"))),
                })
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Which of a server's tools are offered (globs on the server's own tool names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct ToolFilter {
    /// Only these (when non-empty).
    #[serde(default, skip_serializing_if = "GlobList::is_empty")]
    pub allow: GlobList,
    /// Never these.
    #[serde(default, skip_serializing_if = "GlobList::is_empty")]
    pub deny: GlobList,
}

crate::values::object_only!(ToolFilter, "{allow: [glob], deny: [glob]}");

impl ToolFilter {
    /// Whether the filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

/// One server as written in a configuration: the three accepted file shapes share it.
/// Unknown fields are refused (a typo such as `comand` does not pass silently); the keys
/// other tools write (`description`, `disabled`, `autoApprove`, `alwaysAllow`, `note(s)`)
/// are accepted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct ServerSpec {
    /// `stdio`, `http`, … (inferred from `command`/`url` when absent).
    #[serde(rename = "type", alias = "transport_type", alias = "transport", skip_serializing_if = "Option::is_none")]
    pub kind: Option<TransportKind>,
    /// The program of a stdio server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    pub args: StringList,
    /// Environment variables for it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "crate::values::string_map")]
    pub env: BTreeMap<String, ScalarString>,
    /// A dotenv file of more environment variables (VS Code's `envFile`; `env` wins).
    #[serde(rename = "envFile", alias = "env_file", skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,
    /// Its working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The endpoint of an HTTP server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Headers sent with every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "crate::values::string_map")]
    pub headers: BTreeMap<String, ScalarString>,
    /// Seconds per tool call (default 60).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Seconds>,
    /// Seconds to start and initialize (default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_timeout: Option<Seconds>,
    /// Whether to use it (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<Flag>,
    /// VS Code's spelling of `enabled: false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<Flag>,
    /// A command that cannot start this server fails instead of going on without its tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<Flag>,
    /// Which of its tools are offered.
    #[serde(default, skip_serializing_if = "ToolFilter::is_empty")]
    pub tools: ToolFilter,
    /// Run a stdio server in a sandbox: `true` (read the system and its own install dir,
    /// write its `cwd` and a private temp dir, no network), `false`, or
    /// `{read, write, network, required}` extending that preset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxSetting>,
    /// Give a stdio server this process's whole environment instead of the allow-list
    /// (`HOME`, `PATH`, `USER`, `LANG`, … plus its `env`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherit_env: Option<Flag>,
    /// OAuth for an HTTP server: `{client_id, client_secret, scopes, client_metadata_url,
    /// redirect_port, grant}` (all optional; `{}` turns OAuth on with discovery and dynamic
    /// registration). A server that answers 401 uses OAuth even without this key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthSpec>,
    /// Offer the server's resources to the model (`<server>__list_resources`,
    /// `<server>__read_resource`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Flag>,
    /// Offer the server's prompts (`<server>__list_prompts`, `<server>__get_prompt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompts: Option<Flag>,
    /// Answer the server's `sampling/createMessage` with the execution's model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling: Option<Flag>,
    /// How elicitations are answered without a terminal: `decline` (default), `cancel`,
    /// `accept_defaults`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elicitation: Option<ElicitationAnswer>,
    /// Roots declared to the server (paths or `file://` URIs).
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    pub roots: StringList,
    /// Which of its tools a durable execution may run again after losing the worker running
    /// the call: `true`, `false` (default) or a list of globs on its tool names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<Idempotent>,
    /// A description (other tools write it; kept, unused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The tools approved without asking (`autoApprove`, as Claude Desktop and Cline write it).
    /// toolbridge asks no one, so a non-empty list is what may run: the server's allow-list
    /// (see [`ServerSpec::always_allow`]).
    #[serde(rename = "autoApprove", skip_serializing_if = "Option::is_none")]
    pub auto_approve: Option<serde_json::Value>,
    /// The tools approved without asking (`alwaysAllow`, as the VS Code extensions Cline and
    /// Roo Code write it); read like `autoApprove`.
    #[serde(rename = "alwaysAllow", skip_serializing_if = "Option::is_none")]
    pub always_allow: Option<serde_json::Value>,
    /// Free text.
    #[serde(alias = "notes", skip_serializing_if = "Option::is_none")]
    pub note: Option<serde_json::Value>,
}

crate::values::object_only!(ServerSpec, "an object");

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
    /// OAuth settings (`None`: OAuth only if the server asks for it).
    pub oauth: Option<OAuthConfig>,
}

/// How to reach a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportConfig {
    /// A child process over stdin/stdout.
    Stdio(StdioConfig),
    /// Streamable HTTP (falling back to the legacy HTTP+SSE transport when the server
    /// answers like an SSE server).
    Http(HttpConfig),
    /// The legacy HTTP+SSE transport (`type: "sse"`).
    Sse(HttpConfig),
}

/// One server, ready to use: templates expanded, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The server's name (the catalogue prefix of its tools).
    pub name: String,
    /// How to reach it.
    pub transport: TransportConfig,
    /// Time limit of one tool call.
    pub call_timeout: Duration,
    /// Time limit of start-up.
    pub startup_timeout: Duration,
    /// Whether to use it.
    pub enabled: bool,
    /// Whether a command fails when this server cannot start.
    pub required: bool,
    /// Which tools are offered.
    pub tools: ToolFilter,
    /// The sandbox a stdio server runs in (`None`: not confined; it is still contained, its
    /// whole process tree ending with it).
    pub sandbox: Option<SandboxPolicy>,
    /// Pass the whole environment instead of the allow-list.
    pub inherit_env: bool,
    /// Which tools may be run again when a durable execution loses the worker running a call.
    pub idempotent: Idempotent,
    /// The values of this configuration that are secrets (see [`crate::Secrets`]).
    pub secrets: Vec<SecretValue>,
    /// Resources, prompts, sampling, elicitation and roots.
    pub features: ServerFeatures,
    /// The file (or other origin) the server was configured in, for messages that tell the
    /// user what to run (`toolbridge auth login NAME --mcp-config FILE`).
    pub origin: Option<String>,
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

impl ServerSpec {
    /// Expands templates from `env` and applies defaults. Errors name `origin`, the server and
    /// the field.
    pub fn resolve(&self, name: &str, origin: &str, env: &dyn Env) -> Result<ServerConfig, ConfigError> {
        let err = |field: &str, message: String| ConfigError::Server {
            origin: origin.to_owned(),
            server: name.to_owned(),
            field: field.to_owned(),
            message,
        };
        let mut noted = Vec::new();
        let mut text = |field: &str, raw: &str, noted: &mut Vec<String>| {
            expand_noting(raw, env, noted).map_err(|MissingVariable(var)| match var.strip_prefix("input:") {
                Some(id) => err(
                    field,
                    format!("input {id:?} has no value (set {}, or run in a terminal to be asked)", input_env_var(id)),
                ),
                None => err(field, format!("variable {var} is not set (set it, or write ${{{var}:-default}})")),
            })
        };
        let kind = self.kind.or(if self.command.is_some() {
            Some(TransportKind::Stdio)
        } else if self.url.is_some() {
            Some(TransportKind::Http)
        } else {
            None
        });
        let mut sandbox = None;
        let transport = match kind {
            Some(TransportKind::Stdio) => {
                let Some(command) = &self.command else {
                    return Err(err("command", "a stdio server needs `command`".into()));
                };
                let command = text("command", command, &mut noted)?;
                if command.trim().is_empty() {
                    return Err(err("command", "is empty".into()));
                }
                let args = self
                    .args
                    .iter()
                    .enumerate()
                    .map(|(i, arg)| text(&format!("args[{i}]"), arg, &mut noted))
                    .collect::<Result<_, _>>()?;
                let mut env = match &self.env_file {
                    Some(path) => env_file(&text("envFile", path, &mut noted)?, &mut noted)
                        .map_err(|message| err("envFile", message))?,
                    None => BTreeMap::new(),
                };
                env.extend(secret_map("env", &self.env, &mut text, &mut noted)?);
                let cwd = self.cwd.as_deref().map(|cwd| text("cwd", cwd, &mut noted)).transpose()?.map(PathBuf::from);
                sandbox = self
                    .sandbox
                    .as_ref()
                    .and_then(|setting| setting.policy_for(&command, &cwd.iter().cloned().collect::<Vec<_>>()));
                TransportConfig::Stdio(StdioConfig { command, args, env, cwd })
            }
            Some(TransportKind::Http | TransportKind::Sse) => {
                if self.sandbox.as_ref().is_some_and(|s| *s != SandboxSetting::Enabled(false)) {
                    return Err(err("sandbox", "only a stdio server (a child process) can be sandboxed".into()));
                }
                let Some(url) = &self.url else { return Err(err("url", "an HTTP server needs `url`".into())) };
                let url = text("url", url, &mut noted)?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(err("url", format!("expected an http:// or https:// URL, got {url:?}")));
                }
                noted.extend(url_query_secrets(&url).map(str::to_owned));
                let headers = secret_map("headers", &self.headers, &mut text, &mut noted)?;
                let oauth = match &self.oauth {
                    None => None,
                    Some(spec) => {
                        let value = |field: &str, raw: &Option<ScalarString>, noted: &mut Vec<String>| {
                            raw.as_ref().map(|raw| text(&format!("oauth.{field}"), &raw.0, noted)).transpose()
                        };
                        let client_id = value("client_id", &spec.client_id, &mut noted)?;
                        let client_secret = value("client_secret", &spec.client_secret, &mut noted)?;
                        if let Some(secret) = &client_secret {
                            noted.push(secret.clone());
                        }
                        let grant = spec.grant.unwrap_or_default();
                        if grant == OAuthGrant::ClientCredentials && (client_id.is_none() || client_secret.is_none()) {
                            return Err(err(
                                "oauth.grant",
                                "client_credentials needs client_id and client_secret".into(),
                            ));
                        }
                        if client_secret.is_some() && client_id.is_none() {
                            return Err(err("oauth.client_secret", "a client_secret needs its client_id".into()));
                        }
                        Some(OAuthConfig {
                            client_id,
                            client_secret: client_secret.map(SecretValue::new),
                            scopes: spec.scopes.0.clone(),
                            client_metadata_url: spec.client_metadata_url.clone(),
                            redirect_port: spec.redirect_port,
                            grant,
                        })
                    }
                };
                let http = HttpConfig { url, headers, oauth };
                if kind == Some(TransportKind::Sse) { TransportConfig::Sse(http) } else { TransportConfig::Http(http) }
            }
            None => return Err(err("command", "a server needs `command` (stdio) or `url` (HTTP)".into())),
        };
        if self.oauth.is_some() && !matches!(transport, TransportConfig::Http(_)) {
            return Err(err("oauth", "only an HTTP server uses OAuth".into()));
        }
        let features = ServerFeatures {
            resources: self.resources.is_some_and(|Flag(on)| on),
            prompts: self.prompts.is_some_and(|Flag(on)| on),
            sampling: self.sampling.is_some_and(|Flag(on)| on),
            elicitation: self.elicitation.unwrap_or_default(),
            roots: self.roots.0.clone(),
        };
        let enabled = match (self.enabled, self.disabled) {
            (Some(Flag(enabled)), _) => enabled,
            (None, Some(Flag(disabled))) => !disabled,
            (None, None) => true,
        };
        let mut tools = self.tools.clone();
        if tools.allow.is_empty() {
            tools.allow = self.always_allow().map_err(|message| err("alwaysAllow", message))?;
        }
        noted.sort();
        noted.dedup();
        Ok(ServerConfig {
            name: name.to_owned(),
            transport,
            call_timeout: self.timeout.map_or(DEFAULT_CALL_TIMEOUT, |s| s.0),
            startup_timeout: self.startup_timeout.map_or(DEFAULT_STARTUP_TIMEOUT, |s| s.0),
            enabled,
            required: self.required.is_some_and(|Flag(required)| required),
            tools,
            sandbox,
            inherit_env: self.inherit_env.is_some_and(|Flag(inherit)| inherit),
            idempotent: self.idempotent.clone().unwrap_or_default(),
            secrets: noted.into_iter().map(SecretValue::new).collect(),
            features,
            origin: Some(origin.to_owned()),
        })
    }

    /// The tools `alwaysAllow` (or `autoApprove`) lists. The clients that write these keys ask
    /// the user before any other tool runs; toolbridge runs unattended and asks no one, so
    /// the listed tools are the ones it offers (an allow-list, like `tools.allow`). An empty
    /// list — the default some clients write — restricts nothing.
    pub fn always_allow(&self) -> Result<GlobList, String> {
        let mut allowed = GlobList::default();
        for value in [&self.always_allow, &self.auto_approve].into_iter().flatten() {
            let serde_json::Value::Array(items) = value else {
                return Err(format!("expected a list of tool names, got {value}"));
            };
            for item in items {
                let Some(name) = item.as_str() else { return Err(format!("expected a tool name, got {item}")) };
                allowed.0.push(name.to_owned());
            }
        }
        Ok(allowed)
    }

    /// The spec with every value that may be a secret masked: literal `env`/`headers` values
    /// whose names look secret, and secret-looking URL query parameters. Template references
    /// (`${VAR}`) are not secrets and stay readable; so do ordinary values
    /// (`MEMORY_FILE_PATH`).
    #[must_use]
    pub fn masked(&self) -> Self {
        let mut spec = self.clone();
        let mask = |entries: &mut BTreeMap<String, ScalarString>| {
            for (key, value) in entries.iter_mut() {
                if looks_secret(key) && !is_template(&value.0) {
                    value.0 = crate::secrets::REDACTED.to_owned();
                }
            }
        };
        mask(&mut spec.env);
        mask(&mut spec.headers);
        if let Some(secret) = spec.oauth.as_mut().and_then(|oauth| oauth.client_secret.as_mut())
            && !is_template(&secret.0)
        {
            secret.0 = crate::secrets::REDACTED.to_owned();
        }
        if let Some(url) = &mut spec.url {
            let secrets: Vec<String> = url_query_secrets(url).map(str::to_owned).collect();
            for secret in secrets.iter().filter(|s| !is_template(s)) {
                *url = url.replace(secret.as_str(), crate::secrets::REDACTED);
            }
        }
        spec
    }
}

/// Reads an `envFile`: its values, those whose names look secret noted.
fn env_file(path: &str, noted: &mut Vec<String>) -> Result<BTreeMap<String, SecretValue>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let pairs = crate::dotenv::parse_dotenv(&text).map_err(|e| format!("{path}: {e}"))?;
    Ok(pairs
        .into_iter()
        .map(|(key, value)| {
            if looks_secret(&key) {
                noted.push(value.clone());
            }
            (key, SecretValue::new(value))
        })
        .collect())
}

/// Expands an `env`/`headers` map; values whose names look secret are noted whole.
fn secret_map(
    field: &str,
    entries: &BTreeMap<String, ScalarString>,
    text: &mut impl FnMut(&str, &str, &mut Vec<String>) -> Result<String, ConfigError>,
    noted: &mut Vec<String>,
) -> Result<BTreeMap<String, SecretValue>, ConfigError> {
    entries
        .iter()
        .map(|(key, value)| {
            let expanded = text(&format!("{field}.{key}"), &value.0, noted)?;
            if looks_secret(key) {
                noted.push(expanded.clone());
            }
            Ok((key.clone(), SecretValue::new(expanded)))
        })
        .collect()
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
        Self::with_transport(
            name,
            TransportConfig::Http(HttpConfig { url: url.into(), headers: BTreeMap::new(), oauth: None }),
        )
    }

    fn with_transport(name: impl Into<String>, transport: TransportConfig) -> Self {
        Self {
            name: name.into(),
            transport,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            enabled: true,
            required: false,
            tools: ToolFilter::default(),
            sandbox: None,
            inherit_env: false,
            idempotent: Idempotent::None,
            secrets: Vec::new(),
            features: ServerFeatures::default(),
            origin: None,
        }
    }

    /// Whether the server runs as a child process.
    pub fn is_stdio(&self) -> bool {
        matches!(self.transport, TransportConfig::Stdio(_))
    }

    /// Adds this server's secrets to `secrets`.
    pub fn register_secrets(&self, secrets: &Secrets) {
        secrets.add_all(self.secrets.iter().map(|s| s.expose().to_owned()));
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
            TransportConfig::Http(c) | TransportConfig::Sse(c) => {
                field(if matches!(self.transport, TransportConfig::Sse(_)) { b"sse" } else { b"http" });
                field(c.url.as_bytes());
                for (k, v) in &c.headers {
                    field(k.as_bytes());
                    field(v.expose().as_bytes());
                }
                if let Some(oauth) = &c.oauth {
                    field(b"oauth");
                    field(oauth.client_id.as_deref().unwrap_or_default().as_bytes());
                    field(oauth.client_secret.as_ref().map(SecretValue::expose).unwrap_or_default().as_bytes());
                    field(oauth.scopes.join(" ").as_bytes());
                    field(oauth.client_metadata_url.as_deref().unwrap_or_default().as_bytes());
                    field(&[u8::from(oauth.grant == OAuthGrant::ClientCredentials)]);
                }
            }
        }
        field(&self.startup_timeout.as_nanos().to_le_bytes());
        field(&[u8::from(self.inherit_env)]);
        // Capabilities declared at initialize differ with these.
        let f = &self.features;
        field(&[u8::from(f.sampling), f.elicitation as u8]);
        for root in &f.roots {
            field(root.as_bytes());
        }
        field(serde_json::to_string(&self.sandbox).unwrap_or_default().as_bytes());
        PoolKey(h.finalize().into())
    }
}
