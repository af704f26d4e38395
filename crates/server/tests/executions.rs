//! Executions over real HTTP: waiting, streaming, in the background; the event stream's order
//! and replay; a late viewer; cancel during a tool call; listing with cursors; usage; and the
//! other routes (runtimes, tools, metrics, the OpenAPI document).

mod common;

use std::time::Duration;

use common::{TestServer, parse_events, read_events};
use serde_json::{Value, json};

fn names(messages: &[common::Message]) -> Vec<String> {
    messages.iter().map(|m| m.event.clone()).collect()
}

/// one-call.json's order: a model turn (usage), the call, a streamed answer, its usage, done.
fn assert_turns(names: &[String]) {
    assert_eq!(&names[..3], ["usage", "tool_start", "tool_complete"], "{names:?}");
    assert_eq!(&names[names.len() - 3..], ["usage", "done", "result"], "{names:?}");
    assert!(names[3..names.len() - 3].iter().all(|n| n == "content_chunk") && names.len() > 6, "{names:?}");
}

#[tokio::test]
async fn run_and_wait_then_read_it_back() {
    let server = TestServer::start().await;
    server.agent("demo", "one-call.json").await;
    let (status, result) = server
        .send(
            "POST",
            "/api/v1/executions",
            &json!({"agent": "demo", "prompt": "say hi", "user_email": "a@b.c", "user_roles": ["admin"],
                    "conversation_history": [{"role": "user", "content": "before"}]}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true);
    assert_eq!(result["finish_reason"], "stop");
    assert!(result["response"].as_str().unwrap().contains("Echo: hi"), "{result}");
    let calls = result["tool_execution_messages"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["tool"], "testbed__echo");
    let id = result["execution_id"].as_str().unwrap();

    let (status, execution) = server.get(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(execution["status"], "success");
    assert_eq!(execution["tool_calls"][0]["tool_use_id"], calls[0]["tool_use_id"]);
    assert_eq!(execution["usage"]["total_tokens"], 32);
    assert!(execution["finished_at"].is_string() && execution["duration_ms"].is_u64());

    let (status, usage) = server.get(&format!("/api/v1/executions/{id}/usage")).await;
    assert_eq!((status, usage["input_tokens"].as_u64()), (200, Some(24)));

    // The finished execution's events replay from the store, in order, then `result`.
    let messages =
        read_events(server.client.get(server.url(&format!("/api/v1/executions/{id}/events"))).send().await.unwrap())
            .await;
    assert_turns(&names(&messages));
    let seqs: Vec<u64> = messages.iter().filter_map(|m| m.id.as_ref()?.parse().ok()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(messages[0].data["seq"], 1);
    assert!(messages[0].data["ts"].as_str().unwrap().ends_with('Z'));
    assert_eq!(messages[2].data["tool_execution_id"], calls[0]["tool_use_id"]);
    let last = &messages.last().unwrap().data;
    assert_eq!(last["status"], "success");
    assert_eq!(last["id"], id);
    // Last-Event-ID: only what came after.
    let response = server
        .client
        .get(server.url(&format!("/api/v1/executions/{id}/events")))
        .header("last-event-id", (seqs.len() - 2).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(names(&read_events(response).await), ["usage", "done", "result"]);
    // Secrets are not in anything answered or stored.
    assert!(!execution.to_string().contains("s3cret-testbed-value"));
    server.stop().await;
}

#[tokio::test]
async fn stream_answers_events_in_order_then_the_result() {
    let server = TestServer::start().await;
    server.agent("demo", "one-call.json").await;
    let response = server
        .client
        .post(server.url("/api/v1/executions?stream=true"))
        .json(&json!({"agent": "demo", "prompt": "stream"}))
        .send()
        .await
        .unwrap();
    let messages = read_events(response).await;
    assert_turns(&names(&messages));
    let result = &messages.last().unwrap().data;
    assert_eq!(result["success"], true);
    let id = result["execution_id"].as_str().unwrap();
    // The stream and the stored log agree, seq for seq.
    let stored = server.store.execution_events(id).await.unwrap();
    let streamed: Vec<u64> = messages.iter().filter_map(|m| m.data["seq"].as_u64()).collect();
    assert_eq!(streamed, stored.iter().map(|e| e.seq).collect::<Vec<_>>());
    server.stop().await;
}

#[tokio::test]
async fn async_run_with_a_late_viewer_and_cancel_during_a_tool_call() {
    let server = TestServer::start().await;
    server.agent("slow", "slow-tool.json").await;
    let id = server.start_async("slow", "sleep for me").await;
    // A first viewer attaches at once and leaves after the first tool call started: the
    // execution goes on.
    let mut early = server.client.get(server.url(&format!("/api/v1/executions/{id}/events"))).send().await.unwrap();
    let mut seen = String::new();
    while !seen.contains("tool_start") {
        let chunk = tokio::time::timeout(Duration::from_secs(20), early.chunk()).await.unwrap().unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(early);
    let (_, execution) = server.get(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(execution["status"], "running", "{execution}");
    assert!(execution["finished_at"].is_null());
    // The add call and the second model turn are quick: then the 3 s sleep is in flight.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (_, usage) = server.get(&format!("/api/v1/executions/{id}/usage")).await;
    assert!(usage["total_tokens"].as_u64().unwrap() > 0, "usage so far: {usage}");
    // A late viewer attaches mid-run: it gets the replay so far, then live, then the result.
    let late = tokio::spawn({
        let client = server.client.clone();
        let url = server.url(&format!("/api/v1/executions/{id}/events"));
        async move { read_events(client.get(url).send().await.unwrap()).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, cancelled) = server.send("POST", &format!("/api/v1/executions/{id}/cancel"), &json!({})).await;
    assert_eq!((status, cancelled["cancelled"].as_bool()), (200, Some(true)), "{cancelled}");
    let messages = late.await.unwrap();
    let kinds = names(&messages);
    assert_eq!(&kinds[..3], ["usage", "tool_start", "tool_complete"], "{kinds:?}");
    assert_eq!(&kinds[kinds.len() - 2..], ["done", "result"], "{kinds:?}");
    assert_eq!(messages[kinds.len() - 2].data["finish_reason"], "cancelled");
    let result = &messages.last().unwrap().data;
    assert_eq!(result["status"], "cancelled");
    // The record is stored cancelled, with the cut call in its log.
    let stored = server.store.get_execution(&id).await.unwrap().unwrap();
    assert_eq!(stored.summary.status.as_str(), "cancelled");
    let cut = stored.tool_calls.iter().find(|c| c.tool == "testbed__sleep_ms").expect("the sleep is logged");
    assert!(!cut.success);
    let (_, again) = server.send("POST", &format!("/api/v1/executions/{id}/cancel"), &json!({})).await;
    assert_eq!(again["cancelled"], false);
    server.stop().await;
}

#[tokio::test]
async fn bad_execution_requests_name_the_field() {
    let server = TestServer::start().await;
    server.agent("demo", "one-call.json").await;
    let (status, _) = server.send("POST", "/api/v1/agents", &json!({"name": "nomodel"})).await;
    assert_eq!(status, 201);
    let cases = [
        (json!({"prompt": "x"}), 422, "agent"),
        (json!({"agent": "demo"}), 422, "prompt"),
        (json!({"agent": "demo", "prompt": "  "}), 422, "prompt"),
        (json!({"agent": "ghost", "prompt": "x"}), 404, "agent"),
        (json!({"agent": "demo", "prompt": "x", "user_roles": "admin"}), 422, "user_roles"),
        (
            json!({"agent": "demo", "prompt": "x", "conversation_history": [{"content": "x"}]}),
            422,
            "conversation_history[0].role",
        ),
        (json!({"agent": "demo", "prompt": "x", "promt": "y"}), 422, "promt"),
        (
            json!({"agent": "demo", "prompt": "x", "runtime_config": {"max_iterations": 0}}),
            422,
            "runtime_config.max_iterations",
        ),
        (json!({"agent": "nomodel", "prompt": "x"}), 422, "agent"),
    ];
    for (body, status, field) in cases {
        let (got, answer) = server.send("POST", "/api/v1/executions", &body).await;
        assert_eq!(got, status, "{body} → {answer}");
        assert_eq!(answer["error"]["field"].as_str(), Some(field), "{body} → {answer}");
    }
    let (status, _) = server.send("POST", "/api/v1/executions?stream=true&async=true", &json!({})).await;
    assert_eq!(status, 400);
    // Nothing was stored for refused requests.
    assert!(server.store.list_executions(&Default::default()).await.unwrap().is_empty());
    let (status, _) = server.get("/api/v1/executions/nope").await;
    assert_eq!(status, 404);
    for path in ["/api/v1/executions/nope/events", "/api/v1/executions/nope/usage"] {
        assert_eq!(server.get(path).await.0, 404, "{path}");
    }
    assert_eq!(server.send("POST", "/api/v1/executions/nope/cancel", &json!({})).await.0, 404);
    server.stop().await;
}

#[tokio::test]
async fn listing_pages_filters_runtimes_tools_and_metrics() {
    let server = TestServer::start().await;
    server.agent("demo", "one-call.json").await;
    server.agent("other", "one-call.json").await;
    for i in 0..5 {
        let agent = if i % 2 == 0 { "demo" } else { "other" };
        let (status, _) =
            server.send("POST", "/api/v1/executions", &json!({"agent": agent, "prompt": format!("p{i}")})).await;
        assert_eq!(status, 200);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/executions?limit=2".to_owned();
    loop {
        let (status, page) = server.get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["executions"].as_array().unwrap().iter().map(|e| e["prompt"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/executions?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["p4", "p3", "p2", "p1", "p0"]);
    let (_, page) = server.get("/api/v1/executions?agent=other&status=success").await;
    assert_eq!(page["executions"].as_array().unwrap().len(), 2);
    assert_eq!(page["executions"][0]["tool_calls"], 1);
    for bad in ["status=finished", "limit=0", "limit=201", "limit=x", "cursor=zz"] {
        let (status, body) = server.get(&format!("/api/v1/executions?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"]["field"].is_string(), "{bad}: {body}");
    }

    let (status, runtimes) = server.get("/api/v1/runtimes").await;
    assert_eq!(status, 200);
    let runtime = &runtimes["runtimes"][0];
    assert_eq!(runtime["runtime_type"], "agent_loop");
    assert_eq!(runtime["requires_model"], true);
    assert!(runtime["runtime_config_schema"]["properties"]["max_iterations"].is_object(), "{runtime}");

    let (status, tools) = server.get("/api/v1/tools?agent=demo").await;
    assert_eq!(status, 200, "{tools}");
    let tool_names: Vec<&str> =
        tools["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(tool_names.contains(&"testbed__echo"), "{tool_names:?}");
    assert_eq!(server.get("/api/v1/tools").await.0, 400);
    assert_eq!(server.get("/api/v1/tools?agent=ghost").await.0, 404);

    let metrics = server.client.get(server.url("/metrics")).send().await.unwrap();
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    assert!(text.contains("toolbridge_executions_total{status=\"success\"} 5"), "{text}");
    assert!(text.contains("toolbridge_tool_calls_total{status=\"success\"} 5"), "{text}");
    assert!(text.contains("toolbridge_pool_servers 1"), "{text}");
    assert!(text.contains("toolbridge_execution_duration_seconds_count 5"), "{text}");
    let (status, health) = server.get("/healthz").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    server.stop().await;
}

/// The OpenAPI document lists exactly the routes the router serves, and real answers
/// validate against the schemas it documents.
#[tokio::test]
async fn openapi_document_matches_the_routes_and_the_answers() {
    let server = TestServer::start().await;
    let (status, doc) = server.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("get", "/healthz"),
        ("get", "/metrics"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/api/v1/agents"),
        ("post", "/api/v1/agents"),
        ("get", "/api/v1/agents/{name}"),
        ("put", "/api/v1/agents/{name}"),
        ("post", "/api/v1/executions"),
        ("get", "/api/v1/executions"),
        ("get", "/api/v1/executions/{id}"),
        ("get", "/api/v1/executions/{id}/events"),
        ("post", "/api/v1/executions/{id}/cancel"),
        ("get", "/api/v1/executions/{id}/usage"),
        ("get", "/api/v1/runtimes"),
        ("get", "/api/v1/tools"),
        ("delete", "/api/v1/agents/{name}"),
    ];
    let documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    assert_eq!(documented.len(), expected.len(), "{documented:?}");
    // Every documented route is served (not 404/405 from the router), every method of a path
    // that is not documented is refused.
    server.agent("demo", "one-call.json").await;
    let (_, run) = server.send("POST", "/api/v1/executions", &json!({"agent": "demo", "prompt": "x"})).await;
    let id = run["execution_id"].as_str().unwrap().to_owned();
    for (method, path) in expected {
        assert!(paths[path][method].is_object(), "{method} {path} undocumented");
        let concrete = path.replace("{name}", "demo").replace("{id}", &id);
        let concrete = if path == "/api/v1/tools" { format!("{concrete}?agent=demo") } else { concrete };
        let body = if path == "/api/v1/agents" {
            json!({"name": "doc-agent"})
        } else {
            json!({"agent": "demo", "prompt": "x"})
        };
        let request = server.client.request(method.to_uppercase().parse().unwrap(), server.url(&concrete));
        let request = if method == "post" || method == "put" { request.json(&body) } else { request };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert!(status != 405 && !(status == 404 && path != "/api/v1/agents/{name}"), "{method} {path}: {status}");
        let documented_statuses = paths[path][method]["responses"].as_object().unwrap();
        assert!(documented_statuses.contains_key(&status.to_string()), "{method} {path}: {status} undocumented");
        // Validate JSON answers against the documented schema.
        let reply = &documented_statuses[&status.to_string()];
        if let Some(schema_ref) = reply.pointer("/content/application~1json/schema/$ref").and_then(Value::as_str) {
            let body: Value = response.json().await.unwrap();
            let name = schema_ref.rsplit('/').next().unwrap();
            let mut schema = doc["components"]["schemas"][name].clone();
            // The schema's `$ref`s point into `#/components`: carry them along.
            schema["components"] = doc["components"].clone();
            let validator = jsonschema::validator_for(&schema).unwrap();
            let errors: Vec<String> =
                validator.iter_errors(&body).map(|e| format!("{e} at {}", e.instance_path())).collect();
            assert!(errors.is_empty(), "{method} {path} → {status}: {errors:?}\n{body}");
        }
    }
    server.stop().await;
}

#[test]
fn sse_parser_reads_ids_events_and_data() {
    let messages = parse_events("id: 1\nevent: done\ndata: {\"a\":1}\n\n: keep-alive\n\nevent: result\ndata: {}\n\n");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].id.as_deref(), Some("1"));
    assert_eq!(messages[1].event, "result");
}
