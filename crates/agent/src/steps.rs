//! The agent loop's pure steps: build the first request, apply a model reply (which decides
//! whether the execution ends, and why), turn tool-call records into messages, build the
//! result. No I/O and no clock here, so the same steps drive the in-process loop (`run.rs`) and
//! the durable workflow of `toolbridge-durable`, where they must be deterministic: what happens
//! between them — the model call, the tool calls — is the caller's.

use serde_json::{Map, Value, json};
use toolbridge::Catalogue;
use toolbridge::schema::SchemaTarget;
use toolbridge_providers::{
    ChatRequest, ChatResponse, FinishKind, Message, RequestOptions, TokenUsage, ToolCall, ToolSpec,
};
use toolbridge_runtime::{
    FinishReason, ModelConfig, RuntimeExecutionContext, RuntimeExecutionResult, ToolCallRecord, Usage,
};
use tracing::debug;

use crate::config::AgentLoopConfig;
use crate::messages::{assistant_tool_message, initial_messages, tool_result_message};

/// Between the texts of two model turns, in the streamed chunks and in the final response
/// alike.
pub const TURN_SEPARATOR: &str = "\n\n";

/// What the loop does after a model reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// The execution ends, for this reason.
    Finish(FinishReason),
    /// Run these tool calls (in this order), then call the model again.
    CallTools(Vec<ToolCall>),
}

/// The state of one execution's conversation: everything the loop carries from one model turn
/// to the next except the tool-call log (kept by the caller, in call order).
#[derive(Debug, Clone)]
pub struct Conversation {
    /// The next model request: the messages so far, the tools, the options.
    pub request: ChatRequest,
    /// Token usage so far.
    pub usage: Usage,
    /// Provider-level messages of the tool calls (assistant calls and tool results).
    pub tool_messages: Vec<Value>,
    /// The text of every finished model turn, joined by [`TURN_SEPARATOR`].
    pub response: String,
    /// Model calls started so far.
    pub iterations: u32,
    /// Arguments longer than this are kept short in `tool_messages` (the catalogue refuses
    /// them anyway).
    pub max_argument_bytes: usize,
}

impl Conversation {
    /// The conversation before its first model call.
    pub fn new(request: ChatRequest, model_provider: &str) -> Self {
        Self {
            request,
            usage: Usage { model_provider: Some(model_provider.to_owned()), ..Usage::default() },
            tool_messages: Vec::new(),
            response: String::new(),
            iterations: 0,
            max_argument_bytes: toolbridge::DEFAULT_MAX_ARGUMENT_BYTES,
        }
    }

    /// The same, with the catalogue's argument limit.
    #[must_use]
    pub fn with_argument_limit(mut self, max_argument_bytes: usize) -> Self {
        self.max_argument_bytes = max_argument_bytes;
        self
    }

    /// Counts the model call about to be made.
    pub fn begin_turn(&mut self) {
        self.iterations += 1;
    }

    /// Adds a reply's token counts to the usage and returns the usage so far.
    pub fn add_usage(&mut self, tokens: &TokenUsage) -> &Usage {
        let usage = Usage {
            input_tokens: tokens.input_tokens,
            output_tokens: tokens.output_tokens,
            total_tokens: tokens.total_tokens,
            cache_read_tokens: tokens.cache_read_tokens,
            model_provider: self.usage.model_provider.clone(),
            extra: Map::new(),
        };
        self.usage.accumulate(&usage);
        &self.usage
    }

    /// Applies a model reply (its usage already added): keeps its text, and decides what comes
    /// next — the end of the execution (`stop`, `length`, or `tool_use` when the iteration
    /// budget is spent while the model still wants tools), or the tool calls to run.
    pub fn apply_reply(&mut self, reply: &ChatResponse, config: &AgentLoopConfig) -> NextStep {
        self.add_turn_text(&reply.content);
        let over_budget = config.max_total_tokens.is_some_and(|limit| self.usage.total_tokens >= limit);
        if reply.tool_calls.is_empty() {
            return NextStep::Finish(if matches!(reply.finish, FinishKind::Length) || over_budget {
                FinishReason::Length
            } else {
                FinishReason::Stop
            });
        }
        self.tool_messages.push(assistant_tool_message(&reply.content, &reply.tool_calls, self.max_argument_bytes));
        self.request.messages.push(Message::Assistant {
            content: (!reply.content.is_empty()).then(|| reply.content.clone()),
            tool_calls: reply.tool_calls.clone(),
            thinking: reply.thinking.clone(),
        });
        if self.iterations >= config.max_iterations() {
            debug!(iterations = self.iterations, "iteration budget spent while the model still wants tools");
            return NextStep::Finish(FinishReason::ToolUse);
        }
        if over_budget {
            return NextStep::Finish(FinishReason::Length);
        }
        NextStep::CallTools(reply.tool_calls.clone())
    }

    /// Gives the model the results of the calls it asked for, in the order it asked
    /// (`records[i]` answers `calls[i]`).
    pub fn apply_tool_results(&mut self, calls: &[ToolCall], records: &[ToolCallRecord]) {
        for (call, record) in calls.iter().zip(records) {
            self.tool_messages.push(tool_result_message(call, &record.output, !record.success));
            self.request.messages.push(Message::Tool {
                tool_call_id: call.id.clone(),
                name: call.name.clone(),
                content: record.output.clone(),
                is_error: !record.success,
            });
        }
    }

    /// The execution's result: the response, usage, tool log and messages, `iterations` added
    /// to `metadata`; a cancelled one is marked so.
    pub fn result(
        &self,
        model: &str,
        metadata: &Map<String, Value>,
        tool_calls: Vec<ToolCallRecord>,
        finish: FinishReason,
    ) -> RuntimeExecutionResult {
        let mut metadata = metadata.clone();
        metadata.insert("iterations".into(), json!(self.iterations));
        let mut result = RuntimeExecutionResult {
            response: self.response.clone(),
            usage: self.usage.clone(),
            success: !matches!(finish, FinishReason::Error | FinishReason::Cancelled),
            finish_reason: Some(finish),
            model: Some(model.to_owned()),
            tool_execution_messages: Some(tool_calls),
            tool_messages: Some(self.tool_messages.clone()),
            metadata,
            ..RuntimeExecutionResult::default()
        };
        if finish == FinishReason::Cancelled {
            result.mark_cancelled();
        }
        result
    }

    /// Adds a finished turn's text to the response.
    fn add_turn_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if !self.response.is_empty() {
            self.response.push_str(TURN_SEPARATOR);
        }
        self.response.push_str(text);
    }
}

/// The catalogue's tools as the provider gets them (schemas normalised for `target`).
pub fn tool_specs(catalogue: &Catalogue, target: SchemaTarget) -> Vec<ToolSpec> {
    catalogue
        .provider_tools(target)
        .into_iter()
        .map(|tool| ToolSpec {
            name: tool.name,
            description: tool.description,
            parameters: tool.parameters,
            strict: tool.strict,
        })
        .collect()
}

/// The first model request of an execution: its system prompt, history and prompt, the tools.
pub fn first_request(
    model: &str,
    tools: Vec<ToolSpec>,
    ctx: &RuntimeExecutionContext,
    config: &AgentLoopConfig,
) -> ChatRequest {
    let (system_prompt, messages) =
        initial_messages(ctx.system_prompt.as_deref(), &ctx.conversation_history, &ctx.prompt);
    ChatRequest {
        model: model.to_owned(),
        system_prompt,
        messages,
        tools,
        options: request_options(config, ctx.model_config.as_ref()),
    }
}

/// The sampling settings of every model request: `model_config`'s, else the agent's
/// `runtime_config`'s.
pub fn request_options(config: &AgentLoopConfig, model: Option<&ModelConfig>) -> RequestOptions {
    let model = model.cloned().unwrap_or_default();
    RequestOptions {
        temperature: model.temperature.or(config.temperature),
        max_tokens: model.max_tokens.or(config.max_tokens),
        top_p: model.top_p,
        stop: model.stop,
        seed: model.seed,
        presence_penalty: model.presence_penalty,
        frequency_penalty: model.frequency_penalty,
        parallel_tool_calls: config.parallel_tool_calls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolbridge_runtime::ToolSourceKind;

    fn call(id: &str) -> ToolCall {
        ToolCall { id: id.into(), name: "t__x".into(), arguments: "{}".into() }
    }

    fn record(output: &str, success: bool) -> ToolCallRecord {
        let now = chrono::Utc::now();
        ToolCallRecord {
            tool: "t__x".into(),
            tool_use_id: "1".into(),
            source: ToolSourceKind::Mcp,
            server: Some("t".into()),
            input: json!({}),
            output: output.into(),
            success,
            error: None,
            error_type: None,
            duration_ms: 0,
            start_time: now,
            end_time: now,
            metadata: Map::new(),
        }
    }

    fn reply(content: &str, calls: Vec<ToolCall>) -> ChatResponse {
        ChatResponse { content: content.into(), tool_calls: calls, ..ChatResponse::default() }
    }

    #[test]
    fn a_turn_with_tools_then_a_final_answer() {
        let config = AgentLoopConfig::default();
        let mut conversation = Conversation::new(ChatRequest::default(), "scripted");
        conversation.begin_turn();
        let next = conversation.apply_reply(&reply("looking", vec![call("a"), call("b")]), &config);
        assert_eq!(next, NextStep::CallTools(vec![call("a"), call("b")]));
        conversation.apply_tool_results(&[call("a"), call("b")], &[record("A", true), record("B", false)]);
        assert_eq!(conversation.request.messages.len(), 3);
        assert!(
            matches!(&conversation.request.messages[2], Message::Tool { is_error: true, content, .. } if content == "B")
        );
        conversation.begin_turn();
        assert_eq!(conversation.apply_reply(&reply("done", vec![]), &config), NextStep::Finish(FinishReason::Stop));
        assert_eq!(conversation.response, "looking\n\ndone");
        let result = conversation.result("m", &Map::new(), vec![], FinishReason::Stop);
        assert!(result.success);
        assert_eq!(result.metadata["iterations"], 2);
        assert_eq!(result.tool_messages.unwrap().len(), 3);
    }

    #[test]
    fn budgets_decide_the_finish_reason() {
        let config = AgentLoopConfig { max_iterations: Some(1), ..AgentLoopConfig::default() };
        let mut conversation = Conversation::new(ChatRequest::default(), "scripted");
        conversation.begin_turn();
        assert_eq!(
            conversation.apply_reply(&reply("", vec![call("a")]), &config),
            NextStep::Finish(FinishReason::ToolUse)
        );
        let config = AgentLoopConfig { max_total_tokens: Some(10), ..AgentLoopConfig::default() };
        let mut conversation = Conversation::new(ChatRequest::default(), "scripted");
        conversation.begin_turn();
        conversation.add_usage(&TokenUsage {
            input_tokens: 8,
            output_tokens: 4,
            total_tokens: 12,
            cache_read_tokens: 0,
        });
        assert_eq!(conversation.usage.total_tokens, 12);
        assert_eq!(
            conversation.apply_reply(&reply("x", vec![call("a")]), &config),
            NextStep::Finish(FinishReason::Length)
        );
        let cancelled = conversation.result("m", &Map::new(), vec![], FinishReason::Cancelled);
        assert!(!cancelled.success);
        assert_eq!(cancelled.finish_reason, Some(FinishReason::Cancelled));
    }
}
