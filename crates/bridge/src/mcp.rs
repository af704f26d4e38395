//! An MCP server as a [`ToolSource`], through the pool.

use async_trait::async_trait;
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::Value;
use tokio::sync::OnceCell;
use toolbridge_config::ServerConfig;
use toolbridge_runtime::ToolSourceKind;

use crate::error::ToolError;
use crate::mcp_features;
use crate::oauth::OAuthError;
use crate::pool::{CallOptions, Pool, PoolError, ServerHandle};
use crate::source::{CallContext, SourceError, ToolDescriptor, ToolOutput, ToolSource};

/// An MCP server's tools. Connects through the pool on first use; the pool keeps the
/// connection alive (and restarts it) across executions.
#[derive(Debug)]
pub(crate) struct McpSource {
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
        let glob = Glob::new(pattern)
            .map_err(|e| SourceError::new(server, format!("invalid tool filter glob {pattern:?}: {}", e.kind())))?;
        builder.add(glob);
    }
    builder.build().map(Some).map_err(|e| SourceError::new(server, e.to_string()))
}

impl McpSource {
    /// A source for one configured server. Fails only on an invalid `tools` filter.
    pub(crate) fn new(server: ServerConfig, pool: Pool) -> Result<Self, SourceError> {
        let allow = glob_set(&server.tools.allow, &server.name)?;
        let deny = glob_set(&server.tools.deny, &server.name)?;
        Ok(Self { server, pool, handle: OnceCell::new(), allow, deny })
    }

    fn offered(&self, tool: &str) -> bool {
        self.allow.as_ref().is_none_or(|set| set.is_match(tool))
            && !self.deny.as_ref().is_some_and(|set| set.is_match(tool))
    }

    async fn handle(&self) -> Result<&ServerHandle, PoolError> {
        self.handle.get_or_try_init(|| self.pool.connect(&self.server)).await
    }

    fn source_error(&self, error: &PoolError) -> SourceError {
        let mut failure = SourceError::new(&self.server.name, error.to_string());
        if let PoolError::Login(OAuthError::LoginRequired { command, .. }) = error {
            failure.login_command = Some(command.clone());
        }
        failure
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
        let handle = self.handle().await.map_err(|e| self.source_error(&e))?;
        let tools = handle.list_tools().await.map_err(|e| self.source_error(&e))?;
        let mut offered: Vec<ToolDescriptor> = tools.iter().filter(|tool| self.offered(&tool.name)).cloned().collect();
        // Resources and prompts as tools, when configured (the server's own names win).
        for tool in mcp_features::descriptors(&self.server.features) {
            if !tools.iter().any(|t| t.name == tool.name) && self.offered(&tool.name) {
                offered.push(tool);
            }
        }
        Ok(offered)
    }

    fn sandbox(&self) -> Option<toolbridge_sandbox::SandboxReport> {
        self.handle.get().and_then(ServerHandle::sandbox)
    }

    fn server_handle(&self) -> Option<ServerHandle> {
        self.handle.get().cloned()
    }

    async fn call_tool(&self, tool: &str, arguments: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
        if !self.offered(tool) {
            return Err(ToolError::denied(format!(
                "tool `{tool}` is filtered out by the `tools` setting of server {:?}",
                self.server.name
            )));
        }
        let handle = self.handle().await.map_err(|reason| ToolError::Unavailable {
            server: self.server.name.clone(),
            reason: reason.to_string(),
        })?;
        let arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => return Err(ToolError::invalid_arguments(format!("expected a JSON object, got {other}"))),
        };
        if mcp_features::is_feature_tool(&self.server.features, tool)
            && !handle.list_tools().await.is_ok_and(|tools| tools.iter().any(|t| t.name == tool))
        {
            return mcp_features::call(handle, tool, &arguments.unwrap_or_default()).await;
        }
        let options = CallOptions {
            timeout: ctx.timeout,
            cancel: Some(ctx.cancel.clone()),
            responder: ctx.responder.clone(),
            keep_content: ctx.keep_content,
        };
        handle.call_tool(tool, arguments, options).await
    }
}
