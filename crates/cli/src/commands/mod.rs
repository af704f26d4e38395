//! One module per subcommand.

pub(crate) mod agent;
pub(crate) mod call;
#[cfg(feature = "temporal")]
pub(crate) mod durable;
pub(crate) mod executions;
pub(crate) mod run;
pub(crate) mod runtimes;
pub(crate) mod serve;
pub(crate) mod tools;
#[cfg(feature = "temporal")]
pub(crate) mod worker;
