//! The MCP server handler over a catalogue: its tools (through the catalogue's call pipeline,
//! content passed on as the upstream server sent it), and its upstream servers' resources,
//! resource templates, prompts, completions, subscriptions and logging; an upstream server's
//! progress, log lines, sampling and elicitation during a call are relayed to the client that
//! made the call.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

// resources/subscribe is legacy in rmcp (2026-07-28), and the way to subscribe in 2025-11-25.
#[allow(deprecated)]
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest, CompleteRequestParams, CompleteResult,
    ContentBlock, GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig, SubscribeRequest,
    SubscribeRequestParams, Tool, UnsubscribeRequest, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;
use toolbridge_runtime::CallLog;
use tracing::warn;

use super::Prefix;
use super::relay::{CallRelay, Session, Sessions};
use super::upstream::{Upstream, Upstreams};
use crate::catalogue::Catalogue;
use crate::catalogue::call::{CallOptions, RawArguments};

/// What every session of the gateway shares.
#[derive(Debug)]
pub(crate) struct Shared {
    catalogue: Arc<Catalogue>,
    /// The tools as exposed, and the catalogue name behind each.
    tools: Vec<Tool>,
    by_exposed: HashMap<String, String>,
    upstreams: Upstreams,
    pub(crate) sessions: Arc<Sessions>,
}

impl Shared {
    /// The gateway over `catalogue`: tools named as `prefix` says (`auto`: unprefixed when the
    /// catalogue has one source), upstream servers as they connected when it was built.
    pub(crate) async fn new(catalogue: Arc<Catalogue>, prefix: Prefix) -> Self {
        let prefixed = match prefix {
            Prefix::Always => true,
            Prefix::Never => false,
            Prefix::Auto => catalogue.sources().len() > 1,
        };
        let mut tools = Vec::new();
        let mut by_exposed = HashMap::new();
        for tool in catalogue.tools() {
            let exposed = if prefixed { tool.name.clone() } else { tool.original_name.clone() };
            if by_exposed.contains_key(&exposed) {
                warn!(tool = %exposed, source = %tool.source, "two sources have this tool and --prefix is never; the first is served");
                continue;
            }
            by_exposed.insert(exposed.clone(), tool.name.clone());
            tools.push(Tool::new(exposed, tool.description.clone(), Arc::clone(&tool.input_schema)));
        }
        let mut servers = Vec::new();
        for handle in catalogue.sources().iter().filter_map(|source| source.server_handle()) {
            match handle.capabilities().await {
                Ok(capabilities) => servers.push(Upstream { handle, capabilities }),
                Err(error) => {
                    warn!(server = %handle.name(), %error, "upstream server unavailable; its resources and prompts are not served");
                }
            }
        }
        Self {
            catalogue,
            tools,
            by_exposed,
            upstreams: Upstreams::new(servers, prefixed),
            sessions: Arc::new(Sessions::default()),
        }
    }

    /// The first upstream server's pool events (every server shares one pool).
    pub(crate) fn events(&self) -> Option<tokio::sync::broadcast::Receiver<crate::ServerEvent>> {
        self.upstreams.servers.first().map(|s| s.handle.events())
    }
}

/// One session's handler. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Gateway {
    shared: Arc<Shared>,
    session: Arc<Session>,
}

impl Gateway {
    /// A handler for a new session.
    pub(crate) fn session(shared: &Arc<Shared>) -> Self {
        let session = Arc::new(Session::default());
        shared.sessions.add(&session);
        Self { shared: Arc::clone(shared), session }
    }
}

fn content_of(content: Option<Value>, text: String) -> Vec<ContentBlock> {
    content
        .and_then(|content| serde_json::from_value::<Vec<ContentBlock>>(content).ok())
        .unwrap_or_else(|| vec![ContentBlock::text(text)])
}

#[allow(deprecated)] // logging: deprecated by SEP-2577 in rmcp, in the 2025-11-25 protocol
impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        let upstreams = &self.shared.upstreams;
        let mut capabilities = ServerCapabilities::builder().enable_tools().build();
        if upstreams.any(|c| c.resources.is_some()) {
            let subscribe = upstreams.any(|c| c.resources.as_ref().is_some_and(|r| r.subscribe == Some(true)));
            let mut resources = rmcp::model::ResourcesCapability::default();
            resources.subscribe = subscribe.then_some(true);
            resources.list_changed = Some(true);
            capabilities.resources = Some(resources);
        }
        if upstreams.any(|c| c.prompts.is_some()) {
            let mut prompts = rmcp::model::PromptsCapability::default();
            prompts.list_changed = Some(true);
            capabilities.prompts = Some(prompts);
        }
        if upstreams.any(|c| c.completions.is_some()) {
            capabilities.completions = Some(Default::default());
        }
        if upstreams.any(|c| c.logging.is_some()) {
            capabilities.logging = Some(Default::default());
        }
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("toolbridge", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "The tools of this toolbridge catalogue, and the resources and prompts of its MCP servers.",
            )
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        *self.session.peer.lock().unwrap_or_else(PoisonError::into_inner) = Some(context.peer);
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.shared.tools.clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = self.shared.by_exposed.get(request.name.as_ref()).map_or(request.name.as_ref(), String::as_str);
        // One log per call: a long-running server keeps nothing.
        let log = CallLog::new();
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let relay = CallRelay { peer: context.peer.clone(), progress_token: context.meta.get_progress_token() };
        let options = CallOptions {
            cancel: Some(context.ct.clone()),
            responder: Some(Arc::new(relay)),
            ..CallOptions::default()
        };
        let (record, content) = self
            .shared
            .catalogue
            .begin(&log, name, RawArguments::Value(&arguments), &context.id.to_string())
            .run_keeping_content(&options)
            .await;
        let content = content_of(content, record.output);
        let mut result = if record.success { CallToolResult::success(content) } else { CallToolResult::error(content) };
        if let Some(structured) = record.metadata.get("structured_content") {
            result.structured_content = Some(structured.clone());
        }
        Ok(CallToolResponse::Complete(result))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(self.shared.upstreams.list_resources().await?))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(self.shared.upstreams.list_resource_templates().await?))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.shared.upstreams.read_resource(request).await.map(Into::into)
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let uri = request.uri.clone();
        self.shared
            .upstreams
            .subscription(&uri, ClientRequest::SubscribeRequest(SubscribeRequest::new(request)))
            .await?;
        self.session.subscriptions.lock().unwrap_or_else(PoisonError::into_inner).insert(uri);
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let uri = request.uri.clone();
        self.session.subscriptions.lock().unwrap_or_else(PoisonError::into_inner).remove(&uri);
        // Other sessions may still want updates of this resource: only the last one unsubscribes upstream.
        if self.shared.sessions.any_subscribed(&uri) {
            return Ok(());
        }
        self.shared
            .upstreams
            .subscription(&uri, ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(request)))
            .await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(self.shared.upstreams.list_prompts().await?))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        self.shared.upstreams.get_prompt(request).await.map(Into::into)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        self.shared.upstreams.complete(request).await
    }

    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared.upstreams.set_level(request).await
    }
}
