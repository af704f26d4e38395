//! A built-in skill as a [`ToolSource`].

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use toolbridge_runtime::ToolSourceKind;

use crate::skills::{Skill, SkillError};
use crate::source::{CallContext, SourceError, ToolCallError, ToolDescriptor, ToolOutput, ToolSource};

/// A skill's enabled operations as tools.
#[derive(Debug)]
pub struct SkillSource {
    skill: Arc<dyn Skill>,
    tools: Vec<ToolDescriptor>,
}

impl SkillSource {
    /// Wraps a built skill.
    pub fn new(skill: Arc<dyn Skill>) -> Self {
        let tools = skill
            .tools()
            .iter()
            .map(|tool| ToolDescriptor {
                name: tool.name.clone(),
                description: tool.description.clone(),
                input_schema: Arc::new(match &tool.input_schema {
                    Value::Object(schema) => schema.clone(),
                    _ => Map::new(),
                }),
            })
            .collect();
        Self { skill, tools }
    }
}

#[async_trait]
impl ToolSource for SkillSource {
    fn name(&self) -> &str {
        self.skill.name()
    }

    fn kind(&self) -> ToolSourceKind {
        ToolSourceKind::Skill
    }

    async fn list_tools(&self) -> Result<Vec<ToolDescriptor>, SourceError> {
        Ok(self.tools.clone())
    }

    async fn call_tool(&self, tool: &str, arguments: Value, ctx: &CallContext) -> Result<ToolOutput, ToolCallError> {
        let call = self.skill.call(tool, arguments, ctx.cancel.clone());
        let outcome = match ctx.timeout {
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(outcome) => outcome,
                Err(_) => return Err(ToolCallError::Timeout(format!("`{tool}` did not finish within {limit:?}"))),
            },
            None => call.await,
        };
        match outcome {
            Ok(output) => {
                Ok(if output.is_error { ToolOutput::error(output.text) } else { ToolOutput::text(output.text) })
            }
            Err(error) => Err(map_skill_error(&error)),
        }
    }
}

fn map_skill_error(error: &SkillError) -> ToolCallError {
    let message = error.to_string();
    match error.kind() {
        "invalid_arguments" => ToolCallError::InvalidArguments(message),
        "policy_denied" => ToolCallError::Denied(message),
        "timeout" => ToolCallError::Timeout(message),
        "cancelled" => ToolCallError::Cancelled,
        "unknown_tool" => ToolCallError::UnknownTool(message),
        _ => ToolCallError::Failed(message),
    }
}
