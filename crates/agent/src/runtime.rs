//! `AgentLoopRuntime`: the bundled `agent_loop` runtime.

use std::sync::Arc;

use crate::interaction::ExecutionInteractions;
use serde_json::{Map, json};
use tokio::sync::mpsc;
use toolbridge::config::{ProcessEnv, ToolConfig};
use toolbridge::schema::SchemaTarget;
use toolbridge::{CatalogueBuilder, CatalogueOptions, DEFAULT_MAX_OUTPUT_BYTES, PolicyContext, Pool, ToolSource};
use toolbridge_providers::{ProviderEnv, ProviderOptions, ToolSchemaDialect, provider_for_model};
use toolbridge_runtime::{
    ConfigValidator, ExecutionScope, ResultStream, Runtime, RuntimeCapabilities, RuntimeError, RuntimeExecutionContext,
    RuntimeExecutionResult, RuntimeType, async_trait,
};

use crate::config::AgentLoopConfig;
use crate::run::{Prepared, run};

/// What the agent loop is built with. The pool is shared by every execution of the runtime
/// (and may be shared with other runtimes): a second execution with the same servers reuses
/// their connections.
#[derive(Debug, Clone)]
pub struct AgentLoopOptions {
    /// The MCP connection pool.
    pub pool: Pool,
    /// Provider endpoints and keys (from the environment by default).
    pub provider_env: ProviderEnv,
    /// Provider timeouts and retries.
    pub provider_options: ProviderOptions,
    /// Custom tool sources offered to every execution, next to its skills and MCP servers.
    pub custom_sources: Vec<Arc<dyn ToolSource>>,
    /// Asks the person at hand when an MCP server elicits input during a tool call (its
    /// [`Responder::elicit`](toolbridge::Responder::elicit)); `None`: each server's configured
    /// answer (`decline` by default).
    pub elicitor: Option<Arc<dyn toolbridge::Responder>>,
}

impl AgentLoopOptions {
    /// Options with the given pool, providers from the environment, default retries.
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            provider_env: ProviderEnv::from_env(),
            provider_options: ProviderOptions::default(),
            custom_sources: Vec::new(),
            elicitor: None,
        }
    }
}

/// Where the model comes from: the context's `model_id`, else `TOOLBRIDGE_MODEL`.
pub fn model_of(ctx: &RuntimeExecutionContext) -> Option<String> {
    ctx.model_id
        .clone()
        .filter(|m| !m.trim().is_empty())
        .or_else(|| std::env::var(MODEL_VARIABLE).ok().filter(|m| !m.trim().is_empty()))
}

/// The variable that gives a model to executions that have none.
pub const MODEL_VARIABLE: &str = "TOOLBRIDGE_MODEL";

const NO_MODEL: &str = "no model: give the agent a model_id (e.g. `--model openai:gpt-4o-mini`), \
                        or set TOOLBRIDGE_MODEL";

/// Prepares one execution of the agent loop from its context: the model (the context's
/// `model_id`, else `TOOLBRIDGE_MODEL`) and its provider, and the catalogue of the context's
/// skills and MCP servers (through the options' pool; policy applied; schemas for the
/// provider). Errors are [`RuntimeError::InvalidContext`], naming what is wrong.
pub async fn prepare(
    options: &AgentLoopOptions,
    config: AgentLoopConfig,
    ctx: &RuntimeExecutionContext,
) -> Result<Prepared, RuntimeError> {
    let model_id = model_of(ctx).ok_or_else(|| RuntimeError::InvalidContext(NO_MODEL.into()))?;
    let (provider, model) = provider_for_model(&model_id, &options.provider_env, options.provider_options.clone())
        .map_err(|e| RuntimeError::InvalidContext(e.to_string()))?;
    let target = match provider.schema_dialect() {
        ToolSchemaDialect::OpenAi if config.strict_tools == Some(true) => SchemaTarget::OpenAiStrict,
        ToolSchemaDialect::OpenAi => SchemaTarget::OpenAi,
        ToolSchemaDialect::Anthropic => SchemaTarget::Anthropic,
        ToolSchemaDialect::Gemini => SchemaTarget::Gemini,
    };
    // The tool configuration is typed already; here its templates are expanded.
    let tools =
        ToolConfig { mcp_servers: ctx.mcp_servers.clone(), skills: ctx.skills.clone(), policy: ctx.policy.clone() };
    let catalogue = CatalogueBuilder::new(options.pool.clone())
        .tools(&tools, "mcp_servers", &ProcessEnv)
        .map_err(|e| RuntimeError::InvalidContext(e.to_string()))?
        .sources(options.custom_sources.iter().cloned())
        .policy_context(PolicyContext::of(ctx))
        .options(CatalogueOptions {
            max_output_bytes: config.tool_output_limit.unwrap_or(DEFAULT_MAX_OUTPUT_BYTES),
            ..CatalogueOptions::default()
        })
        .build()
        .await
        .map_err(|e| RuntimeError::InvalidContext(e.to_string()))?;
    // A server that needs a login this execution cannot run fails it at start, naming the
    // command that logs in (a degraded catalogue would hide it until the model tried).
    if let Some(failure) = catalogue.failures().iter().find(|f| f.login_command.is_some()) {
        return Err(RuntimeError::InvalidContext(failure.error.clone()));
    }
    let mut metadata = Map::new();
    metadata.insert("tools_offered".into(), json!(catalogue.len()));
    metadata.insert("mcp_servers".into(), json!(ctx.mcp_servers.len()));
    if !catalogue.failures().is_empty() {
        metadata.insert("unavailable_sources".into(), json!(catalogue.failures()));
    }
    let interactions =
        Arc::new(ExecutionInteractions::new(Arc::clone(&provider), model.clone(), options.elicitor.clone()));
    Ok(Prepared { provider, model, catalogue: Arc::new(catalogue), target, config, metadata, interactions })
}

/// The bundled tool-calling agent loop (`agent_loop`, also what `default` resolves to).
#[derive(Debug)]
pub struct AgentLoopRuntime {
    options: AgentLoopOptions,
    defaults: AgentLoopConfig,
    validator: ConfigValidator<AgentLoopConfig>,
}

impl AgentLoopRuntime {
    /// A runtime with the given options and default `runtime_config`.
    pub fn new(options: AgentLoopOptions, defaults: AgentLoopConfig) -> Self {
        Self { options, defaults, validator: ConfigValidator::new() }
    }

    /// The pool this runtime uses.
    pub fn pool(&self) -> &Pool {
        &self.options.pool
    }

    async fn prepare(&self, ctx: &RuntimeExecutionContext) -> Result<Prepared, RuntimeError> {
        let config = self.defaults.merged_with(&self.validator.parse(ctx.runtime_config.as_ref())?);
        prepare(&self.options, config, ctx).await
    }

    async fn prepare_cancellable(
        &self,
        ctx: &RuntimeExecutionContext,
        scope: &ExecutionScope,
    ) -> Result<Prepared, RuntimeError> {
        tokio::select! {
            biased;
            () = scope.cancelled() => Err(RuntimeError::Cancelled),
            prepared = self.prepare(ctx) => prepared,
        }
    }
}

#[async_trait]
impl Runtime for AgentLoopRuntime {
    fn runtime_type(&self) -> RuntimeType {
        RuntimeType::agent_loop()
    }

    fn capabilities(&self) -> RuntimeCapabilities {
        RuntimeCapabilities::all()
    }

    fn requires_model(&self) -> bool {
        true
    }

    async fn execute_impl(
        &self,
        ctx: &RuntimeExecutionContext,
        scope: &ExecutionScope,
    ) -> Result<RuntimeExecutionResult, RuntimeError> {
        let prepared = self.prepare_cancellable(ctx, scope).await?;
        run(&prepared, ctx, scope, None).await
    }

    fn stream_execute_impl(self: Arc<Self>, ctx: Arc<RuntimeExecutionContext>, scope: ExecutionScope) -> ResultStream {
        Box::pin(async_stream::stream! {
            let prepared = match self.prepare_cancellable(&ctx, &scope).await {
                Ok(prepared) => prepared,
                Err(error) => {
                    yield Err(error);
                    return;
                }
            };
            let (sender, mut receiver) = mpsc::channel(64);
            let execution = run(&prepared, &ctx, &scope, Some(sender));
            tokio::pin!(execution);
            loop {
                tokio::select! {
                    biased;
                    Some(partial) = receiver.recv() => yield Ok(partial),
                    outcome = &mut execution => {
                        while let Ok(partial) = receiver.try_recv() {
                            yield Ok(partial);
                        }
                        yield outcome;
                        break;
                    }
                }
            }
        })
    }
}
