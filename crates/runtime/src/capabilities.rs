//! What a runtime can do.

use serde::{Deserialize, Serialize};

/// Feature flags a runtime declares (the seed's seven flags). All default to `false`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
#[allow(clippy::struct_excessive_bools)]
pub struct RuntimeCapabilities {
    /// Supports `stream_execute` with partial results and events.
    pub streaming: bool,
    /// Supports tool calling.
    pub tools: bool,
    /// Supports MCP servers as tool sources.
    pub mcp: bool,
    /// Calls the lifecycle hooks.
    pub hooks: bool,
    /// Supports cancellation by execution id.
    pub cancellation: bool,
    /// Uses `conversation_history`.
    pub conversation_history: bool,
    /// Supports custom tools.
    pub custom_tools: bool,
}

impl RuntimeCapabilities {
    /// Every capability enabled.
    pub const fn all() -> Self {
        Self {
            streaming: true,
            tools: true,
            mcp: true,
            hooks: true,
            cancellation: true,
            conversation_history: true,
            custom_tools: true,
        }
    }
}
