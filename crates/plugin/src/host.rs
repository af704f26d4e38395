//! The host of one registered plugin runtime: one process at a time, started on first use,
//! shared by every execution, replaced after a crash, stopped by [`PluginHost::shutdown`] or
//! when the last clone of the host is dropped.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::{info, warn};

use crate::command::{PluginCommand, PluginOptions};
use crate::error::PluginError;
use crate::info::PluginInfo;
use crate::process::PluginProcess;

struct Inner {
    name: String,
    command: PluginCommand,
    options: PluginOptions,
    /// The current process, if one was started (it may have died since).
    current: Mutex<Option<Arc<PluginProcess>>>,
    /// Held while a process starts, so that concurrent first executions start one, not many.
    starting: tokio::sync::Mutex<()>,
    shut_down: AtomicBool,
}

/// The host of one plugin runtime. Cheap to clone; clones share the process.
///
/// Dropping the last clone drops the process, whose process group is killed; call
/// [`shutdown`](Self::shutdown) first for the protocol's graceful sequence.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

impl fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginHost")
            .field("name", &self.inner.name)
            .field("command", &self.inner.command)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

impl PluginHost {
    /// A host for the plugin started by `command`; nothing runs until first use.
    pub fn new(name: impl Into<String>, command: PluginCommand, options: PluginOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                command,
                options,
                current: Mutex::new(None),
                starting: tokio::sync::Mutex::new(()),
                shut_down: AtomicBool::new(false),
            }),
        }
    }

    /// The plugin's name (its runtime type).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The options the host runs with.
    pub fn options(&self) -> &PluginOptions {
        &self.inner.options
    }

    /// Starts the plugin if it is not running and returns what it said in `initialize`.
    pub async fn start(&self) -> Result<PluginInfo, PluginError> {
        Ok(self.process().await?.info().clone())
    }

    /// The running process, started (or restarted after a crash) if needed.
    pub async fn process(&self) -> Result<Arc<PluginProcess>, PluginError> {
        if let Some(process) = self.running() {
            return Ok(process);
        }
        let _starting = self.inner.starting.lock().await;
        if let Some(process) = self.running() {
            return Ok(process);
        }
        if self.inner.shut_down.load(Ordering::Acquire) {
            return Err(PluginError::ShutDown { plugin: self.inner.name.clone() });
        }
        let restart = self.current().is_some();
        let process = Arc::new(PluginProcess::start(&self.inner.name, &self.inner.command, &self.inner.options).await?);
        if restart {
            warn!(plugin = %self.inner.name, pid = ?process.pid(), "plugin process restarted");
        } else {
            info!(plugin = %self.inner.name, pid = ?process.pid(), "plugin process started");
        }
        // The dead process, if any, is dropped here once its last execution lets go of it.
        *self.inner.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&process));
        Ok(process)
    }

    /// The current process if it is alive.
    fn running(&self) -> Option<Arc<PluginProcess>> {
        self.current().filter(|process| process.is_alive())
    }

    /// The current process, alive or not (for cancelling what runs on it).
    pub(crate) fn current(&self) -> Option<Arc<PluginProcess>> {
        self.inner.current.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The pid of the current process, if one is running.
    pub fn pid(&self) -> Option<u32> {
        self.running().and_then(|process| process.pid())
    }

    /// Shuts the plugin down (see [`PluginProcess::shutdown`]) and starts no other: later
    /// executions fail with [`PluginError::ShutDown`].
    pub async fn shutdown(&self) {
        self.inner.shut_down.store(true, Ordering::Release);
        let _starting = self.inner.starting.lock().await;
        let process = self.inner.current.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(process) = process {
            process.shutdown().await;
        }
    }
}
