//! Where a plugin gets its tools: a streamable-HTTP MCP endpoint serving one execution's
//! catalogue.
//!
//! [`ToolEndpointProvider`] opens one per execution. [`CatalogueTools`] is the real one: it
//! builds the execution's catalogue (its MCP servers through the shared pool, its skills, its
//! policy) exactly as the bundled agent loop does, and serves it with
//! [`toolbridge::serve::ExecutionEndpoint`] on 127.0.0.1 behind a one-time bearer token. Calls
//! through it land in the execution's call log (the result's `tool_execution_messages`,
//! whatever the plugin reports) and emit `tool_start` / `tool_complete` events: plugins do not
//! send those themselves. The endpoint closes when the execution ends.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use toolbridge::config::{ProcessEnv, ToolConfig};
use toolbridge::serve::ExecutionEndpoint;
use toolbridge::{CatalogueBuilder, PolicyContext, Pool};
use toolbridge_runtime::{ExecutionScope, RuntimeError, RuntimeExecutionContext};

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

/// Ends an endpoint when its execution ends.
#[async_trait]
pub trait CloseEndpoint: Send + Sync {
    /// Stops serving; calls still running end (and are logged) before this returns.
    async fn close(self: Box<Self>);
}

/// One execution's tool endpoint.
pub struct ToolEndpoint {
    /// The streamable-HTTP MCP endpoint, e.g. `http://127.0.0.1:41234/mcp`.
    pub url: String,
    /// Headers the plugin must send with every request (e.g. a per-execution token).
    pub headers: BTreeMap<String, String>,
    /// Closes it when the execution ends (`None`: it outlives the execution).
    pub closer: Option<Box<dyn CloseEndpoint>>,
}

impl ToolEndpoint {
    /// An endpoint at `url` with no headers that outlives the execution.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), headers: BTreeMap::new(), closer: None }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets what closes it when the execution ends.
    #[must_use]
    pub fn closer(mut self, closer: impl CloseEndpoint + 'static) -> Self {
        self.closer = Some(Box::new(closer));
        self
    }
}

impl fmt::Debug for ToolEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are credentials: names only.
        f.debug_struct("ToolEndpoint")
            .field("url", &self.url)
            .field("headers", &self.headers.keys())
            .field("closes", &self.closer.is_some())
            .finish()
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

/// Serves each execution's own catalogue (its `mcp_servers`, `skills` and `policy`), its MCP
/// servers through `pool`. An execution with no tools configured gets `tools: null`.
#[derive(Debug, Clone)]
pub struct CatalogueTools {
    pool: Pool,
}

impl CatalogueTools {
    /// Tools from `pool` (shared with the rest of the process, so servers are reused).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl CloseEndpoint for ExecutionEndpoint {
    async fn close(self: Box<Self>) {
        ExecutionEndpoint::close(*self).await;
    }
}

#[async_trait]
impl ToolEndpointProvider for CatalogueTools {
    async fn open(
        &self,
        context: &RuntimeExecutionContext,
        scope: &ExecutionScope,
    ) -> Result<Option<ToolEndpoint>, RuntimeError> {
        if context.mcp_servers.is_empty() && context.skills.is_empty() {
            return Ok(None);
        }
        let tools = ToolConfig {
            mcp_servers: context.mcp_servers.clone(),
            skills: context.skills.clone(),
            policy: context.policy.clone(),
        };
        let catalogue = CatalogueBuilder::new(self.pool.clone())
            .tools(&tools, "mcp_servers", &ProcessEnv)
            .map_err(|e| RuntimeError::InvalidContext(e.to_string()))?
            .policy_context(PolicyContext::of(context))
            .build()
            .await
            .map_err(|e| RuntimeError::InvalidContext(e.to_string()))?;
        let endpoint = ExecutionEndpoint::open(Arc::new(catalogue), scope.clone())
            .await
            .map_err(|e| RuntimeError::execution(format!("cannot serve the execution's tools: {e}")))?;
        let (name, value) = endpoint.authorization();
        Ok(Some(ToolEndpoint::new(endpoint.url()).header(name, value).closer(endpoint)))
    }
}
