//! Token usage.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Token usage of an execution (or of one model call), in the seed's standard format.
///
/// Unknown keys are kept in [`Usage::extra`] so that usage from other runtimes round-trips.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// `input_tokens + output_tokens` as reported by the provider.
    pub total_tokens: u64,
    /// Prompt tokens served from the provider's cache.
    pub cache_read_tokens: u64,
    /// The provider that produced the usage, e.g. `openai`, `anthropic`, `scripted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Usage {
    /// Usage with the given token counts; `total_tokens` is their sum.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Self { input_tokens, output_tokens, total_tokens: input_tokens + output_tokens, ..Self::default() }
    }

    /// Adds another usage to this one (token counts summed; the provider kept if unset).
    pub fn accumulate(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        if self.model_provider.is_none() {
            self.model_provider.clone_from(&other.model_provider);
        }
    }

    /// True when no tokens were counted.
    pub fn is_empty(&self) -> bool {
        self.input_tokens == 0 && self.output_tokens == 0 && self.total_tokens == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_with_extra_keys() {
        let value = json!({
            "input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
            "cache_read_tokens": 2, "model_provider": "openai", "reasoning_tokens": 3
        });
        let usage: Usage = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(usage.extra["reasoning_tokens"], json!(3));
        assert_eq!(serde_json::to_value(&usage).unwrap(), value);
    }

    #[test]
    fn accumulate_sums_tokens() {
        let mut total = Usage::default();
        total.accumulate(&Usage { model_provider: Some("x".into()), ..Usage::new(3, 4) });
        total.accumulate(&Usage::new(1, 1));
        assert_eq!((total.input_tokens, total.output_tokens, total.total_tokens), (4, 5, 9));
        assert_eq!(total.model_provider.as_deref(), Some("x"));
    }
}
