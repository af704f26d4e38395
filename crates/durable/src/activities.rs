//! The activities of a durable execution — the only places its side effects happen, each run on
//! whichever worker of the task queue picks it up:
//!
//! - `prepare`: builds the execution's catalogue on a worker (servers started through the
//!   worker's shared pool, policy applied) and reports the tools, the model and which tools
//!   are idempotent;
//! - `model_call`: one model request;
//! - `tool_call`: one tool call, through the same catalogue pipeline as the in-process loop
//!   (policy → validation → source → output cap), so its record is the same `ToolCallRecord`.
//!
//! Every activity heartbeats while it runs; a tool call stops when its activity is cancelled
//! (the cancellation comes back with a heartbeat).

// The SDK's macros generate undocumented marker types (one per activity, query, run).
#![allow(missing_docs, missing_debug_implementations)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use temporalio_common::error::ApplicationFailure;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tokio_util::sync::CancellationToken;
use toolbridge::config::{ProcessEnv, ToolConfig};
use toolbridge::{CallLog, RawArguments};
use toolbridge_agent::{AgentLoopOptions, Prepared, steps};
use toolbridge_providers::{ChatResponse, ModelProvider, provider_for_model};
use toolbridge_runtime::{RuntimeError, ToolCallRecord};
use tracing::{Instrument, debug, info_span};

use crate::idempotent::IdempotentTools;
use crate::wire::{ModelCall, PreparedTools, ToolCallInput, ToolMeta, ToolScope};

/// How many prepared catalogues a worker keeps (each holds its sources; the connections
/// themselves live in the pool).
const PREPARED_CACHE: usize = 64;

/// How often a running activity heartbeats (the SDK throttles what reaches the server).
const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);

/// The activities of the agent workflow, with what a worker shares between executions: the
/// pool (through the agent options), the worker's own tools, prepared catalogues and model
/// providers.
pub struct AgentActivities {
    options: AgentLoopOptions,
    worker_tools: ToolConfig,
    prepared: Mutex<PreparedCache>,
    providers: Mutex<HashMap<String, Arc<dyn ModelProvider>>>,
}

impl std::fmt::Debug for AgentActivities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentActivities").field("options", &self.options).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct PreparedCache {
    by_key: HashMap<String, Arc<Prepared>>,
    order: VecDeque<String>,
}

impl AgentActivities {
    /// Activities running with these options; `worker_tools` (servers and skills) are offered
    /// to every execution next to its own (its own win on a name clash).
    pub fn new(options: AgentLoopOptions, worker_tools: ToolConfig) -> Self {
        Self { options, worker_tools, prepared: Mutex::default(), providers: Mutex::default() }
    }

    /// The execution's catalogue on this worker: cached by scope, else built.
    async fn prepared(&self, scope: &ToolScope) -> Result<Arc<Prepared>, RuntimeError> {
        let key = scope.key();
        if let Some(found) = self.prepared.lock().unwrap_or_else(PoisonError::into_inner).by_key.get(&key) {
            return Ok(Arc::clone(found));
        }
        let mut context = scope.context.clone();
        for (name, spec) in &self.worker_tools.mcp_servers.0 {
            context.mcp_servers.0.entry(name.clone()).or_insert_with(|| spec.clone());
        }
        for skill in &self.worker_tools.skills {
            if !context.skills.iter().any(|own| own.name == skill.name) {
                context.skills.push(skill.clone());
            }
        }
        let prepared = Arc::new(toolbridge_agent::prepare(&self.options, scope.config.clone(), &context).await?);
        let mut cache = self.prepared.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.by_key.insert(key.clone(), Arc::clone(&prepared)).is_none() {
            cache.order.push_back(key);
            while cache.order.len() > PREPARED_CACHE {
                if let Some(old) = cache.order.pop_front() {
                    cache.by_key.remove(&old);
                }
            }
        }
        Ok(prepared)
    }

    fn provider(&self, model_id: &str) -> Result<Arc<dyn ModelProvider>, ActivityError> {
        let mut providers = self.providers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(provider) = providers.get(model_id) {
            return Ok(Arc::clone(provider));
        }
        let (provider, _) =
            provider_for_model(model_id, &self.options.provider_env, self.options.provider_options.clone())
                .map_err(|e| non_retryable(e.to_string()))?;
        providers.insert(model_id.to_owned(), Arc::clone(&provider));
        Ok(provider)
    }

    /// The servers of a scope, resolved as the catalogue resolves them (for `idempotent`).
    fn idempotent_tools(&self, scope: &ToolScope) -> Result<IdempotentTools, ActivityError> {
        let mut servers = scope.context.mcp_servers.clone();
        for (name, spec) in &self.worker_tools.mcp_servers.0 {
            servers.0.entry(name.clone()).or_insert_with(|| spec.clone());
        }
        let resolved = servers.resolve("mcp_servers", &ProcessEnv).map_err(|e| non_retryable(e.to_string()))?;
        IdempotentTools::new(&resolved).map_err(|e| non_retryable(e.to_string()))
    }
}

fn non_retryable(message: String) -> ActivityError {
    ActivityError::application(ApplicationFailure::non_retryable(std::io::Error::other(message)))
}

fn retryable(message: String) -> ActivityError {
    ActivityError::application(ApplicationFailure::new(std::io::Error::other(message)))
}

/// Runs `work`, heartbeating meanwhile; `on_cancel` runs once if the activity is cancelled
/// (and `work` is still awaited: it is expected to finish promptly then).
async fn heartbeating<F: Future>(ctx: &ActivityContext, work: F, on_cancel: impl FnOnce()) -> F::Output {
    tokio::pin!(work);
    let mut ticker = tokio::time::interval(HEARTBEAT_EVERY);
    let mut on_cancel = Some(on_cancel);
    loop {
        tokio::select! {
            biased;
            output = &mut work => return output,
            () = ctx.cancelled(), if on_cancel.is_some() => {
                if let Some(cancel) = on_cancel.take() {
                    cancel();
                }
            }
            _ = ticker.tick() => {
                if let Err(error) = ctx.record_heartbeat(()).await {
                    debug!(%error, "heartbeat not recorded");
                }
            }
        }
    }
}

#[activities]
impl AgentActivities {
    /// Builds the execution's catalogue on this worker and reports what the workflow needs.
    #[activity]
    pub async fn prepare(
        self: Arc<Self>,
        ctx: ActivityContext,
        scope: ToolScope,
    ) -> Result<PreparedTools, ActivityError> {
        let span = info_span!("durable_prepare", execution_id = %scope.context.execution_id);
        async move {
            let idempotent = self.idempotent_tools(&scope)?;
            let prepared = heartbeating(&ctx, self.prepared(&scope), || {}).await.map_err(|error| match error {
                RuntimeError::InvalidContext(message) => non_retryable(message),
                other => retryable(other.to_string()),
            })?;
            let mut tool_timeout = scope.config.tool_timeout().unwrap_or(toolbridge::config::DEFAULT_CALL_TIMEOUT);
            if scope.config.tool_timeout().is_none()
                && let Ok(servers) = scope.context.mcp_servers.resolve("mcp_servers", &ProcessEnv)
            {
                tool_timeout = servers.iter().map(|s| s.call_timeout).fold(tool_timeout, Duration::max);
            }
            let catalogue: BTreeMap<String, ToolMeta> = prepared
                .catalogue
                .tools()
                .map(|tool| {
                    let meta = ToolMeta {
                        source: tool.source_kind,
                        server: tool.source.clone(),
                        original_name: tool.original_name.clone(),
                        idempotent: idempotent.covers(tool.source_kind, &tool.source, &tool.original_name),
                    };
                    (tool.name.clone(), meta)
                })
                .collect();
            Ok(PreparedTools {
                model: prepared.model.clone(),
                model_provider: prepared.provider.name().to_owned(),
                tools: steps::tool_specs(&prepared.catalogue, prepared.target),
                catalogue,
                tool_timeout_ms: u64::try_from(tool_timeout.as_millis()).unwrap_or(u64::MAX),
                metadata: prepared.metadata.clone(),
            })
        }
        .instrument(span)
        .await
    }

    /// One model request.
    #[activity]
    pub async fn model_call(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: ModelCall,
    ) -> Result<ChatResponse, ActivityError> {
        let provider = self.provider(&call.model_id)?;
        let cancelled = CancellationToken::new();
        let request = provider.complete(&call.request);
        let hook = cancelled.clone();
        let reply = heartbeating(
            &ctx,
            async {
                tokio::select! {
                    reply = request => Some(reply),
                    () = cancelled.cancelled() => None,
                }
            },
            move || hook.cancel(),
        )
        .await;
        match reply {
            None => Err(ActivityError::cancelled()),
            Some(Ok(reply)) => Ok(reply),
            Some(Err(error)) if error.is_retryable() => Err(retryable(error.to_string())),
            Some(Err(error)) => Err(non_retryable(error.to_string())),
        }
    }

    /// One tool call, recorded as the in-process loop records it.
    #[activity]
    pub async fn tool_call(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ToolCallInput,
    ) -> Result<ToolCallRecord, ActivityError> {
        let ToolCallInput { scope, call } = input;
        let span = info_span!("durable_tool_call", execution_id = %scope.context.execution_id, tool = %call.name);
        async move {
            let prepared = heartbeating(&ctx, self.prepared(&scope), || {}).await.map_err(|error| match error {
                RuntimeError::InvalidContext(message) => non_retryable(message),
                other => retryable(other.to_string()),
            })?;
            let cancel = CancellationToken::new();
            let options = prepared.call_options(Some(cancel.clone()));
            let log = CallLog::new();
            let running =
                prepared.catalogue.call(&log, &call.name, RawArguments::Json(&call.arguments), &call.id, &options);
            let mut record = heartbeating(&ctx, running, move || cancel.cancel()).await;
            let attempt = ctx.info().attempt;
            if attempt > 1 {
                record.metadata.insert("attempt".into(), attempt.into());
            }
            Ok(record)
        }
        .instrument(span)
        .await
    }
}
