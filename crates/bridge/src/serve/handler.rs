//! The MCP server handler over a catalogue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use toolbridge_runtime::{CallLog, ExecutionEvent, ExecutionScope, ToolCallRecord};

use crate::catalogue::Catalogue;
use crate::catalogue::call::{CallOptions, RawArguments};

/// Serves a catalogue as MCP tools. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct CatalogueServer {
    catalogue: Arc<Catalogue>,
    tools: Arc<Vec<Tool>>,
    execution: Option<Arc<Execution>>,
}

/// The execution a server's calls belong to (the tool endpoint of a runtime in another
/// process): calls land in its log and emit its tool events.
#[derive(Debug)]
pub(crate) struct Execution {
    pub(crate) scope: ExecutionScope,
    /// Cancelled when the endpoint closes: calls still running end as `cancelled`.
    pub(crate) stop: CancellationToken,
    /// Numbers the calls (`mcp-1`, `mcp-2`…): request ids repeat across sessions.
    calls: AtomicU64,
}

impl Execution {
    pub(crate) fn new(scope: ExecutionScope, stop: CancellationToken) -> Self {
        Self { scope, stop, calls: AtomicU64::new(0) }
    }
}

impl CatalogueServer {
    /// A server for `catalogue` (its tool list is fixed for the server's life).
    pub(crate) fn new(catalogue: Arc<Catalogue>) -> Self {
        let tools = catalogue
            .tools()
            .map(|tool| Tool::new(tool.name.clone(), tool.description.clone(), Arc::clone(&tool.input_schema)))
            .collect();
        Self { catalogue, tools: Arc::new(tools), execution: None }
    }

    /// The same server with its calls belonging to `execution`.
    pub(crate) fn for_execution(mut self, execution: Execution) -> Self {
        self.execution = Some(Arc::new(execution));
        self
    }

    async fn call(&self, request: CallToolRequestParams, context: &RequestContext<RoleServer>) -> ToolCallRecord {
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let Some(execution) = &self.execution else {
            // One log per call: a long-running server keeps nothing.
            let log = CallLog::new();
            let options = CallOptions { cancel: Some(context.ct.clone()), ..CallOptions::default() };
            let id = context.id.to_string();
            return self.catalogue.call(&log, &request.name, RawArguments::Value(&arguments), &id, &options).await;
        };
        let scope = &execution.scope;
        let id = format!("mcp-{}", execution.calls.fetch_add(1, Ordering::Relaxed) + 1);
        if scope.has_listener() {
            scope.emit(&ExecutionEvent::ToolStart {
                tool_name: request.name.to_string(),
                tool_args: arguments.clone(),
                tool_execution_id: id.clone(),
            });
        }
        // Ended by the client (a cancelled request) or by the endpoint closing.
        let cancel = execution.stop.child_token();
        let options = CallOptions { cancel: Some(cancel.clone()), ..CallOptions::default() };
        let call = self.catalogue.call(scope.call_log(), &request.name, RawArguments::Value(&arguments), &id, &options);
        let mut call = std::pin::pin!(call);
        let record = tokio::select! {
            record = &mut call => record,
            () = context.ct.cancelled() => {
                cancel.cancel();
                call.await
            }
        };
        scope.emit(&ExecutionEvent::tool_complete(
            record.tool.clone(),
            record.tool_use_id.clone(),
            record.success,
            &record.output,
            record.error.clone(),
            record.duration_ms,
        ));
        record
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
        let record = self.call(request, &context).await;
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
