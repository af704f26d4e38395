//! Tool results → the text the model gets.
//!
//! Text items are joined with newlines; images and audio become short placeholders (no base64
//! in the model's context); resource links and embedded resources are named with their URI
//! (text resources keep their text); `structuredContent` is used as JSON when there is no text.
//! Nothing is cut here: the catalogue caps every source's output once ([`truncate_output`]).

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

use crate::source::ToolOutput;

/// Converts a `tools/call` result; `keep_content` keeps its content blocks as they came.
pub(crate) fn convert_result(result: CallToolResult, keep_content: bool) -> ToolOutput {
    let content = keep_content.then(|| serde_json::to_value(&result.content).unwrap_or_default());
    let mut parts: Vec<String> = Vec::with_capacity(result.content.len());
    let mut has_text = false;
    for block in result.content {
        match block {
            ContentBlock::Text(text) => {
                has_text = true;
                parts.push(text.text);
            }
            ContentBlock::Image(image) => {
                parts.push(format!("[image: {}, {} bytes base64]", image.mime_type, image.data.len()));
            }
            ContentBlock::Audio(audio) => {
                parts.push(format!("[audio: {}, {} bytes base64]", audio.mime_type, audio.data.len()));
            }
            ContentBlock::ResourceLink(link) => {
                parts.push(format!("[resource link: {} <{}>]", link.name, link.uri));
            }
            ContentBlock::Resource(embedded) => match &embedded.resource {
                ResourceContents::TextResourceContents { uri, text, .. } => {
                    has_text = true;
                    parts.push(format!("[resource <{uri}>]\n{text}"));
                }
                ResourceContents::BlobResourceContents { uri, mime_type, blob, .. } => {
                    parts.push(format!(
                        "[resource <{uri}>: {}, {} bytes base64]",
                        mime_type.as_deref().unwrap_or("application/octet-stream"),
                        blob.len()
                    ));
                }
                _ => parts.push("[resource: unsupported kind]".to_owned()),
            },
            _ => parts.push("[content: unsupported kind]".to_owned()),
        }
    }
    if !has_text && let Some(structured) = &result.structured_content {
        parts.push(structured.to_string());
    }
    ToolOutput {
        text: parts.join("\n"),
        is_error: result.is_error == Some(true),
        original_bytes: None,
        trailer: None,
        structured: result.structured_content,
        content,
    }
}

/// Cuts `text` to at most `max_bytes` (on a character boundary) and appends a marker saying
/// how much was shown of `total` bytes (the true size: `text` may already hold only the
/// beginning). Returns whether anything is missing.
pub(crate) fn truncate_output(mut text: String, max_bytes: usize, total: usize) -> (String, bool) {
    let total = total.max(text.len());
    if total == text.len() && total <= max_bytes {
        return (text, false);
    }
    let mut cut = max_bytes.min(text.len());
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&format!("\n[output truncated: {cut} of {total} bytes shown]"));
    (text, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{EmbeddedResource, ImageContent, TextContent};
    use serde_json::json;

    fn result(content: Vec<ContentBlock>) -> CallToolResult {
        let mut result = CallToolResult::success(content);
        result.is_error = Some(false);
        result
    }

    #[test]
    fn text_and_media() {
        let r = result(vec![
            ContentBlock::Text(TextContent::new("a")),
            ContentBlock::Image(ImageContent::new("aGVsbG8=", "image/png")),
            ContentBlock::Text(TextContent::new("b")),
        ]);
        let out = convert_result(r, false);
        assert_eq!(out.text, "a\n[image: image/png, 8 bytes base64]\nb");
        assert!(!out.is_error);
    }

    #[test]
    fn embedded_resources_and_structured_content() {
        let r =
            result(vec![ContentBlock::Resource(EmbeddedResource::new(ResourceContents::text("body", "file:///x")))]);
        assert_eq!(convert_result(r, false).text, "[resource <file:///x>]\nbody");
        let mut structured = result(vec![]);
        structured.structured_content = Some(json!({"t": 1}));
        let out = convert_result(structured, false);
        assert_eq!(out.text, r#"{"t":1}"#);
        assert_eq!(out.structured, Some(json!({"t": 1})));
    }

    #[test]
    fn errors_are_flagged() {
        let r = CallToolResult::error(vec![ContentBlock::Text(TextContent::new("bad"))]);
        let out = convert_result(r, false);
        assert!(out.is_error);
        assert_eq!(out.text, "bad");
    }

    #[test]
    fn truncation_respects_char_boundaries_and_states_the_true_size() {
        let (text, cut) = truncate_output("ééé".into(), 3, 0);
        assert!(cut);
        assert!(text.starts_with('é'));
        assert!(text.contains("[output truncated: 2 of 6 bytes shown]"), "{text}");
        // The source kept only the beginning of 2 MB: one note, with the true size.
        let (text, cut) = truncate_output("x".repeat(150), 100, 2_000_000);
        assert!(cut);
        assert!(text.ends_with("\n[output truncated: 100 of 2000000 bytes shown]"), "{text}");
        assert_eq!(text.matches("truncated").count(), 1);
        let (text, cut) = truncate_output("short".into(), 100, 0);
        assert!(!cut && text == "short");
    }
}
