//! One module per subcommand.

pub(crate) mod agent;
pub(crate) mod auth;
pub(crate) mod call;
pub(crate) mod executions;
pub(crate) mod run;
pub(crate) mod runtimes;
pub(crate) mod serve;
pub(crate) mod server;
pub(crate) mod tools;
