//! A CLI of one's own: every `toolbridge` command (runs, agents, the store, the HTTP API
//! server, plugins) with one more runtime registered — the word-count runtime of
//! `crates/runtime/examples/custom_runtime.rs`.
//!
//! ```sh
//! cargo run -p toolbridge-cli --example custom_cli -- runtimes
//! cargo run -p toolbridge-cli --example custom_cli -- agent create counter --runtime word_count --runtime-config '{"min_len": 4}'
//! cargo run -p toolbridge-cli --example custom_cli -- run --agent counter "the quick brown fox"
//! ```

#[path = "../../runtime/examples/support/word_count.rs"]
mod word_count;

use word_count::WordCountRuntime;

fn main() -> std::process::ExitCode {
    toolbridge_cli::Cli::new().runtime::<WordCountRuntime>().run()
}
