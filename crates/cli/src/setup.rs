//! Wiring: what every command is given — the printer, the process's one set of secrets (handed
//! to the logs, the pool and the store), the database path, the runtimes to register — and the
//! few steps commands share (reading tool configuration once, making the pool, the registry,
//! the store, a catalogue).

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use toolbridge::config::{McpServers, ProcessEnv, Secrets, ToolConfig, load_mcp_file, load_policy, load_skills};
use toolbridge::{Catalogue, CatalogueBuilder, CatalogueError, Pool, PoolOptions, SandboxHelper, SourceFailure};
use toolbridge_agent::AgentLoopOptions;
use toolbridge_runtime::{RuntimeRegistry, RuntimeSpec};
use toolbridge_store::Store;

use crate::args::ToolArgs;
use crate::discovery::Discovered;
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::plugins::Plugins;
use crate::terminal::ask_for_inputs;

/// Makes a runtime's registry entry (a runtime registered by a program embedding the CLI).
pub(crate) type SpecFactory = Arc<dyn Fn() -> RuntimeSpec + Send + Sync>;

/// What every command runs with.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) printer: Printer,
    pub(crate) secrets: Secrets,
    pub(crate) db: Option<PathBuf>,
    pub(crate) runtimes: Vec<SpecFactory>,
    /// The runtime plugins registered by [`registry`](Self::registry), to shut down at the end.
    pub(crate) plugins: Plugins,
    /// Where Temporal is (durable executions).
    #[cfg(feature = "temporal")]
    pub(crate) temporal: toolbridge_durable::TemporalSettings,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("db", &self.db).field("runtimes", &self.runtimes.len()).finish_non_exhaustive()
    }
}

/// A `--flag JSON` argument.
pub(crate) fn parse_json_arg(text: &str, flag: &str) -> CliResult<Value> {
    serde_json::from_str(text).map_err(|e| {
        CliError::usage(format!("{flag}: invalid JSON at column {}: {e}", e.column()))
            .hint(format!("quote the JSON for the shell, e.g. {flag} '{{\"key\": 1}}'"))
    })
}

/// A tool configuration as read, and where its servers came from (for messages).
#[derive(Debug, Default)]
pub(crate) struct Tools {
    pub(crate) config: ToolConfig,
    pub(crate) origin: String,
}

impl App {
    pub(crate) fn new(
        printer: Printer,
        secrets: Secrets,
        db: Option<PathBuf>,
        runtimes: Vec<SpecFactory>,
        #[cfg(feature = "temporal")] temporal: toolbridge_durable::TemporalSettings,
    ) -> Self {
        Self {
            printer,
            secrets,
            db,
            runtimes,
            plugins: Plugins::default(),
            #[cfg(feature = "temporal")]
            temporal,
        }
    }

    /// The tool configuration of `--mcp-config` (else the discovered configuration files, see
    /// [`crate::discovery`]), `--skills` and `--policy`, read and typed once; the inputs its
    /// servers need asked for in a terminal.
    pub(crate) fn tools(&self, args: &ToolArgs) -> CliResult<Tools> {
        self.load_tools(args, true)
    }

    /// [`tools`](Self::tools), discovering configuration files only when `discover` says so
    /// (not for a stored agent, which gets exactly what it was given).
    pub(crate) fn load_tools(&self, args: &ToolArgs, discover: bool) -> CliResult<Tools> {
        let (servers, inputs, origin) = match &args.mcp_config {
            Some(path) => {
                let file = load_mcp_file(path).map_err(CliError::usage)?;
                (file.servers, file.inputs, path.display().to_string())
            }
            None if discover => {
                let found = Discovered::read()?;
                if !found.found.is_empty() {
                    tracing::info!(files = %found.origin(), "MCP servers from the discovered configuration");
                }
                (found.servers(), found.inputs(), found.origin())
            }
            None => (McpServers::new(), Vec::new(), String::new()),
        };
        ask_for_inputs(&servers, &inputs)?;
        let config = ToolConfig {
            mcp_servers: servers,
            skills: args.skills.as_deref().map(load_skills).transpose().map_err(CliError::usage)?.unwrap_or_default(),
            policy: args.policy.as_deref().map(load_policy).transpose().map_err(CliError::usage)?,
        };
        self.learn_secrets(&config);
        Ok(Tools { config, origin })
    }

    /// Adds the secrets of `config`'s servers to the process's set (a server whose templates do
    /// not resolve is reported when it is used).
    pub(crate) fn learn_secrets(&self, config: &ToolConfig) {
        if let Ok(servers) = config.mcp_servers.resolve("mcp_servers", &ProcessEnv) {
            for server in &servers {
                server.register_secrets(&self.secrets);
            }
        }
    }

    /// A pool that scrubs the process's secrets and launches children through this binary
    /// as the sandbox helper.
    /// OAuth logins come from (and refreshed tokens go to) the store; without one, tokens live
    /// in memory for this process.
    pub(crate) fn pool(&self) -> Pool {
        let mut options = PoolOptions {
            secrets: self.secrets.clone(),
            sandbox_helper: Some(SandboxHelper::CurrentExe),
            ..PoolOptions::default()
        };
        match self.store() {
            Ok(store) => options.token_store = Arc::new(crate::tokens::StoreTokens(store)),
            Err(error) => tracing::debug!(%error, "no store: OAuth tokens are kept in memory only"),
        }
        Pool::new(options)
    }

    /// The built-in runtimes: the agent loop (and, with the `temporal` feature, its durable
    /// twin) and every runtime the embedding program registered.
    pub(crate) fn builtin_registry(&self, pool: &Pool) -> CliResult<RuntimeRegistry> {
        self.builtin_registry_with(pool, None)
    }

    /// The built-in runtimes, the agent loop asking `elicitor` (the person at hand) when a
    /// server elicits.
    fn builtin_registry_with(
        &self,
        pool: &Pool,
        elicitor: Option<Arc<dyn toolbridge::Responder>>,
    ) -> CliResult<RuntimeRegistry> {
        let mut registry = RuntimeRegistry::new();
        let mut options = AgentLoopOptions::new(pool.clone());
        options.elicitor = elicitor;
        toolbridge_agent::register(&mut registry, options).map_err(CliError::failure)?;
        #[cfg(feature = "temporal")]
        toolbridge_durable::register(&mut registry, toolbridge_durable::DurableOptions::new(self.temporal.clone()))
            .map_err(CliError::failure)?;
        for spec in &self.runtimes {
            registry.register(spec()).map_err(CliError::failure)?;
        }
        Ok(registry)
    }

    /// The registry: the built-in runtimes and the runtime plugins registered in the store
    /// (started on first use; their tools served from `pool`).
    pub(crate) async fn registry(&self, pool: &Pool) -> CliResult<RuntimeRegistry> {
        self.registry_with(pool, None).await
    }

    /// The registry, with an elicitor that asks the person at hand when a server elicits.
    pub(crate) async fn registry_with(
        &self,
        pool: &Pool,
        elicitor: Option<Arc<dyn toolbridge::Responder>>,
    ) -> CliResult<RuntimeRegistry> {
        let mut registry = self.builtin_registry_with(pool, elicitor)?;
        let store = self.store()?;
        self.plugins.register(&mut registry, &store, pool, &self.printer).await?;
        Ok(registry)
    }

    /// Shuts down the runtime plugins the command started.
    pub(crate) async fn shutdown_plugins(&self) {
        self.plugins.shutdown().await;
    }

    /// The store (`--db`, `$TOOLBRIDGE_DB` or the default path), scrubbing the process's secrets;
    /// `TOOLBRIDGE_DB_BUSY_TIMEOUT_MS` sets how long a write waits for another process's lock.
    pub(crate) fn store(&self) -> CliResult<Arc<Store>> {
        let store = match self.db.as_deref() {
            Some(path) => Store::open(path),
            None => Store::open(&Store::default_path()),
        }?;
        if let Some(ms) = std::env::var("TOOLBRIDGE_DB_BUSY_TIMEOUT_MS").ok().and_then(|v| v.parse::<u64>().ok()) {
            store.set_busy_timeout(std::time::Duration::from_millis(ms))?;
        }
        Ok(Arc::new(store.with_secrets(self.secrets.clone())))
    }

    /// Builds the catalogue of `tools` (servers started in parallel, with a spinner on a
    /// terminal); unavailable servers are reported, one line each; a required one that is
    /// unavailable fails the command.
    pub(crate) async fn catalogue(&self, tools: &Tools, pool: &Pool) -> CliResult<Catalogue> {
        let printer = &self.printer;
        let config = &tools.config;
        let origin = if tools.origin.is_empty() { "mcp_servers" } else { tools.origin.as_str() };
        let builder =
            CatalogueBuilder::new(pool.clone()).tools(config, origin, &ProcessEnv).map_err(CliError::usage)?;
        let count = config.mcp_servers.len();
        let spinner =
            (count > 0).then(|| printer.spinner(format!("starting {}…", plural(count, "MCP server")))).flatten();
        let catalogue = builder.build().await.map_err(|error| match error {
            CatalogueError::RequiredUnavailable { server, error } => CliError::failure(format!(
                "required server {server:?} is unavailable: {}",
                without_name(&server, &error)
            )),
            other => CliError::usage(other),
        });
        if let Some(spinner) = spinner {
            spinner.finish_and_clear();
        }
        let catalogue = catalogue?;
        for failure in catalogue.failures() {
            self.unavailable(failure);
        }
        Ok(catalogue)
    }

    /// One line for a server that did not start.
    pub(crate) fn unavailable(&self, failure: &SourceFailure) {
        let printer = &self.printer;
        printer.status(&format!(
            "{} server {:?} unavailable: {}",
            printer.yellow("warning:"),
            failure.source,
            without_name(&failure.source, &failure.error)
        ));
    }
}

/// A server's error without the `server "NAME"` it starts with (the line names it already).
pub(crate) fn without_name<'a>(server: &str, error: &'a str) -> &'a str {
    let prefix = format!("server {server:?}");
    match error.strip_prefix(&prefix) {
        Some(rest) => rest.strip_prefix(':').unwrap_or(rest).trim_start(),
        None => error,
    }
}

/// `1 source`, `2 sources`.
pub(crate) fn plural(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}
