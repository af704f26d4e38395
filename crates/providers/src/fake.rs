//! A local fake OpenAI- and Anthropic-compatible model server, driven by scripts: replies,
//! tool calls (streamed in fragments), errors with `Retry-After`, delays, streams cut mid-reply
//! and invalid JSON. Tests and benchmarks use it where no real model is available.

use axum::serve::ListenerExt as _;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A scripted tool call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeToolCall {
    /// The tool name.
    pub name: String,
    /// The arguments as sent (may be invalid JSON on purpose).
    pub arguments: String,
}

/// A scripted reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeTurn {
    /// Text.
    pub content: Option<String>,
    /// Tool calls.
    pub tool_calls: Vec<FakeToolCall>,
    /// Thinking (Anthropic only).
    pub thinking: Option<String>,
    /// `(input, output)` tokens; estimated from lengths when absent.
    pub usage: Option<(u64, u64)>,
}

/// One scripted step of a [`FakeMode::Sequence`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeStep {
    /// A reply.
    Turn(FakeTurn),
    /// An error status with a body and an optional `Retry-After` (seconds).
    Error {
        /// The status.
        status: u16,
        /// The body.
        body: String,
        /// `Retry-After`.
        retry_after: Option<u64>,
    },
    /// Waits, then does `then`.
    Delay {
        /// Milliseconds.
        ms: u64,
        /// What to do after.
        then: Box<FakeStep>,
    },
    /// A streamed reply that stops after this many events (no end marker).
    CutStream {
        /// Events sent before the cut.
        after_events: usize,
    },
    /// A 200 response whose body is not JSON.
    InvalidJson,
}

/// How the server chooses its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeMode {
    /// Each request takes the next step (an empty queue replies "ok").
    Sequence(Vec<FakeStep>),
    /// Stateless: the turn is the number of assistant messages after the last user message,
    /// so concurrent conversations replay independently.
    Transcript(Vec<FakeTurn>),
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// How replies are chosen.
    pub mode: FakeMode,
    /// How many request bodies to keep for [`FakeModelServer::requests`].
    pub keep_requests: usize,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self { mode: FakeMode::Sequence(Vec::new()), keep_requests: 1000 }
    }
}

#[derive(Debug)]
struct FakeState {
    steps: Mutex<VecDeque<FakeStep>>,
    transcript: Option<Vec<FakeTurn>>,
    requests: Mutex<VecDeque<Value>>,
    keep: usize,
    count: AtomicUsize,
}

/// A running fake model server on 127.0.0.1.
#[derive(Debug)]
pub struct FakeModelServer {
    addr: SocketAddr,
    state: Arc<FakeState>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl FakeModelServer {
    /// Starts the server on 127.0.0.1 with a free port.
    pub async fn start(config: FakeConfig) -> std::io::Result<Self> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts the server on the given address.
    pub async fn start_on(config: FakeConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let (steps, transcript) = match config.mode {
            FakeMode::Sequence(steps) => (steps.into(), None),
            FakeMode::Transcript(turns) => (VecDeque::new(), Some(turns)),
        };
        let state = Arc::new(FakeState {
            steps: Mutex::new(steps),
            transcript,
            requests: Mutex::new(VecDeque::new()),
            keep: config.keep_requests,
            count: AtomicUsize::new(0),
        });
        let router = axum::Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .route(
                "/v1/models",
                get(|| async { axum::Json(json!({"object": "list", "data": [{"id": "fake", "object": "model"}]})) }),
            )
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener.tap_io(no_delay), router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        Ok(Self { addr, state, shutdown, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL for `OPENAI_BASE_URL`: `http://127.0.0.1:PORT/v1`.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The base URL for `ANTHROPIC_BASE_URL`: `http://127.0.0.1:PORT`.
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request bodies received (the most recent ones, oldest first).
    pub fn requests(&self) -> Vec<Value> {
        self.state.requests.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect()
    }

    /// How many requests arrived.
    pub fn request_count(&self) -> usize {
        self.state.count.load(Ordering::Relaxed)
    }

    /// Stops the server.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

impl FakeState {
    fn record(&self, body: &Value) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if self.keep > 0 {
            let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
            if requests.len() >= self.keep {
                requests.pop_front();
            }
            requests.push_back(body.clone());
        }
    }

    fn next_step(&self, body: &Value) -> FakeStep {
        if let Some(turns) = &self.transcript {
            let messages = body["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
            let last_user = messages.iter().rposition(|m| m["role"] == "user" && !is_tool_result(m)).unwrap_or(0);
            let index = messages[last_user..].iter().filter(|m| m["role"] == "assistant").count();
            return FakeStep::Turn(turns.get(index).cloned().unwrap_or_else(|| FakeTurn {
                content: Some("(end of fake transcript)".into()),
                ..FakeTurn::default()
            }));
        }
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
            .unwrap_or_else(|| FakeStep::Turn(FakeTurn { content: Some("ok".into()), ..FakeTurn::default() }))
    }
}

/// Anthropic tool results come back as user messages of tool_result blocks.
fn is_tool_result(message: &Value) -> bool {
    message["content"]
        .as_array()
        .is_some_and(|blocks| !blocks.is_empty() && blocks.iter().all(|b| b["type"] == "tool_result"))
}

fn usage_of(turn: &FakeTurn, body: &Value) -> (u64, u64) {
    turn.usage.unwrap_or_else(|| {
        let input = (body.to_string().len() as u64).div_ceil(4).max(1);
        let output = (turn.content.as_deref().map_or(0, str::len)
            + turn.tool_calls.iter().map(|c| c.name.len() + c.arguments.len()).sum::<usize>())
        .div_ceil(4)
        .max(1) as u64;
        (input, output)
    })
}

async fn resolve(state: &FakeState, body: &Value) -> FakeStep {
    let mut step = state.next_step(body);
    while let FakeStep::Delay { ms, then } = step {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        step = *then;
    }
    step
}

fn error_response(status: u16, body: String, retry_after: Option<u64>) -> Response {
    let mut response =
        (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body).into_response();
    if let Some(after) = retry_after
        && let Ok(value) = HeaderValue::from_str(&after.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn sse(events: Vec<String>, cut_after: Option<usize>) -> Response {
    let events: Vec<Result<Bytes, std::io::Error>> =
        events.into_iter().take(cut_after.unwrap_or(usize::MAX)).map(|e| Ok(Bytes::from(e))).collect();
    let mut response = Body::from_stream(futures::stream::iter(events)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response
}

fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(chars.len().div_ceil(3).max(1)).map(|c| c.iter().collect()).collect()
}

fn halves(text: &str) -> [&str; 2] {
    let middle = text.char_indices().nth(text.chars().count() / 2).map_or(text.len(), |(i, _)| i);
    [&text[..middle], &text[middle..]]
}

/// The reply a request gets: a turn (and, for a cut stream, after how many events to cut
/// it), or a whole error response.
async fn turn_for(state: &FakeState, body: &Value) -> Result<(FakeTurn, Option<usize>), Response> {
    match resolve(state, body).await {
        FakeStep::Turn(turn) => Ok((turn, None)),
        FakeStep::Error { status, body, retry_after } => Err(error_response(status, body, retry_after)),
        FakeStep::InvalidJson => {
            Err((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{not json").into_response())
        }
        FakeStep::CutStream { after_events } => Ok((
            FakeTurn {
                tool_calls: vec![FakeToolCall { name: "cut".into(), arguments: "{\"never\": \"finished\"}".into() }],
                ..FakeTurn::default()
            },
            Some(after_events),
        )),
        FakeStep::Delay { .. } => Err(unreachable_delay()),
    }
}

async fn openai(State(state): State<Arc<FakeState>>, body: String) -> Response {
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return error_response(400, json!({"error": {"message": "request body is not JSON"}}).to_string(), None);
    };
    state.record(&body);
    let stream = body["stream"].as_bool().unwrap_or(false);
    let model = body["model"].as_str().unwrap_or("fake").to_owned();
    let (turn, cut) = match turn_for(&state, &body).await {
        Ok(turn) => turn,
        Err(response) => return response,
    };
    let (input, output) = usage_of(&turn, &body);
    let calls: Vec<Value> = turn
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"id": format!("call_{i}"), "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
        .collect();
    let finish = if calls.is_empty() { "stop" } else { "tool_calls" };
    let usage = json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output, "prompt_tokens_details": {"cached_tokens": input / 2}});
    if !stream {
        let mut message = json!({"role": "assistant", "content": turn.content});
        if !calls.is_empty() {
            message["tool_calls"] = Value::Array(calls);
        }
        return axum::Json(json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Option<&str>| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut events = vec![chunk(json!({"role": "assistant"}), None)];
    for piece in pieces(turn.content.as_deref().unwrap_or_default()) {
        events.push(chunk(json!({"content": piece}), None));
    }
    for (i, call) in turn.tool_calls.iter().enumerate() {
        events.push(chunk(json!({"tool_calls": [{"index": i, "id": format!("call_{i}"), "type": "function", "function": {"name": call.name, "arguments": ""}}]}), None));
        for fragment in halves(&call.arguments) {
            events.push(chunk(json!({"tool_calls": [{"index": i, "function": {"arguments": fragment}}]}), None));
        }
    }
    events.push(chunk(json!({}), Some(finish)));
    if body["stream_options"]["include_usage"].as_bool() == Some(true) {
        events.push(format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [], "usage": usage})
        ));
    }
    events.push("data: [DONE]\n\n".into());
    sse(events, cut)
}

async fn anthropic(State(state): State<Arc<FakeState>>, body: String) -> Response {
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return error_response(
            400,
            json!({"type": "error", "error": {"message": "request body is not JSON"}}).to_string(),
            None,
        );
    };
    state.record(&body);
    let stream = body["stream"].as_bool().unwrap_or(false);
    let model = body["model"].as_str().unwrap_or("fake").to_owned();
    let (turn, cut) = match turn_for(&state, &body).await {
        Ok(turn) => turn,
        Err(response) => return response,
    };
    let (input, output) = usage_of(&turn, &body);
    let stop = if turn.tool_calls.is_empty() { "end_turn" } else { "tool_use" };
    let mut blocks = Vec::new();
    if let Some(thinking) = &turn.thinking {
        blocks.push(json!({"type": "thinking", "thinking": thinking, "signature": "sig-fake"}));
    }
    if let Some(text) = &turn.content {
        blocks.push(json!({"type": "text", "text": text}));
    }
    for (i, call) in turn.tool_calls.iter().enumerate() {
        let input: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
        blocks.push(json!({"type": "tool_use", "id": format!("toolu_{i}"), "name": call.name, "input": input}));
    }
    let usage =
        json!({"input_tokens": input / 2, "cache_read_input_tokens": input - input / 2, "output_tokens": output});
    if !stream {
        return axum::Json(json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": blocks, "stop_reason": stop, "usage": usage}))
            .into_response();
    }
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_fake", "model": model, "usage": {"input_tokens": input / 2, "cache_read_input_tokens": input - input / 2, "output_tokens": 0}}}),
    )];
    for (index, block) in blocks.iter().enumerate() {
        match block["type"].as_str() {
            Some("thinking") => {
                events.push(event("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "thinking", "thinking": ""}})));
                events.push(event("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": block["thinking"]}})));
                events.push(event("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": "sig-fake"}})));
            }
            Some("text") => {
                events.push(event("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})));
                for piece in pieces(block["text"].as_str().unwrap_or_default()) {
                    events.push(event("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})));
                }
            }
            _ => {
                events.push(event("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})));
                let arguments = block["input"].to_string();
                for fragment in halves(&arguments) {
                    events.push(event("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": fragment}})));
                }
            }
        }
        events.push(event("content_block_stop", json!({"type": "content_block_stop", "index": index})));
    }
    events.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": output}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    sse(events, cut)
}

fn unreachable_delay() -> Response {
    // `resolve` unwraps every delay; answer sanely anyway.
    error_response(500, "unresolved delay".into(), None)
}

/// Answers go out as soon as they are written: without `TCP_NODELAY` a response written in
/// two parts (headers, then an SSE event) waits for the client's delayed ACK (~40 ms).
fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}
