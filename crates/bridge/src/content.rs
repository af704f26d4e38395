//! Tool results → the text the model gets.
//!
//! Text items are joined with newlines; images and audio become short placeholders (no base64
//! in the model's context); resource links and embedded resources are named with their URI
//! (text resources keep their text); `structuredContent` is used as JSON when there is no text.
//! The result is capped at [`ContentOptions::max_output_bytes`] (default
//! [`crate::catalogue::DEFAULT_MAX_OUTPUT_BYTES`], 100 000 bytes) on a character boundary, with
//! a marker saying how much was cut.

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

/// Conversion settings.
#[derive(Debug, Clone, Copy)]
pub struct ContentOptions {
    /// The most bytes of text given back.
    pub max_output_bytes: usize,
}

impl Default for ContentOptions {
    fn default() -> Self {
        Self { max_output_bytes: crate::catalogue::DEFAULT_MAX_OUTPUT_BYTES }
    }
}

/// A converted result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertedOutput {
    /// The text for the model.
    pub text: String,
    /// Whether the text was cut.
    pub truncated: bool,
    /// The size of the text before the cap.
    pub original_bytes: usize,
    /// The tool reported an error (`isError`).
    pub is_error: bool,
    /// How many images and audio clips were replaced by placeholders.
    pub media: usize,
}

/// Converts a `tools/call` result.
pub fn convert_result(result: &CallToolResult, options: &ContentOptions) -> ConvertedOutput {
    let mut parts: Vec<String> = Vec::with_capacity(result.content.len());
    let mut media = 0;
    let mut has_text = false;
    for block in &result.content {
        match block {
            ContentBlock::Text(text) => {
                has_text = true;
                parts.push(text.text.clone());
            }
            ContentBlock::Image(image) => {
                media += 1;
                parts.push(format!("[image: {}, {} bytes base64]", image.mime_type, image.data.len()));
            }
            ContentBlock::Audio(audio) => {
                media += 1;
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
    let text = parts.join("\n");
    let original_bytes = text.len();
    let (text, truncated) = truncate_output(text, options.max_output_bytes);
    ConvertedOutput { text, truncated, original_bytes, is_error: result.is_error == Some(true), media }
}

/// Cuts `text` to at most `max_bytes` (on a character boundary) and appends a marker saying
/// how much was shown. Returns whether it cut.
pub fn truncate_output(text: String, max_bytes: usize) -> (String, bool) {
    if text.len() <= max_bytes {
        return (text, false);
    }
    let mut cut = max_bytes;
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let total = text.len();
    let mut short = text;
    short.truncate(cut);
    short.push_str(&format!("\n[output truncated: {cut} of {total} bytes shown]"));
    (short, true)
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
        let out = convert_result(&r, &ContentOptions::default());
        assert_eq!(out.text, "a\n[image: image/png, 8 bytes base64]\nb");
        assert_eq!(out.media, 1);
        assert!(!out.is_error && !out.truncated);
    }

    #[test]
    fn embedded_resources_and_structured_content() {
        let r =
            result(vec![ContentBlock::Resource(EmbeddedResource::new(ResourceContents::text("body", "file:///x")))]);
        assert_eq!(convert_result(&r, &ContentOptions::default()).text, "[resource <file:///x>]\nbody");
        let mut structured = result(vec![]);
        structured.structured_content = Some(json!({"t": 1}));
        assert_eq!(convert_result(&structured, &ContentOptions::default()).text, r#"{"t":1}"#);
    }

    #[test]
    fn errors_are_flagged() {
        let r = CallToolResult::error(vec![ContentBlock::Text(TextContent::new("bad"))]);
        let out = convert_result(&r, &ContentOptions::default());
        assert!(out.is_error);
        assert_eq!(out.text, "bad");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let (text, cut) = truncate_output("ééé".into(), 3);
        assert!(cut);
        assert!(text.starts_with('é'));
        assert!(text.contains("[output truncated: 2 of 6 bytes shown]"), "{text}");
        let r = result(vec![ContentBlock::Text(TextContent::new("x".repeat(1000)))]);
        let out = convert_result(&r, &ContentOptions { max_output_bytes: 100 });
        assert!(out.truncated);
        assert_eq!(out.original_bytes, 1000);
    }
}
