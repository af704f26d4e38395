//! The MCP servers of a configuration, in any of the three accepted shapes: Claude
//! `{"mcpServers": {…}}`, VS Code `{"servers": {…}}`, or the seed's plain `{name: server}`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{ConfigError, from_value};
use crate::server::{ServerConfig, ServerSpec};
use crate::template::Env;

const WRAPPERS: [&str; 3] = ["mcpServers", "servers", "mcp_servers"];

/// MCP servers by name, as written. Serialises as the plain `{name: server}` shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct McpServers(pub BTreeMap<String, ServerSpec>);

impl McpServers {
    /// No servers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether there are no servers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many servers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The servers, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &ServerSpec)> {
        self.0.iter()
    }

    /// Parses any of the three shapes from a JSON value; errors name `origin`, the server and
    /// the field.
    pub fn from_json(value: &Value, origin: &str) -> Result<Self, ConfigError> {
        let shape = |message: &str| ConfigError::Shape { origin: origin.to_owned(), message: message.to_owned() };
        let Value::Object(top) = value else { return Err(shape("expected a JSON object of MCP servers")) };
        let servers = match WRAPPERS.iter().find_map(|key| top.get(*key)) {
            Some(Value::Object(servers)) => servers,
            Some(_) => return Err(shape("`mcpServers`/`servers` must be an object of name → server")),
            None => top,
        };
        Self::from_entries(servers, origin)
    }

    fn from_entries(servers: &Map<String, Value>, origin: &str) -> Result<Self, ConfigError> {
        servers
            .iter()
            .map(|(name, server)| {
                let spec = from_value::<ServerSpec>(server.clone()).map_err(|(field, message)| {
                    ConfigError::Server { origin: origin.to_owned(), server: name.clone(), field, message }
                })?;
                Ok((name.clone(), spec))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Every enabled and disabled server, templates expanded from `env`.
    pub fn resolve(&self, origin: &str, env: &dyn Env) -> Result<Vec<ServerConfig>, ConfigError> {
        self.0.iter().map(|(name, spec)| spec.resolve(name, origin, env)).collect()
    }

    /// The ids of the `${input:ID}` its servers refer to, in order.
    pub fn input_references(&self) -> Vec<String> {
        crate::inputs::input_references(&serde_json::to_string(&self.0).unwrap_or_default())
    }

    /// The servers that must start for a command to go on (`required: true`).
    pub fn required(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter(|(_, spec)| spec.required.is_some_and(|f| f.0)).map(|(name, _)| name.as_str())
    }

    /// The servers with their secret-looking literal values masked (see [`ServerSpec::masked`]).
    #[must_use]
    pub fn masked(&self) -> Self {
        Self(self.0.iter().map(|(name, spec)| (name.clone(), spec.masked())).collect())
    }
}

impl Serialize for McpServers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for McpServers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if value.is_null() {
            return Ok(Self::default());
        }
        Self::from_json(&value, "mcp_servers").map_err(|error| de::Error::custom(Unprefixed(&error)))
    }
}

/// A config error inside a larger document: the document's own path says where it is.
struct Unprefixed<'a>(&'a ConfigError);

impl fmt::Display for Unprefixed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ConfigError::Server { server, field, message, .. } if field.is_empty() => {
                write!(f, "server {server:?}: {message}")
            }
            ConfigError::Server { server, field, message, .. } => {
                write!(f, "server {server:?}, field {field:?}: {message}")
            }
            ConfigError::Shape { message, .. } => f.write_str(message),
            other => write!(f, "{other}"),
        }
    }
}
