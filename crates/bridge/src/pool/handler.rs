//! Our side of the protocol for every connection: the client capabilities we announce, and
//! the server's requests and notifications relayed to the running calls' responders.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationCapability,
    FormElicitationCapability, Implementation, ProtocolVersion,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ClientHandler, RoleClient};
use toolbridge_config::{ElicitationAnswer, ServerFeatures};

use crate::interaction::{Progress, Relay, ServerEvent};

/// Our side of the protocol: capabilities as the server's config allows (sampling, roots;
/// elicitation always, answered by the call's responder or the configured answer), requests
/// and notifications relayed to the running calls' [`Responder`](crate::Responder)s, and the
/// tool list marked stale on `notifications/tools/list_changed`.
#[derive(Debug, Clone)]
pub(crate) struct Handler {
    pub(crate) tools_stale: Arc<AtomicBool>,
    /// Answer form elicitations by accepting the schema's defaults when no responder does.
    pub(crate) accept_elicitation_defaults: bool,
    pub(crate) features: Arc<ServerFeatures>,
    /// The roots, as `file://` URIs.
    pub(crate) roots: Arc<Vec<String>>,
    pub(crate) relay: Arc<Relay>,
}

/// The defaults of a requested form schema, as the accepted content.
fn schema_defaults(requested_schema: &impl serde::Serialize) -> serde_json::Value {
    let schema = serde_json::to_value(requested_schema).unwrap_or_default();
    let content: serde_json::Map<String, serde_json::Value> = schema
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter_map(|(name, property)| property.get("default").map(|d| (name.clone(), d.clone())))
                .collect()
        })
        .unwrap_or_default();
    serde_json::Value::Object(content)
}

#[allow(deprecated)] // sampling, roots and logging: deprecated by SEP-2577 in rmcp, in the 2025-11-25 protocol
impl ClientHandler for Handler {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_stale.store(true, Ordering::Release);
        self.relay.publish(ServerEvent::ToolListChanged { server: self.relay.server().to_owned() });
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.relay.publish(ServerEvent::ResourceListChanged { server: self.relay.server().to_owned() });
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.relay.publish(ServerEvent::PromptListChanged { server: self.relay.server().to_owned() });
    }

    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.relay.publish(ServerEvent::ResourceUpdated { server: self.relay.server().to_owned(), uri: params.uri });
    }

    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        if let Some(responder) = self.relay.by_token(&params.progress_token) {
            let progress = Progress { progress: params.progress, total: params.total, message: params.message };
            responder.progress(self.relay.server(), progress).await;
        }
    }

    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let running = self.relay.running();
        if running.is_empty() {
            self.relay.publish(ServerEvent::Log { server: self.relay.server().to_owned(), message: params });
            return;
        }
        for responder in running {
            responder.log(self.relay.server(), params.clone()).await;
        }
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ListRootsResult, rmcp::ErrorData> {
        Ok(rmcp::model::ListRootsResult::new(
            self.roots.iter().map(|uri| rmcp::model::Root::new(uri.clone())).collect(),
        ))
    }

    async fn create_message(
        &self,
        params: rmcp::model::CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<rmcp::model::CreateMessageResult, rmcp::ErrorData> {
        let server = self.relay.server();
        if !self.features.sampling {
            return Err(rmcp::ErrorData::invalid_request(
                format!("sampling is not enabled for server {server:?} (set `sampling: true` in its config)"),
                None,
            ));
        }
        match self.relay.latest() {
            Some(responder) => responder.create_message(server, params).await,
            None => Err(rmcp::ErrorData::invalid_request("no running call can answer sampling", None)),
        }
    }

    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        let mut elicitation = ElicitationCapability::new();
        elicitation.form = Some(FormElicitationCapability::new());
        capabilities.elicitation = Some(elicitation);
        if self.features.sampling {
            capabilities.sampling = Some(Default::default());
        }
        if !self.roots.is_empty() {
            capabilities.roots = Some(Default::default());
        }
        // We speak the initialize handshake, so we propose the newest version that has one.
        ClientConfig::new(capabilities, Implementation::new("toolbridge", env!("CARGO_PKG_VERSION")))
            .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        if let Some(responder) = self.relay.latest()
            && let Some(answer) = responder.elicit(self.relay.server(), request.clone()).await
        {
            return answer;
        }
        let answer = if self.accept_elicitation_defaults {
            ElicitationAnswer::AcceptDefaults
        } else {
            self.features.elicitation
        };
        Ok(match (answer, request) {
            (
                ElicitationAnswer::AcceptDefaults,
                ElicitRequestParams::FormElicitationParams { requested_schema, .. },
            ) => ElicitResult::new(ElicitationAction::Accept).with_content(schema_defaults(&requested_schema)),
            (ElicitationAnswer::Cancel, _) => ElicitResult::new(ElicitationAction::Cancel),
            _ => ElicitResult::new(ElicitationAction::Decline),
        })
    }
}
