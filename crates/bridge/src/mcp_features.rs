//! A server's resources and prompts offered to the model as tools, when its config says
//! `resources: true` / `prompts: true`: `list_resources`, `read_resource`, `list_prompts`,
//! `get_prompt` (catalogue names `<server>__list_resources`, …). Every call asks the server,
//! so resource and prompt list changes show at once. A tool of the server's own with one of
//! these names wins over ours.

use std::sync::Arc;

use rmcp::model::{
    CallToolResult, ClientRequest, GetPromptRequest, GetPromptRequestParams, ListPromptsRequest,
    ListResourceTemplatesRequest, ListResourcesRequest, ReadResourceRequest, ReadResourceRequestParams,
    ResourceContents, ServerResult,
};
use serde_json::{Map, Value, json};
use toolbridge_config::ServerFeatures;

use crate::content::convert_result;
use crate::error::ToolError;
use crate::pool::ServerHandle;
use crate::source::{JsonObject, ToolDescriptor, ToolOutput};

fn schema(value: &Value) -> Arc<JsonObject> {
    Arc::new(value.as_object().cloned().unwrap_or_default())
}

/// The tools `features` turn on.
pub(crate) fn descriptors(features: &ServerFeatures) -> Vec<ToolDescriptor> {
    let mut tools = Vec::new();
    if features.resources {
        tools.push(ToolDescriptor {
            name: "list_resources".into(),
            description:
                "Lists the resources (and resource templates) this server offers: URI, name, type, description.".into(),
            input_schema: schema(&json!({"type": "object", "properties": {}})),
        });
        tools.push(ToolDescriptor {
            name: "read_resource".into(),
            description: "Reads one resource of this server by URI (from list_resources, or a template filled in)."
                .into(),
            input_schema: schema(&json!({
                "type": "object",
                "properties": {"uri": {"type": "string", "description": "The resource URI"}},
                "required": ["uri"]
            })),
        });
    }
    if features.prompts {
        tools.push(ToolDescriptor {
            name: "list_prompts".into(),
            description: "Lists the prompt templates this server offers, with their arguments.".into(),
            input_schema: schema(&json!({"type": "object", "properties": {}})),
        });
        tools.push(ToolDescriptor {
            name: "get_prompt".into(),
            description: "Renders one prompt template of this server with arguments; returns its messages as text."
                .into(),
            input_schema: schema(&json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "The prompt's name (from list_prompts)"},
                    "arguments": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Its arguments"}
                },
                "required": ["name"]
            })),
        });
    }
    tools
}

/// Whether `tool` is one of ours that `features` turn on.
pub(crate) fn is_feature_tool(features: &ServerFeatures, tool: &str) -> bool {
    (features.resources && matches!(tool, "list_resources" | "read_resource"))
        || (features.prompts && matches!(tool, "list_prompts" | "get_prompt"))
}

fn unexpected(server: &str) -> ToolError {
    ToolError::Protocol { server: server.to_owned(), message: "unexpected answer".into() }
}

fn text_of_contents(contents: &[ResourceContents]) -> String {
    contents
        .iter()
        .map(|content| match content {
            ResourceContents::TextResourceContents { uri, text, .. } => format!("[resource <{uri}>]\n{text}"),
            ResourceContents::BlobResourceContents { uri, mime_type, blob, .. } => format!(
                "[resource <{uri}>: {}, {} bytes base64]",
                mime_type.as_deref().unwrap_or("application/octet-stream"),
                blob.len()
            ),
            _ => "[resource: unsupported kind]".to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Renders a prompt's messages as text (`role: text` per message) — what a runtime can inject.
pub fn prompt_text(result: &rmcp::model::GetPromptResult) -> String {
    result
        .messages
        .iter()
        .map(|message| {
            let role = serde_json::to_value(&message.role)
                .ok()
                .and_then(|r| r.as_str().map(str::to_owned))
                .unwrap_or_default();
            // The same text a tool result's content becomes (media named, not inlined).
            let text = convert_result(CallToolResult::success(vec![message.content.clone()]), false).text;
            format!("{role}: {text}")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Runs one of our tools on the server.
pub(crate) async fn call(
    handle: &ServerHandle,
    tool: &str,
    arguments: &Map<String, Value>,
) -> Result<ToolOutput, ToolError> {
    let server = handle.name();
    let text_argument = |name: &str| {
        arguments
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ToolError::invalid_arguments(format!("`{name}` is required")))
    };
    match tool {
        "list_resources" => {
            let ServerResult::ListResourcesResult(resources) =
                handle.request(ClientRequest::ListResourcesRequest(ListResourcesRequest::default())).await?
            else {
                return Err(unexpected(server));
            };
            let templates = match handle
                .request(ClientRequest::ListResourceTemplatesRequest(ListResourceTemplatesRequest::default()))
                .await
            {
                Ok(ServerResult::ListResourceTemplatesResult(templates)) => templates.resource_templates,
                _ => Vec::new(),
            };
            let listing = json!({"resources": resources.resources, "resource_templates": templates});
            Ok(ToolOutput::text(serde_json::to_string_pretty(&listing).unwrap_or_default()))
        }
        "read_resource" => {
            let uri = text_argument("uri")?;
            let request =
                ClientRequest::ReadResourceRequest(ReadResourceRequest::new(ReadResourceRequestParams::new(uri)));
            let ServerResult::ReadResourceResult(result) = handle.request(request).await? else {
                return Err(unexpected(server));
            };
            Ok(ToolOutput::text(text_of_contents(&result.contents)))
        }
        "list_prompts" => {
            let ServerResult::ListPromptsResult(prompts) =
                handle.request(ClientRequest::ListPromptsRequest(ListPromptsRequest::default())).await?
            else {
                return Err(unexpected(server));
            };
            Ok(ToolOutput::text(serde_json::to_string_pretty(&prompts.prompts).unwrap_or_default()))
        }
        "get_prompt" => {
            let mut params = GetPromptRequestParams::new(text_argument("name")?);
            if let Some(Value::Object(given)) = arguments.get("arguments") {
                params.arguments = Some(given.clone());
            }
            let ServerResult::GetPromptResult(result) =
                handle.request(ClientRequest::GetPromptRequest(GetPromptRequest::new(params))).await?
            else {
                return Err(unexpected(server));
            };
            Ok(ToolOutput::text(prompt_text(&result)))
        }
        other => Err(ToolError::UnknownTool { tool: other.to_owned() }),
    }
}
