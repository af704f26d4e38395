//! Shared helpers for the agent-loop tests: the testbed server, a registry with the agent loop.

#![allow(dead_code, unused_imports)]

use serde_json::json;
use toolbridge::config::McpServers;
use toolbridge::{Pool, PoolOptions};
use toolbridge_agent::{AgentLoopOptions, register};
use toolbridge_providers::ProviderEnv;
use toolbridge_runtime::{InMemoryControlPlane, RuntimeDeps, RuntimeHandle, RuntimeRegistry, RuntimeType};
pub(crate) use toolbridge_test_support::{binary, testbed, workspace};

/// `mcp_servers` with one testbed server named `testbed` (extra args appended).
pub(crate) fn testbed_servers(args: &[&str]) -> McpServers {
    McpServers::from_json(&json!({"testbed": {"command": testbed(), "args": args}}), "test").expect("servers")
}

/// A registry with the agent loop on `pool`, providers pointed at `base_url`.
pub(crate) fn agent_runtime(
    pool: &Pool,
    openai_base_url: &str,
) -> (RuntimeHandle, std::sync::Arc<InMemoryControlPlane>) {
    let mut options = AgentLoopOptions::new(pool.clone());
    options.provider_env = ProviderEnv::for_base_urls(Some(openai_base_url.to_owned()), None);
    let mut registry = RuntimeRegistry::new();
    register(&mut registry, options).expect("register agent loop");
    let control_plane = std::sync::Arc::new(InMemoryControlPlane::new());
    let runtime = registry
        .create(&RuntimeType::new("default"), RuntimeDeps::new(control_plane.clone()))
        .expect("create agent loop");
    (runtime, control_plane)
}

/// A fresh pool for one test.
pub(crate) fn pool() -> Pool {
    Pool::new(PoolOptions::default())
}
