//! The runtime plugin protocol, version 1: every message toolbridge and a plugin exchange, as
//! typed values, plus the few JSON-RPC 2.0 envelopes that carry them.
//!
//! The JSON-RPC layer is written by hand rather than borrowed from an MCP library because the
//! protocol is not MCP: five requests, two notifications, integer ids, one message per line.
//! Incoming lines are classified from a JSON object (not through an untagged enum) so that a
//! `"result": null` answer stays distinguishable from a missing `result`, and so that a bad
//! message yields an error that says which part was wrong.
//!
//! Results are read field by field ([`Fields`]) for the same reason: a plugin author whose
//! `execute` answer lacks `finish_reason`, or sends `success: "yes"`, reads the field's name
//! in the error.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use toolbridge_runtime::{ExecutionEvent, ExecutionId, FinishReason, RuntimeCapabilities, Usage};

/// The protocol version this crate speaks; a plugin answering `initialize` with another one is
/// refused.
pub const PROTOCOL_VERSION: &str = "1";

/// JSON-RPC's "method not found" error code.
pub const METHOD_NOT_FOUND: i64 = -32601;

/// The request methods toolbridge sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `initialize`: version handshake, capabilities, config schema.
    Initialize,
    /// `validate_config`: the plugin's own checks of a `runtime_config`.
    ValidateConfig,
    /// `execute`: run one execution.
    Execute,
    /// `cancel`: stop one execution.
    Cancel,
    /// `shutdown`: prepare to exit.
    Shutdown,
}

impl Method {
    /// The wire name, e.g. `validate_config`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Initialize => "initialize",
            Self::ValidateConfig => "validate_config",
            Self::Execute => "execute",
            Self::Cancel => "cancel",
            Self::Shutdown => "shutdown",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request toolbridge sends: `{"jsonrpc": "2.0", "id": N, "method": …, "params": …}`.
#[derive(Debug, Serialize)]
pub struct Request<'a, P> {
    /// Always `2.0`.
    pub jsonrpc: &'static str,
    /// The request id, unique per process.
    pub id: u64,
    /// The method name.
    pub method: &'a str,
    /// The parameters.
    pub params: &'a P,
}

impl<'a, P: Serialize> Request<'a, P> {
    /// A request with the given id.
    pub fn new(id: u64, method: Method, params: &'a P) -> Self {
        Self { jsonrpc: "2.0", id, method: method.as_str(), params }
    }
}

/// An error answer toolbridge sends (to a request a plugin should not have made).
#[derive(Debug, Serialize)]
pub struct ErrorResponse<'a> {
    /// Always `2.0`.
    pub jsonrpc: &'static str,
    /// The id of the request answered.
    pub id: &'a Value,
    /// The error.
    pub error: RpcError,
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    /// The error code (`-32601` for an unknown method).
    pub code: i64,
    /// What went wrong.
    #[serde(default)]
    pub message: String,
    /// Anything else the plugin attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// `initialize` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitializeParams {
    /// The protocol version toolbridge speaks: `"1"`.
    pub protocol_version: String,
    /// toolbridge's version.
    pub toolbridge_version: String,
}

impl Default for InitializeParams {
    fn default() -> Self {
        Self { protocol_version: PROTOCOL_VERSION.to_owned(), toolbridge_version: env!("CARGO_PKG_VERSION").to_owned() }
    }
}

/// `initialize` result: what the plugin is and what it supports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitializeResult {
    /// The protocol version the plugin speaks; must be `"1"`.
    pub protocol_version: String,
    /// What the runtime is, for `toolbridge runtimes`.
    pub description: String,
    /// The seed's seven capability flags.
    pub capabilities: RuntimeCapabilities,
    /// The JSON Schema of its `runtime_config`, if it publishes one.
    pub config_schema: Option<Value>,
    /// Whether executions need a `model_id`.
    pub requires_model: bool,
}

impl InitializeResult {
    /// Reads a result, naming the field that is missing or mistyped. Only `protocol_version`
    /// is required: the rest default (no description, no capabilities, no schema).
    pub fn from_value(value: Value) -> Result<Self, String> {
        let mut fields = Fields::new(value)?;
        Ok(Self {
            protocol_version: fields.required("protocol_version")?,
            description: fields.optional("description")?.unwrap_or_default(),
            capabilities: fields.optional("capabilities")?.unwrap_or_default(),
            config_schema: fields.optional("config_schema")?,
            requires_model: fields.optional("requires_model")?.unwrap_or_default(),
        })
    }
}

/// `validate_config` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidateConfigParams {
    /// The `runtime_config` to check (`{}` when the execution has none).
    pub runtime_config: Value,
}

/// `validate_config` result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidateConfigResult {
    /// `"field: message"` per problem; empty means valid.
    #[serde(default)]
    pub errors: Vec<String>,
}

/// Where a plugin calls this execution's tools: a streamable-HTTP MCP endpoint.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolsParam {
    /// The endpoint, e.g. `http://127.0.0.1:41234/mcp`.
    pub url: String,
    /// Headers to send with every request (e.g. an authorization token for this execution).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl std::fmt::Debug for ToolsParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values are credentials for the endpoint: names only.
        f.debug_struct("ToolsParam").field("url", &self.url).field("headers", &self.headers.keys()).finish()
    }
}

/// `execute` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecuteParams {
    /// The execution's id; every event about it carries it.
    pub execution_id: ExecutionId,
    /// Whether toolbridge streams this execution (send `content_chunk` events as you go).
    pub stream: bool,
    /// The `RuntimeExecutionContext` under the seed's names, secrets in `mcp_servers` and
    /// `skills` masked.
    pub context: Value,
    /// The tool endpoint, or `null` when the execution has no tools.
    pub tools: Option<ToolsParam>,
}

/// `execute` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecuteResult {
    /// The response text.
    pub response: String,
    /// Token usage.
    pub usage: Usage,
    /// Whether the execution succeeded.
    pub success: bool,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// The model used.
    pub model: Option<String>,
    /// The run id.
    pub run_id: Option<String>,
    /// The error, when it failed.
    pub error: Option<String>,
    /// Anything else.
    pub metadata: Map<String, Value>,
}

impl ExecuteResult {
    /// Reads a result, naming the field that is missing or mistyped. `response`, `success`
    /// and `finish_reason` are required; the rest may be absent or `null`. Keys the protocol
    /// does not define (e.g. a plugin's own `tool_execution_messages`) are ignored.
    pub fn from_value(value: Value) -> Result<Self, String> {
        let mut fields = Fields::new(value)?;
        Ok(Self {
            response: fields.required("response")?,
            usage: fields.optional("usage")?.unwrap_or_default(),
            success: fields.required("success")?,
            finish_reason: fields.required("finish_reason")?,
            model: fields.optional("model")?,
            run_id: fields.optional("run_id")?,
            error: fields.optional("error")?,
            metadata: fields.optional("metadata")?.unwrap_or_default(),
        })
    }
}

/// `cancel` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelParams {
    /// The execution to stop.
    pub execution_id: ExecutionId,
}

/// `cancel` result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelResult {
    /// Whether the plugin knew the execution and is stopping it.
    #[serde(default)]
    pub cancelled: bool,
}

/// `shutdown` params: none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownParams {}

/// `event` notification params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventParams {
    /// The execution the event belongs to.
    pub execution_id: ExecutionId,
    /// The event, in its wire form (`{"type": "content_chunk", "text": …}`).
    pub event: ExecutionEvent,
}

/// The level of a `log` notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// An error.
    Error,
    /// A warning (`warning` accepted too).
    #[serde(alias = "warning")]
    Warn,
    /// Information.
    Info,
    /// Debugging detail (`trace` accepted too).
    #[serde(alias = "trace")]
    Debug,
}

/// `log` notification params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogParams {
    /// How important.
    pub level: LogLevel,
    /// The text.
    pub message: String,
}

/// One line received from a plugin, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// An answer to one of our requests.
    Response {
        /// The id of the request it answers.
        id: u64,
        /// The result, or the error.
        outcome: Result<Value, RpcError>,
    },
    /// A response whose id is not one we could have sent (not an unsigned integer).
    ForeignResponse {
        /// The id as sent.
        id: Value,
    },
    /// A notification (`event`, `log`, or one this version does not know).
    Notification {
        /// The method.
        method: String,
        /// The params (`null` when absent).
        params: Value,
    },
    /// A request from the plugin: the protocol has none, so it is answered "method not found".
    Request {
        /// The request id, echoed in the answer.
        id: Value,
        /// The method.
        method: String,
    },
}

impl Incoming {
    /// Classifies one line. The error says what is wrong and quotes the line's beginning.
    pub fn parse(line: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(line)
            .map_err(|error| format!("a line on stdout is not JSON ({error}): {}", quote_start(line)))?;
        let Value::Object(mut object) = value else {
            return Err(format!("a line on stdout is not a JSON-RPC message (not an object): {}", quote_start(line)));
        };
        let method = match object.remove("method") {
            Some(Value::String(method)) => Some(method),
            None => None,
            Some(_) => {
                return Err(format!("a message's `method` is not a string: {}", quote_start(line)));
            }
        };
        let id = object.remove("id").filter(|id| !id.is_null());
        match (method, id) {
            (Some(method), Some(id)) => Ok(Self::Request { id, method }),
            (Some(method), None) => {
                Ok(Self::Notification { method, params: object.remove("params").unwrap_or_default() })
            }
            (None, Some(id)) => {
                let outcome = match (object.remove("result"), object.remove("error")) {
                    (_, Some(error)) if !error.is_null() => Err(serde_json::from_value::<RpcError>(error)
                        .map_err(|e| format!("an error answer is malformed ({e}): {}", quote_start(line)))?),
                    (Some(result), _) => Ok(result),
                    (None, _) => {
                        return Err(format!("an answer has neither `result` nor `error`: {}", quote_start(line)));
                    }
                };
                match id.as_u64() {
                    Some(id) => Ok(Self::Response { id, outcome }),
                    None => Ok(Self::ForeignResponse { id }),
                }
            }
            (None, None) => {
                Err(format!("a message has neither `method` nor `id` (not JSON-RPC): {}", quote_start(line)))
            }
        }
    }
}

/// The beginning of a line (at most 120 characters), quoted, for error messages.
pub fn quote_start(line: &[u8]) -> String {
    const SHOWN: usize = 120;
    let text = String::from_utf8_lossy(&line[..line.len().min(SHOWN * 4)]);
    let text = text.trim_end_matches(['\r', '\n']);
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// Reads the fields of a result object one by one, so that errors name the field.
#[derive(Debug)]
pub struct Fields {
    object: Map<String, Value>,
}

impl Fields {
    /// Starts reading `value`, which must be an object.
    pub fn new(value: Value) -> Result<Self, String> {
        match value {
            Value::Object(object) => Ok(Self { object }),
            other => Err(format!("expected an object, got {}", kind(&other))),
        }
    }

    /// A field that must be present and not `null`.
    pub fn required<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, String> {
        match self.object.remove(name) {
            None | Some(Value::Null) => Err(format!("missing field `{name}`")),
            Some(value) => serde_json::from_value(value).map_err(|error| format!("field `{name}`: {error}")),
        }
    }

    /// A field that may be absent or `null`.
    pub fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>, String> {
        match self.object.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => serde_json::from_value(value).map(Some).map_err(|error| format!("field `{name}`: {error}")),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_have_the_jsonrpc_envelope() {
        let params = CancelParams { execution_id: "e1".into() };
        let line = serde_json::to_value(Request::new(7, Method::Cancel, &params)).unwrap();
        assert_eq!(line, json!({"jsonrpc": "2.0", "id": 7, "method": "cancel", "params": {"execution_id": "e1"}}));
        let init = serde_json::to_value(InitializeParams::default()).unwrap();
        assert_eq!(init["protocol_version"], "1");
        assert!(init["toolbridge_version"].is_string());
    }

    #[test]
    fn incoming_lines_are_classified() {
        assert_eq!(
            Incoming::parse(br#"{"jsonrpc":"2.0","id":3,"result":null}"#).unwrap(),
            Incoming::Response { id: 3, outcome: Ok(Value::Null) }
        );
        let Incoming::Response { outcome: Err(error), .. } =
            Incoming::parse(br#"{"jsonrpc":"2.0","id":4,"error":{"code":-32601,"message":"nope"}}"#).unwrap()
        else {
            panic!("expected an error answer");
        };
        assert_eq!(error.code, METHOD_NOT_FOUND);
        assert!(matches!(
            Incoming::parse(br#"{"jsonrpc":"2.0","method":"log","params":{"level":"info","message":"m"}}"#).unwrap(),
            Incoming::Notification { method, .. } if method == "log"
        ));
        assert!(matches!(
            Incoming::parse(br#"{"jsonrpc":"2.0","id":"x","method":"sampling"}"#).unwrap(),
            Incoming::Request { method, .. } if method == "sampling"
        ));
        assert!(matches!(
            Incoming::parse(br#"{"jsonrpc":"2.0","id":"abc","result":1}"#).unwrap(),
            Incoming::ForeignResponse { .. }
        ));
    }

    #[test]
    fn garbage_is_quoted() {
        let error = Incoming::parse(b"hello from print()").unwrap_err();
        assert!(error.contains("not JSON") && error.contains("\"hello from print()\""), "{error}");
        let error = Incoming::parse(b"[1,2]").unwrap_err();
        assert!(error.contains("not an object"), "{error}");
        let error = Incoming::parse(br#"{"id":1}"#).unwrap_err();
        assert!(error.contains("neither `result` nor `error`"), "{error}");
        let long = "x".repeat(10_000);
        assert!(quote_start(long.as_bytes()).len() < 200);
    }

    #[test]
    fn execute_results_name_the_bad_field() {
        let ok = ExecuteResult::from_value(json!({
            "response": "hi", "success": true, "finish_reason": "stop", "usage": {"input_tokens": 1},
            "tool_execution_messages": [{"ignored": true}]
        }))
        .unwrap();
        assert_eq!(ok.usage.input_tokens, 1);
        assert_eq!(ok.finish_reason, FinishReason::Stop);
        let error = ExecuteResult::from_value(json!({"response": "hi", "success": true})).unwrap_err();
        assert_eq!(error, "missing field `finish_reason`");
        let error = ExecuteResult::from_value(json!({"response": "hi", "success": "yes", "finish_reason": "stop"}))
            .unwrap_err();
        assert!(error.starts_with("field `success`"), "{error}");
        let error =
            ExecuteResult::from_value(json!({"response": "", "success": true, "finish_reason": "done"})).unwrap_err();
        assert!(error.starts_with("field `finish_reason`"), "{error}");
        assert!(ExecuteResult::from_value(json!("hi")).unwrap_err().contains("expected an object"));
    }

    #[test]
    fn initialize_results_default_what_is_optional() {
        let result = InitializeResult::from_value(json!({"protocol_version": "1"})).unwrap();
        assert_eq!(result.capabilities, RuntimeCapabilities::default());
        assert!(result.config_schema.is_none());
        let error = InitializeResult::from_value(json!({"description": "x"})).unwrap_err();
        assert_eq!(error, "missing field `protocol_version`");
    }

    #[test]
    fn events_and_logs_parse() {
        let event: EventParams =
            serde_json::from_value(json!({"execution_id": "e", "event": {"type": "content_chunk", "text": "a"}}))
                .unwrap();
        assert_eq!(event.event, ExecutionEvent::ContentChunk { text: "a".into() });
        let log: LogParams = serde_json::from_value(json!({"level": "warning", "message": "m"})).unwrap();
        assert_eq!(log.level, LogLevel::Warn);
    }
}
