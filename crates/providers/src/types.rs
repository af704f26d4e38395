//! The provider-neutral request, response and stream shapes. Requests and replies serialise
//! (serde) so that a model call can cross a process boundary (a durable execution's activity).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One model request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatRequest {
    /// The model name to send.
    pub model: String,
    /// System instructions.
    pub system_prompt: Option<String>,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// The tools offered.
    pub tools: Vec<ToolSpec>,
    /// Sampling options.
    pub options: RequestOptions,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its parameters (already normalised for the provider).
    pub parameters: Value,
    /// OpenAI strict mode.
    pub strict: bool,
}

/// Sampling options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestOptions {
    /// Temperature.
    pub temperature: Option<f32>,
    /// Most tokens in the reply.
    pub max_tokens: Option<u32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// Sequences that end the reply.
    pub stop: Vec<String>,
    /// A sampling seed (OpenAI-compatible providers).
    pub seed: Option<i64>,
    /// Presence penalty (OpenAI-compatible providers).
    pub presence_penalty: Option<f32>,
    /// Frequency penalty (OpenAI-compatible providers).
    pub frequency_penalty: Option<f32>,
    /// Whether the model may ask for several tools at once.
    pub parallel_tool_calls: Option<bool>,
}

/// A message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    /// What the user said.
    User {
        /// The text.
        content: String,
    },
    /// What the model said, and the tools it asked for.
    Assistant {
        /// Its text.
        content: Option<String>,
        /// Its tool calls.
        tool_calls: Vec<ToolCall>,
        /// Its thinking (Anthropic needs it echoed back with the signature).
        thinking: Option<ThinkingBlock>,
    },
    /// A tool's result.
    Tool {
        /// The call it answers.
        tool_call_id: String,
        /// The tool.
        name: String,
        /// The result text.
        content: String,
        /// Whether the call failed.
        is_error: bool,
    },
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's call id.
    pub id: String,
    /// The tool name.
    pub name: String,
    /// The arguments exactly as the model sent them (may be invalid JSON).
    pub arguments: String,
}

/// The model's thinking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThinkingBlock {
    /// The text.
    pub text: String,
    /// Anthropic's signature.
    pub signature: Option<String>,
}

/// Token counts of one reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenUsage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// Prompt tokens served from cache.
    pub cache_read_tokens: u64,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FinishKind {
    /// It finished.
    #[default]
    Stop,
    /// It hit the token limit.
    Length,
    /// It asked for tools.
    ToolCalls,
    /// A content filter stopped it.
    ContentFilter,
    /// Something else.
    Other(String),
}

/// A whole reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatResponse {
    /// The text.
    pub content: String,
    /// The thinking.
    pub thinking: Option<ThinkingBlock>,
    /// The tool calls.
    pub tool_calls: Vec<ToolCall>,
    /// Token counts.
    pub usage: TokenUsage,
    /// Why it stopped.
    pub finish: FinishKind,
    /// The model that answered.
    pub model: String,
}

/// One piece of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamDelta {
    /// Text.
    Text(String),
    /// Thinking started.
    ThinkingStart,
    /// Thinking text.
    ThinkingDelta(String),
    /// Thinking ended.
    ThinkingEnd {
        /// Anthropic's signature.
        signature: Option<String>,
    },
    /// A tool call started.
    ToolCallStart {
        /// Its position in the reply.
        index: usize,
        /// Its id.
        id: String,
        /// The tool.
        name: String,
    },
    /// A fragment of a tool call's arguments.
    ToolCallArguments {
        /// Its position in the reply.
        index: usize,
        /// The fragment.
        fragment: String,
    },
    /// Token counts.
    Usage(TokenUsage),
    /// The reply ended.
    Finish(FinishKind),
}

/// Which schema dialect a provider's tool definitions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolSchemaDialect {
    /// OpenAI function parameters.
    OpenAi,
    /// Anthropic `input_schema`.
    Anthropic,
    /// Gemini function declarations.
    Gemini,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_and_replies_round_trip() {
        let request = ChatRequest {
            model: "m".into(),
            system_prompt: Some("s".into()),
            messages: vec![
                Message::User { content: "hi".into() },
                Message::Assistant {
                    content: None,
                    tool_calls: vec![ToolCall { id: "c1".into(), name: "t".into(), arguments: "{".into() }],
                    thinking: Some(ThinkingBlock { text: "hm".into(), signature: Some("sig".into()) }),
                },
                Message::Tool { tool_call_id: "c1".into(), name: "t".into(), content: "out".into(), is_error: true },
            ],
            tools: vec![ToolSpec { name: "t".into(), description: "d".into(), parameters: json!({}), strict: false }],
            options: RequestOptions { temperature: Some(0.5), stop: vec!["x".into()], ..RequestOptions::default() },
        };
        let text = serde_json::to_string(&request).unwrap();
        let back: ChatRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(back.messages, request.messages);
        assert_eq!(back.tools, request.tools);
        assert_eq!(back.options, request.options);
        assert_eq!(serde_json::to_value(&request.messages[0]).unwrap(), json!({"role": "user", "content": "hi"}));
        let reply =
            ChatResponse { content: "c".into(), finish: FinishKind::Other("x".into()), ..ChatResponse::default() };
        assert_eq!(serde_json::from_value::<ChatResponse>(serde_json::to_value(&reply).unwrap()).unwrap(), reply);
    }
}
