//! Anthropic messages API: tool_use / tool_result blocks, thinking, cache reads.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sse_stream::SseStream;

use crate::error::ProviderError;
use crate::http::{Endpoint, RetryPolicy, send};
use crate::provider::{DeltaStream, ModelProvider};
use crate::sse::{self, Flow};
use crate::types::{
    ChatRequest, ChatResponse, FinishKind, Message, StreamDelta, ThinkingBlock, TokenUsage, ToolCall, ToolSchemaDialect,
};

/// The API version sent in `anthropic-version`.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API; this is the default.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// An Anthropic endpoint.
#[derive(Debug)]
pub struct AnthropicProvider {
    client: reqwest::Client,
    base_url: String,
    key: Option<SecretString>,
    timeout: Duration,
    retry: RetryPolicy,
}

impl AnthropicProvider {
    /// A provider for `base_url` (e.g. `https://api.anthropic.com`).
    pub fn new(base_url: impl Into<String>, key: Option<SecretString>, timeout: Duration, retry: RetryPolicy) -> Self {
        Self {
            client: crate::http::shared_client(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            key,
            timeout,
            retry,
        }
    }

    fn url(&self) -> String {
        format!("{}/v1/messages", self.base_url)
    }

    async fn post(&self, body: &Value, model: &str) -> Result<reqwest::Response, ProviderError> {
        let url = self.url();
        let endpoint = Endpoint {
            provider: "anthropic",
            key_variable: "ANTHROPIC_API_KEY",
            url: url.clone(),
            model: model.to_owned(),
            key: self.key.clone(),
        };
        send(&endpoint, &self.retry, self.timeout, || {
            let request = self.client.post(&url).header("anthropic-version", ANTHROPIC_VERSION).json(body);
            match &self.key {
                Some(key) => request.header("x-api-key", key.expose_secret()),
                None => request,
            }
        })
        .await
    }
}

/// The request body for `/v1/messages`: consecutive tool results merged into one user message.
pub(crate) fn body(request: &ChatRequest, stream: bool) -> Value {
    let mut messages: Vec<Value> = Vec::new();
    for message in &request.messages {
        match message {
            Message::User { content } => messages.push(json!({"role": "user", "content": content})),
            Message::Assistant { content, tool_calls, thinking } => {
                let mut blocks = Vec::new();
                if let Some(thinking) = thinking
                    && let Some(signature) = &thinking.signature
                {
                    blocks.push(json!({"type": "thinking", "thinking": thinking.text, "signature": signature}));
                }
                if let Some(text) = content.as_deref().filter(|t| !t.is_empty()) {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for call in tool_calls {
                    let input: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
                    blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
                }
                messages.push(json!({"role": "assistant", "content": blocks}));
            }
            Message::Tool { tool_call_id, content, is_error, .. } => {
                let block = json!({"type": "tool_result", "tool_use_id": tool_call_id, "content": content, "is_error": is_error});
                match messages.last_mut() {
                    Some(last)
                        if last["role"] == "user"
                            && last["content"]
                                .as_array()
                                .is_some_and(|b| b.iter().all(|x| x["type"] == "tool_result")) =>
                    {
                        if let Some(blocks) = last["content"].as_array_mut() {
                            blocks.push(block);
                        }
                    }
                    _ => messages.push(json!({"role": "user", "content": [block]})),
                }
            }
        }
    }
    let mut body = json!({
        "model": request.model,
        "messages": messages,
        "max_tokens": request.options.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
    });
    if let Some(system) = &request.system_prompt {
        body["system"] = json!(system);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
    }
    if let Some(t) = request.options.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(top_p) = request.options.top_p {
        body["top_p"] = json!(top_p);
    }
    if !request.options.stop.is_empty() {
        body["stop_sequences"] = json!(request.options.stop);
    }
    if stream {
        body["stream"] = Value::Bool(true);
    }
    body
}

fn finish_kind(reason: Option<&str>) -> FinishKind {
    match reason {
        Some("end_turn" | "stop_sequence") | None => FinishKind::Stop,
        Some("max_tokens") => FinishKind::Length,
        Some("tool_use") => FinishKind::ToolCalls,
        Some("refusal") => FinishKind::ContentFilter,
        Some(other) => FinishKind::Other(other.to_owned()),
    }
}

fn usage(value: &Value) -> TokenUsage {
    let n = |k: &str| value.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cache_read = n("cache_read_input_tokens");
    let input = n("input_tokens") + cache_read + n("cache_creation_input_tokens");
    let output = n("output_tokens");
    TokenUsage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: input + output,
        cache_read_tokens: cache_read,
    }
}

fn parse_response(value: &Value, url: &str) -> Result<ChatResponse, ProviderError> {
    let blocks = value
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::InvalidResponse { url: url.to_owned(), message: "no content".into() })?;
    let mut response = ChatResponse {
        usage: value.get("usage").map(usage).unwrap_or_default(),
        finish: finish_kind(value.get("stop_reason").and_then(Value::as_str)),
        model: value.get("model").and_then(Value::as_str).unwrap_or_default().to_owned(),
        ..ChatResponse::default()
    };
    for block in blocks {
        match block["type"].as_str() {
            Some("text") => response.content.push_str(block["text"].as_str().unwrap_or_default()),
            Some("thinking") => {
                response.thinking = Some(ThinkingBlock {
                    text: block["thinking"].as_str().unwrap_or_default().to_owned(),
                    signature: block["signature"].as_str().map(str::to_owned),
                });
            }
            Some("tool_use") => response.tool_calls.push(ToolCall {
                id: block["id"].as_str().unwrap_or_default().to_owned(),
                name: block["name"].as_str().unwrap_or_default().to_owned(),
                arguments: block["input"].to_string(),
            }),
            _ => {}
        }
    }
    Ok(response)
}

/// The deltas of one stream event.
fn event_deltas(
    event: &Value,
    out: &mut Vec<StreamDelta>,
    usage_so_far: &mut TokenUsage,
) -> Result<bool, ProviderError> {
    match event["type"].as_str() {
        Some("message_start") => *usage_so_far = usage(&event["message"]["usage"]),
        Some("content_block_start") => {
            let index = event["index"].as_u64().unwrap_or(0) as usize;
            let block = &event["content_block"];
            match block["type"].as_str() {
                Some("tool_use") => out.push(StreamDelta::ToolCallStart {
                    index,
                    id: block["id"].as_str().unwrap_or_default().to_owned(),
                    name: block["name"].as_str().unwrap_or_default().to_owned(),
                }),
                Some("thinking") => out.push(StreamDelta::ThinkingStart),
                _ => {}
            }
        }
        Some("content_block_delta") => {
            let index = event["index"].as_u64().unwrap_or(0) as usize;
            let delta = &event["delta"];
            match delta["type"].as_str() {
                Some("text_delta") => {
                    out.push(StreamDelta::Text(delta["text"].as_str().unwrap_or_default().to_owned()));
                }
                Some("input_json_delta") => out.push(StreamDelta::ToolCallArguments {
                    index,
                    fragment: delta["partial_json"].as_str().unwrap_or_default().to_owned(),
                }),
                Some("thinking_delta") => {
                    out.push(StreamDelta::ThinkingDelta(delta["thinking"].as_str().unwrap_or_default().to_owned()));
                }
                Some("signature_delta") => {
                    out.push(StreamDelta::ThinkingEnd { signature: delta["signature"].as_str().map(str::to_owned) });
                }
                _ => {}
            }
        }
        Some("message_delta") => {
            let output = event["usage"]["output_tokens"].as_u64().unwrap_or(0);
            usage_so_far.output_tokens = output;
            usage_so_far.total_tokens = usage_so_far.input_tokens + output;
            out.push(StreamDelta::Usage(*usage_so_far));
            out.push(StreamDelta::Finish(finish_kind(event["delta"]["stop_reason"].as_str())));
        }
        Some("message_stop") => return Ok(true),
        Some("error") => {
            return Err(ProviderError::Stream(event["error"]["message"].as_str().unwrap_or("error event").to_owned()));
        }
        _ => {}
    }
    Ok(false)
}

#[async_trait]
impl ModelProvider for AnthropicProvider {
    fn name(&self) -> &str {
        "anthropic"
    }

    fn schema_dialect(&self) -> ToolSchemaDialect {
        ToolSchemaDialect::Anthropic
    }

    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let url = self.url();
        let response = self.post(&body(request, false), &request.model).await?;
        let value: Value = response
            .json()
            .await
            .map_err(|e| ProviderError::InvalidResponse { url: url.clone(), message: format!("not JSON: {e}") })?;
        parse_response(&value, &url)
    }

    async fn stream(&self, request: &ChatRequest) -> Result<DeltaStream, ProviderError> {
        let response = self.post(&body(request, true), &request.model).await?;
        let events = SseStream::from_bytes_stream(response.bytes_stream());
        Ok(Box::pin(sse::deltas(events, TokenUsage::default(), "message_stop", on_data)))
    }
}

/// One Anthropic stream event; `message_stop` completes the reply.
fn on_data(data: &str, usage: &mut TokenUsage, deltas: &mut Vec<StreamDelta>) -> Result<Flow, ProviderError> {
    let value: Value = serde_json::from_str(data).map_err(|e| ProviderError::Stream(format!("invalid event: {e}")))?;
    Ok(if event_deltas(&value, deltas, usage)? { Flow::Done } else { Flow::More })
}
