//! Building an execution's catalogue from configuration: MCP servers (through the pool),
//! skills, custom sources, a policy.

use std::sync::Arc;

use crate::catalogue::{Catalogue, CatalogueOptions};
use crate::config::ServerConfig;
use crate::mcp_source::McpSource;
use crate::policy::{Policy, PolicyContext};
use crate::pool::Pool;
use crate::skill_source::SkillSource;
use crate::skills::{SkillConfig, build_skill};
use crate::source::ToolSource;

/// A configuration problem that keeps the catalogue from being built (a server that fails
/// to start does not: it degrades the catalogue).
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// A skill's configuration is invalid.
    #[error(transparent)]
    Skill(#[from] crate::skills::SkillConfigError),
    /// A server's tool filter is invalid.
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
}

/// Builds a [`Catalogue`] from configuration.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use toolbridge::{CatalogueBuilder, config::load_mcp_config, pool::Pool};
/// let pool = Pool::new(Default::default());
/// let servers = load_mcp_config("mcp.json".as_ref())?;
/// let catalogue = CatalogueBuilder::new(pool.clone()).servers(servers).build().await?;
/// for tool in catalogue.tools() {
///     println!("{}: {}", tool.name, tool.description);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CatalogueBuilder {
    pool: Pool,
    servers: Vec<ServerConfig>,
    skills: Vec<SkillConfig>,
    sources: Vec<Arc<dyn ToolSource>>,
    policy: Policy,
    policy_context: PolicyContext,
    options: CatalogueOptions,
}

impl CatalogueBuilder {
    /// A builder whose MCP servers connect through `pool`.
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            servers: Vec::new(),
            skills: Vec::new(),
            sources: Vec::new(),
            policy: Policy::allow_all(),
            policy_context: PolicyContext { environment: "production".into(), ..PolicyContext::default() },
            options: CatalogueOptions::default(),
        }
    }

    /// Adds MCP servers (disabled ones are skipped).
    #[must_use]
    pub fn servers(mut self, servers: impl IntoIterator<Item = ServerConfig>) -> Self {
        self.servers.extend(servers.into_iter().filter(|s| s.enabled));
        self
    }

    /// Adds skills (disabled ones are skipped).
    #[must_use]
    pub fn skills(mut self, skills: impl IntoIterator<Item = SkillConfig>) -> Self {
        self.skills.extend(skills.into_iter().filter(|s| s.enabled));
        self
    }

    /// Adds custom tool sources.
    #[must_use]
    pub fn sources(mut self, sources: impl IntoIterator<Item = Arc<dyn ToolSource>>) -> Self {
        self.sources.extend(sources);
        self
    }

    /// Sets the policy and who it is judged for.
    #[must_use]
    pub fn policy(mut self, policy: Policy, context: PolicyContext) -> Self {
        self.policy = policy;
        self.policy_context = context;
        self
    }

    /// Sets the catalogue options.
    #[must_use]
    pub fn options(mut self, options: CatalogueOptions) -> Self {
        self.options = options;
        self
    }

    /// Starts (or reuses) every server in parallel, builds the skills, lists all tools.
    pub async fn build(self) -> Result<Catalogue, CatalogueError> {
        let mut sources: Vec<Arc<dyn ToolSource>> =
            Vec::with_capacity(self.servers.len() + self.skills.len() + self.sources.len());
        for server in self.servers {
            sources.push(Arc::new(McpSource::new(server, self.pool.clone())?));
        }
        for skill in &self.skills {
            sources.push(Arc::new(SkillSource::new(build_skill(skill)?)));
        }
        sources.extend(self.sources);
        Ok(Catalogue::build(sources, &self.policy, &self.policy_context, self.options).await)
    }
}
