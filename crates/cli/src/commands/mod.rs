//! One module per subcommand, and what several share.

pub(crate) mod agent;
pub(crate) mod agent_view;
pub(crate) mod auth;
pub(crate) mod call;
pub(crate) mod chat;
#[cfg(feature = "temporal")]
pub(crate) mod durable;
pub(crate) mod executions;
pub(crate) mod mcp;
pub(crate) mod run;
pub(crate) mod runtimes;
pub(crate) mod schema_table;
pub(crate) mod serve;
pub(crate) mod server;
pub(crate) mod session;
pub(crate) mod tools;
#[cfg(feature = "temporal")]
pub(crate) mod worker;
