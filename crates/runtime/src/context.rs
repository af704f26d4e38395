//! The input of an execution.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use toolbridge_config::{McpServers, PolicyConfig, SkillConfig};

use crate::model_config::ModelConfig;

/// The identifier of one execution (the key for cancellation, usage and records).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExecutionId(String);

impl ExecutionId {
    /// An execution id with the given value.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// A fresh random (UUID v4) execution id.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ExecutionId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for ExecutionId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

/// One message of `conversation_history`: a `role` and its `content` (a string or content
/// blocks); other keys are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationMessage {
    /// `user`, `assistant` or `system`.
    pub role: String,
    /// The message content: usually a string.
    #[serde(default)]
    pub content: Value,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ConversationMessage {
    /// A message with a text content.
    pub fn text(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: Value::String(content.into()), extra: Map::new() }
    }

    /// The content as text: the string itself, or the `text` of text blocks joined by newlines.
    pub fn content_text(&self) -> String {
        match &self.content {
            Value::String(text) => text.clone(),
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|block| block.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

fn default_environment() -> String {
    "production".to_owned()
}

/// Everything a runtime gets for one execution: the seed's `RuntimeExecutionContext`.
///
/// Skills, MCP servers and the tool policy are carried typed (`toolbridge-config`), parsed
/// once where the context was made; they serialise with the seed's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeExecutionContext {
    /// Unique execution id.
    pub execution_id: ExecutionId,
    /// Agent identifier.
    #[serde(default)]
    pub agent_id: String,
    /// Organization context.
    #[serde(default)]
    pub organization_id: String,
    /// The user's input message.
    pub prompt: String,
    /// System instructions.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// Previous messages.
    #[serde(default)]
    pub conversation_history: Vec<ConversationMessage>,
    /// Model identifier, e.g. `openai:gpt-4o-mini`, `scripted:demo.json`.
    #[serde(default)]
    pub model_id: Option<String>,
    /// How the model samples (temperature, max_tokens, top_p, stop, …), sent with every
    /// model request by runtimes that call a model.
    #[serde(default)]
    pub model_config: Option<ModelConfig>,
    /// Agent configuration.
    #[serde(default)]
    pub agent_config: Option<Map<String, Value>>,
    /// Skills: `[{name, type, configuration, enabled}]`.
    #[serde(default)]
    pub skills: Vec<SkillConfig>,
    /// MCP server configurations (`{name: {...}}`, or a wrapped `mcpServers`/`servers`
    /// object when parsed).
    #[serde(default)]
    pub mcp_servers: McpServers,
    /// Which tools may be offered and called (toolbridge's addition to the seed's context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyConfig>,
    /// User metadata, kept in the execution's stored record.
    #[serde(default)]
    pub user_metadata: Option<Map<String, Value>>,
    /// Runtime-specific configuration, validated by the runtime's typed config.
    #[serde(default)]
    pub runtime_config: Option<Value>,
    /// Enforcement context: the user's email.
    #[serde(default)]
    pub user_email: Option<String>,
    /// Enforcement context: the user's id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Enforcement context: the user's roles.
    #[serde(default)]
    pub user_roles: Vec<String>,
    /// Enforcement context: the team's id.
    #[serde(default)]
    pub team_id: Option<String>,
    /// Enforcement context: the team's name.
    #[serde(default)]
    pub team_name: Option<String>,
    /// Enforcement context: the environment, `production` unless told otherwise.
    #[serde(default = "default_environment")]
    pub environment: String,
}

impl RuntimeExecutionContext {
    /// A context with a fresh execution id and the given prompt; everything else defaulted.
    pub fn new(prompt: impl Into<String>) -> Self {
        Self::with_id(ExecutionId::random(), prompt)
    }

    /// A context with the given execution id and prompt; everything else defaulted.
    pub fn with_id(execution_id: impl Into<ExecutionId>, prompt: impl Into<String>) -> Self {
        Self {
            execution_id: execution_id.into(),
            agent_id: String::new(),
            organization_id: String::new(),
            prompt: prompt.into(),
            system_prompt: None,
            conversation_history: Vec::new(),
            model_id: None,
            model_config: None,
            agent_config: None,
            skills: Vec::new(),
            mcp_servers: McpServers::new(),
            policy: None,
            user_metadata: None,
            runtime_config: None,
            user_email: None,
            user_id: None,
            user_roles: Vec::new(),
            team_id: None,
            team_name: None,
            environment: default_environment(),
        }
    }

    /// Sets the model id.
    #[must_use]
    pub fn model(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = Some(model_id.into());
        self
    }

    /// Sets the system prompt.
    #[must_use]
    pub fn system_prompt(mut self, system_prompt: impl Into<String>) -> Self {
        self.system_prompt = Some(system_prompt.into());
        self
    }

    /// Sets the runtime config.
    #[must_use]
    pub fn runtime_config(mut self, runtime_config: Value) -> Self {
        self.runtime_config = Some(runtime_config);
        self
    }

    /// Appends a message to the conversation history.
    #[must_use]
    pub fn history(mut self, role: &str, content: &str) -> Self {
        self.conversation_history.push(ConversationMessage::text(role, content));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_context_gets_seed_defaults() {
        let ctx: RuntimeExecutionContext =
            serde_json::from_value(json!({"execution_id": "e1", "prompt": "hi"})).unwrap();
        assert_eq!(ctx.environment, "production");
        assert!(ctx.user_roles.is_empty());
        assert!(ctx.conversation_history.is_empty());
    }

    #[test]
    fn full_context_round_trips_with_seed_names() {
        let value = json!({
            "execution_id": "e1", "agent_id": "a", "organization_id": "o", "prompt": "p",
            "system_prompt": "s", "conversation_history": [{"role": "user", "content": "x", "name": "n"}],
            "model_id": "m", "model_config": {"temperature": 0.5}, "agent_config": {"k": true},
            "skills": [{"name": "fs", "type": "file_system", "configuration": {}, "enabled": true}],
            "mcp_servers": {"x": {"command": "c"}},
            "user_metadata": {"u": 1}, "runtime_config": {"max_iterations": 3},
            "user_email": "a@b.c", "user_id": "u1", "user_roles": ["admin"], "team_id": "t1",
            "team_name": "team", "environment": "staging"
        });
        let ctx: RuntimeExecutionContext = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(ctx.conversation_history[0].extra["name"], json!("n"));
        assert_eq!(serde_json::to_value(&ctx).unwrap(), value);
    }

    #[test]
    fn tool_configuration_is_typed_and_errors_name_the_field() {
        let ctx: RuntimeExecutionContext = serde_json::from_value(json!({
            "execution_id": "e1", "prompt": "p",
            "mcp_servers": {"mcpServers": {"t": {"command": "testbed-mcp", "timeout": 5}}},
            "policy": {"deny": ["t__crash"]}
        }))
        .unwrap();
        assert_eq!(ctx.mcp_servers.len(), 1);
        assert_eq!(ctx.policy.as_ref().map(|p| p.deny.len()), Some(1));
        let err = serde_json::from_value::<RuntimeExecutionContext>(json!({
            "execution_id": "e1", "prompt": "p", "mcp_servers": {"t": {"comand": "x"}}
        }))
        .unwrap_err();
        assert!(err.to_string().contains("comand"), "{err}");
        let err = serde_json::from_value::<RuntimeExecutionContext>(json!({
            "execution_id": "e1", "prompt": "p", "model_config": {"temprature": 1}
        }))
        .unwrap_err();
        assert!(err.to_string().contains("temprature"), "{err}");
    }

    #[test]
    fn content_text_joins_blocks() {
        let msg = ConversationMessage {
            role: "user".into(),
            content: json!([{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]),
            extra: Map::new(),
        };
        assert_eq!(msg.content_text(), "a\nb");
    }
}
