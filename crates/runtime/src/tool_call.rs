//! The tool-call record: one entry of `tool_execution_messages`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Why a tool call failed (or was altered), as recorded in [`ToolCallRecord::error_type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolErrorType {
    /// The arguments did not match the tool's schema; the tool was not called.
    InvalidArguments,
    /// No tool of that name in the catalogue.
    UnknownTool,
    /// A policy refused the call; the tool was not called.
    PolicyDenied,
    /// The call did not finish within its timeout.
    Timeout,
    /// The execution was cancelled while the call ran.
    Cancelled,
    /// The tool's server could not be reached or restarted.
    ServerUnavailable,
    /// The tool ran and reported an error.
    ToolError,
    /// The call succeeded but its output was cut to the configured cap.
    OutputTruncated,
    /// A sandbox rule refused what the tool tried (a file, a connection, a process).
    SandboxDenied,
    /// A path outside the skill's base directory was refused.
    OutsideBaseDir,
}

impl ToolErrorType {
    /// The wire name, e.g. `invalid_arguments`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArguments => "invalid_arguments",
            Self::UnknownTool => "unknown_tool",
            Self::PolicyDenied => "policy_denied",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
            Self::ServerUnavailable => "server_unavailable",
            Self::ToolError => "tool_error",
            Self::OutputTruncated => "output_truncated",
            Self::SandboxDenied => "sandbox_denied",
            Self::OutsideBaseDir => "outside_base_dir",
        }
    }
}

impl fmt::Display for ToolErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a tool came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolSourceKind {
    /// An MCP server.
    Mcp,
    /// A built-in skill.
    Skill,
    /// A custom tool registered in code.
    Custom,
    /// Not known: the model called a name that is not in the catalogue.
    Unknown,
}

/// One tool call, exactly the fields of DESIGN.md's tool call record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    /// The catalogue name the model called.
    pub tool: String,
    /// The provider's id of the call (`tool_call_id` / `tool_use_id`).
    #[serde(default)]
    pub tool_use_id: String,
    /// The source: `mcp`, `skill` or `custom`.
    pub source: ToolSourceKind,
    /// The MCP server or skill name, when known.
    #[serde(default)]
    pub server: Option<String>,
    /// The arguments as the model sent them.
    #[serde(default)]
    pub input: Value,
    /// The text given back to the model (after caps).
    #[serde(default)]
    pub output: String,
    /// Whether the call succeeded.
    pub success: bool,
    /// The error message, when it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The failure (or alteration) kind.
    #[serde(default)]
    pub error_type: Option<ToolErrorType>,
    /// Wall time of the call.
    #[serde(default)]
    pub duration_ms: u64,
    /// When the call started (RFC 3339).
    pub start_time: DateTime<Utc>,
    /// When the call ended (RFC 3339).
    pub end_time: DateTime<Utc>,
    /// Anything else (original tool name, truncation sizes, …).
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn record_uses_design_field_names() {
        let value = json!({
            "tool": "testbed__echo", "tool_use_id": "call_1", "source": "mcp", "server": "testbed",
            "input": {"message": "hi"}, "output": "Echo: hi", "success": false,
            "error": "boom", "error_type": "server_unavailable", "duration_ms": 12,
            "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:00.012Z",
            "metadata": {"original_name": "echo"}
        });
        let record: ToolCallRecord = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(record.error_type, Some(ToolErrorType::ServerUnavailable));
        let back = serde_json::to_value(&record).unwrap();
        assert_eq!(back["error_type"], "server_unavailable");
        assert_eq!(back["start_time"], "2026-01-01T00:00:00Z");
        assert_eq!(back.as_object().unwrap().len(), value.as_object().unwrap().len());
    }
}
