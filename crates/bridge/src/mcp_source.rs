//! An MCP server as a [`ToolSource`], through the pool.

use std::sync::Arc;

use async_trait::async_trait;
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::Value;
use tokio::sync::OnceCell;
use toolbridge_runtime::ToolSourceKind;

use crate::config::ServerConfig;
use crate::content::{ContentOptions, convert_result};
use crate::pool::{CallError, CallOptions as PoolCallOptions, Pool, ServerHandle};
use crate::source::{CallContext, SourceError, ToolCallError, ToolDescriptor, ToolOutput, ToolSource};

/// An MCP server's tools. Connects through the pool on first use; the pool keeps the
/// connection alive (and restarts it) across executions.
#[derive(Debug)]
pub struct McpSource {
    server: ServerConfig,
    pool: Pool,
    handle: OnceCell<ServerHandle>,
    allow: Option<GlobSet>,
    deny: Option<GlobSet>,
}

fn glob_set(patterns: &[String], server: &str) -> Result<Option<GlobSet>, SourceError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|e| SourceError {
            source_name: server.to_owned(),
            message: format!("invalid tool filter glob {pattern:?}: {}", e.kind()),
        })?;
        builder.add(glob);
    }
    builder.build().map(Some).map_err(|e| SourceError { source_name: server.to_owned(), message: e.to_string() })
}

impl McpSource {
    /// A source for one configured server. Fails only on an invalid `tools` filter.
    pub fn new(server: ServerConfig, pool: Pool) -> Result<Self, SourceError> {
        let allow = glob_set(&server.tools.allow, &server.name)?;
        let deny = glob_set(&server.tools.deny, &server.name)?;
        Ok(Self { server, pool, handle: OnceCell::new(), allow, deny })
    }

    /// The server's configuration.
    pub fn server(&self) -> &ServerConfig {
        &self.server
    }

    fn offered(&self, tool: &str) -> bool {
        self.allow.as_ref().is_none_or(|set| set.is_match(tool))
            && !self.deny.as_ref().is_some_and(|set| set.is_match(tool))
    }

    async fn handle(&self) -> Result<&ServerHandle, String> {
        self.handle.get_or_try_init(|| self.pool.connect(&self.server)).await.map_err(|e| e.to_string())
    }
}

#[async_trait]
impl ToolSource for McpSource {
    fn name(&self) -> &str {
        &self.server.name
    }

    fn kind(&self) -> ToolSourceKind {
        ToolSourceKind::Mcp
    }

    async fn list_tools(&self) -> Result<Vec<ToolDescriptor>, SourceError> {
        let error = |message: String| SourceError { source_name: self.server.name.clone(), message };
        let handle = self.handle().await.map_err(error)?;
        let tools = handle.list_tools().await.map_err(|e| error(e.to_string()))?;
        Ok(tools
            .iter()
            .filter(|tool| self.offered(&tool.name))
            .map(|tool| ToolDescriptor {
                name: tool.name.to_string(),
                description: tool.description.as_deref().unwrap_or_default().to_owned(),
                input_schema: Arc::clone(&tool.input_schema),
            })
            .collect())
    }

    async fn call_tool(&self, tool: &str, arguments: Value, ctx: &CallContext) -> Result<ToolOutput, ToolCallError> {
        if !self.offered(tool) {
            return Err(ToolCallError::Denied(format!(
                "tool `{tool}` is filtered out by the `tools` setting of server {:?}",
                self.server.name
            )));
        }
        let handle = self.handle().await.map_err(ToolCallError::Unavailable)?;
        let arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => return Err(ToolCallError::InvalidArguments(format!("expected a JSON object, got {other}"))),
        };
        let options = PoolCallOptions { timeout: ctx.timeout, cancel: Some(ctx.cancel.clone()) };
        let result = handle.call_tool(tool, arguments, options).await.map_err(|error| match error {
            CallError::Timeout { .. } => ToolCallError::Timeout(error.to_string()),
            CallError::Cancelled { .. } => ToolCallError::Cancelled,
            CallError::ServerUnavailable { .. } => ToolCallError::Unavailable(error.to_string()),
            other => ToolCallError::Failed(other.to_string()),
        })?;
        let converted = convert_result(&result, &ContentOptions { max_output_bytes: ctx.max_output_bytes });
        Ok(ToolOutput {
            text: converted.text,
            is_error: converted.is_error,
            truncated: converted.truncated,
            original_bytes: converted.original_bytes,
            structured: result.structured_content,
        })
    }
}
