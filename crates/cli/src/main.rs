/*! The `toolbridge` command line: parses arguments, wires the libraries, prints results. */

mod args;
mod commands;
mod error;
mod logging;
mod output;
mod setup;
mod signals;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::args::{Cli, Command};
use crate::error::CliResult;
use crate::output::Printer;

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
    logging::init(cli.global.verbose, cli.global.quiet);
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
            eprintln!("{} {}", printer.red("error:"), logging::scrub(&error.to_string()));
            error.exit_code()
        }
    }
}

async fn dispatch(cli: Cli, printer: &Printer) -> CliResult {
    signals::install();
    let db = cli.global.db.as_deref();
    // `run` and `serve` handle termination themselves (cancel and store; shut down cleanly);
    // any other command just stops, its pool's process groups killed as it is dropped.
    let command = async {
        match cli.command {
            Command::Run(args) => return commands::run::run(args, db, printer).await,
            Command::Serve(args) => return commands::serve::run(args, printer).await,
            _ => {}
        }
        tokio::select! {
            outcome = other(cli.command, db, printer) => outcome,
            () = signals::termination() => Err(error::CliError::failure("interrupted")),
        }
    };
    command.await
}

async fn other(command: Command, db: Option<&std::path::Path>, printer: &Printer) -> CliResult {
    match command {
        Command::Tools { tools, json } => commands::tools::run(&tools, json, printer).await,
        Command::Call { name, args, tools, timeout, json } => {
            commands::call::run(&name, &args, &tools, timeout, json, printer).await
        }
        Command::Agent(command) => commands::agent::run(command, db, printer).await,
        Command::Runtimes { json } => commands::runtimes::run(json, printer),
        Command::Executions(command) => commands::executions::run(command, db, printer).await,
        Command::Bench(command) => commands::bench::bench(command).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "toolbridge", &mut std::io::stdout());
            Ok(())
        }
        Command::Run(_) | Command::Serve(_) => unreachable_command(),
    }
}

/// `run` and `serve` are dispatched before [`other`].
fn unreachable_command() -> CliResult {
    Err(error::CliError::failure("internal error: command dispatched twice"))
}
