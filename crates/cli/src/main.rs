/*! The `toolbridge` command line: parses arguments, wires the libraries, prints results. */

mod args;
mod commands;
mod error;
mod output;
mod setup;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command};
use crate::error::CliResult;
use crate::output::Printer;

fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,toolbridge=info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Logs go to stderr so that stdout stays clean for results and JSON.
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

/// The async runtime. Commands run on the main thread (tokio's current-thread runtime): an
/// agent run or a tool call waits on pipes and sockets, and one thread avoids cross-thread
/// wake-ups on every message (measured in BENCHMARKS.md: ~15 % lower call latency). `serve`,
/// which answers many clients at once, gets one worker per core. `TOOLBRIDGE_WORKER_THREADS`
/// overrides both (`1`: current-thread, `N`: N workers).
fn runtime_builder(command: &Command) -> tokio::runtime::Builder {
    let threads = std::env::var("TOOLBRIDGE_WORKER_THREADS").ok().and_then(|v| v.parse::<usize>().ok());
    let threads = threads.unwrap_or(if matches!(command, Command::Serve(_)) { 0 } else { 1 });
    match threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        0 => tokio::runtime::Builder::new_multi_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose, cli.global.quiet);
    let runtime = match runtime_builder(&cli.command).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let json = matches!(
        &cli.command,
        Command::Tools { json: true, .. }
            | Command::Call { json: true, .. }
            | Command::Runtimes { json: true }
            | Command::Run(args::RunArgs { json: true, .. })
    );
    let printer = Printer::new(cli.global.color, cli.global.quiet, json);
    let outcome = runtime.block_on(dispatch(cli, &printer));
    // Pools are shut down by the commands; anything left (a stuck server) must not keep the
    // process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{} {error}", printer.red("error:"));
            error.exit_code()
        }
    }
}

async fn dispatch(cli: Cli, printer: &Printer) -> CliResult {
    let db = cli.global.db.as_deref();
    match cli.command {
        Command::Tools { tools, json } => commands::tools::run(&tools, json, printer).await,
        Command::Call { name, args, tools, timeout, json } => {
            commands::call::run(&name, &args, &tools, timeout, json, printer).await
        }
        Command::Run(args) => commands::run::run(args, db, printer).await,
        Command::Agent(command) => commands::agent::run(command, db, printer).await,
        Command::Runtimes { json } => commands::runtimes::run(json, printer),
        Command::Serve(args) => commands::serve::run(args, printer).await,
        Command::Executions(command) => commands::executions::run(command, db, printer).await,
        Command::Bench(command) => commands::bench::bench(command).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "toolbridge", &mut std::io::stdout());
            Ok(())
        }
    }
}
