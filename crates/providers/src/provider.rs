//! The provider seam: one trait, and the choice of provider from a model id.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use secrecy::SecretString;

use crate::anthropic::AnthropicProvider;
use crate::error::ProviderError;
use crate::http::RetryPolicy;
use crate::openai::OpenAiProvider;
use crate::scripted::ScriptedProvider;
use crate::types::{ChatRequest, ChatResponse, StreamDelta, ToolSchemaDialect};

/// A streamed reply.
pub type DeltaStream = BoxStream<'static, Result<StreamDelta, ProviderError>>;

/// A model provider: a request in, a reply (or a stream of deltas) out.
#[async_trait]
pub trait ModelProvider: Send + Sync + std::fmt::Debug {
    /// `openai`, `anthropic` or `scripted`: what usage reports as `model_provider`.
    fn name(&self) -> &str;
    /// Which schema normalisation its tool definitions need.
    fn schema_dialect(&self) -> ToolSchemaDialect;
    /// One whole reply.
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError>;
    /// A streamed reply.
    async fn stream(&self, request: &ChatRequest) -> Result<DeltaStream, ProviderError>;
}

/// The default OpenAI endpoint.
pub const OPENAI_DEFAULT_URL: &str = "https://api.openai.com/v1";
/// The default Anthropic endpoint.
pub const ANTHROPIC_DEFAULT_URL: &str = "https://api.anthropic.com";

/// Endpoints and keys (secrets are never printed).
#[derive(Debug, Clone, Default)]
pub struct ProviderEnv {
    /// `OPENAI_API_KEY`.
    pub openai_api_key: Option<SecretString>,
    /// `OPENAI_BASE_URL`.
    pub openai_base_url: Option<String>,
    /// `ANTHROPIC_API_KEY`.
    pub anthropic_api_key: Option<SecretString>,
    /// `ANTHROPIC_BASE_URL`.
    pub anthropic_base_url: Option<String>,
}

impl ProviderEnv {
    /// From the process environment.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            openai_api_key: var("OPENAI_API_KEY").map(SecretString::from),
            openai_base_url: var("OPENAI_BASE_URL"),
            anthropic_api_key: var("ANTHROPIC_API_KEY").map(SecretString::from),
            anthropic_base_url: var("ANTHROPIC_BASE_URL"),
        }
    }

    /// Local endpoints without keys (tests, local servers).
    pub fn for_base_urls(openai: Option<String>, anthropic: Option<String>) -> Self {
        Self { openai_base_url: openai, anthropic_base_url: anthropic, ..Self::default() }
    }
}

/// Timeouts and retries.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// Time limit of one HTTP request (default 120 s).
    pub timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(120), retry: RetryPolicy::default() }
    }
}

/// The provider prefixes of model ids (`openai:gpt-4o-mini`).
pub const KNOWN_PROVIDERS: &[&str] = &["openai", "anthropic", "scripted"];

/// Chooses the provider for a model id: `openai:MODEL`, `anthropic:MODEL`, `scripted:PATH`, or
/// a bare id without `:` (OpenAI-compatible). Returns the provider and the model name to send.
/// Any other prefix is an error listing the known ones (a model whose own name has a `:`,
/// such as Ollama's `llama3:8b`, is written `openai:llama3:8b`).
pub fn provider_for_model(
    model_id: &str,
    env: &ProviderEnv,
    options: ProviderOptions,
) -> Result<(Arc<dyn ModelProvider>, String), ProviderError> {
    let (kind, model) = match model_id.split_once(':') {
        Some(("openai", model)) => ("openai", model),
        Some(("anthropic", model)) => ("anthropic", model),
        Some(("scripted", path)) => ("scripted", path),
        Some((prefix, _)) => {
            return Err(ProviderError::Config(format!(
                "unknown model provider {prefix:?} in {model_id:?}; known providers: {} \
                 (an OpenAI-compatible model whose name has a `:` is written openai:{model_id})",
                KNOWN_PROVIDERS.join(", ")
            )));
        }
        None => ("openai", model_id),
    };
    if model.trim().is_empty() {
        return Err(ProviderError::Config(format!("model id {model_id:?} names no model (e.g. openai:gpt-4o-mini)")));
    }
    Ok(match kind {
        "scripted" => (Arc::new(ScriptedProvider::load(Path::new(model))?), model.to_owned()),
        "anthropic" => {
            let base = env.anthropic_base_url.clone();
            if base.is_none() && env.anthropic_api_key.is_none() {
                return Err(ProviderError::Config(
                    "ANTHROPIC_API_KEY is not set (or set ANTHROPIC_BASE_URL for a local endpoint)".into(),
                ));
            }
            let provider = AnthropicProvider::new(
                base.unwrap_or_else(|| ANTHROPIC_DEFAULT_URL.into()),
                env.anthropic_api_key.clone(),
                options.timeout,
                options.retry,
            );
            (Arc::new(provider), model.to_owned())
        }
        _ => {
            let base = env.openai_base_url.clone();
            if base.is_none() && env.openai_api_key.is_none() {
                return Err(ProviderError::Config(
                    "OPENAI_API_KEY is not set (or set OPENAI_BASE_URL for a local OpenAI-compatible server)".into(),
                ));
            }
            let provider = OpenAiProvider::new(
                base.unwrap_or_else(|| OPENAI_DEFAULT_URL.into()),
                env.openai_api_key.clone(),
                options.timeout,
                options.retry,
            );
            (Arc::new(provider), model.to_owned())
        }
    })
}

#[cfg(test)]
mod prefix_tests {
    use super::*;

    #[test]
    fn unknown_prefixes_list_the_known_ones() {
        let env = ProviderEnv { openai_base_url: Some("http://127.0.0.1:1".into()), ..ProviderEnv::default() };
        let Err(error) = provider_for_model("foo:bar", &env, ProviderOptions::default()) else {
            panic!("foo:bar accepted")
        };
        let text = error.to_string();
        assert!(text.contains("\"foo\"") && text.contains("openai, anthropic, scripted"), "{text}");
        let (_, model) = provider_for_model("openai:llama3:8b", &env, ProviderOptions::default()).unwrap();
        assert_eq!(model, "llama3:8b");
        let (_, model) = provider_for_model("gpt-4o-mini", &env, ProviderOptions::default()).unwrap();
        assert_eq!(model, "gpt-4o-mini");
    }
}
