//! `toolbridge serve`: the whole catalogue as one MCP server.

use std::sync::Arc;

use toolbridge::serve::{GatewayOptions, HttpServeOptions, serve_http, serve_stdio};

use crate::args::ServeArgs;
use crate::error::{CliError, CliResult};
use crate::setup::App;

pub(crate) async fn run(app: &App, args: ServeArgs) -> CliResult {
    let printer = &app.printer;
    if !args.stdio && args.http.is_none() {
        return Err(CliError::usage("`serve` needs a transport: --stdio or --http ADDR").hint(
            "toolbridge serve --stdio (for an MCP client that starts it), or toolbridge serve --http 127.0.0.1:8808",
        ));
    }
    if args.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(CliError::usage("the serve token is empty: an empty token would turn authentication off")
            .hint("give a real token (--token or TOOLBRIDGE_SERVE_TOKEN), or unset TOOLBRIDGE_SERVE_TOKEN to serve loopback without one"));
    }
    if args.max_sessions == Some(0) || args.session_idle_timeout == 0 {
        return Err(CliError::usage("--max-sessions and --session-idle-timeout must be positive"));
    }
    let config = app.tools(&args.tools)?;
    let pool = app.pool();
    let catalogue = match app.catalogue(&config, &pool).await {
        Ok(catalogue) => Arc::new(catalogue),
        Err(error) => {
            pool.shutdown().await;
            return Err(error);
        }
    };
    let gateway = GatewayOptions { prefix: args.prefix };
    let outcome = if let Some(addr) = args.http {
        if !addr.ip().is_loopback() && args.token.is_none() && args.oauth_authorization_server.is_none() {
            printer.status(&format!(
                "{} serving on a non-loopback address without --token: anyone who can reach {addr} can call these tools",
                printer.red("warning:")
            ));
        }
        let mut options = HttpServeOptions {
            token: args.token.clone(),
            allowed_hosts: args.allow_hosts.clone(),
            session_idle_timeout: std::time::Duration::from_secs(args.session_idle_timeout),
            ..HttpServeOptions::default()
        };
        if let Some(max) = args.max_sessions {
            options.max_sessions = max;
        }
        if let (Some(issuer), Some(introspection)) = (&args.oauth_authorization_server, &args.oauth_introspection) {
            let client = match args.oauth_introspection_client.as_deref().map(|c| c.split_once(':')) {
                None => None,
                Some(Some((id, secret))) => {
                    app.secrets.add_all([secret.to_owned()]);
                    Some((id.to_owned(), toolbridge::config::SecretValue::new(secret)))
                }
                Some(None) => return Err(CliError::usage("--oauth-introspection-client must be ID:SECRET")),
            };
            options.oauth = Some(toolbridge::serve::ResourceServer {
                authorization_servers: vec![issuer.clone()],
                scopes: args.oauth_scopes.clone(),
                introspection_url: introspection.clone(),
                introspection_client: client,
                resource: args.oauth_resource.clone(),
            });
        }
        let tools = catalogue.len();
        serve_http(catalogue, addr, gateway, options, crate::signals::termination(), |bound| {
            printer.status(&format!("serving {tools} tools on http://{bound}/mcp"));
        })
        .await
        .map_err(CliError::failure)
    } else {
        serve_stdio(catalogue, gateway, crate::signals::termination()).await.map_err(CliError::failure)
    };
    pool.shutdown().await;
    outcome
}
