//! An agent definition: what an operator configures and runs by name.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use toolbridge_config::{McpServers, PolicyConfig, SkillConfig};

use crate::context::RuntimeExecutionContext;
use crate::model_config::ModelConfig;
use crate::runtime_type::RuntimeType;

/// An agent: `{name, runtime, model_id, system_prompt, runtime_config, model_config,
/// mcp_servers, skills, policy}` (DESIGN.md), parsed into types once. Unknown keys are
/// rejected so that typos do not pass silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDefinition {
    /// The agent's name.
    pub name: String,
    /// What it does, for listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The runtime that runs it (`agent_loop` by default).
    #[serde(default)]
    pub runtime: RuntimeType,
    /// The model, e.g. `openai:gpt-4o-mini` or `scripted:fixtures/transcripts/demo.json`.
    #[serde(default, alias = "model")]
    pub model_id: Option<String>,
    /// System instructions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// The runtime's typed configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_config: Option<Value>,
    /// How the model samples (takes precedence over the same settings in `runtime_config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_config: Option<ModelConfig>,
    /// MCP servers, in any of the three accepted shapes (stored as `{name: server}`).
    #[serde(default, skip_serializing_if = "McpServers::is_empty")]
    pub mcp_servers: McpServers,
    /// Skills: `[{name, type, configuration, enabled}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<SkillConfig>,
    /// Tool policy (allow/deny rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyConfig>,
}

impl AgentDefinition {
    /// An agent with a name and model; everything else defaulted.
    pub fn new(name: impl Into<String>, model_id: impl Into<String>) -> Self {
        Self { model_id: Some(model_id.into()), ..Self::named(name) }
    }

    /// An agent with a name only (its runtime may need no model); everything else defaulted.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
            runtime: RuntimeType::agent_loop(),
            model_id: None,
            system_prompt: None,
            runtime_config: None,
            model_config: None,
            mcp_servers: McpServers::new(),
            skills: Vec::new(),
            policy: None,
        }
    }

    /// The execution context for one prompt to this agent (fresh execution id).
    pub fn context(&self, prompt: impl Into<String>) -> RuntimeExecutionContext {
        let mut context = RuntimeExecutionContext::new(prompt);
        context.agent_id.clone_from(&self.name);
        context.model_id.clone_from(&self.model_id);
        context.system_prompt.clone_from(&self.system_prompt);
        context.runtime_config.clone_from(&self.runtime_config);
        context.model_config.clone_from(&self.model_config);
        context.mcp_servers.clone_from(&self.mcp_servers);
        context.skills.clone_from(&self.skills);
        context.policy.clone_from(&self.policy);
        context
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_builds_a_context() {
        let agent: AgentDefinition = serde_json::from_value(json!({
            "name": "demo", "model_id": "scripted:x.json", "system_prompt": "be brief",
            "runtime_config": {"max_iterations": 4}, "mcp_servers": {"t": {"command": "testbed-mcp"}},
            "skills": [{"name": "fs", "type": "file_system"}], "policy": {"deny": ["t__crash"]}
        }))
        .unwrap();
        assert_eq!(agent.runtime.as_str(), "agent_loop");
        let ctx = agent.context("hi");
        assert_eq!(ctx.agent_id, "demo");
        assert_eq!(ctx.model_id.as_deref(), Some("scripted:x.json"));
        assert_eq!(serde_json::to_value(ctx.policy.unwrap()).unwrap(), json!({"deny": ["t__crash"]}));
        assert_eq!(ctx.skills.len(), 1);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = serde_json::from_value::<AgentDefinition>(json!({"name": "a", "modle_id": "x"})).unwrap_err();
        assert!(err.to_string().contains("modle_id"), "{err}");
        let err = serde_json::from_value::<AgentDefinition>(
            json!({"name": "a", "skills": [{"name": "fs", "type": "file_system", "configuration": {"base": "/"}}]}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("configuration.base"), "{err}");
    }
}
