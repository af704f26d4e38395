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

/// Flags every command takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// The agent/execution database [default: $XDG_DATA_HOME/toolbridge/toolbridge.db].
    #[arg(long, global = true, env = "TOOLBRIDGE_DB", value_name = "PATH")]
    pub(crate) db: Option<PathBuf>,
    /// Print only results and errors.
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    /// More logging (-v: info, -vv: debug, -vvv: trace); RUST_LOG overrides.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// When to use colours.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
}

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
    /// MCP servers: a Claude (`mcpServers`), VS Code (`servers`) or plain `{name: server}` JSON file.
    #[arg(long, value_name = "FILE")]
    pub(crate) mcp_config: Option<PathBuf>,
    /// Skills: a JSON file with `[{name, type, configuration, enabled}]`.
    #[arg(long, value_name = "FILE")]
    pub(crate) skills: Option<PathBuf>,
    /// Tool policy: a JSON file with `{allow: [...], deny: [...]}`.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the tool catalogue.
    Tools {
        #[command(flatten)]
        tools: ToolArgs,
        /// Print a JSON array of {name, source, original_name, description, input_schema}.
        #[arg(long)]
        json: bool,
    },
    /// Call one tool and print its call record.
    Call {
        /// The tool's catalogue name (see `toolbridge tools`).
        name: String,
        /// The arguments, as a JSON object.
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
    /// Create, list, show and delete agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// List the runtimes (built-in and plugins) with their capabilities and config schemas;
    /// register and remove runtime plugins.
    Runtimes(RuntimesArgs),
    /// Serve the whole catalogue as one MCP server.
    Serve(ServeArgs),
    /// OAuth logins to MCP servers (tokens kept in the database).
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Serve the HTTP API and the dashboard (agents, executions with live events, cancel, usage).
    Server(ServerArgs),
    /// Stored executions.
    #[command(subcommand)]
    Executions(ExecutionsCommand),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The prompt.
    pub(crate) prompt: String,
    /// Run a stored agent.
    #[arg(long, conflicts_with = "config")]
    pub(crate) agent: Option<String>,
    /// Run the agent defined in this JSON file.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The model (`openai:…`, `anthropic:…`, `scripted:PATH`; a bare id means OpenAI-compatible).
    #[arg(long, value_name = "ID")]
    pub(crate) model: Option<String>,
    /// The runtime (default: agent_loop).
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
    /// Print the RuntimeExecutionResult as JSON instead of streaming.
    #[arg(long)]
    pub(crate) json: bool,
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

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Create an agent (its runtime_config is validated by the runtime now).
    Create {
        /// The agent's name.
        name: String,
        /// The runtime.
        #[arg(long, default_value = "agent_loop", value_name = "TYPE")]
        runtime: String,
        /// The model (a runtime that calls a model needs one, here or at run time via
        /// `--model` or `TOOLBRIDGE_MODEL`).
        #[arg(long, value_name = "ID")]
        model: Option<String>,
        /// runtime_config as JSON.
        #[arg(long, value_name = "JSON")]
        runtime_config: Option<String>,
        /// System prompt.
        #[arg(long, value_name = "TEXT")]
        system_prompt: Option<String>,
        #[command(flatten)]
        tools: ToolArgs,
        /// Replace an existing agent of the same name.
        #[arg(long)]
        force: bool,
    },
    /// List agents.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one agent (literal `env`/`headers` values of its MCP servers masked).
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

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) tools: ToolArgs,
    /// Serve over stdin/stdout.
    #[arg(long, conflicts_with = "http", required_unless_present = "http")]
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
    /// List stored executions, newest first.
    List {
        /// Only this agent's.
        #[arg(long)]
        agent: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
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
}
