//! The testbed's tools and its fault injection.

// Sampling and logging are deprecated by SEP-2577 in rmcp, yet part of the 2025-11-25
// protocol this server speaks and of the conformance suite it serves.
#![allow(deprecated)]

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult, ContentBlock,
    GetPromptRequestParams, GetPromptResponse, Implementation, InitializeRequestParams, InitializeResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
    SetLevelRequestParams, SubscribeRequestParams, Tool, UnsubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::Flags;
use crate::fixtures;
use crate::generated;

/// A 1×1 PNG.
const TINY_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

#[derive(Deserialize, JsonSchema)]
struct EchoParams {
    /// The text to echo.
    message: String,
}

#[derive(Deserialize, JsonSchema)]
struct AddParams {
    /// First number.
    a: f64,
    /// Second number.
    b: f64,
}

#[derive(Deserialize, JsonSchema)]
struct SleepParams {
    /// Milliseconds to sleep.
    ms: u64,
}

#[derive(Deserialize, JsonSchema)]
struct FailParams {
    /// The error message.
    message: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct CrashParams {
    /// The exit status.
    exit_code: Option<i32>,
}

#[derive(Deserialize, JsonSchema)]
struct BigOutputParams {
    /// How many bytes of text to return.
    bytes: usize,
}

#[derive(Deserialize, JsonSchema)]
struct StructuredParams {
    /// The city.
    city: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct ProgressParams {
    /// How many progress notifications to send.
    steps: u32,
}

#[derive(Deserialize, JsonSchema)]
struct ListChangedParams {
    /// The name of the tool to add.
    name: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct EnvParams {
    /// The environment variable.
    name: String,
}

#[derive(Deserialize, JsonSchema)]
struct AppendParams {
    /// The file to append to.
    path: String,
    /// The line to append.
    line: String,
    /// Milliseconds to wait first (the call can be cancelled meanwhile: then nothing is written).
    delay_ms: Option<u64>,
    /// A file that gets the line when the call starts (before the delay).
    started: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct NoParams {}

fn schema<T: JsonSchema>() -> Arc<Map<String, Value>> {
    match serde_json::to_value(schemars::schema_for!(T)) {
        Ok(Value::Object(mut map)) => {
            map.remove("$schema");
            map.remove("title");
            Arc::new(map)
        }
        _ => Arc::new(Map::new()),
    }
}

fn builtin_tools() -> Vec<Tool> {
    let structured_output = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "temperature_c": {"type": "number"}},
        "required": ["city", "temperature_c"]
    });
    vec![
        Tool::new("echo", "Returns `Echo: <message>`", schema::<EchoParams>()),
        Tool::new("add", "Adds two numbers", schema::<AddParams>()),
        Tool::new("sleep_ms", "Sleeps, then says so (honours cancellation)", schema::<SleepParams>()),
        Tool::new("fail", "Returns an error result (isError)", schema::<FailParams>()),
        Tool::new("crash", "Exits the server process mid-call", schema::<CrashParams>()),
        Tool::new("hang", "Never answers, and ignores cancellation", schema::<NoParams>()),
        Tool::new("big_output", "Returns that many bytes of text", schema::<BigOutputParams>()),
        Tool::new("structured", "Returns structuredContent with an outputSchema", schema::<StructuredParams>())
            .with_raw_output_schema(Arc::new(structured_output.as_object().cloned().unwrap_or_default())),
        Tool::new("image", "Returns a tiny PNG image", schema::<NoParams>()),
        Tool::new("progress", "Sends progress notifications", schema::<ProgressParams>()),
        Tool::new("notify_list_changed", "Adds a tool and sends tools/list_changed", schema::<ListChangedParams>()),
        Tool::new("spawn_grandchild", "Starts a long-sleeping child process and returns its pid", schema::<NoParams>()),
        Tool::new("env", "Returns an environment variable", schema::<EnvParams>()),
        Tool::new(
            "append",
            "Appends a line to a file, after an optional delay: a side effect tests can count",
            schema::<AppendParams>(),
        ),
        Tool::new("pid", "Returns the server's process id", schema::<NoParams>()),
        Tool::new(
            "stats",
            "Returns {calls, cancelled}: calls answered and requests cancelled by the client",
            schema::<NoParams>(),
        ),
    ]
}

struct State {
    flags: Flags,
    tools: Mutex<Arc<Vec<Tool>>>,
    calls: AtomicUsize,
    cancelled: AtomicUsize,
    children: Mutex<Vec<std::process::Child>>,
    subscriptions: fixtures::Subscriptions,
}

/// The testbed server. Cheap to clone (one per HTTP session shares the state).
#[derive(Clone)]
pub(crate) struct Testbed {
    state: Arc<State>,
}

fn params<T: DeserializeOwned>(arguments: Option<Map<String, Value>>) -> Result<T, McpError> {
    serde_json::from_value(Value::Object(arguments.unwrap_or_default()))
        .map_err(|e| McpError::invalid_params(format!("invalid arguments: {e}"), None))
}

fn text(text: impl Into<String>) -> CallToolResponse {
    CallToolResponse::Complete(CallToolResult::success(vec![ContentBlock::text(text.into())]))
}

/// Appends `line` and a newline to the file at `path` (created if missing).
fn append_line(path: &str, line: &str) -> Result<(), McpError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| McpError::internal_error(format!("cannot open {path}: {e}"), None))?;
    writeln!(file, "{line}").map_err(|e| McpError::internal_error(format!("cannot write {path}: {e}"), None))
}

impl Testbed {
    pub(crate) fn new(flags: Flags) -> Self {
        let mut tools = builtin_tools();
        if flags.fixtures {
            tools.extend(fixtures::tools());
        }
        for i in 0..flags.tools {
            let schema = generated::schema(i).as_object().cloned().unwrap_or_default();
            tools.push(Tool::new(format!("gen_{i}"), generated::description(i), Arc::new(schema)));
        }
        Self {
            state: Arc::new(State {
                flags,
                tools: Mutex::new(Arc::new(tools)),
                calls: AtomicUsize::new(0),
                cancelled: AtomicUsize::new(0),
                children: Mutex::new(Vec::new()),
                subscriptions: fixtures::Subscriptions::default(),
            }),
        }
    }

    /// Resources, prompts, completions and logging exist only with `--fixtures`.
    fn fixtures_only(&self) -> Result<(), McpError> {
        if self.state.flags.fixtures {
            Ok(())
        } else {
            Err(McpError::method_not_found::<rmcp::model::ListResourcesRequestMethod>())
        }
    }

    fn tools(&self) -> Arc<Vec<Tool>> {
        Arc::clone(&self.state.tools.lock().unwrap_or_else(PoisonError::into_inner))
    }

    async fn dispatch(
        &self,
        name: &str,
        arguments: Option<Map<String, Value>>,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if self.state.flags.fixtures
            && let Some(result) = fixtures::call(name, arguments.as_ref().unwrap_or(&Map::new()), context).await
        {
            return result.map(CallToolResponse::Complete);
        }
        Ok(match name {
            "echo" => {
                let p: EchoParams = params(arguments)?;
                let mut out = String::with_capacity(6 + p.message.len());
                out.push_str("Echo: ");
                out.push_str(&p.message);
                text(out)
            }
            "add" => {
                let p: AddParams = params(arguments)?;
                let sum = p.a + p.b;
                text(if sum.fract() == 0.0 && sum.abs() < 1e15 { format!("{}", sum as i64) } else { sum.to_string() })
            }
            "sleep_ms" => {
                let p: SleepParams = params(arguments)?;
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(p.ms)) => text(format!("slept {} ms", p.ms)),
                    () = context.ct.cancelled() => {
                        self.state.cancelled.fetch_add(1, Ordering::AcqRel);
                        return Err(McpError::internal_error("cancelled", None));
                    }
                }
            }
            "fail" => {
                let p: FailParams = params(arguments)?;
                let message = p.message.unwrap_or_else(|| "the tool failed on purpose".into());
                CallToolResponse::Complete(CallToolResult::error(vec![ContentBlock::text(message)]))
            }
            "crash" => {
                let p: CrashParams = params(arguments)?;
                eprintln!("testbed: crashing on request");
                std::process::exit(p.exit_code.unwrap_or(1));
            }
            "hang" => std::future::pending().await,
            "big_output" => {
                let p: BigOutputParams = params(arguments)?;
                let line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\n";
                let mut out = line.repeat(p.bytes / line.len() + 1);
                out.truncate(p.bytes);
                text(out)
            }
            "structured" => {
                let p: StructuredParams = params(arguments)?;
                CallToolResponse::Complete(CallToolResult::structured(
                    json!({"city": p.city.unwrap_or_else(|| "Lisbon".into()), "temperature_c": 21.5}),
                ))
            }
            "image" => {
                CallToolResponse::Complete(CallToolResult::success(vec![ContentBlock::image(TINY_PNG, "image/png")]))
            }
            "progress" => {
                let p: ProgressParams = params(arguments)?;
                if let Some(token) = context.meta.get_progress_token() {
                    for step in 1..=p.steps {
                        let notification = ProgressNotificationParam::new(token.clone(), f64::from(step))
                            .with_total(f64::from(p.steps));
                        let _ = context.peer.notify_progress(notification).await;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                text(format!("done {} steps", p.steps))
            }
            "notify_list_changed" => {
                let p: ListChangedParams = params(arguments)?;
                let name = p.name.unwrap_or_else(|| "dynamic_tool".into());
                {
                    let mut tools = self.state.tools.lock().unwrap_or_else(PoisonError::into_inner);
                    if !tools.iter().any(|t| t.name == name) {
                        let mut more = (**tools).clone();
                        more.push(Tool::new(
                            name.clone(),
                            "Added at runtime; echoes its input as JSON",
                            Arc::new(Map::new()),
                        ));
                        *tools = Arc::new(more);
                    }
                }
                let _ = context.peer.notify_tool_list_changed().await;
                text(format!("added {name}"))
            }
            "spawn_grandchild" => {
                let before = host_children();
                let child = std::process::Command::new("sleep")
                    .arg("3600")
                    .spawn()
                    .map_err(|e| McpError::internal_error(format!("cannot spawn sleep: {e}"), None))?;
                // Its pid as the host sees it (this server may run in its own PID namespace).
                let pid = host_children().into_iter().find(|pid| !before.contains(pid)).unwrap_or(child.id());
                self.state.children.lock().unwrap_or_else(PoisonError::into_inner).push(child);
                text(pid.to_string())
            }
            "env" => {
                let p: EnvParams = params(arguments)?;
                match std::env::var(&p.name) {
                    Ok(value) => text(value),
                    Err(_) => CallToolResponse::Complete(CallToolResult::error(vec![ContentBlock::text(format!(
                        "{} is not set",
                        p.name
                    ))])),
                }
            }
            "pid" => text(host_pid().to_string()),
            "append" => {
                let p: AppendParams = params(arguments)?;
                if let Some(started) = &p.started {
                    append_line(started, &p.line)?;
                }
                if let Some(ms) = p.delay_ms {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                        () = context.ct.cancelled() => {
                            self.state.cancelled.fetch_add(1, Ordering::AcqRel);
                            return Err(McpError::internal_error("cancelled", None));
                        }
                    }
                }
                append_line(&p.path, &p.line)?;
                text(format!("appended {:?} to {}", p.line, p.path))
            }
            "stats" => text(
                json!({
                    "calls": self.state.calls.load(Ordering::Acquire),
                    "cancelled": self.state.cancelled.load(Ordering::Acquire),
                })
                .to_string(),
            ),
            other if other.starts_with("gen_") || self.tools().iter().any(|t| t.name == other) => {
                text(Value::Object(arguments.unwrap_or_default()).to_string())
            }
            other => return Err(McpError::invalid_params(format!("unknown tool {other:?}"), None)),
        })
    }
}

impl ServerHandler for Testbed {
    fn get_info(&self) -> ServerConfig {
        let capabilities = if self.state.flags.fixtures {
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_prompts()
                .enable_logging()
                .enable_completions()
                .build()
        } else {
            ServerCapabilities::builder().enable_tools().enable_tool_list_changed().build()
        };
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(self.state.flags.name.clone(), env!("CARGO_PKG_VERSION")))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        self.fixtures_only()?;
        Ok(fixtures::resources())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        self.fixtures_only()?;
        Ok(fixtures::resource_templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.fixtures_only()?;
        fixtures::read_resource(&request.uri).map(Into::into)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.fixtures_only()?;
        self.state.subscriptions.subscribe(&request.uri);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.fixtures_only()?;
        self.state.subscriptions.unsubscribe(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        self.fixtures_only()?;
        Ok(fixtures::prompts())
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        self.fixtures_only()?;
        fixtures::get_prompt(&request).map(Into::into)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        self.fixtures_only()?;
        fixtures::complete(&request)
    }

    async fn set_level(
        &self,
        _request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.fixtures_only()
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        if self.state.flags.never_init {
            std::future::pending::<()>().await;
        }
        if self.state.flags.init_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.state.flags.init_delay_ms)).await;
        }
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items((*self.tools()).clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name: Cow<'static, str> = request.name;
        let response = self.dispatch(&name, request.arguments, &context).await;
        let answered = self.state.calls.fetch_add(1, Ordering::AcqRel) + 1;
        if self.state.flags.crash_after.is_some_and(|n| answered >= n) {
            tokio::spawn(async {
                // Let the response reach the client first.
                tokio::time::sleep(Duration::from_millis(20)).await;
                eprintln!("testbed: crashing after the configured number of calls");
                std::process::exit(1);
            });
        }
        response
    }
}

/// This process's pid as the outermost PID namespace sees it (the first `NSpid` of
/// `/proc/self/status`; `/proc` is the host's unless a sandbox mounted its own).
fn host_pid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("NSpid:"))
                .and_then(|pids| pids.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or_else(std::process::id)
}

/// The children of every thread of this process, by host pid.
fn host_children() -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|children| children.split_whitespace().filter_map(|pid| pid.parse().ok()).collect::<Vec<u32>>())
        .collect()
}
