//! Model providers for toolbridge: one [`ModelProvider`] trait with OpenAI-compatible chat
//! completions, Anthropic messages and a deterministic `scripted` replay behind it; streaming
//! (SSE parsed by `sse-stream`), tool-call assembly, usage with cache reads, retries with
//! backoff honouring `Retry-After`, and clear errors. [`fake`] is a local fake model server
//! for tests, benchmarks and demos.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::unwrap_used)]

mod accumulator;
mod anthropic;
mod error;
#[cfg(feature = "fake-server")]
pub mod fake;
mod http;
mod openai;
mod provider;
mod scripted;
mod sse;
mod types;

pub use accumulator::StreamAccumulator;
pub use anthropic::{ANTHROPIC_VERSION, AnthropicProvider, DEFAULT_MAX_TOKENS};
pub use error::ProviderError;
pub use http::RetryPolicy;
pub use openai::OpenAiProvider;
pub use provider::{
    ANTHROPIC_DEFAULT_URL, DeltaStream, KNOWN_PROVIDERS, ModelProvider, OPENAI_DEFAULT_URL, ProviderEnv,
    ProviderOptions, provider_for_model,
};
pub use scripted::ScriptedProvider;
pub use types::{
    ChatRequest, ChatResponse, FinishKind, Message, RequestOptions, StreamDelta, ThinkingBlock, TokenUsage, ToolCall,
    ToolSchemaDialect, ToolSpec,
};
