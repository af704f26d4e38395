//! A client for the official MCP conformance suite, driving the bridge's pool over streamable
//! HTTP: `conformance_client URL` with the scenario in `MCP_CONFORMANCE_SCENARIO` and its
//! context (pre-registered client credentials) in `MCP_CONFORMANCE_CONTEXT`.
//!
//! Every scenario goes through the same code a `toolbridge run` does: the pool connects,
//! the bridge's OAuth support authorizes when the server challenges (here the "person" is
//! [`Headless`], which follows the authorization URL without a browser), then the tools are
//! listed and called.
//!
//! ```sh
//! cargo build -p toolbridge --example conformance_client
//! bash ../shared/conformance/run.sh client --auth -- target/debug/examples/conformance_client
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use toolbridge::config::{HttpConfig, OAuthConfig, OAuthGrant, SecretValue, ServerConfig, TransportConfig};
use toolbridge::oauth::{Authorizer, OAuthError};
use toolbridge::{Pool, PoolCallOptions as CallOptions, PoolOptions};

/// The client ID metadata document the suite's CIMD scenario expects a client to name.
const CLIENT_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";

/// Completes an authorization without a person: fetches the authorization URL without
/// following redirects and hands back where the server redirected to (the suite's
/// authorization server approves at once).
#[derive(Debug)]
struct Headless;

#[async_trait]
impl Authorizer for Headless {
    fn redirect_uri(&self) -> String {
        "http://localhost:3000/callback".to_owned()
    }

    async fn authorize(&self, _server: &str, url: &str) -> Result<String, OAuthError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OAuthError::Redirect(e.to_string()))?;
        let response = client.get(url).send().await.map_err(|e| OAuthError::Redirect(e.to_string()))?;
        response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned).ok_or_else(
            || OAuthError::Redirect(format!("no redirect from the authorization endpoint ({})", response.status())),
        )
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().next_back().ok_or("usage: conformance_client URL")?;
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let context: Value =
        std::env::var("MCP_CONFORMANCE_CONTEXT").ok().and_then(|c| serde_json::from_str(&c).ok()).unwrap_or_default();
    let pool = Pool::new(PoolOptions {
        // The suite's elicitation scenario expects the schema's defaults to be accepted.
        accept_elicitation_defaults: true,
        authorizer: Some(Arc::new(Headless)),
        ..PoolOptions::default()
    });
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(25), run(&pool, &url, &scenario, &context)).await;
    pool.shutdown().await;
    outcome.map_err(|_| "the scenario did not finish within 25 s")?
}

fn server(url: &str, scenario: &str, context: &Value) -> ServerConfig {
    let text = |key: &str| context.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut oauth = OAuthConfig {
        client_id: text("client_id"),
        client_secret: text("client_secret").map(SecretValue::new),
        ..OAuthConfig::default()
    };
    if scenario.starts_with("auth/client-credentials") {
        oauth.grant = OAuthGrant::ClientCredentials;
    } else if oauth.client_id.is_none() {
        oauth.client_metadata_url = Some(CLIENT_METADATA_URL.to_owned());
    }
    let mut server = ServerConfig::http("conformance", url);
    server.transport =
        TransportConfig::Http(HttpConfig { url: url.to_owned(), headers: BTreeMap::new(), oauth: Some(oauth) });
    server
}

async fn run(pool: &Pool, url: &str, scenario: &str, context: &Value) -> Result<(), Box<dyn std::error::Error>> {
    let server = pool.connect(&server(url, scenario, context)).await?;
    let tools = server.list_tools().await?;
    match scenario {
        "tools_call" => {
            let result = server
                .call_tool("add_numbers", json!({"a": 2, "b": 3}).as_object().cloned(), CallOptions::default())
                .await?;
            println!("{result:?}");
        }
        _ => {
            for tool in tools.iter() {
                let result = server.call_tool(&tool.name, arguments(&tool.input_schema), CallOptions::default()).await;
                println!("{}: {result:?}", tool.name);
            }
        }
    }
    Ok(())
}

/// Arguments for a tool: a plain value for each required property.
fn arguments(schema: &Map<String, Value>) -> Option<Map<String, Value>> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let properties = schema.get("properties").and_then(Value::as_object)?;
    let arguments: Map<String, Value> = properties
        .iter()
        .filter(|(name, _)| required.contains(&name.as_str()))
        .map(|(name, property)| {
            let value = match property.get("type").and_then(Value::as_str) {
                Some("number" | "integer") => json!(1),
                Some("boolean") => json!(true),
                Some("string") => json!("test"),
                _ => Value::Null,
            };
            (name.clone(), value)
        })
        .collect();
    (!arguments.is_empty()).then_some(arguments)
}
