//! What a plugin said about itself in `initialize`, with its config schema compiled: the
//! registration of a plugin runtime is built from it.

use serde_json::Value;
use toolbridge_runtime::{ConfigError, RuntimeCapabilities};

use crate::error::PluginError;
use crate::protocol::{InitializeResult, PROTOCOL_VERSION};
use crate::schema::ConfigSchema;

/// A plugin's description, capabilities and `runtime_config` schema, from `initialize`.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    description: String,
    capabilities: RuntimeCapabilities,
    requires_model: bool,
    schema: ConfigSchema,
}

impl PluginInfo {
    /// Reads an `initialize` result (whose version was checked), compiling its schema.
    pub(crate) fn new(plugin: &str, result: InitializeResult) -> Result<Self, PluginError> {
        let schema = ConfigSchema::compile(result.config_schema)
            .map_err(|message| PluginError::InvalidSchema { plugin: plugin.to_owned(), message })?;
        Ok(Self {
            description: result.description,
            capabilities: result.capabilities,
            requires_model: result.requires_model,
            schema,
        })
    }

    /// What the plugin said, as the `initialize` result it sent (to store a registration).
    pub fn to_json(&self) -> Value {
        let result = InitializeResult {
            protocol_version: PROTOCOL_VERSION.to_owned(),
            description: self.description.clone(),
            capabilities: self.capabilities,
            config_schema: Some(self.schema.schema().clone()),
            requires_model: self.requires_model,
        };
        serde_json::to_value(result).unwrap_or(Value::Null)
    }

    /// Reads what [`to_json`](Self::to_json) wrote (a stored registration of `plugin`).
    pub fn from_json(plugin: &str, value: Value) -> Result<Self, PluginError> {
        let invalid = |message: String| PluginError::InvalidSchema { plugin: plugin.to_owned(), message };
        let result = InitializeResult::from_value(value).map_err(|e| invalid(format!("stored registration: {e}")))?;
        Self::new(plugin, result)
    }

    /// What the runtime is.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// What it supports.
    pub fn capabilities(&self) -> RuntimeCapabilities {
        self.capabilities
    }

    /// Whether its executions need a `model_id`.
    pub fn requires_model(&self) -> bool {
        self.requires_model
    }

    /// The JSON Schema of its `runtime_config` (`{"type": "object"}` when it published none).
    pub fn config_schema(&self) -> &Value {
        self.schema.schema()
    }

    /// Checks a `runtime_config` against the schema (absent is `{}`); errors name the field.
    pub fn check_config(&self, config: Option<&Value>) -> Result<(), ConfigError> {
        self.schema.check(config)
    }
}
