//! What MCP servers ask of an execution while its tool calls run: sampling
//! (`sampling/createMessage`, only from servers configured with `sampling: true`) answered by
//! the execution's own model through its provider — counted in the execution's usage and
//! logged; elicitation asked of the person at hand (the elicitor the embedding program gives,
//! e.g. the CLI's terminal prompt), else answered as the server's config says; progress
//! becomes `tool_progress` events; log lines become logs (`-v`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde_json::Value;
#[allow(deprecated)] // sampling and logging: deprecated by SEP-2577 in rmcp, in the 2025-11-25 protocol
use toolbridge::interaction::{
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
    LoggingMessageNotificationParam, McpError,
};
#[allow(deprecated)]
use toolbridge::mcp_model::{Role, SamplingMessage};
use toolbridge::{Progress, Responder};
use toolbridge_providers::{ChatRequest, Message, ModelProvider, RequestOptions};
use toolbridge_runtime::{ExecutionEvent, ExecutionScope, Usage};
use tracing::info;

/// The execution's side: its model, the usage sampling spent, the person at hand.
#[derive(Debug)]
pub(crate) struct ExecutionInteractions {
    provider: Arc<dyn ModelProvider>,
    model: String,
    elicitor: Option<Arc<dyn Responder>>,
    /// Usage spent answering sampling requests, not yet added to the execution's.
    usage: Mutex<Usage>,
    samplings: AtomicU64,
}

impl ExecutionInteractions {
    pub(crate) fn new(provider: Arc<dyn ModelProvider>, model: String, elicitor: Option<Arc<dyn Responder>>) -> Self {
        Self { provider, model, elicitor, usage: Mutex::new(Usage::default()), samplings: AtomicU64::new(0) }
    }

    /// The usage sampling spent since the last call (taken: it is added to the execution's).
    pub(crate) fn take_usage(&self) -> Usage {
        std::mem::take(&mut *self.usage.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// How many sampling requests were answered.
    pub(crate) fn samplings(&self) -> u64 {
        self.samplings.load(Ordering::Relaxed)
    }
}

/// One tool call's responder.
#[derive(Debug)]
pub(crate) struct CallResponder {
    pub(crate) execution: Arc<ExecutionInteractions>,
    pub(crate) scope: ExecutionScope,
    pub(crate) tool_name: String,
    pub(crate) tool_execution_id: String,
}

/// The text of a sampling message (images and audio are named, not sent).
#[allow(deprecated)]
fn text_of(message: &SamplingMessage) -> String {
    let content = serde_json::to_value(&message.content).unwrap_or_default();
    let blocks = match content {
        Value::Array(blocks) => blocks,
        single => vec![single],
    };
    blocks
        .iter()
        .map(|block| match block.get("type").and_then(Value::as_str) {
            Some("text") => block.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
            Some(other) => format!("[{other}]"),
            None => String::new(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[allow(deprecated)] // sampling and logging: deprecated by SEP-2577 in rmcp, in the 2025-11-25 protocol
#[async_trait]
impl Responder for CallResponder {
    async fn create_message(
        &self,
        server: &str,
        params: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, McpError> {
        let execution = &self.execution;
        let messages = params
            .messages
            .iter()
            .map(|message| match message.role {
                Role::Assistant => {
                    Message::Assistant { content: Some(text_of(message)), tool_calls: Vec::new(), thinking: None }
                }
                Role::User => Message::User { content: text_of(message) },
            })
            .collect();
        let request = ChatRequest {
            model: execution.model.clone(),
            system_prompt: params.system_prompt.clone(),
            messages,
            tools: Vec::new(),
            options: RequestOptions {
                temperature: params.temperature,
                max_tokens: Some(params.max_tokens),
                stop: params.stop_sequences.clone().unwrap_or_default(),
                ..RequestOptions::default()
            },
        };
        let response = execution
            .provider
            .complete(&request)
            .await
            .map_err(|e| McpError::internal_error(format!("the execution's model failed: {e}"), None))?;
        let usage = Usage {
            input_tokens: response.usage.input_tokens,
            output_tokens: response.usage.output_tokens,
            total_tokens: response.usage.total_tokens,
            cache_read_tokens: response.usage.cache_read_tokens,
            model_provider: Some(execution.provider.name().to_owned()),
            ..Usage::default()
        };
        execution.usage.lock().unwrap_or_else(PoisonError::into_inner).accumulate(&usage);
        execution.samplings.fetch_add(1, Ordering::Relaxed);
        info!(
            server,
            tool = %self.tool_name,
            model = %execution.model,
            input_tokens = usage.input_tokens,
            output_tokens = usage.output_tokens,
            "answered a sampling request with the execution's model"
        );
        Ok(CreateMessageResult::new(SamplingMessage::assistant_text(response.content), execution.model.clone())
            .with_stop_reason("endTurn"))
    }

    async fn elicit(&self, server: &str, params: ElicitRequestParams) -> Option<Result<ElicitResult, McpError>> {
        let elicitor = self.execution.elicitor.as_ref()?;
        elicitor.elicit(server, params).await
    }

    async fn progress(&self, _server: &str, progress: Progress) {
        self.scope.emit(&ExecutionEvent::ToolProgress {
            tool_name: self.tool_name.clone(),
            tool_execution_id: self.tool_execution_id.clone(),
            progress: progress.progress,
            total: progress.total,
            message: progress.message,
        });
    }

    async fn log(&self, server: &str, message: LoggingMessageNotificationParam) {
        info!(server, tool = %self.tool_name, level = ?message.level, data = %message.data, "server log");
    }
}
