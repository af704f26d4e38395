//! Catalogue benchmarks: name mapping, argument validation, schema normalisation, and a
//! catalogue of 1000 tools across 10 testbed servers built from a warm pool.
//!
//! ```sh
//! cargo build --release -p testbed-mcp && cargo bench -p toolbridge
//! ```

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use toolbridge::config::ServerConfig;
use toolbridge::naming::NameMap;
use toolbridge::schema::{SchemaTarget, normalize};
use toolbridge::validation::ArgumentValidator;
use toolbridge::{CatalogueBuilder, Pool};

fn testbed() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    ["target/release/testbed-mcp", "target/debug/testbed-mcp"].iter().map(|p| root.join(p)).find(|p| p.exists())
}

fn naming(c: &mut Criterion) {
    let pairs: Vec<(String, String)> =
        (0..1000).map(|i| (format!("server{}", i % 10), format!("tool_{i}.v2"))).collect();
    c.bench_function("name map, 1000 tools", |b| {
        b.iter(|| NameMap::build(black_box(&pairs).iter().map(|(s, t)| (s.as_str(), t.as_str()))));
    });
}

fn validation(c: &mut Criterion) {
    let validator = ArgumentValidator::new(
        &json!({"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}),
    )
    .expect("schema");
    let args = json!({"message": "hello"});
    c.bench_function("validate echo arguments", |b| b.iter(|| validator.validate(black_box(&args))));
}

fn normalisation(c: &mut Criterion) {
    let schema = json!({
        "type": "object",
        "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}, "required": ["x", "y"]}},
        "properties": {"from": {"$ref": "#/$defs/point"}, "to": {"$ref": "#/$defs/point"}, "note": {"type": ["string", "null"]}},
        "required": ["from"]
    });
    for target in [SchemaTarget::OpenAiStrict, SchemaTarget::Gemini] {
        c.bench_function(&format!("normalise one schema for {target:?}"), |b| {
            b.iter(|| normalize(black_box(&schema), target));
        });
    }
}

fn warm_catalogue(c: &mut Criterion) {
    let Some(testbed) = testbed() else {
        eprintln!("testbed-mcp not built; skipping the catalogue benchmarks");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let pool = Pool::default();
    let servers: Vec<ServerConfig> = (0..10)
        .map(|i| ServerConfig::stdio(format!("s{i}"), testbed.display().to_string(), &["--tools", "100"]))
        .collect();
    runtime.block_on(async {
        let _ = pool.connect_all(&servers).await;
    });
    c.bench_function("catalogue of 1000 tools from a warm pool + OpenAI normalisation", |b| {
        b.to_async(&runtime).iter(|| async {
            let catalogue =
                CatalogueBuilder::new(pool.clone()).servers(servers.iter().cloned()).build().await.expect("catalogue");
            black_box(catalogue.provider_tools(SchemaTarget::OpenAi).len())
        });
    });
    let one = [servers[0].clone()];
    c.bench_function("catalogue of one server from a warm pool", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(
                CatalogueBuilder::new(pool.clone())
                    .servers(one.iter().cloned())
                    .build()
                    .await
                    .expect("catalogue")
                    .len(),
            )
        });
    });
    runtime.block_on(pool.shutdown());
}

criterion_group!(benches, naming, validation, normalisation, warm_catalogue);
criterion_main!(benches);
