//! The extension story of the runtime contract, end to end: implement a runtime, register it,
//! create it from the registry, execute it, stream it, read its usage.
//!
//! ```sh
//! cargo run -p toolbridge-runtime --example custom_runtime
//! ```

#[path = "support/word_count.rs"]
mod word_count;

use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;
use toolbridge_runtime::*;
use word_count::WordCountRuntime;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Register the runtime: its type, description, constructor and typed config (see
    //    `WordCountRuntime::spec`; its capabilities are its own, read from it).
    let mut registry = RuntimeRegistry::new();
    registry.register(WordCountRuntime::spec())?;
    println!("available runtimes: {:?}", registry.list_available());
    println!("runtime info: {}", serde_json::to_string_pretty(&registry.runtime_info_all())?);

    // 2. Create it with injected deps (control plane + cancellation manager).
    let control_plane = Arc::new(InMemoryControlPlane::new());
    let deps = RuntimeDeps::new(control_plane.clone());
    let runtime = registry.create(&"word_count".into(), deps)?;

    // 3. Execute.
    let context = RuntimeExecutionContext::new("the quick brown fox jumps")
        .history("user", "earlier question")
        .runtime_config(json!({"min_len": 4}));
    let result = runtime.execute(&context).await;
    println!("execute → {}", serde_json::to_string_pretty(&result)?);
    println!("get_usage → {:?}", runtime.get_usage(&context.execution_id).await);

    // 4. Stream, with an event callback.
    let events = EventCallback::new(|event| println!("  event: {}", serde_json::to_string(event).unwrap_or_default()));
    let mut stream = runtime.stream_execute(RuntimeExecutionContext::new("streams arrive in pieces"), Some(events));
    while let Some(partial) = stream.next().await {
        println!(
            "stream → response={:?} finish_reason={:?} usage.total_tokens={}",
            partial.response, partial.finish_reason, partial.usage.total_tokens
        );
    }

    // 5. Bad config is refused with the field named; every execution was recorded.
    let bad = runtime.execute(&RuntimeExecutionContext::new("x").runtime_config(json!({"min_len": 0}))).await;
    println!("bad config → success={} error={:?}", bad.success, bad.error);
    let mut agent = AgentDefinition::named("counter");
    agent.runtime = RuntimeType::new("word_count");
    agent.runtime_config = Some(json!({"stop_words": [""]}));
    println!(
        "agent with a bad config → {}",
        registry.validate_agent(&agent).map_or_else(|e| e.to_string(), |()| "ok".into())
    );
    println!("records stored: {}", control_plane.records().len());
    Ok(())
}
