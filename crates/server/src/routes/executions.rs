//! `/api/v1/executions`: run an agent (waiting, streaming or in the background), list and
//! show executions, follow their events, cancel them, read their usage. An execution that
//! runs here is answered from memory; any other (finished, or run by the CLI) from the store.

use std::sync::PoisonError;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use toolbridge::config::ProcessEnv;
use toolbridge_runtime::{ConversationMessage, ExecutionId, ExecutionStatus, Usage};
use toolbridge_store::{ExecutionCursor, ExecutionFilter};

use crate::error::ApiError;
use crate::executions::Executions;
use crate::executions::sse::{self, EventStream, scrubbed_json};
use crate::executions::view::{ExecutionView, ResultView, SummaryView};
use crate::routes::agents::no_agent;
use crate::routes::body::{JsonObject, Params, parse};
use crate::state::AppState;

/// The variable that gives a model to executions that have none (the agent loop's).
const MODEL_VARIABLE: &str = "TOOLBRIDGE_MODEL";
/// The largest page.
const MAX_LIMIT: usize = 200;
/// How often a stream polls the store for an execution another process runs.
const POLL: Duration = Duration::from_millis(250);

/// `POST /api/v1/executions`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecutionRequest {
    agent: String,
    prompt: String,
    #[serde(default)]
    conversation_history: Vec<ConversationMessage>,
    #[serde(default)]
    user_email: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    user_roles: Vec<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    team_name: Option<String>,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    runtime_config: Option<Value>,
    #[serde(default)]
    user_metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Mode {
    #[serde(default)]
    stream: bool,
    #[serde(default, rename = "async")]
    background: bool,
}

/// JSON text as a response (already scrubbed).
fn json_text(status: StatusCode, text: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// Merges the request's `runtime_config` keys over the agent's.
fn merged(base: Option<Value>, over: Option<Value>) -> Option<Value> {
    match (base, over) {
        (Some(Value::Object(mut base)), Some(Value::Object(over))) => {
            base.extend(over);
            Some(Value::Object(base))
        }
        (base, None) => base,
        (_, over) => over,
    }
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Params(mode): Params<Mode>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    if mode.stream && mode.background {
        return Err(ApiError::bad_request("stream=true and async=true exclude each other"));
    }
    let request: ExecutionRequest = parse(body)?;
    if request.prompt.trim().is_empty() {
        return Err(ApiError::invalid("prompt", "prompt must not be empty"));
    }
    let agent = state.store.get_agent(&request.agent).await?.ok_or_else(|| no_agent(&request.agent).field("agent"))?;
    let agent = agent.definition;
    let runtime_config = merged(agent.runtime_config.clone(), request.runtime_config);
    state
        .executions
        .registry()
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .validate_config(&agent.runtime, runtime_config.as_ref())?;
    let handle = state.executions.handle(&agent.runtime)?;
    let has_model = agent.model_id.as_deref().is_some_and(|m| !m.trim().is_empty())
        || std::env::var(MODEL_VARIABLE).is_ok_and(|m| !m.trim().is_empty());
    if handle.requires_model() && !has_model {
        return Err(ApiError::invalid(
            "agent",
            format!(
                "agent {:?} has no model_id and runtime {} needs one; give the agent a model_id or start the \
                 server with {MODEL_VARIABLE} set",
                agent.name,
                handle.runtime_type()
            ),
        ));
    }
    // The values behind the servers' templates are secrets: scrubbed from what is answered.
    if let Ok(servers) = agent.mcp_servers.resolve(&agent.name, &ProcessEnv) {
        for server in &servers {
            server.register_secrets(&state.secrets);
        }
    }
    let mut context = agent.context(request.prompt);
    context.conversation_history = request.conversation_history;
    context.user_email = request.user_email;
    context.user_id = request.user_id;
    context.user_roles = request.user_roles;
    context.team_id = request.team_id;
    context.team_name = request.team_name;
    if let Some(environment) = request.environment {
        context.environment = environment;
    }
    context.runtime_config = runtime_config;
    context.user_metadata = request.user_metadata;
    let id = context.execution_id.to_string();
    let live = state.executions.start(&handle, context)?;
    if mode.background {
        return Ok(json_text(StatusCode::ACCEPTED, json!({"execution_id": id}).to_string()));
    }
    if mode.stream {
        let secrets = state.secrets.clone();
        let finale_secrets = secrets.clone();
        let stream = sse::follow(live, 0, secrets, move |result| {
            let text = scrubbed_json(&ResultView { execution_id: &id, result: &result }, &finale_secrets);
            async move { text }
        });
        return Ok(sse::respond(stream).into_response());
    }
    let result = live.result().await;
    Ok(json_text(StatusCode::OK, scrubbed_json(&ResultView { execution_id: &id, result: &result }, &state.secrets)))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    agent: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// A cursor as clients see it: opaque (hex of `started_at|id`).
fn encode_cursor(cursor: &ExecutionCursor) -> String {
    format!("{}|{}", cursor.started_at.to_rfc3339(), cursor.id).bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(text: &str) -> Option<ExecutionCursor> {
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (time, id) = text.split_once('|')?;
    let started_at = chrono::DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&chrono::Utc);
    Some(ExecutionCursor { started_at, id: id.to_owned() })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<ExecutionStatus>().map_err(|e| ApiError::bad_request(e).field("status"))?),
    };
    let limit =
        match query.limit.as_deref().filter(|s| !s.is_empty()) {
            None => 20,
            Some(text) => text.parse::<usize>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                ApiError::bad_request(format!("limit must be between 1 and {MAX_LIMIT}")).field("limit")
            })?,
        };
    let before = match query.cursor.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            decode_cursor(text)
                .ok_or_else(|| ApiError::bad_request("cursor is not one this server issued").field("cursor"))?,
        ),
    };
    let filter = ExecutionFilter {
        agent: query.agent.filter(|a| !a.is_empty()),
        status,
        limit: Some(limit),
        before,
        ..ExecutionFilter::default()
    };
    let page = state.store.list_executions_page(&filter).await?;
    let executions: Vec<SummaryView> = page.executions.into_iter().map(SummaryView::from).collect();
    Ok(Json(json!({"executions": executions, "next_cursor": page.next.as_ref().map(encode_cursor)})))
}

fn no_execution(id: &str) -> ApiError {
    ApiError::not_found(format!("no execution {id:?}"))
}

/// The whole execution, from memory while it runs here, else from the store.
async fn view(state: &AppState, id: &str) -> Result<ExecutionView, ApiError> {
    if let Some(live) = state.executions.get(id) {
        return Ok(ExecutionView::live(&live));
    }
    let stored = state.store.get_execution(id).await?.ok_or_else(|| no_execution(id))?;
    Ok(ExecutionView::stored(stored))
}

pub(crate) async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let view = view(&state, &id).await?;
    Ok(json_text(StatusCode::OK, scrubbed_json(&view, &state.secrets)))
}

/// The whole execution once it ended, as the final message of `/events`.
async fn finale(state: &AppState, id: &str) -> String {
    match state.store.get_execution(id).await {
        Ok(Some(stored)) => scrubbed_json(&ExecutionView::stored(stored), &state.secrets),
        _ => match view(state, id).await {
            Ok(view) => scrubbed_json(&view, &state.secrets),
            Err(error) => json!({"error": {"code": error.code, "message": error.message}}).to_string(),
        },
    }
}

pub(crate) async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<EventStream, ApiError> {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if let Some(live) = state.executions.get(&id) {
        let full = live.started.id.to_string();
        let secrets = state.secrets.clone();
        let stream = sse::follow(live, after, secrets, move |_| async move { finale(&state, &full).await });
        return Ok(sse::respond(stream));
    }
    let stored = state.store.get_execution(&id).await?.ok_or_else(|| no_execution(&id))?;
    let full = stored.summary.id.clone();
    let stream = async_stream::stream! {
        // Run by another process: its events are stored when it ends.
        let mut status = stored.summary.status;
        while status == ExecutionStatus::Running {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = state.stopping.cancelled() => return,
            }
            status = match state.store.get_execution(&full).await {
                Ok(Some(now)) => now.summary.status,
                _ => return,
            };
        }
        let events = state.store.execution_events(&full).await.unwrap_or_default();
        let result = finale(&state, &full).await;
        let replay = sse::replay(&events, after, result, &state.secrets);
        for message in futures::StreamExt::collect::<Vec<_>>(replay).await {
            yield message;
        }
    };
    Ok(sse::respond(stream))
}

pub(crate) async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    if let Some(live) = state.executions.get(&id) {
        let cancelled = Executions::cancel(&live).await;
        return Ok(Json(json!({"cancelled": cancelled})));
    }
    let stored = state.store.get_execution(&id).await?.ok_or_else(|| no_execution(&id))?;
    let note = (stored.summary.status == ExecutionStatus::Running)
        .then_some("it runs in another process: cancel it there (Ctrl-C, SIGTERM)");
    Ok(Json(json!({"cancelled": false, "status": stored.summary.status, "note": note})))
}

pub(crate) async fn usage(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let usage: Usage = if let Some(live) = state.executions.get(&id) {
        match live.handle.get_usage(&ExecutionId::new(id.as_str())).await {
            Some(usage) if live.outcome().is_some() => usage,
            _ => live.usage_so_far().unwrap_or_default(),
        }
    } else {
        state.store.get_execution(&id).await?.ok_or_else(|| no_execution(&id))?.usage
    };
    Ok(json_text(StatusCode::OK, scrubbed_json(&usage, &state.secrets)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let cursor = ExecutionCursor { started_at: chrono::Utc::now(), id: "a-b|c".into() };
        assert_eq!(decode_cursor(&encode_cursor(&cursor)), Some(cursor));
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("abc"), None);
    }

    #[test]
    fn runtime_config_merges_over_the_agents() {
        let merged = merged(Some(json!({"a": 1, "b": 2})), Some(json!({"b": 3})));
        assert_eq!(merged, Some(json!({"a": 1, "b": 3})));
        assert_eq!(super::merged(Some(json!({"a": 1})), None), Some(json!({"a": 1})));
    }
}
