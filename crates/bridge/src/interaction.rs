//! What an MCP server asks of its client while a tool call runs — sampling
//! (`sampling/createMessage`), elicitation (`elicitation/create`) — and what it tells it
//! (progress, log messages), answered and heard by whoever made the call: a [`Responder`]
//! given with the call. The agent's responder answers sampling with the execution's model and
//! turns progress into `tool_progress` events; the gateway's relays everything to its own
//! client.
//!
//! A connection is shared by every execution (the pool), and a server's requests do not say
//! which call they belong to; they go to the responder of the call most recently started on
//! that connection and still running (progress, which names its call's token, goes to exactly
//! that call). Notifications not tied to a call (`resources/updated`, list changes, log lines
//! between calls) are published as [`ServerEvent`]s on [`Pool::events`](crate::Pool::events).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
// Sampling and logging are deprecated by SEP-2577 in rmcp, yet part of the 2025-11-25
// protocol toolbridge speaks.
pub use rmcp::model::ErrorData as McpError;
use rmcp::model::ProgressToken;
#[allow(deprecated)]
pub use rmcp::model::{
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult, ElicitationAction,
    LoggingMessageNotificationParam,
};
use tokio::sync::broadcast;

/// One progress notification of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Progress so far.
    pub progress: f64,
    /// The total, when known.
    pub total: Option<f64>,
    /// A message.
    pub message: Option<String>,
}

/// Answers a server's requests during a call, and hears its progress and log messages.
/// Every method has a default: sampling refused, elicitation declined, notifications dropped.
#[allow(deprecated)]
#[async_trait]
pub trait Responder: Send + Sync + fmt::Debug {
    /// `sampling/createMessage` from `server` (asked only of servers with `sampling: true`).
    async fn create_message(
        &self,
        server: &str,
        params: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, McpError> {
        let _ = params;
        Err(McpError::invalid_request(format!("sampling is not available to server {server:?}"), None))
    }

    /// `elicitation/create` from `server`; `None` lets the server's configured answer decide.
    async fn elicit(&self, server: &str, params: ElicitRequestParams) -> Option<Result<ElicitResult, McpError>> {
        let _ = (server, params);
        None
    }

    /// A progress notification for the call.
    async fn progress(&self, server: &str, progress: Progress) {
        let _ = (server, progress);
    }

    /// A log message from `server` while the call ran.
    async fn log(&self, server: &str, message: LoggingMessageNotificationParam) {
        let _ = (server, message);
    }
}

/// A notification from a server that no call is waiting for.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A subscribed resource changed.
    ResourceUpdated {
        /// The server.
        server: String,
        /// The resource.
        uri: String,
    },
    /// The server's resource list changed.
    ResourceListChanged {
        /// The server.
        server: String,
    },
    /// The server's prompt list changed.
    PromptListChanged {
        /// The server.
        server: String,
    },
    /// The server's tool list changed.
    ToolListChanged {
        /// The server.
        server: String,
    },
    /// A log message outside any call.
    #[allow(deprecated)]
    Log {
        /// The server.
        server: String,
        /// The message.
        message: LoggingMessageNotificationParam,
    },
}

/// The calls running on one connection, with their responders.
#[derive(Debug)]
pub(crate) struct Relay {
    server: String,
    calls: Mutex<Vec<Registered>>,
    next: AtomicU64,
    events: broadcast::Sender<ServerEvent>,
}

#[derive(Debug)]
struct Registered {
    id: u64,
    /// The progress token the request was sent with (known once it is sent).
    token: Option<ProgressToken>,
    responder: Arc<dyn Responder>,
}

/// Keeps a call registered; dropping it (the call ended, however) unregisters it.
#[derive(Debug)]
pub(crate) struct CallRegistration {
    relay: Arc<Relay>,
    id: u64,
}

impl CallRegistration {
    /// Notes the progress token the call's request was sent with.
    pub(crate) fn set_progress_token(&self, token: ProgressToken) {
        let mut calls = self.relay.calls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(call) = calls.iter_mut().find(|c| c.id == self.id) {
            call.token = Some(token);
        }
    }
}

impl Drop for CallRegistration {
    fn drop(&mut self) {
        self.relay.calls.lock().unwrap_or_else(PoisonError::into_inner).retain(|c| c.id != self.id);
    }
}

impl Relay {
    pub(crate) fn new(server: &str, events: broadcast::Sender<ServerEvent>) -> Self {
        Self { server: server.to_owned(), calls: Mutex::new(Vec::new()), next: AtomicU64::new(1), events }
    }

    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    /// Registers a call's responder until the returned guard drops.
    pub(crate) fn register(self: &Arc<Self>, responder: Arc<dyn Responder>) -> CallRegistration {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).push(Registered { id, token: None, responder });
        CallRegistration { relay: Arc::clone(self), id }
    }

    /// The responder of the most recently started call still running.
    pub(crate) fn latest(&self) -> Option<Arc<dyn Responder>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).last().map(|c| Arc::clone(&c.responder))
    }

    /// The responder of the call given `token`.
    pub(crate) fn by_token(&self, token: &ProgressToken) -> Option<Arc<dyn Responder>> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|c| c.token.as_ref() == Some(token))
            .map(|c| Arc::clone(&c.responder))
    }

    /// The responders of every running call.
    pub(crate) fn running(&self) -> Vec<Arc<dyn Responder>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|c| Arc::clone(&c.responder)).collect()
    }

    /// Publishes an event (nobody listening is fine).
    pub(crate) fn publish(&self, event: ServerEvent) {
        let _ = self.events.send(event);
    }
}
