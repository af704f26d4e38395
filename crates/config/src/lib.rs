//! toolbridge's tool configuration, parsed once into types at the edge and carried typed from
//! there: MCP servers ([`McpServers`], [`ServerSpec`] as written → [`ServerConfig`] as used),
//! skills ([`SkillConfig`]), the tool policy ([`PolicyConfig`]), and the one set of
//! [`Secrets`] that whoever prints or stores something scrubs with.
//!
//! ```
//! use toolbridge_config::{McpServers, Secrets};
//!
//! let servers = McpServers::from_json(
//!     &serde_json::json!({"mcpServers": {"git": {"command": "uvx", "args": ["mcp-server-git"],
//!                                                  "env": {"GITHUB_TOKEN": "${TOKEN}"}}}}),
//!     "mcp.json",
//! )?;
//! let env = |name: &str| (name == "TOKEN").then(|| "ghp-very-secret".to_owned());
//! let resolved = servers.resolve("mcp.json", &env)?;
//! let secrets = Secrets::new();
//! resolved[0].register_secrets(&secrets);
//! assert_eq!(secrets.scrub("token ghp-very-secret"), "token [redacted]");
//! # Ok::<(), toolbridge_config::ConfigError>(())
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::unwrap_used)]

mod dotenv;
mod error;
mod features;
mod inputs;
mod mcp;
mod paths;
mod policy;
pub mod sandbox;
mod secrets;
mod server;
mod skill;
mod template;
mod tools;
mod values;

pub use dotenv::{DotenvError, parse_dotenv};
pub use error::ConfigError;
pub use features::{ElicitationAnswer, OAuthConfig, OAuthGrant, OAuthSpec, ServerFeatures};
pub use inputs::{
    INPUT_ENV_PREFIX, InputSpec, input_env_var, input_references, input_value, parse_inputs, provide_input,
};
pub use mcp::McpServers;
pub use paths::{absolute, expand_workspace_folder, workspace_folder};
pub use policy::{Conditions, PolicyConfig, PolicyRule, RuleSpec};
pub use secrets::{MIN_SECRET_LEN, REDACTED, SECRET_ENV_VARS, SecretValue, Secrets, looks_secret, mask_secret_keys};
pub use server::{
    DEFAULT_CALL_TIMEOUT, DEFAULT_STARTUP_TIMEOUT, HttpConfig, PoolKey, ServerConfig, ServerSpec, StdioConfig,
    ToolFilter, TransportConfig, TransportKind,
};
pub use skill::{
    FileGenerationSettings, FileSystemSettings, PythonSettings, ShellSettings, SkillConfig, SkillKind, SkillSettings,
    SleepSettings, parse_skills,
};
pub use template::{Env, MissingVariable, ProcessEnv, expand, is_template};
pub use tools::{
    MAX_CONFIG_FILE_BYTES, McpFile, ToolConfig, load_mcp_config, load_mcp_file, load_policy, load_skills, parse_json,
    parse_policy, read_json_file,
};
pub use values::{Flag, GlobList, Idempotent, ScalarString, Seconds, StringList};

#[cfg(test)]
mod tests;
