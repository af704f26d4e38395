//! `toolbridge auth login|list|logout` against a real OAuth-protected server (the testbed's
//! `--oauth` mode): an execution without a login fails at start naming the command; the login
//! runs the browser flow on a loopback redirect (the URL printed with `--no-browser`); the
//! expired token is refreshed without anyone noticing; no token ever shows in the output, the
//! logs at `-vvv`, the stored records or `agent show`; logout forgets the login.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::Env;
use serde_json::{Value, json};
use toolbridge_test_support::HttpTestbed;

async fn stats(testbed: &HttpTestbed) -> Value {
    reqwest::get(format!("{}/test/stats", testbed.origin)).await.unwrap().json().await.unwrap()
}

/// Every token the authorization server issued (access, refresh, codes, client ids).
async fn tokens(testbed: &HttpTestbed) -> Vec<String> {
    stats(testbed).await["issued"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|t| !t.starts_with("client-"))
        .map(str::to_owned)
        .collect()
}

fn leaked<'a>(tokens: &'a [String], text: &str) -> Vec<&'a str> {
    tokens.iter().filter(|t| text.contains(t.as_str())).map(String::as_str).collect()
}

/// `auth login --no-browser`, with the person played by an HTTP client following the printed
/// URL (and its redirect to the loopback listener).
async fn login(env: &Env, mcp: &str) -> (i32, String) {
    let mut child = env
        .cmd(&["auth", "login", "secure", "--mcp-config", mcp, "--no-browser"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.trim().strip_prefix("http") {
                let _ = sender.send(format!("http{url}"));
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let url = tokio::task::spawn_blocking(move || receiver.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("auth login printed the authorization URL");
    assert!(url.contains("code_challenge="), "PKCE: {url}");
    let page = reqwest::get(&url).await.unwrap();
    assert!(page.status().is_success(), "{}", page.status());
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    (status.code().unwrap_or(-1), reader.join().unwrap())
}

#[tokio::test]
async fn login_list_refresh_logout_and_no_token_anywhere() {
    let env = Env::new();
    let testbed = HttpTestbed::start(&["--oauth", "--token-ttl", "2"]);
    let mcp = env.file("mcp.json", &json!({"mcpServers": {"secure": {"url": testbed.url}}}).to_string());
    let transcript = env.file(
        "transcript.json",
        &json!([{"tool_calls": [{"name": "secure__echo", "arguments": {"message": "through oauth"}}]}, {"content": "done"}])
            .to_string(),
    );
    let model = format!("scripted:{transcript}");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--model", &model, "--mcp-config", &mcp];
        args.extend_from_slice(extra);
        args.push("say hi");
        env.run(&args)
    };

    // No login: the execution fails at start and says what to run.
    let (code, _, err) = run(&[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("toolbridge auth login secure --mcp-config {mcp}")), "{err}");

    let (code, err) = login(&env, &mcp).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("logged in to \"secure\""), "{err}");

    let (code, out, err) = env.run(&["auth", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("secure") && out.contains(&testbed.url) && out.contains("mcp:read"), "{out}");
    let (code, out, _) = env.run(&["auth", "list", "--json"]);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed[0]["server"], "secure");
    assert_eq!(listed[0]["refreshable"], true);

    // The access token lives 2 s: past that, the run refreshes it silently.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (code, out, err) = run(&["--json"]);
    assert_eq!(code, 0, "{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["tool_execution_messages"][0]["output"], "Echo: through oauth");
    let after = stats(&testbed).await;
    assert!(after["refresh_grants"].as_u64().unwrap() >= 1, "{after}");
    assert_eq!(after["authorizations"], 1, "{after}");

    // With every log on, in every record and in `agent show`: no token.
    let (code, out, err) = {
        let mut command = env.cmd(&["-vvv", "run", "--model", &model, "--mcp-config", &mcp, "say hi"]);
        command.env("RUST_LOG", "trace");
        Env::output(command)
    };
    assert_eq!(code, 0, "{err}");
    let (code, _, err2) =
        env.run(&["agent", "create", "secured", "--runtime", "agent_loop", "--model", &model, "--mcp-config", &mcp]);
    assert_eq!(code, 0, "{err2}");
    let (_, shown, _) = env.run(&["agent", "show", "secured"]);
    let executions = env.executions();
    let mut records = String::new();
    for execution in &executions {
        records.push_str(&env.show(execution["id"].as_str().unwrap()).0);
    }
    let (_, listed_text, _) = env.run(&["auth", "list", "--json"]);
    let issued = tokens(&testbed).await;
    assert!(issued.iter().any(|t| t.starts_with("at-")) && issued.iter().any(|t| t.starts_with("rt-")));
    for (label, text) in
        [("stdout", &out), ("logs", &err), ("agent show", &shown), ("records", &records), ("auth list", &listed_text)]
    {
        assert!(leaked(&issued, text).is_empty(), "{label} shows {:?}", leaked(&issued, text));
    }
    // The tokens are in the database file, which only its owner may read.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(env.db_path()).unwrap().permissions().mode() & 0o777, 0o600);

    let (code, _, err) = env.run(&["auth", "logout", "secure"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = env.run(&["auth", "list", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([]));
    let (code, _, err) = run(&[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("toolbridge auth login secure"), "{err}");
}

/// `serve --http` as an OAuth protected resource of an external authorization server (the
/// testbed's): it publishes the metadata, challenges requests without a token, and checks
/// tokens by introspection; toolbridge's own client logs in to it like to any server.
#[tokio::test]
async fn the_gateway_is_an_oauth_resource_of_an_external_authorization_server() {
    let env = Env::new();
    let authorization_server = HttpTestbed::start(&["--oauth"]);
    let upstream =
        env.file("upstream.json", &json!({"mcpServers": {"inner": {"command": common::testbed()}}}).to_string());
    let mut serve = env
        .cmd(&[
            "serve",
            "--mcp-config",
            &upstream,
            "--http",
            "127.0.0.1:0",
            "--oauth-authorization-server",
            &authorization_server.origin,
            "--oauth-introspection",
            &format!("{}/introspect", authorization_server.origin),
            "--oauth-scope",
            "mcp:read",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("serve said where it listens").unwrap();
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    // Without a token: 401 pointing at the metadata, which names the authorization server.
    let refused = reqwest::Client::new().post(&url).body("{}").send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    let metadata: Value =
        reqwest::get(format!("{}/.well-known/oauth-protected-resource/mcp", url.trim_end_matches("/mcp")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(metadata["authorization_servers"][0], authorization_server.origin.as_str());
    assert_eq!(metadata["resource"], url.as_str());

    // toolbridge's client logs in to the gateway and calls through it.
    let mcp = env.file("gateway.json", &json!({"mcpServers": {"secure": {"url": url}}}).to_string());
    let (code, err) = login(&env, &mcp).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        env.run(&["call", "secure__echo", "--args", r#"{"message": "via the gateway"}"#, "--mcp-config", &mcp]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Echo: via the gateway"), "{out}");
    let stats = stats(&authorization_server).await;
    assert!(stats["introspections"].as_u64().unwrap() >= 1, "{stats}");
    let _ = serve.kill();
    let _ = serve.wait();
}
