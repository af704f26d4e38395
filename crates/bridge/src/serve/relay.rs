//! The gateway's side of relaying: a call's [`Responder`] that hands an upstream server's
//! sampling and elicitation requests, progress and log lines to the client that made the call,
//! and the open sessions that hear what no call waits for (resource updates, list changes).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use async_trait::async_trait;
use rmcp::model::{ProgressNotificationParam, ProgressToken, ResourceUpdatedNotificationParam};
use rmcp::{Peer, RoleServer};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::debug;

#[allow(deprecated)] // sampling and logging: deprecated by SEP-2577 in rmcp, in the 2025-11-25 protocol
use crate::interaction::{
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
    LoggingMessageNotificationParam, McpError, Progress, Responder, ServerEvent,
};

/// Relays one downstream call's upstream interactions to the downstream client.
#[derive(Debug)]
pub(crate) struct CallRelay {
    pub(crate) peer: Peer<RoleServer>,
    /// The downstream client's progress token for the call, if it asked for progress.
    pub(crate) progress_token: Option<ProgressToken>,
}

#[allow(deprecated)] // sampling and logging: deprecated by SEP-2577 in rmcp, in the 2025-11-25 protocol
#[async_trait]
impl Responder for CallRelay {
    async fn create_message(
        &self,
        _server: &str,
        params: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, McpError> {
        if self.peer.peer_info().is_none_or(|info| info.capabilities.sampling.is_none()) {
            return Err(McpError::invalid_request("the gateway's client does not support sampling", None));
        }
        self.peer.create_message(params).await.map_err(|e| McpError::internal_error(e.to_string(), None))
    }

    async fn elicit(&self, _server: &str, params: ElicitRequestParams) -> Option<Result<ElicitResult, McpError>> {
        // A client without the capability cannot be asked: the server's configured answer holds.
        if self.peer.peer_info().is_none_or(|info| info.capabilities.elicitation.is_none()) {
            return None;
        }
        Some(self.peer.create_elicitation(params).await.map_err(|e| McpError::internal_error(e.to_string(), None)))
    }

    async fn progress(&self, _server: &str, progress: Progress) {
        let Some(token) = &self.progress_token else { return };
        let mut note = ProgressNotificationParam::new(token.clone(), progress.progress);
        note.total = progress.total;
        note.message = progress.message;
        let _ = self.peer.notify_progress(note).await;
    }

    async fn log(&self, _server: &str, message: LoggingMessageNotificationParam) {
        let _ = self.peer.notify_logging_message(message).await;
    }
}

/// One downstream session.
#[derive(Debug, Default)]
pub(crate) struct Session {
    pub(crate) peer: Mutex<Option<Peer<RoleServer>>>,
    pub(crate) subscriptions: Mutex<HashSet<String>>,
}

impl Session {
    pub(crate) fn peer(&self) -> Option<Peer<RoleServer>> {
        self.peer.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn subscribed(&self, uri: &str) -> bool {
        self.subscriptions.lock().unwrap_or_else(PoisonError::into_inner).contains(uri)
    }
}

/// The open sessions (weakly held: a closed session goes when its handler does).
#[derive(Debug, Default)]
pub(crate) struct Sessions(Mutex<Vec<Weak<Session>>>);

impl Sessions {
    pub(crate) fn add(&self, session: &Arc<Session>) {
        let mut sessions = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.retain(|s| s.strong_count() > 0);
        sessions.push(Arc::downgrade(session));
    }

    /// Whether any open session is subscribed to `uri`.
    pub(crate) fn any_subscribed(&self, uri: &str) -> bool {
        self.live().iter().any(|s| s.subscribed(uri))
    }

    fn live(&self) -> Vec<Arc<Session>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).iter().filter_map(Weak::upgrade).collect()
    }
}

/// Passes upstream events on to the sessions until `stop` fires.
#[allow(deprecated)] // logging: deprecated by SEP-2577 in rmcp, in the 2025-11-25 protocol
pub(crate) async fn pump_events(
    mut events: broadcast::Receiver<ServerEvent>,
    sessions: Arc<Sessions>,
    stop: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = events.recv() => match event {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    debug!(missed, "the gateway fell behind upstream events");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        for session in sessions.live() {
            let Some(peer) = session.peer() else { continue };
            let _ = match &event {
                ServerEvent::ResourceUpdated { uri, .. } if session.subscribed(uri) => {
                    peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri.clone())).await
                }
                ServerEvent::ResourceListChanged { .. } => peer.notify_resource_list_changed().await,
                ServerEvent::PromptListChanged { .. } => peer.notify_prompt_list_changed().await,
                ServerEvent::ToolListChanged { .. } => peer.notify_tool_list_changed().await,
                ServerEvent::Log { message, .. } => peer.notify_logging_message(message.clone()).await,
                _ => Ok(()),
            };
        }
    }
}
