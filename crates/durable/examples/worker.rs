//! A durable-execution worker in a dozen lines: connects to Temporal (Temporal's own
//! environment: `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, TLS, API key), polls the task queue
//! `$TOOLBRIDGE_TASK_QUEUE` (default `toolbridge`) and runs agent workflows until Ctrl-C or
//! SIGTERM. `toolbridge worker` is the same, with flags.
//!
//! ```text
//! temporal server start-dev &
//! cargo run -p toolbridge-durable --features temporal --example worker
//! ```

use tokio_util::sync::CancellationToken;
use toolbridge_agent::AgentLoopOptions;
use toolbridge_durable::{TemporalSettings, WorkerConfig, run_worker};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings =
        TemporalSettings { task_queue: std::env::var("TOOLBRIDGE_TASK_QUEUE").ok(), ..TemporalSettings::default() };
    let pool = toolbridge::Pool::default();
    let mut config = WorkerConfig::new(settings, AgentLoopOptions::new(pool.clone()));
    if let Some(n) = std::env::var("TOOLBRIDGE_MAX_CONCURRENT").ok().and_then(|n| n.parse().ok()) {
        config.max_concurrent = n;
    }
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            Some(()) = async { term.as_mut()?.recv().await } => {}
        }
        stop.cancel();
    });
    let outcome = run_worker(config, shutdown, |info| {
        println!("worker ready: {} namespace {} task queue {}", info.address, info.namespace, info.task_queue);
    })
    .await;
    pool.shutdown().await;
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
