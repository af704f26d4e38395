//! The MCP server handler over a catalogue.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;

use toolbridge_runtime::CallLog;

use crate::catalogue::Catalogue;
use crate::catalogue::call::{CallOptions, RawArguments};

/// Serves a catalogue as MCP tools. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct CatalogueServer {
    catalogue: Arc<Catalogue>,
    tools: Arc<Vec<Tool>>,
}

impl CatalogueServer {
    /// A server for `catalogue` (its tool list is fixed for the server's life).
    pub(crate) fn new(catalogue: Arc<Catalogue>) -> Self {
        let tools = catalogue
            .tools()
            .map(|tool| Tool::new(tool.name.clone(), tool.description.clone(), Arc::clone(&tool.input_schema)))
            .collect();
        Self { catalogue, tools: Arc::new(tools) }
    }
}

impl ServerHandler for CatalogueServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("toolbridge", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "The tools of this toolbridge catalogue: MCP servers and skills under `source__tool` names.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items((*self.tools).clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        // One log per call: a long-running server keeps nothing.
        let log = CallLog::new();
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let options = CallOptions { cancel: Some(context.ct.clone()), ..CallOptions::default() };
        let record = self
            .catalogue
            .call(&log, &request.name, RawArguments::Value(&arguments), &context.id.to_string(), &options)
            .await;
        let mut result = if record.success {
            CallToolResult::success(vec![ContentBlock::text(record.output)])
        } else {
            CallToolResult::error(vec![ContentBlock::text(record.output)])
        };
        if let Some(structured) = record.metadata.get("structured_content") {
            result.structured_content = Some(structured.clone());
        }
        Ok(CallToolResponse::Complete(result))
    }
}
