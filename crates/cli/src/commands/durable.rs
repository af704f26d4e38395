//! Durable executions in the CLI (feature `temporal`): the Temporal settings of the global
//! flags, and `executions show` settling a durable execution whose starter did not see its end.

use toolbridge_durable::{DURABLE_AGENT_LOOP, RemoteExecution, TemporalSettings};
use toolbridge_runtime::ExecutionStatus;
use toolbridge_store::{Store, StoredExecution};

use crate::args::TemporalArgs;
use crate::error::CliResult;
use crate::setup::App;

/// The settings of `--temporal`, `--namespace`, `--task-queue`, `--tls-*` (Temporal's
/// environment fills in the rest when the client connects).
pub(crate) fn settings(args: &TemporalArgs) -> TemporalSettings {
    TemporalSettings {
        address: args.address.clone(),
        namespace: args.namespace.clone(),
        task_queue: args.task_queue.clone(),
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        tls_ca: args.tls_ca.clone(),
        connect_timeout: std::time::Duration::try_from_secs_f64(args.connect_timeout)
            .unwrap_or(toolbridge_durable::DEFAULT_CONNECT_TIMEOUT),
    }
}

/// A durable execution stored as still running (or interrupted: its starter died) is looked
/// up on Temporal; when it has ended there, its record is stored now and read back. Temporal
/// being out of reach is a warning: what the store has is shown.
pub(crate) async fn settle(app: &App, store: &Store, execution: StoredExecution) -> CliResult<StoredExecution> {
    let summary = &execution.summary;
    if summary.runtime_type != DURABLE_AGENT_LOOP
        || !matches!(summary.status, ExecutionStatus::Running | ExecutionStatus::Interrupted)
    {
        return Ok(execution);
    }
    let printer = &app.printer;
    match toolbridge_durable::settle(store, &app.temporal, &summary.id).await {
        Ok(RemoteExecution::Finished { .. }) => Ok(store.get_execution(&summary.id).await?.unwrap_or(execution)),
        Ok(RemoteExecution::Running) => {
            printer.status(&printer.dim("still running on Temporal (a worker will finish it)"));
            Ok(execution)
        }
        Ok(RemoteExecution::NotFound) => {
            printer.status(&format!("{} Temporal has no execution {}", printer.red("warning:"), summary.id));
            Ok(execution)
        }
        Err(error) => {
            printer.status(&format!("{} cannot ask Temporal about it: {error}", printer.red("warning:")));
            Ok(execution)
        }
    }
}
