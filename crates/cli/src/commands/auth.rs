//! `toolbridge auth login|list|logout`: OAuth logins to MCP servers, kept in the store.

use std::sync::Arc;

use toolbridge::config::{ProcessEnv, TransportConfig};
use toolbridge::oauth::{LoopbackAuthorizer, describe_credentials};

use crate::args::AuthCommand;
use crate::error::{CliError, CliResult};
use crate::setup::App;

pub(crate) async fn run(app: &App, command: AuthCommand) -> CliResult {
    match command {
        AuthCommand::Login { server, tools, no_browser } => login(app, &server, &tools, no_browser).await,
        AuthCommand::List { json } => list(app, json).await,
        AuthCommand::Logout { server } => {
            let removed = app.store()?.clear_credentials(&server, None).await?;
            if removed == 0 {
                app.printer.status(&format!("no login for server {server:?}"));
            } else {
                app.printer.status(&format!("logged out of {server:?}"));
            }
            Ok(())
        }
    }
}

async fn login(app: &App, name: &str, tools: &crate::args::ToolArgs, no_browser: bool) -> CliResult {
    let printer = app.printer.clone();
    let config = app.tools(tools)?;
    let origin = config.origin;
    let servers = config.config.mcp_servers.resolve(&origin, &ProcessEnv).map_err(CliError::usage)?;
    let Some(server) = servers.into_iter().find(|s| s.name == name) else {
        return Err(CliError::usage(format!("no server named {name:?} in {origin:?}"))
            .hint("`toolbridge tools --mcp-config FILE` lists the servers of a file"));
    };
    let TransportConfig::Http(http) = &server.transport else {
        return Err(CliError::usage(format!("server {name:?} is a stdio server; only HTTP servers log in with OAuth")));
    };
    let port = http.oauth.as_ref().and_then(|o| o.redirect_port).unwrap_or(0);
    let notify = printer.clone();
    let authorizer = LoopbackAuthorizer::bind(port).await.map_err(CliError::failure)?.open_browser(!no_browser).on_url(
        move |server, url, opened| {
            let how = if opened { "a browser was opened; if nothing appeared, open" } else { "open" };
            notify.status(&format!("to authorize toolbridge for server {server:?}, {how} this URL:\n  {url}"));
        },
    );
    let pool = app.pool();
    let outcome = pool.login(&server, Arc::new(authorizer)).await;
    pool.shutdown().await;
    let summary = outcome.map_err(CliError::failure)?;
    let scopes = if summary.scopes.is_empty() { "no scopes".to_owned() } else { summary.scopes.join(" ") };
    printer.status(&format!(
        "logged in to {name:?} ({scopes}{})",
        if summary.refreshable { "; renews itself" } else { "" }
    ));
    Ok(())
}

async fn list(app: &App, json: bool) -> CliResult {
    let printer = &app.printer;
    let logins = app.store()?.list_credentials().await?;
    let rows: Vec<serde_json::Value> = logins
        .iter()
        .map(|login| {
            let summary = describe_credentials(&login.credentials);
            serde_json::json!({
                "server": login.server,
                "url": login.url,
                "client_id": summary.as_ref().map(|s| s.client_id.clone()),
                "scopes": summary.as_ref().map(|s| s.scopes.clone()).unwrap_or_default(),
                "expires_at": summary.as_ref().and_then(|s| s.expires_at),
                "refreshable": summary.as_ref().is_some_and(|s| s.refreshable),
                "updated_at": login.updated_at,
            })
        })
        .collect();
    if json {
        printer.json(&rows);
        return Ok(());
    }
    if rows.is_empty() {
        printer.status("no logins (log in with `toolbridge auth login SERVER --mcp-config FILE`)");
    }
    for (login, row) in logins.iter().zip(&rows) {
        let scopes: Vec<&str> =
            row["scopes"].as_array().map(|a| a.iter().filter_map(|s| s.as_str()).collect()).unwrap_or_default();
        let expiry = match row["expires_at"].as_u64() {
            Some(at) => chrono::DateTime::from_timestamp(i64::try_from(at).unwrap_or(i64::MAX), 0)
                .map_or_else(String::new, |t| format!("expires {}", t.format("%Y-%m-%d %H:%M"))),
            None => "no expiry".to_owned(),
        };
        let renews = if row["refreshable"].as_bool() == Some(true) { ", renews itself" } else { "" };
        printer.line(&format!("{}  {}  [{}]  {expiry}{renews}", login.server, login.url, scopes.join(" ")));
    }
    Ok(())
}
