//! Agents over real HTTP: create, list, show, replace, delete; validation naming the field;
//! secrets masked in every answer; auth, Host/Origin and size limits.

mod common;

use common::{Setup, TOKEN, TestServer, agent_body};
use serde_json::json;

#[tokio::test]
async fn agents_crud_with_masked_secrets() {
    let server = TestServer::start().await;
    let created = server.agent("demo", "one-call.json").await;
    assert_eq!(created["name"], "demo");
    assert_eq!(created["runtime"], "agent_loop");
    assert_eq!(created["mcp_servers"]["testbed"]["env"]["TESTBED_TOKEN"], "[redacted]");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let (status, again) = server.send("POST", "/api/v1/agents", &agent_body("demo", "one-call.json")).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["code"], "conflict");

    let (status, list) = server.get("/api/v1/agents").await;
    assert_eq!(status, 200);
    assert_eq!(list["agents"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("s3cret-testbed-value"), "{list}");

    let (status, shown) = server.get("/api/v1/agents/demo").await;
    assert_eq!(status, 200);
    assert_eq!(shown["mcp_servers"]["testbed"]["env"]["TESTBED_TOKEN"], "[redacted]");

    // PUT back what GET showed (masks included): the stored secret is kept.
    let mut edited = shown.clone();
    edited["system_prompt"] = json!("be brief");
    for key in ["created_at", "updated_at"] {
        edited.as_object_mut().unwrap().remove(key);
    }
    let (status, replaced) = server.send("PUT", "/api/v1/agents/demo", &edited).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["system_prompt"], "be brief");
    let stored = server.store.get_agent("demo").await.unwrap().unwrap();
    let env = &stored.definition.mcp_servers.0["testbed"].env;
    assert_eq!(env["TESTBED_TOKEN"].0, "s3cret-testbed-value");

    let (status, _) = server.send("PUT", "/api/v1/agents/other", &json!({"model_id": "scripted:x"})).await;
    assert_eq!(status, 201);
    let (status, body) = server.send("PUT", "/api/v1/agents/other", &json!({"name": "else"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("name")));

    let response = server.client.delete(server.url("/api/v1/agents/demo")).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let (status, body) = server.get("/api/v1/agents/demo").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let response = server.client.delete(server.url("/api/v1/agents/demo")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn bad_agents_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let cases = [
        (json!({"model_id": "x"}), 422, "name"),
        (json!({"name": "a b"}), 422, "name"),
        (json!({"name": "a", "modle_id": "x"}), 422, "modle_id"),
        (json!({"name": "a", "model_id": 5}), 422, "model_id"),
        (json!({"name": "a", "runtime": "nope"}), 422, "runtime"),
        (json!({"name": "a", "runtime_config": {"max_iterations": "many"}}), 422, "runtime_config.max_iterations"),
        (json!({"name": "a", "runtime_config": {"max_iteration": 3}}), 422, "runtime_config"),
        (json!({"name": "a", "skills": [{"name": "fs"}]}), 422, "skills[0]"),
        (json!({"name": "a", "mcp_servers": {"t": {"comand": "x"}}}), 422, "mcp_servers"),
    ];
    for (body, status, field) in cases {
        let (got, answer) = server.send("POST", "/api/v1/agents", &body).await;
        assert_eq!(got, status, "{body} → {answer}");
        let named = answer["error"]["field"].as_str().unwrap_or_default();
        assert!(named.starts_with(field), "{body}: field {named:?}, wanted {field:?} ({answer})");
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
    // Not JSON, not an object, empty.
    for raw in ["{", "[1]", ""] {
        let response = server
            .client
            .post(server.url("/api/v1/agents"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{raw:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn auth_host_origin_and_limits() {
    let server = TestServer::with(Setup { token: Some(TOKEN), max_body: Some(4096), ..Setup::default() }).await;
    let bare = reqwest::Client::new();
    // No token, a wrong token, a token in the query on a route that does not take it.
    for request in [
        bare.get(server.url("/api/v1/agents")),
        bare.get(server.url("/api/v1/agents")).bearer_auth("wrong"),
        bare.get(server.url(&format!("/api/v1/agents?access_token={TOKEN}"))),
        bare.get(server.url("/metrics")),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    // The health check and the dashboard need no token.
    assert_eq!(bare.get(server.url("/healthz")).send().await.unwrap().status(), 200);
    let page = bare.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let script = bare.get(server.url("/app.js")).send().await.unwrap();
    assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert_eq!(bare.get(server.url("/nope.js")).send().await.unwrap().status(), 404);
    // DNS rebinding: a foreign Host, a foreign Origin.
    let response = server.client.get(server.url("/api/v1/agents")).header("host", "evil.example").send().await.unwrap();
    assert_eq!(response.status(), 403);
    let response =
        server.client.get(server.url("/api/v1/agents")).header("origin", "http://evil.example").send().await.unwrap();
    assert_eq!(response.status(), 403);
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let response = server
        .client
        .get(server.url("/api/v1/agents"))
        .header("origin", format!("http://localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Limits: a big body, big headers, a long URI — all answered in the error shape.
    let big = json!({"name": "a", "system_prompt": "x".repeat(10_000)});
    let (status, body) = server.send("POST", "/api/v1/agents", &big).await;
    assert_eq!(status, 413, "{body}");
    let response =
        server.client.get(server.url("/api/v1/agents")).header("x-big", "y".repeat(20_000)).send().await.unwrap();
    assert_eq!(response.status(), 431);
    let (status, _) = server.get(&format!("/api/v1/agents?{}", "q".repeat(9000))).await;
    assert_eq!(status, 414);
    // Unknown routes and methods.
    let (status, body) = server.get("/api/v1/nothing").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, body) = server.send("PATCH", "/api/v1/agents", &json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (405, Some("method_not_allowed")));
    server.stop().await;
}

#[tokio::test]
async fn without_a_token_only_loopback_and_an_empty_token_is_an_error() {
    use std::sync::{Arc, RwLock};
    use toolbridge_server::{ApiToken, Server, ServerError, ServerOptions};
    assert!(matches!(ApiToken::new(""), Err(ServerError::EmptyToken)));
    let store = Arc::new(toolbridge_store::Store::open_in_memory().unwrap());
    let registry = Arc::new(RwLock::new(toolbridge_runtime::RuntimeRegistry::new()));
    let pool = toolbridge::Pool::default();
    let open = ServerOptions::new("0.0.0.0:0".parse().unwrap());
    let refused = Server::new(store.clone(), pool.clone(), registry.clone(), Default::default(), open.clone());
    assert!(matches!(refused, Err(ServerError::NoToken(_))), "{refused:?}");
    let with_token = ServerOptions { token: Some(ApiToken::new("t0ken-abcdef").unwrap()), ..open };
    assert!(Server::new(store, pool, registry, Default::default(), with_token).is_ok());
    // No token on loopback: the API answers without one.
    let server = TestServer::with(Setup::default()).await;
    let (status, body) = server.get("/api/v1/agents").await;
    assert_eq!((status, body["agents"].as_array().map(Vec::len)), (200, Some(0)));
    server.stop().await;
}
