//! The server under test: a real listener on 127.0.0.1, a real SQLite file, the real agent
//! loop with the testbed MCP server, models scripted or served by the fake model server.

#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use toolbridge::{Pool, PoolOptions};
use toolbridge_agent::AgentLoopOptions;
use toolbridge_providers::ProviderEnv;
use toolbridge_runtime::RuntimeRegistry;
use toolbridge_server::{ApiToken, Server, ServerOptions};
use toolbridge_store::Store;
pub(crate) use toolbridge_test_support::{binary, testbed, workspace};

pub(crate) const TOKEN: &str = "test-token-0123456789";

/// A running server.
pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) store: Arc<Store>,
    pub(crate) pool: Pool,
    pub(crate) dir: tempfile::TempDir,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// How to start one.
#[derive(Default)]
pub(crate) struct Setup {
    pub(crate) token: Option<&'static str>,
    pub(crate) openai_base_url: Option<String>,
    pub(crate) max_body: Option<usize>,
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        Self::with(Setup { token: Some(TOKEN), ..Setup::default() }).await
    }

    pub(crate) async fn with(setup: Setup) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(Store::open(&dir.path().join("toolbridge.db")).expect("store"));
        let pool = Pool::new(PoolOptions::default());
        let mut options = AgentLoopOptions::new(pool.clone());
        options.provider_env = ProviderEnv::for_base_urls(setup.openai_base_url.clone(), None);
        let mut registry = RuntimeRegistry::new();
        toolbridge_agent::register(&mut registry, options).expect("agent loop");
        let mut server_options = ServerOptions::new("127.0.0.1:0".parse().expect("addr"));
        server_options.token = setup.token.map(|t| ApiToken::new(t).expect("token"));
        if let Some(max) = setup.max_body {
            server_options.limits.max_body_bytes = max;
        }
        let server = Server::new(
            store.clone(),
            pool.clone(),
            Arc::new(RwLock::new(registry)),
            Default::default(),
            server_options,
        )
        .expect("server")
        .bind()
        .await
        .expect("bind");
        let base = format!("http://{}", server.local_addr());
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            server.serve(async move { stopped.cancelled().await }).await.expect("serve");
        });
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = setup.token {
            headers.insert("authorization", format!("Bearer {token}").parse().expect("header"));
        }
        let client = reqwest::Client::builder().default_headers(headers).build().expect("client");
        Self { base, client, store, pool, dir, stop, task: Some(task) }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn send(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = self.client.request(method, self.url(path)).json(body).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates an agent named `name` with the testbed server and the scripted transcript.
    pub(crate) async fn agent(&self, name: &str, transcript: &str) -> Value {
        let body = agent_body(name, transcript);
        let (status, agent) = self.send("POST", "/api/v1/agents", &body).await;
        assert_eq!(status, 201, "{agent}");
        agent
    }

    /// Starts an execution in the background; its id.
    pub(crate) async fn start_async(&self, agent: &str, prompt: &str) -> String {
        let (status, body) =
            self.send("POST", "/api/v1/executions?async=true", &json!({"agent": agent, "prompt": prompt})).await;
        assert_eq!(status, 202, "{body}");
        body["execution_id"].as_str().expect("id").to_owned()
    }

    /// Waits until the execution has this status (as the API says).
    pub(crate) async fn wait_status(&self, id: &str, wanted: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, body) = self.get(&format!("/api/v1/executions/{id}")).await;
            if body["status"] == wanted {
                return body;
            }
            assert!(Instant::now() < deadline, "execution {id} never got to {wanted}: {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server (as SIGTERM would) and waits for it.
    pub(crate) async fn stop(mut self) -> (Arc<Store>, tempfile::TempDir) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
        self.pool.shutdown().await;
        (self.store.clone(), self.dir)
    }
}

/// An agent definition with the testbed MCP server and a scripted transcript of fixtures/.
pub(crate) fn agent_body(name: &str, transcript: &str) -> Value {
    let path = workspace().join("fixtures/transcripts").join(transcript);
    json!({
        "name": name,
        "model_id": format!("scripted:{}", path.display()),
        "runtime_config": {"max_iterations": 6},
        "mcp_servers": {"testbed": {"command": testbed(), "env": {"TESTBED_TOKEN": "s3cret-testbed-value"}}},
    })
}

/// One SSE message.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) id: Option<String>,
    pub(crate) event: String,
    pub(crate) data: Value,
}

/// Reads a whole SSE stream (until the server closes it).
pub(crate) async fn read_events(response: reqwest::Response) -> Vec<Message> {
    assert_eq!(response.status(), 200);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let text =
        tokio::time::timeout(Duration::from_secs(60), response.text()).await.expect("stream ended").expect("body");
    parse_events(&text)
}

pub(crate) fn parse_events(text: &str) -> Vec<Message> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut message = Message { id: None, event: "message".into(), data: Value::Null };
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    message.id = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("event:") {
                    message.event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            if data.is_empty() {
                return None;
            }
            message.data = serde_json::from_str(&data).expect("data is JSON");
            Some(message)
        })
        .collect()
}
