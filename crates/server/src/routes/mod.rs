//! The route table: every endpoint once, with its handler and its documentation. The router
//! and the OpenAPI document are both built from it, so they cannot disagree.

mod agents;
mod body;
mod executions;
mod system;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post, put};

use crate::security::{Guard, Limits};
use crate::state::AppState;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum In {
    Path,
    Query,
    Header,
}

/// A documented parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param {
    pub(crate) name: &'static str,
    pub(crate) place: In,
    pub(crate) description: &'static str,
    /// `string`, `integer` or `boolean`.
    pub(crate) kind: &'static str,
}

/// What a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    /// JSON of a named schema (`components/schemas`).
    Json(&'static str),
    /// Server-Sent Events.
    Events,
    /// Plain text.
    Text,
    /// Nothing.
    Empty,
}

/// A documented response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) description: &'static str,
    pub(crate) body: Body,
}

/// One endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteDoc {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    pub(crate) summary: &'static str,
    /// Whether the bearer token is required (when the server has one).
    pub(crate) auth: bool,
    pub(crate) params: &'static [Param],
    /// The request body's schema.
    pub(crate) request: Option<&'static str>,
    pub(crate) replies: &'static [Reply],
}

// Macros, not `const fn`s: struct literals of constants are promoted to `'static`, calls are not.
macro_rules! param {
    ($name:expr, $place:expr, $kind:expr, $description:expr) => {
        Param { name: $name, place: $place, kind: $kind, description: $description }
    };
}

macro_rules! reply {
    ($status:expr, $description:expr, $body:expr) => {
        Reply { status: $status, description: $description, body: $body }
    };
}

const NAME: Param = param!("name", In::Path, "string", "The agent's name.");
const ID: Param = param!("id", In::Path, "string", "The execution id (or a unique prefix of it).");
const ERROR: Body = Body::Json("Error");
const BAD: Reply = reply!(400, "Bad query or body syntax.", ERROR);
const UNAUTHORIZED: Reply = reply!(401, "Missing or wrong bearer token.", ERROR);
const NOT_FOUND: Reply = reply!(404, "No such agent or execution.", ERROR);
const INVALID: Reply = reply!(422, "A field is invalid; `error.field` names it.", ERROR);

/// Every route: its documentation and its handler.
pub(crate) fn table() -> Vec<(RouteDoc, MethodRouter<AppState>)> {
    vec![
        (
            RouteDoc {
                method: "GET",
                path: "/healthz",
                summary: "Liveness: the server's version and how many executions run.",
                auth: false,
                params: &[],
                request: None,
                replies: &[reply!(200, "Alive.", Body::Json("Health"))],
            },
            get(system::health),
        ),
        (
            RouteDoc {
                method: "GET",
                path: "/metrics",
                summary: "Prometheus text exposition: executions and tool calls by status, latencies, the pool.",
                auth: true,
                params: &[],
                request: None,
                replies: &[reply!(200, "Metrics.", Body::Text), UNAUTHORIZED],
            },
            get(system::metrics),
        ),
        (
            RouteDoc {
                method: "GET",
                path: "/api/v1/openapi.json",
                summary: "This document.",
                auth: true,
                params: &[],
                request: None,
                replies: &[reply!(200, "The OpenAPI 3.1 document.", Body::Json("OpenApi")), UNAUTHORIZED],
            },
            get(system::openapi),
        ),
        (
            RouteDoc {
                method: "GET",
                path: "/api/v1/agents",
                summary: "Every agent, by name (literal secrets of their MCP servers masked).",
                auth: true,
                params: &[],
                request: None,
                replies: &[reply!(200, "The agents.", Body::Json("AgentList")), UNAUTHORIZED],
            },
            get(agents::list),
        ),
        (
            RouteDoc {
                method: "POST",
                path: "/api/v1/agents",
                summary: "Creates an agent; its runtime validates it first (schema, then the runtime's own check).",
                auth: true,
                params: &[],
                request: Some("AgentDefinition"),
                replies: &[
                    reply!(201, "Created.", Body::Json("Agent")),
                    BAD,
                    UNAUTHORIZED,
                    reply!(409, "An agent of that name exists.", ERROR),
                    INVALID,
                ],
            },
            post(agents::create),
        ),
        (
            RouteDoc {
                method: "GET",
                path: "/api/v1/agents/{name}",
                summary: "One agent (literal secrets masked).",
                auth: true,
                params: &[NAME],
                request: None,
                replies: &[reply!(200, "The agent.", Body::Json("Agent")), UNAUTHORIZED, NOT_FOUND],
            },
            get(agents::show),
        ),
        (
            RouteDoc {
                method: "PUT",
                path: "/api/v1/agents/{name}",
                summary: "Creates or replaces an agent. A masked value (`[redacted]`) sent back keeps the stored one.",
                auth: true,
                params: &[NAME],
                request: Some("AgentDefinition"),
                replies: &[
                    reply!(200, "Replaced.", Body::Json("Agent")),
                    reply!(201, "Created.", Body::Json("Agent")),
                    BAD,
                    UNAUTHORIZED,
                    INVALID,
                ],
            },
            put(agents::replace),
        ),
        (
            RouteDoc {
                method: "DELETE",
                path: "/api/v1/agents/{name}",
                summary: "Deletes an agent (its executions stay).",
                auth: true,
                params: &[NAME],
                request: None,
                replies: &[reply!(204, "Deleted.", Body::Empty), UNAUTHORIZED, NOT_FOUND],
            },
            delete(agents::remove),
        ),
        (
            RouteDoc {
                method: "POST",
                path: "/api/v1/executions",
                summary: "Runs an agent: waits and answers the result, or streams its events (`stream=true`), \
                          or answers 202 at once (`async=true`).",
                auth: true,
                params: &[
                    param!("stream", In::Query, "boolean", "Answer Server-Sent Events: each event, then `result`."),
                    param!("async", In::Query, "boolean", "Answer 202 with the execution id at once."),
                ],
                request: Some("ExecutionRequest"),
                replies: &[
                    reply!(200, "The result (or, with `stream=true`, its events).", Body::Json("ExecutionResult")),
                    reply!(202, "Started.", Body::Json("Accepted")),
                    BAD,
                    UNAUTHORIZED,
                    reply!(404, "No such agent (`error.field` is `agent`).", ERROR),
                    INVALID,
                    reply!(503, "Shutting down, or too many executions.", ERROR),
                ],
            },
            post(executions::create),
        ),
        (
            RouteDoc {
                method: "GET",
                path: "/api/v1/executions",
                summary: "Executions, newest first, a page at a time.",
                auth: true,
                params: &[
                    param!("agent", In::Query, "string", "Only this agent's."),
                    param!("status", In::Query, "string", "running, success, error, cancelled or interrupted."),
                    param!("limit", In::Query, "integer", "Page size, 1 to 200 (default 20)."),
                    param!("cursor", In::Query, "string", "The `next_cursor` of the previous page."),
                ],
                request: None,
                replies: &[reply!(200, "A page.", Body::Json("ExecutionList")), BAD, UNAUTHORIZED],
            },
            get(executions::list),
        ),
        (
            RouteDoc {
                method: "GET",
                path: "/api/v1/executions/{id}",
                summary: "One execution: status, result fields and its tool-call log.",
                auth: true,
                params: &[ID],
                request: None,
                replies: &[reply!(200, "The execution.", Body::Json("Execution")), UNAUTHORIZED, NOT_FOUND],
            },
            get(executions::show),
        ),
        (
            RouteDoc {
                method: "GET",
                path: "/api/v1/executions/{id}/events",
                summary: "Server-Sent Events: the events so far, then live until it ends, then `result` (the \
                          execution). Also accepts the token as `access_token`.",
                auth: true,
                params: &[
                    ID,
                    param!("Last-Event-ID", In::Header, "integer", "Resume after this event's `seq`."),
                    param!("access_token", In::Query, "string", "The bearer token (EventSource sends no headers)."),
                ],
                request: None,
                replies: &[reply!(200, "The event stream.", Body::Events), UNAUTHORIZED, NOT_FOUND],
            },
            get(executions::events),
        ),
        (
            RouteDoc {
                method: "POST",
                path: "/api/v1/executions/{id}/cancel",
                summary: "Cancels a running execution; it ends `cancelled` and is stored.",
                auth: true,
                params: &[ID],
                request: None,
                replies: &[reply!(200, "Whether it was cancelled.", Body::Json("Cancelled")), UNAUTHORIZED, NOT_FOUND],
            },
            post(executions::cancel),
        ),
        (
            RouteDoc {
                method: "GET",
                path: "/api/v1/executions/{id}/usage",
                summary: "The execution's token usage (so far, while it runs).",
                auth: true,
                params: &[ID],
                request: None,
                replies: &[reply!(200, "Its usage.", Body::Json("Usage")), UNAUTHORIZED, NOT_FOUND],
            },
            get(executions::usage),
        ),
        (
            RouteDoc {
                method: "GET",
                path: "/api/v1/runtimes",
                summary: "The registered runtimes: capabilities, description, runtime_config schema.",
                auth: true,
                params: &[],
                request: None,
                replies: &[reply!(200, "The runtimes.", Body::Json("RuntimeList")), UNAUTHORIZED],
            },
            get(system::runtimes),
        ),
        (
            RouteDoc {
                method: "GET",
                path: "/api/v1/tools",
                summary: "An agent's tool catalogue (its servers started or reused through the pool).",
                auth: true,
                params: &[param!("agent", In::Query, "string", "The agent.")],
                request: None,
                replies: &[
                    reply!(200, "The catalogue.", Body::Json("ToolList")),
                    BAD,
                    UNAUTHORIZED,
                    NOT_FOUND,
                    INVALID,
                ],
            },
            get(system::tools),
        ),
    ]
}

/// The application: the routes of the table (the token required where they say), the
/// dashboard, the guards and limits.
pub(crate) fn router(state: AppState, guard: Guard, limits: Limits) -> Router {
    let mut open = Router::new();
    let mut protected = Router::new();
    for (doc, handler) in table() {
        debug_assert!(doc.method.parse::<Method>().is_ok());
        if doc.auth {
            protected = protected.route(doc.path, handler);
        } else {
            open = open.route(doc.path, handler);
        }
    }
    let protected =
        protected.layer(axum::middleware::from_fn_with_state(guard.clone(), crate::security::require_token));
    open.merge(protected)
        .merge(crate::assets::router())
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(guard, crate::security::guard))
        .with_state(state)
}
