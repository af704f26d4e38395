//! Shared helpers: the testbed MCP server and process checks (from `toolbridge-test-support`).

#![allow(dead_code, unused_imports)]

pub(crate) use toolbridge_test_support::{alive, gone_within, testbed, workspace};

use toolbridge::config::ServerConfig;

/// A stdio testbed server config.
pub(crate) fn testbed_server(name: &str, args: &[&str]) -> ServerConfig {
    ServerConfig::stdio(name, testbed(), args)
}

/// The text of a call's output.
pub(crate) fn text(output: &toolbridge::ToolOutput) -> String {
    output.text.clone()
}
