//! The runtime plugins registered in the store (`toolbridge runtimes add`) as registry
//! entries: one host per plugin per command, its process started on first use (from the
//! registration, without asking the plugin again what it is), shut down when the command ends.

use std::sync::{Arc, Mutex, PoisonError};

use toolbridge::Pool;
use toolbridge_plugin::{CatalogueTools, PluginCommand, PluginHost, PluginInfo, PluginOptions, PluginRuntime};
use toolbridge_runtime::RuntimeRegistry;
use toolbridge_store::{Store, StoredPlugin};

use crate::error::CliResult;
use crate::output::Printer;

/// The plugins a command registered. Cheap to clone; clones share them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plugins {
    runtimes: Arc<Mutex<Vec<PluginRuntime>>>,
}

impl Plugins {
    /// Adds every stored plugin to `registry`. One that cannot be used (a registration this
    /// toolbridge cannot read, a name a built-in runtime took since) is skipped with a warning.
    pub(crate) async fn register(
        &self,
        registry: &mut RuntimeRegistry,
        store: &Store,
        pool: &Pool,
        printer: &Printer,
    ) -> CliResult {
        for stored in store.list_plugins().await? {
            let runtime = match self.get(&stored.name) {
                Some(runtime) => runtime,
                None => match runtime_of(&stored, pool) {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        warn(printer, &stored.name, &error);
                        continue;
                    }
                },
            };
            if registry.get(&stored.name.as_str().into()).is_ok() {
                warn(printer, &stored.name, "a built-in runtime has that name");
                continue;
            }
            if let Err(error) = registry.register(runtime.clone().into_spec()) {
                warn(printer, &stored.name, &error.to_string());
                continue;
            }
            let mut runtimes = self.runtimes.lock().unwrap_or_else(PoisonError::into_inner);
            if !runtimes.iter().any(|r| r.host().name() == stored.name) {
                runtimes.push(runtime);
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<PluginRuntime> {
        let runtimes = self.runtimes.lock().unwrap_or_else(PoisonError::into_inner);
        runtimes.iter().find(|r| r.host().name() == name).cloned()
    }

    /// The protocol's shutdown for every plugin process started, all at once.
    pub(crate) async fn shutdown(&self) {
        let runtimes = std::mem::take(&mut *self.runtimes.lock().unwrap_or_else(PoisonError::into_inner));
        futures::future::join_all(runtimes.iter().map(|runtime| runtime.host().shutdown())).await;
    }
}

fn warn(printer: &Printer, name: &str, why: &str) {
    printer.status(&format!(
        "{} runtime plugin {name:?} skipped: {why} (`toolbridge runtimes remove {name}`, then add it again)",
        printer.red("warning:")
    ));
}

/// The runtime of a registration, its tools served from `pool`.
fn runtime_of(stored: &StoredPlugin, pool: &Pool) -> Result<PluginRuntime, String> {
    let command: PluginCommand =
        serde_json::from_value(stored.command.clone()).map_err(|e| format!("unreadable command: {e}"))?;
    let info = PluginInfo::from_json(&stored.name, stored.info.clone()).map_err(|e| e.to_string())?;
    let host = PluginHost::new(&stored.name, command, PluginOptions::default());
    Ok(PluginRuntime::new(host, info, Arc::new(CatalogueTools::new(pool.clone()))))
}
