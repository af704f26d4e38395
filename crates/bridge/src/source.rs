//! The seam between the catalogue and where tools come from.
//!
//! Three kinds of [`ToolSource`] stand behind it: MCP servers (through the pool), built-in
//! skills, and custom Rust tools ([`CustomTools`]). A source lists its tools with their input
//! schemas and runs calls by original tool name; naming, policy, validation, output caps and
//! the call log are the catalogue's business, written once for all sources.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use toolbridge_runtime::{ToolErrorType, ToolSourceKind};

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
    /// The most output bytes the model may get; sources may stop reading past it.
    pub max_output_bytes: usize,
}

/// What a call produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolOutput {
    /// The text for the model (already capped by the source when it caps itself).
    pub text: String,
    /// The tool reported an error (MCP `isError`, a non-zero exit, …).
    pub is_error: bool,
    /// The text was cut to the cap.
    pub truncated: bool,
    /// The size of the output before any cap.
    pub original_bytes: usize,
    /// `structuredContent`, when the tool returned one.
    pub structured: Option<Value>,
}

impl ToolOutput {
    /// A successful text output.
    pub fn text(text: impl Into<String>) -> Self {
        let text = text.into();
        Self { original_bytes: text.len(), text, ..Self::default() }
    }

    /// A tool-reported error.
    pub fn error(text: impl Into<String>) -> Self {
        Self { is_error: true, ..Self::text(text) }
    }
}

/// Why a call did not produce an output.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolCallError {
    /// The source has no such tool.
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    /// The arguments were refused.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The call was refused (escape attempt, blocked command, disabled operation, policy).
    #[error("{0}")]
    Denied(String),
    /// The call ran out of time.
    #[error("{0}")]
    Timeout(String),
    /// The call was cancelled.
    #[error("the call was cancelled")]
    Cancelled,
    /// The source could not be reached.
    #[error("{0}")]
    Unavailable(String),
    /// The call failed.
    #[error("{0}")]
    Failed(String),
}

impl ToolCallError {
    /// The record's `error_type` for this error.
    pub fn error_type(&self) -> ToolErrorType {
        match self {
            Self::UnknownTool(_) => ToolErrorType::UnknownTool,
            Self::InvalidArguments(_) => ToolErrorType::InvalidArguments,
            Self::Denied(_) => ToolErrorType::PolicyDenied,
            Self::Timeout(_) => ToolErrorType::Timeout,
            Self::Cancelled => ToolErrorType::Cancelled,
            Self::Unavailable(_) => ToolErrorType::ServerUnavailable,
            Self::Failed(_) => ToolErrorType::ToolError,
        }
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
    /// Runs one call by original tool name. Arguments were validated against the tool's
    /// schema already.
    async fn call_tool(&self, tool: &str, arguments: Value, ctx: &CallContext) -> Result<ToolOutput, ToolCallError>;
}

type Handler =
    Arc<dyn Fn(Value, CancellationToken) -> BoxFuture<'static, Result<ToolOutput, ToolCallError>> + Send + Sync>;

struct CustomTool {
    descriptor: ToolDescriptor,
    handler: Handler,
}

/// Custom Rust tools: typed async functions whose parameter struct derives `JsonSchema` and
/// `Deserialize`.
///
/// ```
/// use toolbridge::CustomTools;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Add { a: i64, b: i64 }
///
/// let math = CustomTools::new("math").tool("add", "Adds two integers", |p: Add| async move {
///     Ok::<_, std::convert::Infallible>(p.a + p.b)
/// });
/// ```
pub struct CustomTools {
    name: String,
    tools: Vec<CustomTool>,
}

impl fmt::Debug for CustomTools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomTools")
            .field("name", &self.name)
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

impl CustomTools {
    /// An empty source with the given name (the catalogue prefix).
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), tools: Vec::new() }
    }

    /// Adds a tool. The function's output is given to the model as text (strings as they
    /// are, anything else as JSON); its error becomes a failed call.
    #[must_use]
    pub fn tool<P, R, E, F, Fut>(mut self, name: impl Into<String>, description: impl Into<String>, function: F) -> Self
    where
        P: JsonSchema + DeserializeOwned + Send + 'static,
        R: Serialize,
        E: fmt::Display,
        F: Fn(P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
    {
        let function = Arc::new(function);
        let handler: Handler = Arc::new(move |arguments, cancel| {
            let function = Arc::clone(&function);
            Box::pin(async move {
                let params: P =
                    serde_json::from_value(arguments).map_err(|e| ToolCallError::InvalidArguments(e.to_string()))?;
                let output = tokio::select! {
                    output = function(params) => output,
                    () = cancel.cancelled() => return Err(ToolCallError::Cancelled),
                };
                match output {
                    Ok(value) => Ok(ToolOutput::text(match serde_json::to_value(value) {
                        Ok(Value::String(text)) => text,
                        Ok(other) => other.to_string(),
                        Err(e) => return Err(ToolCallError::Failed(format!("could not serialise the output: {e}"))),
                    })),
                    Err(error) => Err(ToolCallError::Failed(error.to_string())),
                }
            })
        });
        self.tools.push(CustomTool {
            descriptor: ToolDescriptor {
                name: name.into(),
                description: description.into(),
                input_schema: Arc::new(schema_of::<P>()),
            },
            handler,
        });
        self
    }
}

#[async_trait]
impl ToolSource for CustomTools {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ToolSourceKind {
        ToolSourceKind::Custom
    }

    async fn list_tools(&self) -> Result<Vec<ToolDescriptor>, SourceError> {
        Ok(self.tools.iter().map(|t| t.descriptor.clone()).collect())
    }

    async fn call_tool(&self, tool: &str, arguments: Value, ctx: &CallContext) -> Result<ToolOutput, ToolCallError> {
        let entry = self
            .tools
            .iter()
            .find(|t| t.descriptor.name == tool)
            .ok_or_else(|| ToolCallError::UnknownTool(tool.to_owned()))?;
        let call = (entry.handler)(arguments, ctx.cancel.clone());
        match ctx.timeout {
            Some(limit) => tokio::time::timeout(limit, call)
                .await
                .unwrap_or_else(|_| Err(ToolCallError::Timeout(format!("`{tool}` did not finish within {limit:?}")))),
            None => call.await,
        }
    }
}
