//! Building an execution's catalogue from its typed tool configuration: MCP servers (through
//! the pool), skills, custom sources, a policy.

use std::collections::HashSet;
use std::sync::Arc;

use toolbridge_config::{ConfigError, Env, ServerConfig, SkillConfig, ToolConfig};

use super::{Catalogue, CatalogueOptions};
use crate::mcp::McpSource;
use crate::policy::{Policy, PolicyContext, PolicyError};
use crate::pool::Pool;
use crate::skills::build_skill_with;
use crate::source::{SourceError, ToolSource};

/// A configuration problem that keeps the catalogue from being built (a server that fails
/// to start does not, unless it is `required`: it degrades the catalogue).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogueError {
    /// A server's or skill's configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A server's tool filter is invalid.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Two sources (servers, skills, custom tools) have the same name, so their tools would
    /// have the same catalogue names.
    #[error("two tool sources are named {0:?} (a server and a skill, or two skills); rename one")]
    DuplicateSource(String),
    /// A server configured `required: true` did not start.
    #[error("required server {server:?} is unavailable: {error}")]
    RequiredUnavailable {
        /// The server.
        server: String,
        /// Why it is unavailable.
        error: String,
    },
}

/// Builds a [`Catalogue`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use toolbridge::{CatalogueBuilder, Pool, config::{ProcessEnv, ToolConfig}};
/// let pool = Pool::default();
/// let config = ToolConfig::load(Some("mcp.json".as_ref()), None, None)?;
/// let catalogue = CatalogueBuilder::new(pool.clone()).tools(&config, "mcp.json", &ProcessEnv)?.build().await?;
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
            policy_context: PolicyContext::default(),
            options: CatalogueOptions::default(),
        }
    }

    /// Adds a tool configuration: its servers (templates expanded from `env`), skills and
    /// policy (judged for the default context unless [`policy_context`](Self::policy_context)
    /// says who runs it).
    pub fn tools(mut self, config: &ToolConfig, origin: &str, env: &dyn Env) -> Result<Self, CatalogueError> {
        self.servers.extend(config.mcp_servers.resolve(origin, env)?.into_iter().filter(|s| s.enabled));
        self.skills.extend(config.skills.iter().filter(|s| s.enabled).cloned());
        if let Some(policy) = &config.policy {
            self.policy = Policy::compile(policy)?;
        }
        Ok(self)
    }

    /// Adds resolved MCP servers (disabled ones are skipped).
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

    /// Sets the policy.
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets who the policy is judged for.
    #[must_use]
    pub fn policy_context(mut self, context: PolicyContext) -> Self {
        self.policy_context = context;
        self
    }

    /// Sets the catalogue options.
    #[must_use]
    pub fn options(mut self, options: CatalogueOptions) -> Self {
        self.options = options;
        self
    }

    /// Starts (or reuses) every server in parallel, builds the skills, lists all tools. A
    /// server that does not start degrades the catalogue ([`Catalogue::failures`]), unless it
    /// is `required`: then the build fails.
    pub async fn build(self) -> Result<Catalogue, CatalogueError> {
        let required: HashSet<String> = self.servers.iter().filter(|s| s.required).map(|s| s.name.clone()).collect();
        let mut sources: Vec<Arc<dyn ToolSource>> =
            Vec::with_capacity(self.servers.len() + self.skills.len() + self.sources.len());
        for server in self.servers {
            sources.push(Arc::new(McpSource::new(server, self.pool.clone())?));
        }
        for skill in &self.skills {
            sources.push(Arc::new(build_skill_with(skill, self.pool.launcher())?));
        }
        sources.extend(self.sources);
        let mut names = HashSet::with_capacity(sources.len());
        if let Some(duplicate) = sources.iter().find(|s| !names.insert(s.name().to_owned())) {
            return Err(CatalogueError::DuplicateSource(duplicate.name().to_owned()));
        }
        let catalogue = Catalogue::build(sources, &self.policy, &self.policy_context, self.options).await;
        if let Some(failure) = catalogue.failures().iter().find(|f| required.contains(&f.source)) {
            return Err(CatalogueError::RequiredUnavailable {
                server: failure.source.clone(),
                error: failure.error.clone(),
            });
        }
        Ok(catalogue)
    }
}
