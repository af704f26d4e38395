//! OAuth against a real authorization server: the testbed's `--oauth` mode (its own
//! authorization server on the same origin; PKCE checked, short-lived tokens, step-up).
//! Login through the loopback redirect, silent refresh of expired and revoked tokens, step-up
//! on `insufficient_scope` with a retry limit, client credentials, and a server that needs a
//! login failing with the command to run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use toolbridge::config::{HttpConfig, OAuthConfig, OAuthGrant, SecretValue, ServerConfig, TransportConfig};
use toolbridge::oauth::{Authorizer, LoopbackAuthorizer, MemoryTokenStore, OAuthError, TokenStore};
use toolbridge::{Pool, PoolCallOptions, PoolError, PoolOptions};
use toolbridge_test_support::HttpTestbed;

fn server(url: &str, oauth: Option<OAuthConfig>) -> ServerConfig {
    let mut server = ServerConfig::http("secure", url);
    server.transport = TransportConfig::Http(HttpConfig { url: url.to_owned(), headers: BTreeMap::new(), oauth });
    server
}

fn pool(store: &Arc<MemoryTokenStore>, authorizer: Option<Arc<dyn Authorizer>>) -> Pool {
    Pool::new(PoolOptions { token_store: store.clone(), authorizer, ..PoolOptions::default() })
}

async fn stats(testbed: &HttpTestbed) -> Value {
    reqwest::get(format!("{}/test/stats", testbed.origin)).await.unwrap().json().await.unwrap()
}

/// A person who approves in a browser: follows the authorization URL and its redirects.
fn browser(authorizer: LoopbackAuthorizer) -> LoopbackAuthorizer {
    authorizer.open_browser(false).on_url(|_server, url, _opened| {
        let url = url.to_owned();
        tokio::spawn(async move { reqwest::get(url).await.map(|_| ()) });
    })
}

/// Approves without a browser, optionally asking for less than the client wanted (a person
/// who unticks a scope).
#[derive(Debug)]
struct Headless {
    only_scope: Option<&'static str>,
}

#[async_trait]
impl Authorizer for Headless {
    fn redirect_uri(&self) -> String {
        "http://127.0.0.1:9/callback".to_owned()
    }

    async fn authorize(&self, _server: &str, url: &str) -> Result<String, OAuthError> {
        let mut url = reqwest::Url::parse(url).map_err(|e| OAuthError::Redirect(e.to_string()))?;
        if let Some(only) = self.only_scope {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let value = if k == "scope" { only.to_owned() } else { v.into_owned() };
                    (k.into_owned(), value)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let response = client.get(url).send().await.map_err(|e| OAuthError::Redirect(e.to_string()))?;
        Ok(response.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned())
    }
}

async fn echo(pool: &Pool, server: &ServerConfig) -> Result<String, String> {
    let handle = pool.connect(server).await.map_err(|e| e.to_string())?;
    let arguments = json!({"message": "hi"}).as_object().cloned();
    handle.call_tool("echo", arguments, PoolCallOptions::default()).await.map(|o| o.text).map_err(|e| e.to_string())
}

#[tokio::test]
async fn without_a_login_the_server_fails_with_the_command_then_a_browser_login_lets_calls_through() {
    let testbed = HttpTestbed::start(&["--oauth"]);
    let store = Arc::new(MemoryTokenStore::new());
    let config = server(&testbed.url, None);

    let headless_pool = pool(&store, None);
    let error = headless_pool.connect(&config).await.unwrap_err();
    assert!(matches!(error, PoolError::Login(OAuthError::LoginRequired { .. })), "{error}");
    assert!(error.to_string().contains("toolbridge auth login secure --mcp-config"), "{error}");
    headless_pool.shutdown().await;

    let login_pool = pool(&store, None);
    let authorizer = browser(LoopbackAuthorizer::bind(0).await.unwrap().wait(Duration::from_secs(20)));
    let summary = login_pool.login(&config, Arc::new(authorizer)).await.unwrap();
    assert_eq!(summary.scopes, ["mcp:read"]);
    assert!(summary.refreshable);
    login_pool.shutdown().await;

    // A later process (a new pool) uses the stored login, without asking anyone.
    let later = pool(&store, None);
    assert_eq!(echo(&later, &config).await.unwrap(), "Echo: hi");
    later.shutdown().await;
    let stats = stats(&testbed).await;
    assert_eq!(stats["authorizations"], 1);
    assert_eq!(stats["code_grants"], 1);
    // The token is in the store, for this server and URL only.
    let stored = store.load("secure", &testbed.url).await.unwrap().unwrap();
    assert!(
        stored.contains(
            stats["issued"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t.as_str().unwrap().starts_with("at-"))
                .unwrap()
                .as_str()
                .unwrap()
        )
    );
    assert!(store.load("secure", "http://elsewhere/mcp").await.unwrap().is_none());
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_refreshed_without_anyone_noticing() {
    let testbed = HttpTestbed::start(&["--oauth", "--token-ttl", "2"]);
    let store = Arc::new(MemoryTokenStore::new());
    let config = server(&testbed.url, None);
    let login = pool(&store, None);
    login.login(&config, Arc::new(Headless { only_scope: None })).await.unwrap();
    login.shutdown().await;

    let pool = pool(&store, None);
    assert_eq!(echo(&pool, &config).await.unwrap(), "Echo: hi");
    // Past its lifetime: refreshed before use.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(echo(&pool, &config).await.unwrap(), "Echo: hi");
    let refreshed = stats(&testbed).await["refresh_grants"].as_u64().unwrap();
    assert!(refreshed >= 1, "expected a refresh, got {refreshed}");
    // Revoked early: the 401 is answered by one refresh and a retry.
    reqwest::Client::new().post(format!("{}/test/revoke", testbed.origin)).send().await.unwrap();
    assert_eq!(echo(&pool, &config).await.unwrap(), "Echo: hi");
    let stats = stats(&testbed).await;
    assert!(stats["refresh_grants"].as_u64().unwrap() > refreshed, "{stats}");
    assert_eq!(stats["authorizations"], 1, "nobody was asked again: {stats}");
    pool.shutdown().await;
}

#[tokio::test]
async fn insufficient_scope_steps_up_once_and_a_server_that_never_grants_stops_after_the_limit() {
    let testbed = HttpTestbed::start(&["--oauth", "--call-scope", "mcp:write"]);
    let config = server(&testbed.url, None);
    let store = Arc::new(MemoryTokenStore::new());
    let pool_ = pool(&store, Some(Arc::new(Headless { only_scope: None })));
    assert_eq!(echo(&pool_, &config).await.unwrap(), "Echo: hi");
    pool_.shutdown().await;
    let stats_ = stats(&testbed).await;
    assert_eq!(stats_["authorizations"], 2, "{stats_}");
    let second = stats_["requested_scopes"][1].as_str().unwrap();
    assert!(second.contains("mcp:read") && second.contains("mcp:write"), "step-up asked for {second:?}");

    // A person who never grants the write scope: the call fails after the retry limit.
    let testbed = HttpTestbed::start(&["--oauth", "--call-scope", "mcp:write"]);
    let config = server(&testbed.url, None);
    let store = Arc::new(MemoryTokenStore::new());
    let stingy = pool(&store, Some(Arc::new(Headless { only_scope: Some("mcp:read") })));
    let error = echo(&stingy, &config).await.unwrap_err();
    stingy.shutdown().await;
    let authorizations = stats(&testbed).await["authorizations"].as_u64().unwrap();
    // One to connect, then at most MAX_AUTHORIZATIONS for the call.
    assert!(authorizations <= 1 + u64::from(toolbridge::oauth::MAX_AUTHORIZATIONS), "{authorizations}: {error}");
    assert!(authorizations >= 2, "{authorizations}: {error}");
}

#[tokio::test]
async fn client_credentials_need_no_person() {
    let testbed = HttpTestbed::start(&["--oauth", "--oauth-client", "svc:s3cr3t-value"]);
    let oauth = OAuthConfig {
        client_id: Some("svc".into()),
        client_secret: Some(SecretValue::new("s3cr3t-value")),
        grant: OAuthGrant::ClientCredentials,
        ..OAuthConfig::default()
    };
    let config = server(&testbed.url, Some(oauth));
    let store = Arc::new(MemoryTokenStore::new());
    let pool = pool(&store, None);
    assert_eq!(echo(&pool, &config).await.unwrap(), "Echo: hi");
    pool.shutdown().await;
    assert_eq!(stats(&testbed).await["client_credentials_grants"], 1);

    // A wrong secret is a clear failure, not a hang.
    let oauth = OAuthConfig {
        client_id: Some("svc".into()),
        client_secret: Some(SecretValue::new("wrong-secret")),
        grant: OAuthGrant::ClientCredentials,
        ..OAuthConfig::default()
    };
    let pool = self::pool(&Arc::new(MemoryTokenStore::new()), None);
    let error = echo(&pool, &server(&testbed.url, Some(oauth))).await.unwrap_err();
    pool.shutdown().await;
    assert!(error.contains("OAuth"), "{error}");
    assert!(!error.contains("wrong-secret"), "{error}");
}
