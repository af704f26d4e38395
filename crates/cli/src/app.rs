//! The CLI's entry: parse, set up (secrets, logs, printer), run the command on the right async
//! runtime, exit with the right code.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches};
use toolbridge::config::Secrets;
use toolbridge_runtime::{RuntimeFactory, RuntimeSpec};

use crate::args::{Command, ExecutionsCommand, GLOBAL_OPTIONS, McpCommand, Parsed};
use crate::error::{CliError, CliResult};
use crate::output::{Printer, colors, stdout_closed};
use crate::setup::{App, SpecFactory};

/// The `toolbridge` command line, with the runtimes it registers.
#[derive(Default)]
pub struct Cli {
    runtimes: Vec<SpecFactory>,
}

impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cli").field("runtimes", &self.runtimes.len()).finish()
    }
}

impl Cli {
    /// The CLI with the built-in runtimes (`agent_loop`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers one more runtime, by type:
    ///
    /// ```no_run
    /// # use toolbridge_runtime::*;
    /// struct MyRuntime;
    /// # #[async_trait]
    /// # impl Runtime for MyRuntime {
    /// #     fn runtime_type(&self) -> RuntimeType { RuntimeType::new("mine") }
    /// #     fn capabilities(&self) -> RuntimeCapabilities { RuntimeCapabilities::default() }
    /// #     async fn execute_impl(&self, ctx: &RuntimeExecutionContext, _: &ExecutionScope)
    /// #         -> Result<RuntimeExecutionResult, RuntimeError> {
    /// #         Ok(RuntimeExecutionResult::success(ctx.prompt.clone()))
    /// #     }
    /// # }
    /// impl RuntimeFactory for MyRuntime {
    ///     fn spec() -> RuntimeSpec {
    ///         RuntimeSpec::new("mine", "Echoes the prompt", |_deps| Ok(MyRuntime))
    ///     }
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     toolbridge_cli::Cli::new().runtime::<MyRuntime>().run()
    /// }
    /// ```
    #[must_use]
    pub fn runtime<R: RuntimeFactory + 'static>(self) -> Self {
        self.runtime_spec(R::spec)
    }

    /// Registers one more runtime: `spec` makes its registry entry (it is called whenever a
    /// command needs the registry).
    #[must_use]
    pub fn runtime_spec(mut self, spec: impl Fn() -> RuntimeSpec + Send + Sync + 'static) -> Self {
        self.runtimes.push(Arc::new(spec));
        self
    }

    /// Parses the process's arguments, runs the command, and returns the exit code: 0 ok,
    /// 1 execution or tool failure, 2 usage or configuration error (a closed stdout is 0).
    pub fn run(self) -> ExitCode {
        // This binary is also the sandbox helper every child process is launched through.
        toolbridge_sandbox::run_if_helper();
        let parsed = match Parsed::from_arg_matches(&command().get_matches()) {
            Ok(parsed) => parsed,
            Err(error) => error.exit(),
        };
        let secrets = Secrets::from_env();
        let color = colors(parsed.global.color);
        crate::logging::init(parsed.global.verbose, parsed.global.quiet, color.1, &secrets);
        let json = matches!(
            &parsed.command,
            Command::Tools { json: true, .. }
                | Command::Call { json: true, .. }
                | Command::Runtimes(crate::args::RuntimesArgs { json: true, .. })
                | Command::Run(crate::args::RunArgs { json: true, .. })
                | Command::Mcp(McpCommand::List { json: true })
                | Command::Executions(
                    ExecutionsCommand::List { json: true, .. } | ExecutionsCommand::Show { json: true, .. }
                )
        );
        let printer = Printer::new(color, parsed.global.quiet, json, secrets.clone());
        let app = App::new(
            printer.clone(),
            secrets,
            parsed.global.db.clone(),
            self.runtimes,
            #[cfg(feature = "temporal")]
            crate::commands::durable::settings(&parsed.global.temporal),
        );
        let runtime = match runtime_builder(&parsed.command).enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                printer.stderr(&format!("error: cannot start the async runtime: {error}"));
                return ExitCode::from(1);
            }
        };
        let outcome = runtime.block_on(dispatch(&app, parsed.command));
        // Pools are shut down by the commands; anything left (a stuck server) must not keep the
        // process alive.
        runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        if stdout_closed() {
            return ExitCode::SUCCESS;
        }
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                printer.stderr(&format!("{} {error}", printer.red("error:")));
                error.exit_code()
            }
        }
    }
}

/// The command line: the global options are listed once, in `toolbridge --help`, not again in
/// every subcommand's help (which says where they are).
fn command() -> clap::Command {
    let mut command = Parsed::command();
    // Building propagates the global options into the subcommands, where they can be hidden.
    command.build();
    hide_global_options(command)
}

fn hide_global_options(command: clap::Command) -> clap::Command {
    command.mut_subcommands(|sub| {
        let sub = sub
            .mut_args(|arg| if GLOBAL_OPTIONS.contains(&arg.get_id().as_str()) { arg.hide(true) } else { arg })
            .after_help("Global options (--db, --quiet, --verbose, --color): see `toolbridge --help`.");
        hide_global_options(sub)
    })
}

/// The async runtime. Commands run on the main thread (tokio's current-thread runtime): an
/// agent run or a tool call waits on pipes and sockets, and one thread avoids cross-thread
/// wake-ups on every message (measured in BENCHMARKS.md: ~15 % lower call latency). `serve`
/// and `server`, which answer many clients at once, and `worker`, which runs many executions at
/// once, get one worker per core. `TOOLBRIDGE_WORKER_THREADS` overrides both (`1`:
/// current-thread, `N`: N workers).
fn runtime_builder(command: &Command) -> tokio::runtime::Builder {
    let threads = std::env::var("TOOLBRIDGE_WORKER_THREADS").ok().and_then(|v| v.parse::<usize>().ok());
    let serving = matches!(command, Command::Serve(_) | Command::Server(_) | Command::Mcp(McpCommand::Serve(_)))
        || serves(command);
    let threads = threads.unwrap_or(if serving { 0 } else { 1 });
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

/// Whether the command serves many executions at once (a durable-execution worker).
fn serves(command: &Command) -> bool {
    #[cfg(feature = "temporal")]
    if matches!(command, Command::Worker(_)) {
        return true;
    }
    let _ = command;
    false
}

async fn dispatch(app: &App, command: Command) -> CliResult {
    let chat = matches!(command, Command::Chat(_));
    crate::signals::install(if chat { crate::signals::Mode::Interrupt } else { crate::signals::Mode::Terminate });
    // `run`, `chat`, `serve` and `server` handle termination themselves (cancel and store; shut
    // down cleanly); any other command just stops, its pool's process groups killed as it is
    // dropped.
    let outcome = match command {
        Command::Run(args) => crate::commands::run::run(app, args).await,
        Command::Chat(args) => crate::commands::chat::run(app, args).await,
        Command::Serve(args) | Command::Mcp(McpCommand::Serve(args)) => crate::commands::serve::run(app, args).await,
        Command::Server(args) => crate::commands::server::run(app, args).await,
        #[cfg(feature = "temporal")]
        Command::Worker(args) => crate::commands::worker::run(app, args).await,
        command => tokio::select! {
            outcome = other(app, command) => outcome,
            () = crate::signals::termination() => Err(CliError::failure("interrupted")),
        },
    };
    // Runtime plugins started by the command get the protocol's shutdown (their process
    // groups are killed anyway when the hosts are dropped).
    app.shutdown_plugins().await;
    outcome
}

async fn other(app: &App, command: Command) -> CliResult {
    use crate::commands;
    match command {
        Command::Tools { names, tools, allow_degraded, json } => {
            commands::tools::run(app, &tools, &names, allow_degraded, json).await
        }
        Command::Mcp(command) => commands::mcp::run(app, command),
        Command::Call { name, args, tools, timeout, json } => {
            commands::call::run(app, &name, &args, &tools, timeout, json).await
        }
        Command::Agent(command) => commands::agent::run(app, command).await,
        Command::Runtimes(args) => commands::runtimes::run(app, args).await,
        Command::Executions(command) => commands::executions::run(app, command).await,
        Command::Auth(command) => commands::auth::run(app, command).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Parsed::command(), "toolbridge", &mut script);
            app.printer.write(&String::from_utf8_lossy(&script));
            Ok(())
        }
        Command::Run(_) | Command::Chat(_) | Command::Serve(_) | Command::Server(_) => {
            Err(CliError::failure("internal error: command dispatched twice"))
        }
        #[cfg(feature = "temporal")]
        Command::Worker(_) => Err(CliError::failure("internal error: command dispatched twice")),
    }
}
