//! OAuth credentials in the store: kept per server and URL, listed, forgotten, and the file
//! private to its owner.

use std::os::unix::fs::PermissionsExt;

use toolbridge_store::Store;

#[tokio::test]
async fn credentials_are_kept_per_server_and_url_and_forgotten_on_logout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.load_credentials("linear", "https://a/mcp").await.unwrap(), None);
    store.save_credentials("linear", "https://a/mcp", r#"{"client_id":"c1"}"#).await.unwrap();
    store.save_credentials("linear", "https://a/mcp", r#"{"client_id":"c2"}"#).await.unwrap();
    store.save_credentials("linear", "https://b/mcp", r#"{"client_id":"c3"}"#).await.unwrap();
    store.save_credentials("sentry", "https://s/mcp", r#"{"client_id":"c4"}"#).await.unwrap();
    assert_eq!(
        store.load_credentials("linear", "https://a/mcp").await.unwrap().as_deref(),
        Some(r#"{"client_id":"c2"}"#)
    );
    // A second process sees them.
    let reopened = Store::open(&path).unwrap();
    let listed = reopened.list_credentials().await.unwrap();
    let names: Vec<(&str, &str)> = listed.iter().map(|l| (l.server.as_str(), l.url.as_str())).collect();
    assert_eq!(names, [("linear", "https://a/mcp"), ("linear", "https://b/mcp"), ("sentry", "https://s/mcp")]);
    assert!(!format!("{:?}", listed[0]).contains("c2"), "Debug must not show credentials");
    assert_eq!(reopened.clear_credentials("linear", None).await.unwrap(), 2);
    assert_eq!(reopened.clear_credentials("linear", None).await.unwrap(), 0);
    assert_eq!(reopened.list_credentials().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_database_file_is_private_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::open(&path).unwrap();
    store.save_credentials("s", "https://s/mcp", "{}").await.unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("t.db{suffix}"));
        if file.exists() {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} has mode {mode:o}", file.display());
        }
    }
    drop(store);
}
