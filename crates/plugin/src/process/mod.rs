//! One running plugin process: spawned, initialised, then driven — requests out with integer
//! ids, answers matched back, events routed to their execution — until it ends or is shut
//! down.
//!
//! Ownership: the [`PluginProcess`] owns the child (through `ChildGuard`, whose `Drop` kills
//! the process group) and its three I/O tasks (a `JoinSet`, aborted on drop). The tasks share
//! only the request/route state, never the child, so dropping the process always ends it.

mod child;
mod lines;
mod shared;

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{OnceCell, mpsc, watch};
use tokio::task::JoinSet;
use toolbridge_runtime::ExecutionId;
use tracing::debug;

use self::child::{ChildGuard, Group, StderrTail};
use self::shared::{End, Shared};
pub(crate) use self::shared::{ExecutionSlot, Pending};
use crate::command::{PluginCommand, PluginOptions};
use crate::error::PluginError;
use crate::info::PluginInfo;
use crate::protocol::{
    CancelParams, CancelResult, Fields, InitializeParams, InitializeResult, METHOD_NOT_FOUND, Method, PROTOCOL_VERSION,
    Request, ShutdownParams, ValidateConfigParams,
};

/// Messages queued for stdin before senders wait.
const WRITE_QUEUE: usize = 256;
/// Configs remembered as valid per process (the memory is cleared when full).
const VALID_CONFIGS: usize = 256;
/// How long an ended process gets to report its exit status and last stderr lines.
const LAST_WORDS: Duration = Duration::from_millis(500);

/// What `validate_config` answers are remembered.
#[derive(Debug, Default)]
struct ValidationMemory {
    /// The plugin answered `validate_config` with "method not found".
    unsupported: bool,
    /// Configs (as JSON text) the plugin found valid.
    valid: HashSet<String>,
}

/// One running plugin process, initialised. Dropping it kills its process group.
pub struct PluginProcess {
    plugin: Arc<str>,
    options: PluginOptions,
    shared: Arc<Shared>,
    /// Taken (closing stdin) on shutdown.
    writer: Mutex<Option<mpsc::Sender<Vec<u8>>>>,
    child: Mutex<ChildGuard>,
    group: Group,
    pid: Option<u32>,
    stderr: Arc<StderrTail>,
    stderr_done: watch::Receiver<bool>,
    ending: OnceCell<PluginError>,
    validation: Mutex<ValidationMemory>,
    /// Set by [`shutdown`](Self::shutdown): no new work, and an end is "shut down".
    shutting_down: AtomicBool,
    info: Option<PluginInfo>,
    _tasks: JoinSet<()>,
}

impl fmt::Debug for PluginProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginProcess")
            .field("plugin", &self.plugin)
            .field("pid", &self.pid)
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

impl PluginProcess {
    /// Starts the plugin and completes `initialize` within
    /// [`initialize_timeout`](PluginOptions::initialize_timeout); refuses another protocol
    /// version.
    pub async fn start(plugin: &str, command: &PluginCommand, options: &PluginOptions) -> Result<Self, PluginError> {
        let mut process = Self::spawn(plugin, command, options)?;
        let info = process.initialize().await?;
        process.info = Some(info);
        Ok(process)
    }

    fn spawn(plugin: &str, command: &PluginCommand, options: &PluginOptions) -> Result<Self, PluginError> {
        let spawned = child::spawn(plugin, command)?;
        let plugin: Arc<str> = Arc::from(plugin);
        let shared = Arc::new(Shared::new(Arc::clone(&plugin)));
        let stderr = Arc::new(StderrTail::default());
        let (stderr_sender, stderr_done) = watch::channel(false);
        let (writer, queue) = mpsc::channel(WRITE_QUEUE);
        let group = spawned.guard.group();
        let mut tasks = JoinSet::new();
        tasks.spawn(shared::write_stdin(Arc::clone(&plugin), spawned.stdin, queue));
        tasks.spawn(shared::read_stdout(
            spawned.stdout,
            Arc::clone(&shared),
            options.max_line_bytes,
            group,
            writer.downgrade(),
        ));
        match spawned.stderr {
            Some(stderr_pipe) => {
                let secrets = command.env.values().filter(|value| value.len() >= 6).cloned().collect();
                tasks.spawn(child::drain_stderr(
                    Arc::clone(&plugin),
                    stderr_pipe,
                    secrets,
                    Arc::clone(&stderr),
                    stderr_sender,
                ));
            }
            None => drop(stderr_sender.send_replace(true)),
        }
        Ok(Self {
            plugin,
            options: options.clone(),
            shared,
            writer: Mutex::new(Some(writer)),
            child: Mutex::new(spawned.guard),
            group,
            pid: spawned.pid,
            stderr,
            stderr_done,
            ending: OnceCell::new(),
            validation: Mutex::default(),
            shutting_down: AtomicBool::new(false),
            info: None,
            _tasks: tasks,
        })
    }

    async fn initialize(&self) -> Result<PluginInfo, PluginError> {
        let limit = self.options.initialize_timeout;
        let params = InitializeParams::default();
        let call = self.call(Method::Initialize, &params);
        let value = match tokio::time::timeout(limit, call).await {
            Ok(answer) => answer?,
            Err(_) => {
                return Err(PluginError::InitializeTimeout {
                    plugin: self.plugin.to_string(),
                    timeout: limit,
                    stderr: self.stderr.suffix(),
                });
            }
        };
        // The version first: a plugin of another version may answer in another shape.
        match value.get("protocol_version") {
            Some(Value::String(version)) if version == PROTOCOL_VERSION => {}
            Some(other) if !other.is_null() => {
                let found = other.as_str().map_or_else(|| other.to_string(), str::to_owned);
                return Err(PluginError::ProtocolVersion { plugin: self.plugin.to_string(), found });
            }
            _ => {}
        }
        let result =
            InitializeResult::from_value(value).map_err(|message| self.invalid(Method::Initialize, message))?;
        PluginInfo::new(&self.plugin, result)
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// What the plugin said about itself in `initialize`.
    pub fn info(&self) -> &PluginInfo {
        // `start` is the only way to get a process, and it sets the info before returning.
        self.info.as_ref().expect("a started process is initialised")
    }

    /// The options the process runs with.
    pub(crate) fn options(&self) -> &PluginOptions {
        &self.options
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Whether the process still serves requests.
    pub fn is_alive(&self) -> bool {
        !self.shutting_down.load(Ordering::Acquire) && self.shared.end().is_none()
    }

    /// Sends a request and returns its waiter.
    pub(crate) async fn send_request<P: Serialize>(&self, method: Method, params: &P) -> Result<Pending, PluginError> {
        let Some(pending) = self.shared.register(method) else { return Err(self.end_error().await) };
        let mut line = serde_json::to_vec(&Request::new(pending.id, method, params)).map_err(|error| {
            PluginError::Encode { plugin: self.plugin.to_string(), method, message: error.to_string() }
        })?;
        line.push(b'\n');
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match writer {
            Some(writer) if writer.send(line).await.is_ok() => Ok(pending),
            _ => Err(self.end_error().await),
        }
    }

    /// Waits for a request's answer: its result, its error as [`PluginError::Rpc`], or why the
    /// process ended.
    pub(crate) async fn answer(&self, pending: &mut Pending) -> Result<Value, PluginError> {
        match pending.answer().await {
            Some(Ok(value)) => Ok(value),
            Some(Err(error)) => Err(PluginError::Rpc {
                plugin: self.plugin.to_string(),
                method: pending.method,
                error: Box::new(error),
            }),
            None => Err(self.end_error().await),
        }
    }

    async fn call<P: Serialize>(&self, method: Method, params: &P) -> Result<Value, PluginError> {
        let mut pending = self.send_request(method, params).await?;
        self.answer(&mut pending).await
    }

    async fn call_within<P: Serialize>(
        &self,
        method: Method,
        params: &P,
        limit: Duration,
    ) -> Result<Value, PluginError> {
        tokio::time::timeout(limit, self.call(method, params))
            .await
            .unwrap_or_else(|_| Err(PluginError::Timeout { plugin: self.plugin.to_string(), method, timeout: limit }))
    }

    pub(crate) fn invalid(&self, method: Method, message: String) -> PluginError {
        PluginError::InvalidResult { plugin: self.plugin.to_string(), method, message }
    }

    /// The plugin's own checks of a `runtime_config` (`validate_config`): its `"field:
    /// message"` errors, empty when valid. A plugin that does not implement the method
    /// (`-32601`) accepts every config that passed its schema. Valid configs are remembered
    /// for the life of the process, so repeated executions do not pay a round trip each.
    pub async fn validate_config(&self, config: &Value) -> Result<Vec<String>, PluginError> {
        let key = config.to_string();
        {
            let memory = self.validation.lock().unwrap_or_else(PoisonError::into_inner);
            if memory.unsupported || memory.valid.contains(&key) {
                return Ok(Vec::new());
            }
        }
        let params = ValidateConfigParams { runtime_config: config.clone() };
        let answer = self.call_within(Method::ValidateConfig, &params, self.options.control_timeout).await;
        let value = match answer {
            Err(PluginError::Rpc { error, .. }) if error.code == METHOD_NOT_FOUND => {
                debug!(plugin = %self.plugin, "the plugin has no `validate_config`; its schema is the only check");
                self.validation.lock().unwrap_or_else(PoisonError::into_inner).unsupported = true;
                return Ok(Vec::new());
            }
            other => other?,
        };
        let errors: Vec<String> = Fields::new(value)
            .and_then(|mut fields| fields.optional("errors"))
            .map_err(|message| self.invalid(Method::ValidateConfig, message))?
            .unwrap_or_default();
        if errors.is_empty() {
            let mut memory = self.validation.lock().unwrap_or_else(PoisonError::into_inner);
            if memory.valid.len() >= VALID_CONFIGS {
                memory.valid.clear();
            }
            memory.valid.insert(key);
        }
        Ok(errors)
    }

    /// Registers an execution's event channel on this process.
    pub(crate) async fn open_execution(&self, execution_id: &ExecutionId) -> Result<ExecutionSlot, PluginError> {
        match self.shared.open_execution(execution_id, self.options.event_buffer) {
            Ok(Some(slot)) => Ok(slot),
            Ok(None) => Err(self.end_error().await),
            Err(()) => Err(PluginError::DuplicateExecution {
                plugin: self.plugin.to_string(),
                execution_id: execution_id.clone(),
            }),
        }
    }

    /// Sends `cancel` for an execution of this process unless it was sent already; returns
    /// the request's waiter when it was sent now.
    pub(crate) async fn send_cancel(&self, execution_id: &ExecutionId) -> Option<Pending> {
        if self.shared.claim_cancel(execution_id) != Some(true) {
            return None;
        }
        let params = CancelParams { execution_id: execution_id.clone() };
        self.send_request(Method::Cancel, &params).await.ok()
    }

    /// Sends `cancel` for an execution that is being abandoned (its waiter dropped), unless it
    /// was sent already; never waits (it runs from `Drop`), so it is skipped if stdin's queue
    /// is full.
    pub(crate) fn cancel_detached(&self, execution_id: &ExecutionId) {
        if self.shared.claim_cancel(execution_id) != Some(true) {
            return;
        }
        let Some(id) = self.shared.register_forgotten() else { return };
        let params = CancelParams { execution_id: execution_id.clone() };
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let (Some(writer), Ok(mut line)) = (writer, serde_json::to_vec(&Request::new(id, Method::Cancel, &params))) {
            line.push(b'\n');
            let _ = writer.try_send(line);
        }
    }

    /// Asks the plugin to cancel an execution (`cancel`) and returns its `cancelled` answer;
    /// `false` when the execution is not running here. If `cancel` was already sent for it,
    /// returns `true` without sending it again.
    pub async fn cancel(&self, execution_id: &ExecutionId) -> Result<bool, PluginError> {
        match self.shared.claim_cancel(execution_id) {
            None => return Ok(false),
            Some(false) => return Ok(true),
            Some(true) => {}
        }
        let params = CancelParams { execution_id: execution_id.clone() };
        let value = self.call_within(Method::Cancel, &params, self.options.control_timeout).await?;
        let answer: CancelResult =
            serde_json::from_value(value).map_err(|error| self.invalid(Method::Cancel, error.to_string()))?;
        Ok(answer.cancelled)
    }

    /// Stops the process as the protocol says: `shutdown`, close stdin, wait
    /// [`shutdown_wait`](PluginOptions::shutdown_wait), SIGTERM, wait
    /// [`term_wait`](PluginOptions::term_wait), then SIGKILL of the whole process group (which
    /// also ends anything the plugin left behind). Until the process exits, answers to
    /// executions in flight are still delivered; those left unanswered fail with "it was shut
    /// down".
    pub async fn shutdown(&self) {
        let wait = self.options.shutdown_wait;
        let first = !self.shutting_down.swap(true, Ordering::AcqRel);
        if first
            && self.shared.end().is_none()
            && let Err(error) = self.call_within(Method::Shutdown, &ShutdownParams {}, wait).await
        {
            debug!(plugin = %self.plugin, error = %error, "no answer to `shutdown`");
        }
        drop(self.writer.lock().unwrap_or_else(PoisonError::into_inner).take());
        if !self.exited_within(wait).await {
            self.group.terminate();
            if !self.exited_within(self.options.term_wait).await {
                debug!(plugin = %self.plugin, "the plugin ignored SIGTERM; killing its process group");
            }
        }
        self.group.kill();
        self.shared.finish(End::ShutDown);
    }

    /// Whether the plugin process exited within `limit` (polled: the leader may have children
    /// keeping the pipes open, so end-of-file is no proof).
    async fn exited_within(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.exit_status().is_some() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn exit_status(&self) -> Option<std::process::ExitStatus> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner).exit_status()
    }

    /// Whether any process of the plugin's group is still there (for tests and diagnostics).
    pub fn group_exists(&self) -> bool {
        self.group.exists()
    }

    /// Why the process ended, with its exit status and last stderr lines; computed once and
    /// shared by every request and execution that saw the end.
    pub(crate) async fn end_error(&self) -> PluginError {
        self.ending
            .get_or_init(|| async {
                let mut ended = self.shared.ended();
                // The writer can notice a dead pipe before the reader reads end-of-file.
                let _ = tokio::time::timeout(LAST_WORDS, ended.wait_for(|ended| *ended)).await;
                let reason = match self.shared.end() {
                    Some(End::Violation(reason) | End::Io(reason)) => reason,
                    Some(End::ShutDown) => "it was shut down".to_owned(),
                    Some(End::Eof) | None if self.shutting_down.load(Ordering::Acquire) => {
                        "it was shut down".to_owned()
                    }
                    Some(End::Eof) | None => self.exit_reason().await,
                };
                let mut stderr_done = self.stderr_done.clone();
                let _ = tokio::time::timeout(LAST_WORDS, stderr_done.wait_for(|done| *done)).await;
                PluginError::Ended { plugin: self.plugin.to_string(), reason, stderr: self.stderr.suffix() }
            })
            .await
            .clone()
    }

    async fn exit_reason(&self) -> String {
        if self.exited_within(LAST_WORDS).await
            && let Some(status) = self.exit_status()
        {
            use std::os::unix::process::ExitStatusExt;
            return match (status.code(), status.signal()) {
                (Some(code), _) => format!("it exited with status {code}"),
                (None, Some(signal)) => format!("it was killed by signal {signal}"),
                _ => format!("it exited ({status})"),
            };
        }
        // Alive but deaf: it closed stdout or stdin. It cannot serve anyone any more.
        self.group.kill();
        "it closed its stdout".to_owned()
    }
}
