//! Command-line arguments (clap derive). Parsing only: no behaviour here.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// toolbridge: MCP servers and skills as one tool catalogue, and a tool-calling agent loop.
#[derive(Debug, Parser)]
#[command(name = "toolbridge", version, about, propagate_version = true)]
pub(crate) struct Parsed {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command takes (listed once, under `toolbridge --help`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// The agent/execution database [default: $XDG_DATA_HOME/toolbridge/toolbridge.db].
    #[arg(long, global = true, env = "TOOLBRIDGE_DB", value_name = "PATH", hide_env_values = true)]
    pub(crate) db: Option<PathBuf>,
    /// Print only results and errors.
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    /// More logging (-v: info, -vv: debug, -vvv: trace); RUST_LOG overrides.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// When to use colours.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub(crate) color: ColorChoice,
    #[cfg(feature = "temporal")]
    #[command(flatten)]
    pub(crate) temporal: TemporalArgs,
}

/// Where Temporal is, for `worker`, `run --runtime durable_agent_loop` and `executions show`.
/// Unset flags fall back on Temporal's own environment (`TEMPORAL_ADDRESS`,
/// `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`, `TEMPORAL_CONFIG_FILE`).
#[cfg(feature = "temporal")]
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Temporal (durable executions)")]
pub(crate) struct TemporalArgs {
    /// The Temporal server, `host:port` or a URL [default: $TEMPORAL_ADDRESS, else localhost:7233].
    #[arg(long = "temporal", global = true, value_name = "ADDR")]
    pub(crate) address: Option<String>,
    /// The namespace [default: $TEMPORAL_NAMESPACE, else default].
    #[arg(long, global = true, value_name = "NS")]
    pub(crate) namespace: Option<String>,
    /// The task queue of durable executions [default: toolbridge].
    #[arg(long, global = true, env = "TOOLBRIDGE_TASK_QUEUE", value_name = "Q")]
    pub(crate) task_queue: Option<String>,
    /// A client certificate (PEM) for mTLS [default: $TEMPORAL_TLS_CLIENT_CERT_PATH].
    #[arg(long, global = true, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// Its private key (PEM) [default: $TEMPORAL_TLS_CLIENT_KEY_PATH].
    #[arg(long, global = true, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// The CA of the server's certificate (PEM) [default: $TEMPORAL_TLS_SERVER_CA_CERT_PATH].
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) tls_ca: Option<PathBuf>,
    /// Seconds to wait for the server before giving up.
    #[arg(long, global = true, default_value_t = 10.0, value_name = "SECS")]
    pub(crate) connect_timeout: f64,
}

/// The global options, by id (hidden from each subcommand's help: `toolbridge --help` has them).
pub(crate) const GLOBAL_OPTIONS: [&str; 4] = ["db", "quiet", "verbose", "color"];

/// When to use colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal only.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Where tools come from.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ToolArgs {
    /// MCP servers: a Claude (`mcpServers`), VS Code (`servers`) or plain `{name: server}` JSON
    /// file [default: the nearest .mcp.json and the user's $XDG_CONFIG_HOME/toolbridge/mcp.json].
    #[arg(long, value_name = "FILE")]
    pub(crate) mcp_config: Option<PathBuf>,
    /// Skills: a JSON file with `[{name, type, configuration, enabled}]`.
    #[arg(long, value_name = "FILE")]
    pub(crate) skills: Option<PathBuf>,
    /// Tool policy: a JSON file with `{allow: [...], deny: [...]}`.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
}

/// What an agent is made of (`run`, `chat`, `agent create|update`).
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct AgentArgs {
    /// The model (`openai:…`, `anthropic:…`, `scripted:PATH`; a bare id means OpenAI-compatible).
    #[arg(long, value_name = "ID")]
    pub(crate) model: Option<String>,
    /// The runtime [default: agent_loop].
    #[arg(long, value_name = "TYPE")]
    pub(crate) runtime: Option<String>,
    /// runtime_config as JSON (merged over the agent's).
    #[arg(long, value_name = "JSON")]
    pub(crate) runtime_config: Option<String>,
    /// System prompt.
    #[arg(long, value_name = "TEXT")]
    pub(crate) system_prompt: Option<String>,
    #[command(flatten)]
    pub(crate) tools: ToolArgs,
}

/// Which agent a `run` or `chat` executes.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct AgentChoice {
    /// Run a stored agent.
    #[arg(long, conflicts_with = "config")]
    pub(crate) agent: Option<String>,
    /// Run the agent defined in this JSON file.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) flags: AgentArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the tool catalogue, or show the named tools in detail.
    Tools {
        /// Show these tools' descriptions and parameters.
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        #[command(flatten)]
        tools: ToolArgs,
        /// Exit 0 even when some servers are unavailable.
        #[arg(long)]
        allow_degraded: bool,
        /// Print a JSON array of {name, source, original_name, description, input_schema}.
        #[arg(long)]
        json: bool,
    },
    /// Call one tool and print its call record.
    Call {
        /// The tool's catalogue name (see `toolbridge tools`).
        name: String,
        /// The arguments: a JSON object, `@FILE` for a file holding one, or `-` for stdin.
        #[arg(long, default_value = "{}", value_name = "JSON")]
        args: String,
        #[command(flatten)]
        tools: ToolArgs,
        /// Time limit in seconds.
        #[arg(long, value_name = "SECS")]
        timeout: Option<f64>,
        /// Print the record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one execution, streaming its output and tool calls.
    Run(RunArgs),
    /// Talk with an agent in a terminal: one execution per message, the conversation kept.
    Chat(ChatArgs),
    /// Create, update, list, show and delete agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// List the runtimes (built-in and plugins) with their capabilities and config schemas;
    /// register and remove runtime plugins.
    Runtimes(RuntimesArgs),
    /// MCP servers: the user-level configuration (add, remove, list) and serving the catalogue.
    #[command(subcommand)]
    Mcp(McpCommand),
    /// Serve the whole catalogue as one MCP server (also `toolbridge mcp serve`).
    Serve(ServeArgs),
    /// OAuth logins to MCP servers (tokens kept in the database).
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Serve the HTTP API and the dashboard (agents, executions with live events, cancel, usage).
    Server(ServerArgs),
    /// Stored executions.
    #[command(subcommand)]
    Executions(ExecutionsCommand),
    /// Run durable executions: poll a Temporal task queue until Ctrl-C.
    #[cfg(feature = "temporal")]
    Worker(WorkerArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The prompt; `-` (or no prompt, with stdin not a terminal) reads it from stdin.
    pub(crate) prompt: Option<String>,
    /// Continue a conversation: the previous execution's messages (the latest, or this
    /// execution's) are sent as conversation_history.
    #[arg(long = "continue", value_name = "EXECUTION_ID", num_args = 0..=1, default_missing_value = "")]
    pub(crate) continue_from: Option<String>,
    #[command(flatten)]
    pub(crate) agent: AgentChoice,
    /// Print the RuntimeExecutionResult (with its execution_id) as JSON instead of streaming.
    #[arg(long)]
    pub(crate) json: bool,
    /// The execution's id; a durable execution of that id that exists is attached to (e.g.
    /// after its starter was killed) instead of started again.
    #[cfg(feature = "temporal")]
    #[arg(long, value_name = "ID")]
    pub(crate) execution_id: Option<String>,
}

/// `toolbridge worker`.
#[cfg(feature = "temporal")]
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// MCP servers offered to every execution next to its own (every worker of a task queue
    /// needs the same), started now.
    #[arg(long, value_name = "FILE")]
    pub(crate) mcp_config: Option<PathBuf>,
    /// Skills offered to every execution next to its own.
    #[arg(long, value_name = "FILE")]
    pub(crate) skills: Option<PathBuf>,
    /// The most model and tool calls (and workflow tasks) running at once.
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) max_concurrent: u32,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct RuntimesArgs {
    #[command(subcommand)]
    pub(crate) command: Option<RuntimesCommand>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RuntimesCommand {
    /// Register a runtime plugin: a program toolbridge starts and drives over JSON-RPC on its
    /// stdin/stdout (see docs/runtime-plugins.md). It is started once now (`initialize`) and
    /// registered only if that succeeds.
    #[command(after_help = "Example:\n  toolbridge runtimes add echo_py -- python3 examples/plugins/echo_runtime.py")]
    Add {
        /// The runtime type agents will name (`--runtime NAME`); not a built-in one.
        name: String,
        /// An environment variable for the plugin (repeatable). Stored in the database as given.
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// The plugin's working directory (default: the current directory, so that relative
        /// paths in the command keep working from anywhere).
        #[arg(long, value_name = "DIR")]
        cwd: Option<PathBuf>,
        /// The program and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Unregister a runtime plugin (agents that use it fail to run until it is added again).
    Remove {
        /// The plugin's runtime type.
        name: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    #[command(flatten)]
    pub(crate) agent: AgentChoice,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Create an agent (its runtime_config is validated by the runtime now).
    Create {
        /// The agent's name [default: the `name` of --from's file].
        #[arg(required_unless_present = "from")]
        name: Option<String>,
        /// Start from an agent JSON file ({name, runtime, model_id, system_prompt, runtime_config,
        /// mcp_servers, skills, policy}); the other flags change it.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        #[command(flatten)]
        flags: AgentArgs,
        /// Replace an existing agent of the same name.
        #[arg(long)]
        force: bool,
    },
    /// Change a stored agent: the flags given replace what it had.
    Update {
        /// The agent's name.
        name: String,
        #[command(flatten)]
        flags: AgentArgs,
    },
    /// List agents.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one agent (secret-looking values of its MCP servers masked).
    Show {
        /// The agent's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Show `env`/`headers` values as stored.
        #[arg(long)]
        reveal: bool,
    },
    /// Delete an agent.
    Delete {
        /// The agent's name.
        name: String,
    },
}

/// Where `mcp add|remove` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scope {
    /// $XDG_CONFIG_HOME/toolbridge/mcp.json, used everywhere.
    User,
    /// ./.mcp.json, used in this directory and below.
    Project,
}

/// A server's transport, as `mcp add --transport` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TransportChoice {
    /// A command run as a child process.
    Stdio,
    /// Streamable HTTP.
    Http,
    /// The legacy HTTP+SSE transport.
    Sse,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub(crate) enum McpCommand {
    /// Add a server: `toolbridge mcp add NAME [OPTIONS] -- COMMAND [ARGS…]` or
    /// `toolbridge mcp add NAME URL [OPTIONS]`.
    Add {
        /// The server's name (the prefix of its tools).
        name: String,
        /// The command and its arguments (after `--`), or the URL of an HTTP server.
        #[arg(required = true, num_args = 1.., value_name = "COMMAND_OR_URL")]
        command: Vec<String>,
        /// The transport [default: http for a URL, else stdio].
        #[arg(long, short, value_enum)]
        transport: Option<TransportChoice>,
        /// An environment variable of a stdio server (repeatable).
        #[arg(long = "env", short, value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// A header of an HTTP server (repeatable).
        #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// Commands fail when this server cannot start.
        #[arg(long)]
        required: bool,
        /// Which configuration to write.
        #[arg(long, short, value_enum, default_value_t = Scope::User)]
        scope: Scope,
        /// Replace a server of the same name.
        #[arg(long)]
        force: bool,
    },
    /// Remove a server.
    Remove {
        /// The server's name.
        name: String,
        /// Which configuration to change.
        #[arg(long, short, value_enum, default_value_t = Scope::User)]
        scope: Scope,
    },
    /// List the configured servers (user-level and the nearest .mcp.json) and where each is from.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the whole catalogue as one MCP server (the same as `toolbridge serve`).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) tools: ToolArgs,
    /// Serve over stdin/stdout.
    #[arg(long, conflicts_with = "http")]
    pub(crate) stdio: bool,
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8808); the endpoint is /mcp.
    #[arg(long, value_name = "ADDR")]
    pub(crate) http: Option<SocketAddr>,
    /// Require `Authorization: Bearer TOKEN` on HTTP requests.
    #[arg(long, env = "TOOLBRIDGE_SERVE_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Also accept this Host/Origin (besides loopback names), e.g. for a reverse proxy.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub(crate) allow_hosts: Vec<String>,
    /// The most MCP sessions open at once [default: sized to this machine's memory].
    #[arg(long, value_name = "N")]
    pub(crate) max_sessions: Option<usize>,
    /// Close a session after this many seconds without a request.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub(crate) session_idle_timeout: u64,
    /// Be an OAuth protected resource of this authorization server (issuer URL): its metadata
    /// is published, requests need its tokens (checked with --oauth-introspection).
    #[arg(long, value_name = "URL", requires = "oauth_introspection", conflicts_with = "token")]
    pub(crate) oauth_authorization_server: Option<String>,
    /// The authorization server's token introspection endpoint (RFC 7662).
    #[arg(long, value_name = "URL", requires = "oauth_authorization_server")]
    pub(crate) oauth_introspection: Option<String>,
    /// This gateway's client credentials at the introspection endpoint, `ID:SECRET`.
    #[arg(long, env = "TOOLBRIDGE_SERVE_INTROSPECTION_CLIENT", value_name = "ID:SECRET", hide_env_values = true)]
    pub(crate) oauth_introspection_client: Option<String>,
    /// A scope every token must carry (repeatable).
    #[arg(long = "oauth-scope", value_name = "SCOPE")]
    pub(crate) oauth_scopes: Vec<String>,
    /// The gateway's public URL, when it is reached through a proxy [default: http://ADDR/mcp].
    #[arg(long, value_name = "URL")]
    pub(crate) oauth_resource: Option<String>,
    /// Name tools and prompts `server__name` (`always`), by their own names (`never`), or
    /// by their own names when one server is served (`auto`).
    #[arg(long, default_value = "auto", value_name = "never|auto|always")]
    pub(crate) prefix: toolbridge::serve::Prefix,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// Log in to an HTTP MCP server with OAuth (a browser flow with a loopback redirect; the
    /// URL is printed when no browser can be opened).
    Login {
        /// The server's name in the configuration.
        server: String,
        #[command(flatten)]
        tools: ToolArgs,
        /// Do not try to open a browser; only print the URL.
        #[arg(long)]
        no_browser: bool,
    },
    /// List the stored logins (never their tokens).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget a server's login.
    Logout {
        /// The server's name.
        server: String,
    },
}

/// An execution's status, as `executions list --status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusChoice {
    /// Ended well.
    Success,
    /// Failed.
    Error,
    /// Cancelled.
    Cancelled,
    /// Still running.
    Running,
    /// Its process died before it ended.
    Interrupted,
}

#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Where to listen; without a token only a loopback address is accepted.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// A file holding the bearer token every API request must carry.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub(crate) token_file: Option<PathBuf>,
    /// The bearer token (prefer --token-file: a command line is visible to other users).
    #[arg(long, env = "TOOLBRIDGE_API_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Also accept this Host/Origin (besides loopback names), e.g. a reverse proxy's name.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub(crate) allow_hosts: Vec<String>,
    /// The most executions running at once.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub(crate) max_running: usize,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExecutionsCommand {
    /// List stored executions, newest first, a page at a time.
    List {
        /// Only this agent's.
        #[arg(long)]
        agent: Option<String>,
        /// Only executions with this status.
        #[arg(long, value_enum)]
        status: Option<StatusChoice>,
        /// Only those started at or after this time: a date (2025-01-31), an RFC 3339 time, or
        /// a duration ago (30m, 2h, 7d).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// Only those started before this time (same forms as --since).
        #[arg(long, value_name = "WHEN")]
        until: Option<String>,
        /// How many per page.
        #[arg(long, default_value_t = 20, value_name = "N")]
        limit: usize,
        /// Which page (1 is the newest).
        #[arg(long, default_value_t = 1, value_name = "N")]
        page: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one execution (an id or a unique prefix).
    Show {
        /// The execution id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete executions: by id (or unique prefix), or all started before a duration ago.
    Delete {
        /// The execution ids.
        #[arg(value_name = "ID", required_unless_present = "older_than", conflicts_with = "older_than")]
        ids: Vec<String>,
        /// Delete every execution started more than this long ago (30m, 12h, 7d, 2w).
        #[arg(long, value_name = "DUR")]
        older_than: Option<String>,
    },
}
