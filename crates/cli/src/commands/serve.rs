//! `toolbridge serve`: the whole catalogue as one MCP server.

use std::sync::Arc;

use toolbridge::serve::{HttpServeOptions, serve_http, serve_stdio};

use crate::args::ServeArgs;
use crate::error::{CliError, CliResult};
use crate::setup::App;

pub(crate) async fn run(app: &App, args: ServeArgs) -> CliResult {
    let printer = &app.printer;
    let config = app.tools(&args.tools)?;
    let pool = app.pool();
    let origin = args.tools.mcp_config.clone().unwrap_or_default();
    let catalogue = match app.catalogue(&config, &origin, &pool).await {
        Ok(catalogue) => Arc::new(catalogue),
        Err(error) => {
            pool.shutdown().await;
            return Err(error);
        }
    };
    let outcome = if let Some(addr) = args.http {
        if !addr.ip().is_loopback() && args.token.is_none() {
            printer.status(&format!(
                "{} serving on a non-loopback address without --token: anyone who can reach {addr} can call these tools",
                printer.red("warning:")
            ));
        }
        let options = HttpServeOptions { token: args.token.clone(), allowed_hosts: args.allow_hosts.clone() };
        let tools = catalogue.len();
        serve_http(catalogue, addr, options, crate::signals::termination(), |bound| {
            printer.status(&format!("serving {tools} tools on http://{bound}/mcp"));
        })
        .await
        .map_err(CliError::failure)
    } else {
        serve_stdio(catalogue, crate::signals::termination()).await.map_err(CliError::failure)
    };
    pool.shutdown().await;
    outcome
}
