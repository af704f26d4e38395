//! `toolbridge server`: the HTTP API and the dashboard, over the CLI's store, pool and
//! runtimes. SIGTERM/SIGINT cancel running executions, store their records, then exit.

use std::sync::{Arc, RwLock};

use toolbridge_server::{ApiToken, Server, ServerOptions};

use crate::args::ServerArgs;
use crate::error::{CliError, CliResult};
use crate::setup::App;

/// The token of `--token-file` or `--token`/`TOOLBRIDGE_API_TOKEN`; an empty one is an error.
fn token(args: &ServerArgs) -> CliResult<Option<ApiToken>> {
    let (text, origin) = match (&args.token_file, &args.token) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::usage(format!("--token-file {}: {e}", path.display())))?;
            (text, format!("--token-file {}", path.display()))
        }
        (None, Some(token)) => (token.clone(), "--token / TOOLBRIDGE_API_TOKEN".to_owned()),
        (None, None) => return Ok(None),
    };
    ApiToken::new(&text).map(Some).map_err(|e| CliError::usage(format!("{origin}: {e}")))
}

pub(crate) async fn run(app: &App, args: ServerArgs) -> CliResult {
    let printer = &app.printer;
    let token = token(&args)?;
    let store = app.store()?;
    let pool = app.pool();
    let registry = app.registry(&pool).await?;
    let mut options = ServerOptions::new(args.listen);
    options.token = token;
    options.allowed_hosts.clone_from(&args.allow_hosts);
    options.max_running = args.max_running.max(1);
    let server = Server::new(store, pool.clone(), Arc::new(RwLock::new(registry)), app.secrets.clone(), options)
        .map_err(CliError::usage)?;
    let bound = match server.bind().await {
        Ok(bound) => bound,
        Err(error) => {
            pool.shutdown().await;
            return Err(CliError::failure(error));
        }
    };
    let addr = bound.local_addr();
    let access = if bound.has_token() {
        "bearer token required".to_owned()
    } else {
        "no token: loopback only; set TOOLBRIDGE_API_TOKEN or --token-file to require one".to_owned()
    };
    printer
        .status(&format!("toolbridge server listening on http://{addr}/ (dashboard at /, API at /api/v1; {access})"));
    let outcome = bound.serve(crate::signals::termination()).await.map_err(CliError::failure);
    pool.shutdown().await;
    printer.status("toolbridge server stopped");
    outcome
}
