//! OpenAI-compatible chat completions (OpenAI, llama.cpp server, vLLM, Ollama, …).

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
    ChatRequest, ChatResponse, FinishKind, Message, StreamDelta, TokenUsage, ToolCall, ToolSchemaDialect,
};

/// An OpenAI-compatible endpoint.
#[derive(Debug)]
pub struct OpenAiProvider {
    client: reqwest::Client,
    base_url: String,
    key: Option<SecretString>,
    timeout: Duration,
    retry: RetryPolicy,
}

impl OpenAiProvider {
    /// A provider for `base_url` (e.g. `https://api.openai.com/v1`).
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
        format!("{}/chat/completions", self.base_url)
    }

    fn endpoint(&self, model: &str) -> Endpoint {
        Endpoint {
            provider: "openai",
            key_variable: "OPENAI_API_KEY",
            url: self.url(),
            model: model.to_owned(),
            key: self.key.clone(),
        }
    }

    async fn post(&self, body: &Value, model: &str) -> Result<reqwest::Response, ProviderError> {
        let url = self.url();
        send(&self.endpoint(model), &self.retry, self.timeout, || {
            let request = self.client.post(&url).json(body);
            match &self.key {
                Some(key) => request.bearer_auth(key.expose_secret()),
                None => request,
            }
        })
        .await
    }
}

/// The request body for `/chat/completions`.
pub(crate) fn body(request: &ChatRequest, stream: bool) -> Value {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system_prompt {
        messages.push(json!({"role": "system", "content": system}));
    }
    for message in &request.messages {
        messages.push(match message {
            Message::User { content } => json!({"role": "user", "content": content}),
            Message::Assistant { content, tool_calls, .. } => {
                let mut m = json!({"role": "assistant", "content": content});
                if !tool_calls.is_empty() {
                    m["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                        .collect();
                }
                m
            }
            Message::Tool { tool_call_id, content, .. } => json!({"role": "tool", "tool_call_id": tool_call_id, "content": content}),
        });
    }
    let mut body = json!({"model": request.model, "messages": messages});
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| {
                let mut function = json!({"name": t.name, "description": t.description, "parameters": t.parameters});
                if t.strict {
                    function["strict"] = Value::Bool(true);
                }
                json!({"type": "function", "function": function})
            })
            .collect();
        if let Some(parallel) = request.options.parallel_tool_calls {
            body["parallel_tool_calls"] = Value::Bool(parallel);
        }
    }
    if let Some(t) = request.options.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(max) = request.options.max_tokens {
        body["max_tokens"] = json!(max);
    }
    let options = &request.options;
    if let Some(top_p) = options.top_p {
        body["top_p"] = json!(top_p);
    }
    if !options.stop.is_empty() {
        body["stop"] = json!(options.stop);
    }
    if let Some(seed) = options.seed {
        body["seed"] = json!(seed);
    }
    if let Some(penalty) = options.presence_penalty {
        body["presence_penalty"] = json!(penalty);
    }
    if let Some(penalty) = options.frequency_penalty {
        body["frequency_penalty"] = json!(penalty);
    }
    if stream {
        body["stream"] = Value::Bool(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

fn finish_kind(reason: Option<&str>) -> FinishKind {
    match reason {
        Some("stop") | None => FinishKind::Stop,
        Some("length") => FinishKind::Length,
        Some("tool_calls" | "function_call") => FinishKind::ToolCalls,
        Some("content_filter") => FinishKind::ContentFilter,
        Some(other) => FinishKind::Other(other.to_owned()),
    }
}

fn usage(value: &Value) -> TokenUsage {
    let n = |p: &str| value.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let input_tokens = n("/prompt_tokens");
    let output_tokens = n("/completion_tokens");
    TokenUsage {
        input_tokens,
        output_tokens,
        total_tokens: value.get("total_tokens").and_then(Value::as_u64).unwrap_or(input_tokens + output_tokens),
        cache_read_tokens: n("/prompt_tokens_details/cached_tokens"),
    }
}

/// Parses a non-streamed `/chat/completions` response.
pub(crate) fn parse_response(value: &Value, url: &str) -> Result<ChatResponse, ProviderError> {
    let invalid = |m: &str| ProviderError::InvalidResponse { url: url.to_owned(), message: m.to_owned() };
    let choice = value.pointer("/choices/0").ok_or_else(|| invalid("no choices"))?;
    let message = choice.get("message").ok_or_else(|| invalid("no message in the first choice"))?;
    let tool_calls = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .enumerate()
                .map(|(i, c)| ToolCall {
                    id: c.get("id").and_then(Value::as_str).map_or_else(|| format!("call_{i}"), str::to_owned),
                    name: c.pointer("/function/name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    arguments: match c.pointer("/function/arguments") {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ChatResponse {
        content: message.get("content").and_then(Value::as_str).unwrap_or_default().to_owned(),
        thinking: None,
        tool_calls,
        usage: value.get("usage").map(usage).unwrap_or_default(),
        finish: finish_kind(choice.get("finish_reason").and_then(Value::as_str)),
        model: value.get("model").and_then(Value::as_str).unwrap_or_default().to_owned(),
    })
}

/// The deltas of one streamed chunk.
pub(crate) fn chunk_deltas(chunk: &Value, out: &mut Vec<StreamDelta>, finish: &mut Option<FinishKind>) {
    if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
        out.push(StreamDelta::Usage(usage(u)));
    }
    let Some(choice) = chunk.pointer("/choices/0") else { return };
    if let Some(delta) = choice.get("delta") {
        if let Some(text) = delta.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            out.push(StreamDelta::Text(text.to_owned()));
        }
        if let Some(text) = delta.get("reasoning_content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            out.push(StreamDelta::ThinkingDelta(text.to_owned()));
        }
        for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            let id = call.get("id").and_then(Value::as_str);
            let name = call.pointer("/function/name").and_then(Value::as_str);
            if id.is_some() || name.is_some() {
                out.push(StreamDelta::ToolCallStart {
                    index,
                    id: id.unwrap_or_default().to_owned(),
                    name: name.unwrap_or_default().to_owned(),
                });
            }
            if let Some(fragment) =
                call.pointer("/function/arguments").and_then(Value::as_str).filter(|f| !f.is_empty())
            {
                out.push(StreamDelta::ToolCallArguments { index, fragment: fragment.to_owned() });
            }
        }
    }
    if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
        *finish = Some(finish_kind(Some(reason)));
    }
}

#[async_trait]
impl ModelProvider for OpenAiProvider {
    fn name(&self) -> &str {
        "openai"
    }

    fn schema_dialect(&self) -> ToolSchemaDialect {
        ToolSchemaDialect::OpenAi
    }

    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let response = self.post(&body(request, false), &request.model).await?;
        let url = self.url();
        let value: Value = response
            .json()
            .await
            .map_err(|e| ProviderError::InvalidResponse { url: url.clone(), message: format!("not JSON: {e}") })?;
        parse_response(&value, &url)
    }

    async fn stream(&self, request: &ChatRequest) -> Result<DeltaStream, ProviderError> {
        let response = self.post(&body(request, true), &request.model).await?;
        let events = SseStream::from_bytes_stream(response.bytes_stream());
        Ok(Box::pin(sse::deltas(events, None, "[DONE]", on_data)))
    }
}

/// One OpenAI stream event: a chunk of deltas, an error, or `[DONE]`.
fn on_data(data: &str, finish: &mut Option<FinishKind>, deltas: &mut Vec<StreamDelta>) -> Result<Flow, ProviderError> {
    if data.trim() == "[DONE]" {
        deltas.push(StreamDelta::Finish(finish.take().unwrap_or_default()));
        return Ok(Flow::Done);
    }
    let chunk: Value = serde_json::from_str(data).map_err(|e| ProviderError::Stream(format!("invalid chunk: {e}")))?;
    if let Some(message) = chunk.pointer("/error/message").and_then(Value::as_str) {
        return Err(ProviderError::Stream(message.to_owned()));
    }
    chunk_deltas(&chunk, deltas, finish);
    Ok(Flow::More)
}
