//! `scripted:PATH`: replays a transcript file, deterministically and statelessly.
//!
//! A transcript is a JSON array of turns, each `{"tool_calls": [{"name", "arguments"}…]}` or
//! `{"content": "…"}`, with optional `"thinking"` and `"usage": {input_tokens, output_tokens}`;
//! a call may give `"arguments_raw": "…"` to send invalid JSON on purpose. The turn played is
//! the number of assistant messages after the last user message, so concurrent conversations
//! replay independently. In `content`, `{{last_tool_result}}` becomes the last tool result.
//! Without `usage`, tokens are estimated from text lengths (4 characters a token), never zero.

use std::path::Path;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ProviderError;
use crate::provider::{DeltaStream, ModelProvider};
use crate::types::{
    ChatRequest, ChatResponse, FinishKind, Message, StreamDelta, ThinkingBlock, TokenUsage, ToolCall, ToolSchemaDialect,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Turn {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ScriptedCall>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    usage: Option<ScriptedUsage>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptedCall {
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
    #[serde(default)]
    arguments_raw: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptedUsage {
    input_tokens: u64,
    output_tokens: u64,
}

/// The scripted provider.
#[derive(Debug)]
pub struct ScriptedProvider {
    turns: Vec<Turn>,
}

fn estimate(chars: usize) -> u64 {
    (chars as u64).div_ceil(4).max(1)
}

impl ScriptedProvider {
    /// Loads a transcript file.
    pub fn load(path: &Path) -> Result<Self, ProviderError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProviderError::Config(format!("cannot read transcript {}: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses a transcript.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ProviderError> {
        let turns: Vec<Turn> = serde_json::from_str(text).map_err(|e| {
            ProviderError::Config(format!("transcript {origin}: line {}, column {}: {e}", e.line(), e.column()))
        })?;
        Ok(Self { turns })
    }

    fn reply(&self, request: &ChatRequest) -> ChatResponse {
        let last_user = request.messages.iter().rposition(|m| matches!(m, Message::User { .. })).unwrap_or(0);
        let index = request.messages[last_user..].iter().filter(|m| matches!(m, Message::Assistant { .. })).count();
        let last_tool = request.messages.iter().rev().find_map(|m| match m {
            Message::Tool { content, .. } => Some(content.as_str()),
            _ => None,
        });
        let turn = self.turns.get(index).cloned().unwrap_or(Turn {
            content: Some("(end of scripted transcript)".into()),
            tool_calls: Vec::new(),
            thinking: None,
            usage: None,
        });
        let content = turn.content.unwrap_or_default().replace("{{last_tool_result}}", last_tool.unwrap_or(""));
        let tool_calls: Vec<ToolCall> = turn
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, call)| ToolCall {
                id: format!("call_{index}_{i}"),
                name: call.name.clone(),
                arguments: call.arguments_raw.clone().unwrap_or_else(|| {
                    call.arguments.clone().unwrap_or_else(|| Value::Object(Default::default())).to_string()
                }),
            })
            .collect();
        let prompt_chars: usize = request.system_prompt.as_deref().map_or(0, str::len)
            + request
                .messages
                .iter()
                .map(|m| match m {
                    Message::User { content } | Message::Tool { content, .. } => content.len(),
                    Message::Assistant { content, tool_calls, .. } => {
                        content.as_deref().map_or(0, str::len)
                            + tool_calls.iter().map(|c| c.arguments.len() + c.name.len()).sum::<usize>()
                    }
                })
                .sum::<usize>();
        let reply_chars = content.len() + tool_calls.iter().map(|c| c.name.len() + c.arguments.len()).sum::<usize>();
        let (input_tokens, output_tokens) = match turn.usage {
            Some(u) => (u.input_tokens, u.output_tokens),
            None => (estimate(prompt_chars), estimate(reply_chars)),
        };
        ChatResponse {
            content,
            thinking: turn.thinking.map(|text| ThinkingBlock { text, signature: None }),
            finish: if tool_calls.is_empty() { FinishKind::Stop } else { FinishKind::ToolCalls },
            tool_calls,
            usage: TokenUsage {
                input_tokens,
                output_tokens,
                total_tokens: input_tokens + output_tokens,
                cache_read_tokens: 0,
            },
            model: request.model.clone(),
        }
    }
}

#[async_trait]
impl ModelProvider for ScriptedProvider {
    fn name(&self) -> &str {
        "scripted"
    }

    fn schema_dialect(&self) -> ToolSchemaDialect {
        ToolSchemaDialect::OpenAi
    }

    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        Ok(self.reply(request))
    }

    async fn stream(&self, request: &ChatRequest) -> Result<DeltaStream, ProviderError> {
        let reply = self.reply(request);
        let mut deltas = Vec::new();
        if let Some(thinking) = &reply.thinking {
            deltas.push(StreamDelta::ThinkingStart);
            deltas.push(StreamDelta::ThinkingDelta(thinking.text.clone()));
            deltas.push(StreamDelta::ThinkingEnd { signature: None });
        }
        // Text in a few chunks, on character boundaries.
        let chars: Vec<char> = reply.content.chars().collect();
        for chunk in chars.chunks(chars.len().div_ceil(3).max(1)) {
            deltas.push(StreamDelta::Text(chunk.iter().collect()));
        }
        for (index, call) in reply.tool_calls.iter().enumerate() {
            deltas.push(StreamDelta::ToolCallStart { index, id: call.id.clone(), name: call.name.clone() });
            let middle = call.arguments.char_indices().nth(call.arguments.chars().count() / 2).map_or(0, |(i, _)| i);
            for fragment in [&call.arguments[..middle], &call.arguments[middle..]] {
                if !fragment.is_empty() {
                    deltas.push(StreamDelta::ToolCallArguments { index, fragment: fragment.to_owned() });
                }
            }
        }
        deltas.push(StreamDelta::Usage(reply.usage));
        deltas.push(StreamDelta::Finish(reply.finish));
        Ok(Box::pin(futures::stream::iter(deltas.into_iter().map(Ok))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(messages: Vec<Message>) -> ChatRequest {
        ChatRequest { model: "m".into(), messages, ..ChatRequest::default() }
    }

    #[tokio::test]
    async fn replays_by_turn_and_fills_the_last_tool_result() {
        let p = ScriptedProvider::parse(
            r#"[{"tool_calls": [{"name": "t", "arguments": {"a": 1}}, {"name": "u", "arguments_raw": "{bad"}]}, {"content": "got {{last_tool_result}}"}]"#,
            "test",
        )
        .unwrap();
        let first = p.complete(&request(vec![Message::User { content: "hi".into() }])).await.unwrap();
        assert_eq!(first.tool_calls.len(), 2);
        assert_eq!(first.tool_calls[0].arguments, r#"{"a":1}"#);
        assert_eq!(first.tool_calls[1].arguments, "{bad");
        assert!(first.usage.total_tokens > 0);
        let second = p
            .complete(&request(vec![
                Message::User { content: "hi".into() },
                Message::Assistant { content: None, tool_calls: first.tool_calls.clone(), thinking: None },
                Message::Tool { tool_call_id: "x".into(), name: "t".into(), content: "42".into(), is_error: false },
            ]))
            .await
            .unwrap();
        assert_eq!(second.content, "got 42");
        let past_end = p
            .complete(&request(vec![
                Message::User { content: "hi".into() },
                Message::Assistant { content: None, tool_calls: vec![], thinking: None },
                Message::Assistant { content: None, tool_calls: vec![], thinking: None },
            ]))
            .await
            .unwrap();
        assert_eq!(past_end.content, "(end of scripted transcript)");
    }

    #[test]
    fn bad_transcripts_are_explained() {
        let err = ScriptedProvider::parse("[{\"contnet\": 1}]", "t.json").unwrap_err().to_string();
        assert!(err.contains("t.json") && err.contains("contnet"), "{err}");
    }
}
