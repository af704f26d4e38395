//! One `tools/call` whose server may report progress: rmcp gives every request a progress
//! token of its own choosing, so the call's responder is keyed by that token once the request
//! is sent, and dropping the call (timeout, cancellation) still sends `notifications/cancelled`
//! as rmcp's own `call_tool_once` does.

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CancelledNotificationParam, ClientRequest, RequestId,
    ServerResult,
};
use rmcp::service::PeerRequestOptions;
use rmcp::{Peer, RoleClient, ServiceError};

use crate::interaction::CallRegistration;

/// Sends `notifications/cancelled` for a request abandoned before its answer.
struct CancelOnDrop {
    peer: Peer<RoleClient>,
    id: Option<RequestId>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let peer = self.peer.clone();
        // Fire and forget: the notification is one message on a live connection (or nothing
        // on a dead one); the task ends either way.
        runtime.spawn(async move {
            let params = CancelledNotificationParam::new(Some(id), Some("the call was cancelled or timed out".into()));
            let _ = peer.notify_cancelled(params).await;
        });
    }
}

/// Calls a tool once; with a registration, the call's responder hears the progress the server
/// reports against the request's token.
pub(super) async fn call_tool_once(
    peer: &Peer<RoleClient>,
    params: CallToolRequestParams,
    registration: Option<&CallRegistration>,
) -> Result<CallToolResponse, ServiceError> {
    let Some(registration) = registration else { return peer.call_tool_once(params).await };
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let handle = peer.send_request_with_option(request, PeerRequestOptions::no_options()).await?;
    registration.set_progress_token(handle.progress_token.clone());
    let mut guard = CancelOnDrop { peer: peer.clone(), id: Some(handle.id.clone()) };
    let result = handle.await_response().await;
    guard.id = None;
    match result? {
        ServerResult::CallToolResult(result) => Ok(CallToolResponse::Complete(result)),
        ServerResult::InputRequiredResult(result) => Ok(CallToolResponse::InputRequired(result)),
        ServerResult::CreateTaskResult(result) => Ok(CallToolResponse::Task(result)),
        _ => Err(ServiceError::UnexpectedResponse),
    }
}
