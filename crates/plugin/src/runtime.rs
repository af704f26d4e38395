//! A plugin as a toolbridge [`Runtime`]: the adapter between the runtime contract and the
//! plugin protocol, and the glue that registers it in a [`RuntimeRegistry`](toolbridge_runtime::RuntimeRegistry).
//!
//! Validation is split along the contract's sync/async line: the JSON Schema check (and
//! `requires_model`) runs in the synchronous `validate_config`, the plugin's own
//! `validate_config` request in `before_execute`, which the orchestration runs right after.
//! [`PluginRuntime::check_config`] runs both, for callers that validate ahead of time (e.g.
//! `agent create`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use toolbridge_runtime::{
    ConfigError, ExecutionEvent, ExecutionId, ExecutionScope, ResultStream, Runtime, RuntimeCapabilities, RuntimeError,
    RuntimeExecutionContext, RuntimeExecutionResult, RuntimeSpec, RuntimeType,
};

use crate::endpoint::ToolEndpointProvider;
use crate::error::PluginError;
use crate::execution::{Execution, Step};
use crate::host::PluginHost;
use crate::info::PluginInfo;
use crate::mask::plugin_context;
use crate::protocol::{ExecuteParams, Method, ToolsParam};
use crate::schema::field_error;

/// How much longer than `cancel_wait` the orchestration waits for a cancelled execution, so
/// that the execution's own "no answer" result (with its tool-call log) is the one kept.
const CANCEL_MARGIN: Duration = Duration::from_millis(500);

/// A runtime plugin as a [`Runtime`]. Executions share the host's process.
#[derive(Debug, Clone)]
pub struct PluginRuntime {
    runtime_type: RuntimeType,
    host: PluginHost,
    info: PluginInfo,
    endpoints: Arc<dyn ToolEndpointProvider>,
}

impl PluginRuntime {
    /// A runtime for the plugin run by `host`, described by `info` (from
    /// [`PluginHost::start`]), whose executions get their tools from `endpoints`. Its runtime
    /// type is the host's name.
    pub fn new(host: PluginHost, info: PluginInfo, endpoints: Arc<dyn ToolEndpointProvider>) -> Self {
        Self { runtime_type: RuntimeType::new(host.name()), host, info, endpoints }
    }

    /// The host.
    pub fn host(&self) -> &PluginHost {
        &self.host
    }

    /// What the plugin said about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Validates a `runtime_config` completely: the JSON Schema, then the plugin's own
    /// `validate_config` (absent is `{}`). Errors name the field.
    pub async fn check_config(&self, config: Option<&Value>) -> Result<(), RuntimeError> {
        self.info.check_config(config)?;
        self.plugin_validation(config).await
    }

    async fn plugin_validation(&self, config: Option<&Value>) -> Result<(), RuntimeError> {
        let config = match config {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(config) => config.clone(),
        };
        let errors = self.host.process().await?.validate_config(&config).await?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { errors: errors.iter().map(|error| field_error(error)).collect() }.into())
        }
    }

    /// Starts an execution on the plugin: process, tool endpoint, event route, `execute`.
    async fn begin(
        &self,
        context: &RuntimeExecutionContext,
        scope: &ExecutionScope,
        stream: bool,
    ) -> Result<Execution, RuntimeError> {
        let process = self.host.process().await?;
        let plugin_context = plugin_context(context).map_err(|error| PluginError::Encode {
            plugin: self.host.name().to_owned(),
            method: Method::Execute,
            message: error.to_string(),
        })?;
        let endpoint = self.endpoints.open(context, scope).await?;
        let slot = process.open_execution(&context.execution_id).await?;
        let params = ExecuteParams {
            execution_id: context.execution_id.clone(),
            stream,
            context: plugin_context,
            tools: endpoint
                .as_ref()
                .map(|endpoint| ToolsParam { url: endpoint.url.clone(), headers: endpoint.headers.clone() }),
        };
        let response = process.send_request(Method::Execute, &params).await?;
        Ok(Execution::new(process, slot, response, scope.clone(), endpoint, context.model_id.clone()))
    }
}

#[async_trait]
impl Runtime for PluginRuntime {
    fn runtime_type(&self) -> RuntimeType {
        self.runtime_type.clone()
    }

    fn capabilities(&self) -> RuntimeCapabilities {
        self.info.capabilities()
    }

    async fn execute_impl(
        &self,
        context: &RuntimeExecutionContext,
        scope: &ExecutionScope,
    ) -> Result<RuntimeExecutionResult, RuntimeError> {
        let mut execution = self.begin(context, scope, false).await?;
        loop {
            if let Step::Finished(result) = execution.next().await {
                return *result;
            }
        }
    }

    fn stream_execute_impl(
        self: Arc<Self>,
        context: Arc<RuntimeExecutionContext>,
        scope: ExecutionScope,
    ) -> ResultStream {
        Box::pin(async_stream::stream! {
            let mut execution = match self.begin(&context, &scope, true).await {
                Ok(execution) => execution,
                Err(error) => {
                    yield Err(error);
                    return;
                }
            };
            loop {
                match execution.next().await {
                    Step::Chunk => yield Ok(RuntimeExecutionResult::partial(execution.text())),
                    Step::Event => {}
                    Step::Finished(result) => {
                        let result = *result;
                        // A plugin that does not stream still gives the listener its text.
                        if let Ok(result) = &result
                            && !execution.streamed()
                            && !result.response.is_empty()
                        {
                            scope.emit(&ExecutionEvent::ContentChunk { text: result.response.clone() });
                        }
                        yield result;
                        return;
                    }
                }
            }
        })
    }

    fn validate_config(&self, context: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
        if self.info.requires_model() && context.model_id.as_deref().is_none_or(str::is_empty) {
            return Err(RuntimeError::InvalidContext(format!(
                "runtime `{}` requires a model: set model_id",
                self.runtime_type
            )));
        }
        self.info.check_config(context.runtime_config.as_ref())?;
        Ok(())
    }

    /// The plugin's own `validate_config`, when an agent is created.
    async fn check_config(&self, context: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
        self.plugin_validation(context.runtime_config.as_ref()).await
    }

    async fn before_execute(&self, context: &RuntimeExecutionContext) -> Result<(), RuntimeError> {
        self.plugin_validation(context.runtime_config.as_ref()).await
    }

    async fn cancel_impl(&self, execution_id: &ExecutionId) -> bool {
        match self.host.current() {
            Some(process) => process.cancel(execution_id).await.unwrap_or(false),
            None => false,
        }
    }

    fn cancel_grace(&self) -> Duration {
        self.host.options().cancel_wait + CANCEL_MARGIN
    }
}

/// The registration of a plugin runtime: type `name`, the description, capabilities and
/// config schema the plugin published (`info`, from [`PluginHost::start`]), executions on
/// `host` with tools from `endpoints`.
pub fn spec(
    name: impl Into<RuntimeType>,
    host: PluginHost,
    info: PluginInfo,
    endpoints: Arc<dyn ToolEndpointProvider>,
) -> RuntimeSpec {
    let mut runtime = PluginRuntime::new(host, info, endpoints);
    runtime.runtime_type = name.into();
    runtime.into_spec()
}

impl PluginRuntime {
    /// Its registration: the runtime type is the host's name; every handle the registry
    /// creates shares this runtime's host.
    pub fn into_spec(self) -> RuntimeSpec {
        let checker = self.info.clone();
        let description = self.info.description().to_owned();
        let schema = self.info.config_schema().clone();
        RuntimeSpec::new(self.runtime_type.clone(), description, move |_deps| Ok(self.clone()))
            .with_dynamic_config(schema, move |config| checker.check_config(config))
            .plugin()
    }
}
