//! What every handler is given: the store, the pool, the running executions, the metrics and
//! the process's secrets. Cheap to clone.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use toolbridge::Pool;
use toolbridge::config::Secrets;
use toolbridge_store::Store;

use crate::executions::Executions;
use crate::metrics::Metrics;

/// The handlers' shared state.
#[derive(Debug, Clone)]
pub(crate) struct AppState(pub(crate) Arc<Shared>);

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<Store>,
    pub(crate) pool: Pool,
    pub(crate) executions: Arc<Executions>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) secrets: Secrets,
    /// Fires when the server stops: streams that wait on something other than an execution of
    /// this server end then.
    pub(crate) stopping: CancellationToken,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
