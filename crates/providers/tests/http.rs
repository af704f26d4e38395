//! Providers over real HTTP against the fake model server.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use toolbridge_providers::fake::{FakeConfig, FakeMode, FakeModelServer, FakeStep, FakeToolCall, FakeTurn};
use toolbridge_providers::{
    AnthropicProvider, ChatRequest, FinishKind, Message, ModelProvider, OpenAiProvider, ProviderError, RetryPolicy,
    StreamAccumulator, StreamDelta, ToolCall, ToolSpec,
};

fn quick_retry() -> RetryPolicy {
    RetryPolicy { max_retries: 3, base_delay: Duration::from_millis(20), max_delay: Duration::from_secs(2) }
}

fn openai(server: &FakeModelServer) -> OpenAiProvider {
    OpenAiProvider::new(server.openai_base_url(), None, Duration::from_secs(10), quick_retry())
}

fn anthropic(server: &FakeModelServer) -> AnthropicProvider {
    AnthropicProvider::new(server.anthropic_base_url(), None, Duration::from_secs(10), quick_retry())
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "test-model".into(),
        system_prompt: Some("be brief".into()),
        messages: vec![Message::User { content: "hi".into() }],
        tools: vec![ToolSpec {
            name: "t__echo".into(),
            description: "echo".into(),
            parameters: json!({"type": "object"}),
            strict: false,
        }],
        ..ChatRequest::default()
    }
}

fn two_calls() -> FakeTurn {
    FakeTurn {
        content: Some("let me check".into()),
        tool_calls: vec![
            FakeToolCall { name: "t__echo".into(), arguments: r#"{"message": "one"}"#.into() },
            FakeToolCall { name: "t__add".into(), arguments: r#"{"a": 1, "b": 2}"#.into() },
        ],
        thinking: Some("hmm".into()),
        usage: Some((100, 20)),
    }
}

async fn collect(
    provider: &dyn ModelProvider,
    request: &ChatRequest,
) -> (Vec<StreamDelta>, Result<toolbridge_providers::ChatResponse, ProviderError>) {
    let mut stream = provider.stream(request).await.unwrap();
    let mut deltas = Vec::new();
    let mut acc = StreamAccumulator::new();
    while let Some(delta) = stream.next().await {
        match delta {
            Ok(delta) => {
                deltas.push(delta.clone());
                acc.push(delta);
            }
            Err(error) => return (deltas, Err(error)),
        }
    }
    (deltas, acc.finish())
}

#[tokio::test]
async fn openai_complete_and_stream_with_parallel_tool_calls() {
    let server = FakeModelServer::start(FakeConfig {
        mode: FakeMode::Sequence(vec![FakeStep::Turn(two_calls()), FakeStep::Turn(two_calls())]),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let provider = openai(&server);
    let response = provider.complete(&request()).await.unwrap();
    assert_eq!(response.tool_calls.len(), 2);
    assert_eq!(response.tool_calls[1].arguments, r#"{"a": 1, "b": 2}"#);
    assert_eq!(response.finish, FinishKind::ToolCalls);
    assert_eq!(
        (response.usage.input_tokens, response.usage.output_tokens, response.usage.cache_read_tokens),
        (100, 20, 50)
    );
    let (deltas, response) = collect(&provider, &request()).await;
    let response = response.unwrap();
    assert_eq!(response.content, "let me check");
    assert_eq!(
        response.tool_calls[0],
        ToolCall { id: "call_0".into(), name: "t__echo".into(), arguments: r#"{"message": "one"}"#.into() }
    );
    assert!(
        deltas.iter().filter(|d| matches!(d, StreamDelta::ToolCallArguments { index: 0, .. })).count() >= 2,
        "arguments arrive in fragments"
    );
    assert_eq!(response.usage.total_tokens, 120);
    let sent = server.requests();
    assert_eq!(sent[0]["messages"][0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(sent[1]["stream_options"]["include_usage"], true);
    assert_eq!(sent[0]["tools"][0]["function"]["name"], "t__echo");
    server.shutdown().await;
}

#[tokio::test]
async fn openai_maps_tool_results() {
    let server = FakeModelServer::start(FakeConfig::default()).await.unwrap();
    let mut req = request();
    req.messages.push(Message::Assistant {
        content: None,
        tool_calls: vec![ToolCall { id: "c1".into(), name: "t__echo".into(), arguments: "{}".into() }],
        thinking: None,
    });
    req.messages.push(Message::Tool {
        tool_call_id: "c1".into(),
        name: "t__echo".into(),
        content: "Echo".into(),
        is_error: false,
    });
    openai(&server).complete(&req).await.unwrap();
    let sent = &server.requests()[0]["messages"];
    assert_eq!(sent[2]["tool_calls"][0]["id"], "c1");
    assert_eq!(sent[3], json!({"role": "tool", "tool_call_id": "c1", "content": "Echo"}));
    server.shutdown().await;
}

#[tokio::test]
async fn anthropic_stream_with_thinking_tools_and_cache_reads() {
    let server = FakeModelServer::start(FakeConfig {
        mode: FakeMode::Sequence(vec![FakeStep::Turn(two_calls())]),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let provider = anthropic(&server);
    let mut req = request();
    req.messages.push(Message::Assistant {
        content: None,
        tool_calls: vec![
            ToolCall { id: "a".into(), name: "x".into(), arguments: "{}".into() },
            ToolCall { id: "b".into(), name: "y".into(), arguments: "{}".into() },
        ],
        thinking: None,
    });
    req.messages.push(Message::Tool {
        tool_call_id: "a".into(),
        name: "x".into(),
        content: "1".into(),
        is_error: false,
    });
    req.messages.push(Message::Tool {
        tool_call_id: "b".into(),
        name: "y".into(),
        content: "2".into(),
        is_error: true,
    });
    let (deltas, response) = collect(&provider, &req).await;
    let response = response.unwrap();
    assert!(deltas.contains(&StreamDelta::ThinkingStart));
    assert_eq!(response.thinking.as_ref().unwrap().text, "hmm");
    assert_eq!(response.thinking.unwrap().signature.as_deref(), Some("sig-fake"));
    assert_eq!(response.tool_calls.len(), 2);
    let args: serde_json::Value = serde_json::from_str(&response.tool_calls[1].arguments).unwrap();
    assert_eq!(args, json!({"a": 1, "b": 2}));
    assert_eq!(response.usage.cache_read_tokens, 50);
    assert_eq!(response.usage.input_tokens, 100);
    assert_eq!(response.finish, FinishKind::ToolCalls);
    let sent = &server.requests()[0];
    assert_eq!(sent["system"], "be brief");
    let merged = &sent["messages"][2];
    assert_eq!(merged["role"], "user");
    assert_eq!(merged["content"].as_array().unwrap().len(), 2, "consecutive tool results merged: {merged}");
    assert_eq!(merged["content"][1]["is_error"], true);
    server.shutdown().await;
}

#[tokio::test]
async fn retries_and_clear_errors() {
    let server = FakeModelServer::start(FakeConfig {
        mode: FakeMode::Sequence(vec![
            FakeStep::Error { status: 500, body: "oops".into(), retry_after: None },
            FakeStep::Error { status: 503, body: "busy".into(), retry_after: None },
            FakeStep::Turn(FakeTurn { content: Some("fine".into()), ..FakeTurn::default() }),
            FakeStep::Error { status: 429, body: "slow".into(), retry_after: Some(1) },
            FakeStep::Turn(FakeTurn { content: Some("waited".into()), ..FakeTurn::default() }),
            FakeStep::Error { status: 401, body: "no".into(), retry_after: None },
            FakeStep::Error { status: 404, body: "no such model".into(), retry_after: None },
            FakeStep::InvalidJson,
            FakeStep::CutStream { after_events: 3 },
        ]),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let provider = openai(&server);
    assert_eq!(provider.complete(&request()).await.unwrap().content, "fine");
    let started = Instant::now();
    assert_eq!(provider.complete(&request()).await.unwrap().content, "waited");
    assert!(started.elapsed() >= Duration::from_millis(900), "Retry-After honoured");
    let count = server.request_count();
    let error = provider.complete(&request()).await.unwrap_err().to_string();
    assert!(error.contains("authentication failed for openai") && error.contains("OPENAI_API_KEY"), "{error}");
    assert_eq!(server.request_count(), count + 1, "401 is not retried");
    let error = provider.complete(&request()).await.unwrap_err().to_string();
    assert!(error.contains("model \"test-model\" not found at http://"), "{error}");
    let error = provider.complete(&request()).await.unwrap_err().to_string();
    assert!(error.contains("invalid response"), "{error}");
    let (_, cut) = collect(&provider, &request()).await;
    assert!(cut.is_err(), "a stream cut mid tool call is an error, not a short success");
    server.shutdown().await;
    let refused = OpenAiProvider::new("http://127.0.0.1:9/v1", None, Duration::from_secs(2), quick_retry());
    let error = refused.complete(&request()).await.unwrap_err();
    assert!(matches!(error, ProviderError::Connection { .. }), "{error}");
}
