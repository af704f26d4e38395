//! The one seam between the catalogue and where tools come from: [`ToolSource`].
//!
//! Two kinds stand behind it: MCP servers (through the pool) and [`ToolTable`]s — typed
//! async handlers in Rust, which is what the built-in skills are and what custom tools are.
//! A source lists its tools with their input schemas and runs calls by original tool name;
//! naming, policy, validation, the output cap and the call log are the catalogue's business,
//! written once for all sources.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use toolbridge_runtime::ToolSourceKind;

use crate::error::ToolError;
use toolbridge_sandbox::SandboxReport;

/// A JSON object (a tool's input schema).
pub type JsonObject = Map<String, Value>;

/// One tool as its source describes it.
#[derive(Debug, Clone)]
pub struct ToolDescriptor {
    /// The tool's name within its source.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its input JSON Schema (an object schema).
    pub input_schema: Arc<JsonObject>,
}

/// What the catalogue passes to a call.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// Fires when the call must stop (the execution was cancelled).
    pub cancel: CancellationToken,
    /// The call's time limit; `None` means the source's own default.
    pub timeout: Option<Duration>,
    /// The most output bytes the model gets: a source that reads output (a process's pipes)
    /// need not keep more, and says how much there was in [`ToolOutput::original_bytes`].
    pub max_output_bytes: usize,
    /// Answers an MCP server's sampling and elicitation during the call; hears its progress.
    pub responder: Option<Arc<dyn crate::interaction::Responder>>,
    /// Keep an MCP result's content blocks ([`ToolOutput::content`]).
    pub keep_content: bool,
}

/// What a call produced. The catalogue caps `text` once, to the model's limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolOutput {
    /// The text for the model.
    pub text: String,
    /// The tool reported an error (MCP `isError`, a non-zero exit, …).
    pub is_error: bool,
    /// When `text` holds only the beginning of the output, the size of the whole.
    pub original_bytes: Option<usize>,
    /// A last line that survives the cap (`exit code 1`).
    pub trailer: Option<String>,
    /// `structuredContent`, when the tool returned one.
    pub structured: Option<Value>,
    /// The MCP content blocks as the server sent them, when the call asked to keep them (a
    /// gateway passes them on unchanged).
    pub content: Option<Value>,
}

impl ToolOutput {
    /// A successful text output.
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: text.into(), ..Self::default() }
    }

    /// A tool-reported error.
    pub fn error(text: impl Into<String>) -> Self {
        Self { is_error: true, ..Self::text(text) }
    }
}

/// A source could not list its tools (the catalogue is then degraded, not failed).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct SourceError {
    /// The source.
    pub source_name: String,
    /// Why.
    pub message: String,
    /// When the source is an MCP server that needs an OAuth login: the command that logs in.
    pub login_command: Option<String>,
}

impl SourceError {
    /// A failure of `source_name`.
    pub fn new(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        Self { source_name: source_name.into(), message: message.into(), login_command: None }
    }
}

/// Where tools come from.
#[async_trait]
pub trait ToolSource: Send + Sync + fmt::Debug {
    /// The source's name: the catalogue prefix of its tools.
    fn name(&self) -> &str;
    /// What kind of source it is.
    fn kind(&self) -> ToolSourceKind;
    /// Its tools.
    async fn list_tools(&self) -> Result<Vec<ToolDescriptor>, SourceError>;
    /// Runs one call by original tool name. The arguments were validated against the tool's
    /// schema already.
    async fn call_tool(&self, tool: &str, arguments: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError>;
    /// What confines the processes this source runs, if it runs any.
    fn sandbox(&self) -> Option<SandboxReport> {
        None
    }
    /// The MCP server behind this source, if it is one and has connected (the gateway
    /// re-exports its resources, prompts and completions).
    fn server_handle(&self) -> Option<crate::pool::ServerHandle> {
        None
    }
}

type Handler = Arc<dyn Fn(Value, CallContext) -> BoxFuture<'static, Result<ToolOutput, ToolError>> + Send + Sync>;

struct TableTool {
    descriptor: ToolDescriptor,
    handler: Handler,
}

/// Tools as typed async functions: each takes a parameter struct deriving `JsonSchema` and
/// `Deserialize` (its schema is the tool's input schema). Custom Rust tools and every built-in
/// skill are tables.
///
/// ```
/// use toolbridge::ToolTable;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Add { a: i64, b: i64 }
///
/// let math = ToolTable::new("math").tool("add", "Adds two integers", |p: Add| async move {
///     Ok::<_, std::convert::Infallible>(p.a + p.b)
/// });
/// ```
pub struct ToolTable {
    name: String,
    kind: ToolSourceKind,
    tools: Vec<TableTool>,
    sandbox: Option<SandboxReport>,
}

impl fmt::Debug for ToolTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolTable")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("tools", &self.tools.iter().map(|t| t.descriptor.name.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

/// The JSON Schema of a parameter type, as a tool input schema.
pub fn schema_of<P: JsonSchema>() -> JsonObject {
    match serde_json::to_value(schemars::schema_for!(P)) {
        Ok(Value::Object(mut schema)) => {
            schema.remove("$schema");
            schema.remove("title");
            schema
        }
        _ => {
            let mut schema = JsonObject::new();
            schema.insert("type".into(), Value::String("object".into()));
            schema
        }
    }
}

/// The message of a caught panic.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

impl ToolTable {
    /// An empty table of custom tools with the given name (the catalogue prefix).
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), kind: ToolSourceKind::Custom, tools: Vec::new(), sandbox: None }
    }

    /// An empty table for a built-in skill.
    pub(crate) fn skill(name: impl Into<String>) -> Self {
        Self { kind: ToolSourceKind::Skill, ..Self::new(name) }
    }

    /// Adds a tool whose output is given to the model as text (strings as they are, anything
    /// else as JSON); its error becomes a failed call.
    #[must_use]
    pub fn tool<P, R, E, F, Fut>(self, name: impl Into<String>, description: impl Into<String>, function: F) -> Self
    where
        P: JsonSchema + DeserializeOwned + Send + 'static,
        R: Serialize,
        E: fmt::Display,
        F: Fn(P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
    {
        self.handler(name, description, move |params: P, _ctx: CallContext| {
            let output = function(params);
            async move {
                match output.await {
                    Ok(value) => Ok(ToolOutput::text(match serde_json::to_value(value) {
                        Ok(Value::String(text)) => text,
                        Ok(other) => other.to_string(),
                        Err(e) => return Err(ToolError::failed_with("could not serialise the output", e)),
                    })),
                    Err(error) => Err(ToolError::failed(error.to_string())),
                }
            }
        })
    }

    /// Adds a tool with full control of its output and errors, and the call's context.
    #[must_use]
    pub fn handler<P, F, Fut>(mut self, name: impl Into<String>, description: impl Into<String>, function: F) -> Self
    where
        P: JsonSchema + DeserializeOwned + Send + 'static,
        F: Fn(P, CallContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ToolOutput, ToolError>> + Send + 'static,
    {
        let function = Arc::new(function);
        let handler: Handler = Arc::new(move |arguments, ctx| {
            let function = Arc::clone(&function);
            Box::pin(async move {
                let params: P =
                    serde_json::from_value(arguments).map_err(|e| ToolError::invalid_arguments(e.to_string()))?;
                function(params, ctx).await
            })
        });
        self.tools.push(TableTool {
            descriptor: ToolDescriptor {
                name: name.into(),
                description: description.into(),
                input_schema: Arc::new(schema_of::<P>()),
            },
            handler,
        });
        self
    }

    /// Says what confines the commands these tools run.
    #[must_use]
    pub(crate) fn sandboxed(mut self, report: Option<SandboxReport>) -> Self {
        self.sandbox = report;
        self
    }

    /// Replaces a tool's input schema (one a parameter type cannot describe, e.g. an `enum`
    /// known only from configuration).
    #[must_use]
    pub(crate) fn with_schema(mut self, tool: &str, schema: JsonObject) -> Self {
        if let Some(entry) = self.tools.iter_mut().find(|t| t.descriptor.name == tool) {
            entry.descriptor.input_schema = Arc::new(schema);
        }
        self
    }

    /// The tools' names.
    pub fn tool_names(&self) -> impl Iterator<Item = &str> {
        self.tools.iter().map(|t| t.descriptor.name.as_str())
    }
}

#[async_trait]
impl ToolSource for ToolTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ToolSourceKind {
        self.kind
    }

    async fn list_tools(&self) -> Result<Vec<ToolDescriptor>, SourceError> {
        Ok(self.tools.iter().map(|t| t.descriptor.clone()).collect())
    }

    fn sandbox(&self) -> Option<SandboxReport> {
        self.sandbox.clone()
    }

    /// Runs the handler under the call's time limit and cancellation; a panic in it is a
    /// failed call, not a crash.
    async fn call_tool(&self, tool: &str, arguments: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
        let entry = self
            .tools
            .iter()
            .find(|t| t.descriptor.name == tool)
            .ok_or_else(|| ToolError::UnknownTool { tool: tool.to_owned() })?;
        let call = AssertUnwindSafe((entry.handler)(arguments, ctx.clone())).catch_unwind();
        let call = async {
            match call.await {
                Ok(outcome) => outcome,
                Err(payload) => {
                    Err(ToolError::failed(format!("the tool panicked: {}", panic_message(payload.as_ref()))))
                }
            }
        };
        let limit = ctx.timeout;
        tokio::select! {
            outcome = async {
                match limit {
                    Some(limit) => tokio::time::timeout(limit, call)
                        .await
                        .unwrap_or_else(|_| Err(ToolError::Timeout { tool: tool.to_owned(), server: None, limit })),
                    None => call.await,
                }
            } => outcome,
            () = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
        }
    }
}
