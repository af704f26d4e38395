//! Mapping between the runtime's conversation shapes and the providers' messages.

use serde_json::{Value, json};
use toolbridge_providers::{Message, ToolCall};
use toolbridge_runtime::ConversationMessage;

/// The system prompt and the messages of the first model call: `conversation_history`
/// (system messages folded into the system prompt), then the prompt.
pub(crate) fn initial_messages(
    system_prompt: Option<&str>,
    history: &[ConversationMessage],
    prompt: &str,
) -> (Option<String>, Vec<Message>) {
    let mut system: Vec<String> = system_prompt.filter(|s| !s.is_empty()).map(str::to_owned).into_iter().collect();
    let mut messages = Vec::with_capacity(history.len() + 1);
    for message in history {
        let text = message.content_text();
        match message.role.as_str() {
            "system" | "developer" => system.push(text),
            "assistant" | "model" => {
                messages.push(Message::Assistant { content: Some(text), tool_calls: Vec::new(), thinking: None });
            }
            // Anything else (user, human, or an unknown role) is what the user said.
            _ => messages.push(Message::User { content: text }),
        }
    }
    messages.push(Message::User { content: prompt.to_owned() });
    let system = if system.is_empty() { None } else { Some(system.join("\n\n")) };
    (system, messages)
}

/// How much of arguments over the limit the record keeps (as the call log does).
const ARGUMENT_PREFIX_CHARS: usize = 1000;

/// The provider-level record of an assistant turn that asked for tools (OpenAI shape).
/// Arguments over `max_argument_bytes` (refused by the catalogue) are kept as their size and
/// beginning, as in the call log: a 20 MB argument does not go into the stored record.
pub(crate) fn assistant_tool_message(content: &str, calls: &[ToolCall], max_argument_bytes: usize) -> Value {
    json!({
        "role": "assistant",
        "content": if content.is_empty() { Value::Null } else { Value::String(content.to_owned()) },
        "tool_calls": calls.iter().map(|call| {
            let arguments = if call.arguments.len() > max_argument_bytes {
                let beginning: String = call.arguments.chars().take(ARGUMENT_PREFIX_CHARS).collect();
                format!("[{} bytes of arguments, not kept] {beginning}", call.arguments.len())
            } else {
                call.arguments.clone()
            };
            json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}})
        }).collect::<Vec<_>>(),
    })
}

/// The provider-level record of a tool result (OpenAI shape).
pub(crate) fn tool_result_message(call: &ToolCall, content: &str, is_error: bool) -> Value {
    json!({
        "role": "tool",
        "tool_call_id": call.id,
        "name": call.name,
        "content": content,
        "is_error": is_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_mapped_and_system_folded() {
        let history = vec![
            ConversationMessage::text("system", "extra rules"),
            ConversationMessage::text("user", "hi"),
            ConversationMessage::text("assistant", "hello"),
        ];
        let (system, messages) = initial_messages(Some("be brief"), &history, "now?");
        assert_eq!(system.as_deref(), Some("be brief\n\nextra rules"));
        assert_eq!(messages.len(), 3);
        assert!(matches!(&messages[0], Message::User { content } if content == "hi"));
        assert!(matches!(&messages[1], Message::Assistant { content: Some(c), .. } if c == "hello"));
        assert!(matches!(&messages[2], Message::User { content } if content == "now?"));
    }
}
