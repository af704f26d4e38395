//! Wiring: configuration files → typed configs, the pool, the runtime registry, the store.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use toolbridge::config::{ServerConfig, load_mcp_config};
use toolbridge::policy::{Policy, PolicyContext};
use toolbridge::pool::{Pool, PoolOptions};
use toolbridge::skills::{SkillConfig, load_skills};
use toolbridge::{Catalogue, CatalogueBuilder};
use toolbridge_agent::AgentLoopOptions;
use toolbridge_runtime::RuntimeRegistry;
use toolbridge_store::Store;

use crate::args::ToolArgs;
use crate::error::{CliError, CliResult};
use crate::output::Printer;

/// The tool configuration of a command.
#[derive(Debug, Default)]
pub(crate) struct ToolSetup {
    pub(crate) servers: Vec<ServerConfig>,
    pub(crate) skills: Vec<SkillConfig>,
    pub(crate) policy: Option<Value>,
}

pub(crate) fn read_json_file(path: &Path, what: &str) -> CliResult<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read {what} {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        CliError::usage(format!(
            "{what} {}: invalid JSON at line {}, column {}: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}

pub(crate) fn parse_json_arg(text: &str, flag: &str) -> CliResult<Value> {
    serde_json::from_str(text).map_err(|e| {
        CliError::usage(format!("{flag}: invalid JSON at column {}: {e}", e.column()))
            .hint(format!("quote the JSON for the shell, e.g. {flag} '{{\"key\": 1}}'"))
    })
}

impl ToolSetup {
    pub(crate) fn load(args: &ToolArgs) -> CliResult<Self> {
        let servers = match &args.mcp_config {
            Some(path) => load_mcp_config(path).map_err(CliError::usage)?,
            None => Vec::new(),
        };
        register_server_secrets(&servers);
        let skills = match &args.skills {
            Some(path) => load_skills(path).map_err(CliError::usage)?,
            None => Vec::new(),
        };
        let policy = match &args.policy {
            Some(path) => {
                let value = read_json_file(path, "policy file")?;
                Policy::from_json(&value).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
                Some(value)
            }
            None => None,
        };
        Ok(Self { servers, skills, policy })
    }

    /// Builds the catalogue (servers started in parallel, with a spinner on a terminal).
    pub(crate) async fn catalogue(&self, pool: &Pool, printer: &Printer) -> CliResult<Catalogue> {
        let policy = match &self.policy {
            Some(value) => Policy::from_json(value).map_err(CliError::usage)?,
            None => Policy::allow_all(),
        };
        let context = PolicyContext { environment: "production".into(), ..PolicyContext::default() };
        let spinner = (!self.servers.is_empty())
            .then(|| printer.spinner(format!("starting {} MCP server(s)…", self.servers.len())))
            .flatten();
        let catalogue = CatalogueBuilder::new(pool.clone())
            .servers(self.servers.iter().cloned())
            .skills(self.skills.iter().cloned())
            .policy(policy, context)
            .build()
            .await
            .map_err(CliError::usage);
        if let Some(spinner) = spinner {
            spinner.finish_and_clear();
        }
        let catalogue = catalogue?;
        for failure in catalogue.failures() {
            printer.status(&format!(
                "{} server {:?} unavailable: {}",
                printer.red("warning:"),
                failure.source,
                failure.error
            ));
        }
        Ok(catalogue)
    }
}

/// The servers' `env` and `headers` values never reach a log line.
pub(crate) fn register_server_secrets(servers: &[ServerConfig]) {
    use toolbridge::config::{SecretValue, TransportConfig};
    let values = servers.iter().flat_map(|server| match &server.transport {
        TransportConfig::Stdio(stdio) => stdio.env.values().map(SecretValue::expose).collect::<Vec<_>>(),
        TransportConfig::Http(http) => http.headers.values().map(SecretValue::expose).collect(),
    });
    crate::logging::register_secrets(values.flat_map(|value| {
        let bare = value.split_once(' ').map(|(_, rest)| rest.trim().to_owned());
        std::iter::once(value.to_owned()).chain(bare)
    }));
}

pub(crate) fn pool() -> Pool {
    Pool::new(PoolOptions::default())
}

pub(crate) fn registry(pool: &Pool) -> CliResult<RuntimeRegistry> {
    let mut registry = RuntimeRegistry::new();
    toolbridge_agent::register(&mut registry, AgentLoopOptions::new(pool.clone())).map_err(CliError::failure)?;
    Ok(registry)
}

pub(crate) fn store(db: Option<&Path>) -> CliResult<Arc<Store>> {
    let store = match db {
        Some(path) => Store::open(path),
        None => Store::open_default(),
    }?;
    Ok(Arc::new(store))
}
