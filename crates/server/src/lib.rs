//! toolbridge's HTTP API and dashboard, as a library: what `toolbridge server` runs, and what
//! a program of your own can mount.
//!
//! - [`Server`] is made from the same parts as the CLI — the [`Store`](toolbridge_store::Store),
//!   the MCP [`Pool`](toolbridge::Pool) and a [`SharedRegistry`] of runtimes — and
//!   [`ServerOptions`] (address, [`ApiToken`], allowed hosts, [`Limits`]).
//! - Routes live in one table (`routes`), from which both the router and the OpenAPI 3.1
//!   document at `/api/v1/openapi.json` are built.
//! - Executions run as tasks the server owns (`executions`): viewers follow them over
//!   Server-Sent Events, a client that leaves stops nothing, shutdown cancels them and waits
//!   for their records.
//! - The dashboard (`assets`) is compiled into the binary and served at `/`.
//!
//! Security: without a token the server only binds loopback addresses; `Host` and `Origin`
//! are checked on every request; bodies, headers and URIs are bounded; errors are
//! `{"error": {"code", "message", "field"?}}`, never a stack trace.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::{Arc, RwLock};
//! use toolbridge_server::{Server, ServerOptions};
//!
//! let store = Arc::new(toolbridge_store::Store::open_default()?);
//! let pool = toolbridge::Pool::default();
//! let registry = Arc::new(RwLock::new(toolbridge_runtime::RuntimeRegistry::new()));
//! let options = ServerOptions::new("127.0.0.1:8080".parse()?);
//! let server = Server::new(store, pool.clone(), registry, Default::default(), options)?.bind().await?;
//! println!("listening on http://{}/", server.local_addr());
//! server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! pool.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::unwrap_used)]

mod assets;
mod error;
mod executions;
mod metrics;
mod openapi;
mod routes;
mod security;
mod server;
mod state;

pub use error::ApiError;
pub use executions::SharedRegistry;
pub use security::{ApiToken, Limits};
pub use server::{BoundServer, Server, ServerError, ServerOptions};
