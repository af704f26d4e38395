//! The seam between a plugin runtime and whoever serves an execution's tools.
//!
//! A plugin calls tools through a streamable-HTTP MCP endpoint that toolbridge serves for
//! that execution alone (its catalogue, its policy). Serving it is another component's job;
//! this crate only needs, per execution: where it is ([`ToolEndpoint::url`] and
//! [`headers`](ToolEndpoint::headers)), something that keeps it open exactly as long as the
//! execution ([`guard`](ToolEndpoint::guard), dropped when the execution ends), and the call
//! log afterwards ([`ToolLog`]), which becomes the result's `tool_execution_messages`.
//!
//! The provider also gets the [`ExecutionScope`], so that it can emit `tool_start` /
//! `tool_complete` events for the calls it serves: plugins do not send those themselves.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use toolbridge_runtime::{ExecutionScope, RuntimeError, RuntimeExecutionContext, ToolCallRecord};

/// Opens the tool endpoint of one execution.
#[async_trait]
pub trait ToolEndpointProvider: Send + Sync + fmt::Debug {
    /// The endpoint for this execution, or `None` when it has no tools (the plugin then gets
    /// `tools: null`). An error fails the execution before the plugin sees it.
    async fn open(
        &self,
        context: &RuntimeExecutionContext,
        scope: &ExecutionScope,
    ) -> Result<Option<ToolEndpoint>, RuntimeError>;
}

/// The call log of one execution's endpoint.
#[async_trait]
pub trait ToolLog: Send + Sync {
    /// The calls made through the endpoint, in call order. Called once, after the endpoint's
    /// guard was dropped (so calls still running were ended, and recorded as such).
    async fn records(self: Box<Self>) -> Vec<ToolCallRecord>;
}

/// One execution's tool endpoint.
pub struct ToolEndpoint {
    /// The streamable-HTTP MCP endpoint, e.g. `http://127.0.0.1:41234/mcp`.
    pub url: String,
    /// Headers the plugin must send with every request (e.g. a per-execution token).
    pub headers: BTreeMap<String, String>,
    /// Keeps the endpoint open; dropped when the execution ends, which closes it.
    pub guard: Box<dyn Any + Send + Sync>,
    /// The endpoint's call log, read when the execution ends; `None` when calls are not
    /// logged (then the result has no `tool_execution_messages`).
    pub tool_log: Option<Box<dyn ToolLog>>,
}

impl ToolEndpoint {
    /// An endpoint at `url` with no headers, no guard and no log (e.g. a server that lives
    /// longer than the execution).
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), headers: BTreeMap::new(), guard: Box::new(()), tool_log: None }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the guard that keeps the endpoint open.
    #[must_use]
    pub fn guard(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Box::new(guard);
        self
    }

    /// Sets the call log.
    #[must_use]
    pub fn tool_log(mut self, log: impl ToolLog + 'static) -> Self {
        self.tool_log = Some(Box::new(log));
        self
    }
}

impl fmt::Debug for ToolEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are credentials: names only.
        f.debug_struct("ToolEndpoint")
            .field("url", &self.url)
            .field("headers", &self.headers.keys())
            .field("tool_log", &self.tool_log.is_some())
            .finish_non_exhaustive()
    }
}

/// For plugins run without tools: every execution gets `tools: null`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTools;

#[async_trait]
impl ToolEndpointProvider for NoTools {
    async fn open(
        &self,
        _context: &RuntimeExecutionContext,
        _scope: &ExecutionScope,
    ) -> Result<Option<ToolEndpoint>, RuntimeError> {
        Ok(None)
    }
}
