//! The `toolbridge` command line as a library: a program of your own gets the whole CLI —
//! every command, the store, the servers — with your runtimes registered beside the built-in
//! ones.
//!
//! ```no_run
//! # use toolbridge_runtime::*;
//! # struct MyRuntime;
//! # #[async_trait] impl Runtime for MyRuntime {
//! #     fn runtime_type(&self) -> RuntimeType { RuntimeType::new("mine") }
//! #     fn capabilities(&self) -> RuntimeCapabilities { RuntimeCapabilities::default() }
//! #     async fn execute_impl(&self, c: &RuntimeExecutionContext, _: &ExecutionScope) -> Result<RuntimeExecutionResult, RuntimeError> {
//! #         Ok(RuntimeExecutionResult::success(c.prompt.clone())) }
//! # }
//! fn main() -> std::process::ExitCode {
//!     toolbridge_cli::Cli::new()
//!         .runtime_spec(|| RuntimeSpec::new("mine", "my runtime", |_deps| Ok(MyRuntime)))
//!         .run()
//! }
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod app;
mod args;
mod commands;
mod discovery;
mod elicit;
mod error;
mod live;
mod logging;
mod output;
mod plugins;
mod setup;
mod signals;
mod terminal;
mod tokens;

pub use app::Cli;
