//! Shared helpers for the agent-loop tests: the testbed server binary, a fake model server,
//! a registry with the agent loop.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use toolbridge::pool::{Pool, PoolOptions};
use toolbridge_agent::{AgentLoopOptions, register};
use toolbridge_providers::ProviderEnv;
use toolbridge_runtime::{InMemoryControlPlane, RuntimeDeps, RuntimeHandle, RuntimeRegistry, RuntimeType};

/// The workspace root.
pub(crate) fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The testbed MCP server binary, built once per test process.
pub(crate) fn testbed() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = workspace();
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
            let binary = target.join("debug/testbed-mcp");
            // Always ask cargo (with the workspace's feature set, as the test script builds it): a
            // no-op when fresh, a rebuild when the testbed changed.
            {
                let status = Command::new(env!("CARGO"))
                    .args(["build", "-q", "--workspace", "--bins"])
                    .current_dir(&root)
                    .status()
                    .expect("cargo build testbed-mcp");
                assert!(status.success(), "building the workspace binaries failed");
            }
            binary
        })
        .clone()
}

/// `mcp_servers` with one testbed server named `testbed` (extra args appended).
pub(crate) fn testbed_servers(args: &[&str]) -> serde_json::Map<String, Value> {
    let mut servers = serde_json::Map::new();
    servers.insert("testbed".into(), json!({"command": testbed(), "args": args}));
    servers
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
        .create(&RuntimeType::new("default"), RuntimeDeps::new(control_plane.clone()), None)
        .expect("create agent loop");
    (runtime, control_plane)
}

/// A fresh pool for one test.
pub(crate) fn pool() -> Pool {
    Pool::new(PoolOptions::default())
}
