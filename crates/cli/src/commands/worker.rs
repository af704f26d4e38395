//! `toolbridge worker`: runs durable executions from a Temporal task queue until Ctrl-C or
//! SIGTERM (then lets the running tasks finish).

use tokio_util::sync::CancellationToken;
use toolbridge_agent::AgentLoopOptions;
use toolbridge_durable::{DurableError, WorkerConfig, run_worker};

use crate::args::{ToolArgs, WorkerArgs};
use crate::error::{CliError, CliResult};
use crate::setup::App;

pub(crate) async fn run(app: &App, args: WorkerArgs) -> CliResult {
    let printer = app.printer.clone();
    let tools = app.tools(&ToolArgs { mcp_config: args.mcp_config, skills: args.skills, policy: None })?;
    let pool = app.pool();
    let mut config = WorkerConfig::new(app.temporal.clone(), AgentLoopOptions::new(pool.clone()));
    config.tools = tools.config;
    config.max_concurrent = args.max_concurrent as usize;

    let shutdown = CancellationToken::new();
    let signals = tokio::spawn({
        let shutdown = shutdown.clone();
        let printer = printer.clone();
        async move {
            crate::signals::termination().await;
            printer.status(&printer.dim("stopping: letting running tasks finish…"));
            shutdown.cancel();
        }
    });
    let outcome = run_worker(config, shutdown, |info| {
        printer.status(&format!(
            "worker polling task queue {} on {} (namespace {}); Ctrl-C stops it",
            info.task_queue, info.address, info.namespace
        ));
    })
    .await;
    signals.abort();
    pool.shutdown().await;
    outcome.map_err(|error| match error {
        DurableError::Config(_) => CliError::usage(error),
        other => CliError::failure(other),
    })
}
