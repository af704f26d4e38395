//! Assembling a streamed reply into a [`ChatResponse`].

use crate::error::ProviderError;
use crate::types::{ChatResponse, FinishKind, StreamDelta, ThinkingBlock, ToolCall};

/// Collects [`StreamDelta`]s: text, thinking, tool-call fragments by index, usage, finish.
#[derive(Debug, Default)]
pub struct StreamAccumulator {
    response: ChatResponse,
    thinking: Option<String>,
    calls: Vec<(usize, ToolCall)>,
    finished: bool,
}

impl StreamAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one delta.
    pub fn push(&mut self, delta: StreamDelta) {
        match delta {
            StreamDelta::Text(text) => self.response.content.push_str(&text),
            StreamDelta::ThinkingStart => {
                self.thinking.get_or_insert_with(String::new);
            }
            StreamDelta::ThinkingDelta(text) => self.thinking.get_or_insert_with(String::new).push_str(&text),
            StreamDelta::ThinkingEnd { signature } => {
                let text = self.thinking.take().unwrap_or_default();
                self.response.thinking = Some(ThinkingBlock { text, signature });
            }
            StreamDelta::ToolCallStart { index, id, name } => match self.calls.iter_mut().find(|(i, _)| *i == index) {
                Some((_, call)) => {
                    if !id.is_empty() {
                        call.id = id;
                    }
                    if !name.is_empty() {
                        call.name = name;
                    }
                }
                None => self.calls.push((index, ToolCall { id, name, arguments: String::new() })),
            },
            StreamDelta::ToolCallArguments { index, fragment } => {
                match self.calls.iter_mut().find(|(i, _)| *i == index) {
                    Some((_, call)) => call.arguments.push_str(&fragment),
                    None => self
                        .calls
                        .push((index, ToolCall { id: String::new(), name: String::new(), arguments: fragment })),
                }
            }
            StreamDelta::Usage(usage) => self.response.usage = usage,
            StreamDelta::Finish(finish) => {
                self.response.finish = finish;
                self.finished = true;
            }
        }
    }

    /// The assembled reply. A stream that ended without its finish event was cut: an error,
    /// not a truncated success.
    pub fn finish(mut self) -> Result<ChatResponse, ProviderError> {
        if !self.finished {
            return Err(ProviderError::Stream("the stream ended before the reply was complete".into()));
        }
        if let Some(text) = self.thinking.take() {
            self.response.thinking = Some(ThinkingBlock { text, signature: None });
        }
        self.calls.sort_by_key(|(i, _)| *i);
        self.response.tool_calls = self.calls.into_iter().map(|(_, call)| call).collect();
        for (n, call) in self.response.tool_calls.iter_mut().enumerate() {
            if call.id.is_empty() {
                call.id = format!("call_{n}");
            }
        }
        if !self.response.tool_calls.is_empty() && self.response.finish == FinishKind::Stop {
            self.response.finish = FinishKind::ToolCalls;
        }
        let usage = &mut self.response.usage;
        if usage.total_tokens == 0 {
            usage.total_tokens = usage.input_tokens + usage.output_tokens;
        }
        Ok(self.response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_fragments_by_index() {
        let mut acc = StreamAccumulator::new();
        acc.push(StreamDelta::Text("he".into()));
        acc.push(StreamDelta::ToolCallStart { index: 1, id: "b".into(), name: "two".into() });
        acc.push(StreamDelta::ToolCallStart { index: 0, id: "a".into(), name: "one".into() });
        acc.push(StreamDelta::ToolCallArguments { index: 0, fragment: "{\"x\":".into() });
        acc.push(StreamDelta::ToolCallArguments { index: 1, fragment: "{}".into() });
        acc.push(StreamDelta::ToolCallArguments { index: 0, fragment: "1}".into() });
        acc.push(StreamDelta::Text("llo".into()));
        acc.push(StreamDelta::Finish(FinishKind::ToolCalls));
        let response = acc.finish().unwrap();
        assert_eq!(response.content, "hello");
        assert_eq!(
            response.tool_calls[0],
            ToolCall { id: "a".into(), name: "one".into(), arguments: "{\"x\":1}".into() }
        );
        assert_eq!(response.tool_calls[1].name, "two");
    }

    #[test]
    fn a_cut_stream_is_an_error() {
        let mut acc = StreamAccumulator::new();
        acc.push(StreamDelta::ToolCallStart { index: 0, id: "a".into(), name: "one".into() });
        assert!(acc.finish().is_err());
    }
}
