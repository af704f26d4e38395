//! The MCP conformance suite's server fixtures (`--fixtures`): the tools, resources, resource
//! template, prompts, completions and logging its server scenarios call by name, so that
//! `toolbridge serve` fronting the testbed can be run through the whole server suite.

// Sampling and logging are deprecated by SEP-2577 in rmcp, yet part of the 2025-11-25
// protocol this server speaks and of the conformance suite it serves.
#![allow(deprecated)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rmcp::model::{
    AudioContent, CallToolResult, CompleteRequestParams, CompleteResult, CompletionInfo, ContentBlock,
    CreateMessageRequestParams, ElicitRequestParams, ElicitationSchema, GetPromptRequestParams, GetPromptResult,
    ImageContent, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, LoggingLevel,
    LoggingMessageNotificationParam, ProgressNotificationParam, Prompt, PromptArgument, PromptMessage,
    ReadResourceResult, Reference, Resource, ResourceContents, ResourceTemplate, Role, SamplingMessage, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::{Map, Value, json};

/// A 1×1 PNG.
const IMAGE: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==";
/// A silent WAV.
const AUDIO: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAAZGF0YQAAAAA=";

fn object(value: Value) -> Arc<Map<String, Value>> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(Map::new()),
    }
}

fn no_arguments() -> Arc<Map<String, Value>> {
    object(json!({"type": "object", "properties": {}}))
}

/// The fixture tools.
pub(crate) fn tools() -> Vec<Tool> {
    let plain = [
        ("test_simple_text", "Returns simple text content"),
        ("test_image_content", "Returns image content"),
        ("test_audio_content", "Returns audio content"),
        ("test_embedded_resource", "Returns embedded resource content"),
        ("test_multiple_content_types", "Returns multiple content types"),
        ("test_tool_with_logging", "Sends logging notifications during execution"),
        ("test_error_handling", "Always returns an error"),
        ("test_tool_with_progress", "Reports progress notifications"),
        ("test_elicitation_sep1034_defaults", "Tests elicitation with default values (SEP-1034)"),
        ("test_elicitation_sep1330_enums", "Tests enum schema improvements (SEP-1330)"),
        ("test_reconnection", "Tests SSE reconnection behavior"),
    ];
    let mut tools: Vec<Tool> =
        plain.iter().map(|(name, description)| Tool::new(*name, *description, no_arguments())).collect();
    let one_string = |name: &str, description: &str| {
        object(json!({
            "type": "object",
            "properties": {name: {"type": "string", "description": description}},
            "required": [name]
        }))
    };
    tools.push(Tool::new(
        "test_sampling",
        "Requests LLM sampling from client",
        one_string("prompt", "The prompt to send"),
    ));
    tools.push(Tool::new(
        "test_elicitation",
        "Requests user input from client",
        one_string("message", "The message to show"),
    ));
    tools.push(Tool::new("test_roots", "Lists the client's roots", no_arguments()));
    tools.push(Tool::new(
        "json_schema_2020_12_tool",
        "Tool with JSON Schema 2020-12 features",
        object(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
            "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
            "additionalProperties": false
        })),
    ));
    tools
}

fn ok(content: Vec<ContentBlock>) -> Result<CallToolResult, McpError> {
    Ok(CallToolResult::success(content))
}

fn action_name(action: &rmcp::model::ElicitationAction) -> &'static str {
    match action {
        rmcp::model::ElicitationAction::Accept => "accept",
        rmcp::model::ElicitationAction::Decline => "decline",
        _ => "cancel",
    }
}

async fn elicit(
    context: &RequestContext<RoleServer>,
    message: &str,
    schema: Value,
) -> Result<CallToolResult, McpError> {
    let schema: ElicitationSchema =
        serde_json::from_value(schema).map_err(|e| McpError::internal_error(format!("fixture schema: {e}"), None))?;
    let request =
        ElicitRequestParams::FormElicitationParams { meta: None, message: message.into(), requested_schema: schema };
    match context.peer.create_elicitation(request).await {
        Ok(result) => ok(vec![ContentBlock::text(format!(
            "User response: action={}, content={}",
            action_name(&result.action),
            result.content.unwrap_or_default()
        ))]),
        Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(format!("Elicitation error: {e}"))])),
    }
}

/// Runs a fixture tool; `None` when `name` is not one.
pub(crate) async fn call(
    name: &str,
    arguments: &Map<String, Value>,
    context: &RequestContext<RoleServer>,
) -> Option<Result<CallToolResult, McpError>> {
    let text_resource = |uri: &str, mime: &str, text: &str| {
        ContentBlock::resource(ResourceContents::TextResourceContents {
            uri: uri.into(),
            mime_type: Some(mime.into()),
            text: text.into(),
            meta: None,
        })
    };
    Some(match name {
        "test_simple_text" => ok(vec![ContentBlock::text("This is a simple text response for testing.")]),
        "test_image_content" => ok(vec![ContentBlock::image(IMAGE, "image/png")]),
        "test_audio_content" => ok(vec![ContentBlock::Audio(AudioContent::new(AUDIO, "audio/wav"))]),
        "test_embedded_resource" => {
            ok(vec![text_resource("test://embedded-resource", "text/plain", "This is an embedded resource content.")])
        }
        "test_multiple_content_types" => ok(vec![
            ContentBlock::text("Multiple content types test:"),
            ContentBlock::image(IMAGE, "image/png"),
            text_resource("test://mixed-content-resource", "application/json", r#"{"test":"data","value":123}"#),
        ]),
        "test_tool_with_logging" => {
            for message in ["Tool execution started", "Tool processing data", "Tool execution completed"] {
                let log =
                    LoggingMessageNotificationParam::new(LoggingLevel::Info, json!(message)).with_logger("testbed");
                let _ = context.peer.notify_logging_message(log).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            ok(vec![ContentBlock::text("Logging test completed")])
        }
        "test_error_handling" => {
            Ok(CallToolResult::error(vec![ContentBlock::text("This tool intentionally returns an error for testing")]))
        }
        "test_tool_with_progress" => {
            let token = context.meta.get_progress_token();
            for (progress, message) in [(0.0, "Starting"), (50.0, "Halfway"), (100.0, "Complete")] {
                if let Some(token) = &token {
                    let note =
                        ProgressNotificationParam::new(token.clone(), progress).with_total(100.0).with_message(message);
                    let _ = context.peer.notify_progress(note).await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            ok(vec![ContentBlock::text("Progress test completed")])
        }
        "test_sampling" => {
            let prompt = arguments.get("prompt").and_then(Value::as_str).unwrap_or("Hello");
            match context
                .peer
                .create_message(CreateMessageRequestParams::new(vec![SamplingMessage::user_text(prompt)], 100))
                .await
            {
                Ok(result) => {
                    let text = result.message.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone());
                    ok(vec![ContentBlock::text(format!(
                        "LLM response: {}",
                        text.unwrap_or_else(|| "No text response".into())
                    ))])
                }
                Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(format!("Sampling error: {e}"))])),
            }
        }
        "test_elicitation" => {
            let message = arguments.get("message").and_then(Value::as_str).unwrap_or("Please provide your information");
            let schema = json!({
                "type": "object",
                "properties": {
                    "username": {"type": "string", "description": "User's response"},
                    "email": {"type": "string", "description": "User's email address"}
                },
                "required": ["username", "email"]
            });
            elicit(context, message, schema).await
        }
        "test_elicitation_sep1034_defaults" => {
            let schema = json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "User's name", "default": "John Doe"},
                    "age": {"type": "integer", "description": "User's age", "default": 30},
                    "score": {"type": "number", "description": "User's score", "default": 95.5},
                    "status": {"type": "string", "description": "User's status", "enum": ["active", "inactive", "pending"], "default": "active"},
                    "verified": {"type": "boolean", "description": "Whether user is verified", "default": true}
                }
            });
            elicit(context, "Please provide values (all have defaults)", schema).await
        }
        "test_elicitation_sep1330_enums" => {
            let schema = json!({
                "type": "object",
                "properties": {
                    "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                    "titledSingle": {"type": "string", "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"}
                    ]},
                    "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
                    "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                    "titledMulti": {"type": "array", "items": {"anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"}
                    ]}}
                }
            });
            elicit(context, "Test enum schema improvements", schema).await
        }
        "json_schema_2020_12_tool" => {
            let name = arguments.get("name").and_then(Value::as_str).unwrap_or("world");
            ok(vec![ContentBlock::text(format!("Hello, {name}!"))])
        }
        "test_roots" => match context.peer.list_roots().await {
            Ok(roots) => {
                ok(vec![ContentBlock::text(roots.roots.iter().map(|r| r.uri.clone()).collect::<Vec<_>>().join("\n"))])
            }
            Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(format!("roots error: {e}"))])),
        },
        "test_reconnection" => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            ok(vec![ContentBlock::text("Reconnection test completed")])
        }
        _ => return None,
    })
}

/// The fixture resources.
pub(crate) fn resources() -> ListResourcesResult {
    ListResourcesResult::with_all_items(vec![
        Resource::new("test://static-text", "Static Text Resource")
            .with_description("A static text resource for testing")
            .with_mime_type("text/plain"),
        Resource::new("test://static-binary", "Static Binary Resource")
            .with_description("A static binary/blob resource for testing")
            .with_mime_type("image/png"),
        Resource::new("test://watched-resource", "Watched Resource")
            .with_description("A resource to subscribe to")
            .with_mime_type("text/plain"),
    ])
}

/// The fixture resource template.
pub(crate) fn resource_templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new("test://template/{id}/data", "Dynamic Resource")
            .with_description("A dynamic resource with parameter substitution")
            .with_mime_type("application/json"),
    ])
}

/// Reads a fixture resource.
pub(crate) fn read_resource(uri: &str) -> Result<ReadResourceResult, McpError> {
    let text = |mime: &str, text: String| {
        Ok(ReadResourceResult::new(vec![ResourceContents::TextResourceContents {
            uri: uri.into(),
            mime_type: Some(mime.into()),
            text,
            meta: None,
        }]))
    };
    match uri {
        "test://static-text" => text("text/plain", "This is the content of the static text resource.".into()),
        "test://watched-resource" => text("text/plain", "Watched resource content.".into()),
        "test://static-binary" => Ok(ReadResourceResult::new(vec![ResourceContents::BlobResourceContents {
            uri: uri.into(),
            mime_type: Some("image/png".into()),
            blob: IMAGE.into(),
            meta: None,
        }])),
        _ => match uri.strip_prefix("test://template/").and_then(|rest| rest.strip_suffix("/data")) {
            Some(id) => {
                text("application/json", format!(r#"{{"id":"{id}","templateTest":true,"data":"Data for ID: {id}"}}"#))
            }
            None => Err(McpError::resource_not_found(format!("Resource not found: {uri}"), Some(json!({"uri": uri})))),
        },
    }
}

/// The URIs subscribed to (kept to answer `resources/subscribe` faithfully).
#[derive(Debug, Default)]
pub(crate) struct Subscriptions(Mutex<HashSet<String>>);

impl Subscriptions {
    pub(crate) fn subscribe(&self, uri: &str) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(uri.to_owned());
    }

    pub(crate) fn unsubscribe(&self, uri: &str) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(uri);
    }
}

/// The fixture prompts.
pub(crate) fn prompts() -> ListPromptsResult {
    ListPromptsResult::with_all_items(vec![
        Prompt::new("test_simple_prompt", Some("A simple test prompt with no arguments"), None),
        Prompt::new(
            "test_prompt_with_arguments",
            Some("A test prompt that accepts arguments"),
            Some(vec![
                PromptArgument::new("arg1").with_description("First test argument").with_required(true),
                PromptArgument::new("arg2").with_description("Second test argument").with_required(false),
            ]),
        ),
        Prompt::new(
            "test_prompt_with_embedded_resource",
            Some("A test prompt that includes an embedded resource"),
            None,
        ),
        Prompt::new("test_prompt_with_image", Some("A test prompt that includes an image"), None),
    ])
}

/// Renders a fixture prompt.
pub(crate) fn get_prompt(request: &GetPromptRequestParams) -> Result<GetPromptResult, McpError> {
    match request.name.as_str() {
        "test_simple_prompt" => {
            Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, "This is a simple test prompt.")])
                .with_description("A simple test prompt"))
        }
        "test_prompt_with_arguments" => {
            let arguments = request.arguments.clone().unwrap_or_default();
            let arg = |name: &str| arguments.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            Ok(GetPromptResult::new(vec![PromptMessage::new_text(
                Role::User,
                format!("Prompt with arguments: arg1='{}', arg2='{}'", arg("arg1"), arg("arg2")),
            )])
            .with_description("A prompt with arguments"))
        }
        "test_prompt_with_embedded_resource" => Ok(GetPromptResult::new(vec![
            PromptMessage::new_text(Role::User, "Here is a resource:"),
            PromptMessage::new_resource(
                Role::User,
                "test://static-text".into(),
                Some("text/plain".into()),
                Some("Resource content for prompt".into()),
                None,
                None,
                None,
            ),
        ])
        .with_description("A prompt with an embedded resource")),
        "test_prompt_with_image" => Ok(GetPromptResult::new(vec![
            PromptMessage::new_text(Role::User, "Here is an image:"),
            PromptMessage::new(Role::User, ContentBlock::Image(ImageContent::new(IMAGE, "image/png"))),
        ])
        .with_description("A prompt with an image")),
        other => Err(McpError::invalid_params(format!("Unknown prompt: {other}"), None)),
    }
}

/// Completes a prompt or template argument.
pub(crate) fn complete(request: &CompleteRequestParams) -> Result<CompleteResult, McpError> {
    let values: Vec<String> = match &request.r#ref {
        Reference::Resource(_) if request.argument.name == "id" => vec!["1".into(), "2".into(), "3".into()],
        Reference::Prompt(_) => {
            ["alpha", "beta", "gamma"].iter().map(|v| format!("{}{v}", request.argument.value)).collect()
        }
        _ => Vec::new(),
    };
    Ok(CompleteResult::new(CompletionInfo::new(values).map_err(|e| McpError::internal_error(e, None))?))
}
