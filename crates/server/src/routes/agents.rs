//! `/api/v1/agents`: the agent definitions of DESIGN.md, validated by their runtime before
//! they are stored, shown with the literal secrets of their MCP servers masked.

use std::sync::PoisonError;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use toolbridge::config::McpServers;
use toolbridge_runtime::AgentDefinition;
use toolbridge_store::StoredAgent;

use crate::error::ApiError;
use crate::executions::view::time;
use crate::routes::body::{JsonObject, parse};
use crate::state::AppState;

/// The wire form of a stored agent: its definition (servers masked) and its times.
pub(crate) fn agent_view(agent: &StoredAgent) -> Value {
    let mut definition = agent.definition.clone();
    definition.mcp_servers = definition.mcp_servers.masked();
    let mut value = serde_json::to_value(&definition).unwrap_or_else(|_| json!({"name": definition.name}));
    if let Value::Object(map) = &mut value {
        // Always present, empty or not: clients need not guess.
        map.entry("mcp_servers").or_insert_with(|| json!({}));
        map.entry("skills").or_insert_with(|| json!([]));
        map.insert("created_at".into(), json!(time(agent.created_at)));
        map.insert("updated_at".into(), json!(time(agent.updated_at)));
    }
    value
}

/// Names are path segments and file-system friendly: letters, digits, `-`, `_`, `.`.
fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid("name", "an agent name is 1 to 64 letters, digits, '-', '_' or '.' (not first)"))
    }
}

/// Parses and validates an agent: its shape (each field named), its name, then its runtime's
/// verdict on its `runtime_config` and configuration.
async fn validated(state: &AppState, body: Value) -> Result<AgentDefinition, ApiError> {
    let agent: AgentDefinition = parse(body)?;
    check_name(&agent.name)?;
    let check = state.executions.registry().read().unwrap_or_else(PoisonError::into_inner).check_agent(&agent);
    check.await?;
    Ok(agent)
}

pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let agents = state.store.list_agents().await?;
    Ok(Json(json!({"agents": agents.iter().map(agent_view).collect::<Vec<_>>()})))
}

pub(crate) async fn show(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let agent = state.store.get_agent(&name).await?.ok_or_else(|| no_agent(&name))?;
    Ok(Json(agent_view(&agent)))
}

pub(crate) fn no_agent(name: &str) -> ApiError {
    ApiError::not_found(format!("no agent named {name:?}"))
}

pub(crate) async fn create(State(state): State<AppState>, JsonObject(body): JsonObject) -> Result<Response, ApiError> {
    let agent = validated(&state, body).await?;
    state.store.create_agent(&agent).await?;
    let stored = state.store.get_agent(&agent.name).await?.ok_or_else(|| no_agent(&agent.name))?;
    Ok((StatusCode::CREATED, Json(agent_view(&stored))).into_response())
}

pub(crate) async fn replace(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    check_name(&name)?;
    if let Value::Object(map) = &mut body {
        match map.get("name") {
            None => {
                map.insert("name".into(), Value::String(name.clone()));
            }
            Some(Value::String(given)) if *given == name => {}
            Some(_) => return Err(ApiError::invalid("name", format!("the body's name must be the path's, {name:?}"))),
        }
    }
    let mut agent = validated(&state, body).await?;
    let existing = state.store.get_agent(&name).await?;
    if let Some(existing) = &existing {
        keep_masked_secrets(&mut agent.mcp_servers, &existing.definition.mcp_servers);
    }
    state.store.upsert_agent(&agent).await?;
    let stored = state.store.get_agent(&name).await?.ok_or_else(|| no_agent(&name))?;
    let status = if existing.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(agent_view(&stored))).into_response())
}

/// A client that GETs an agent and PUTs it back sends the masks it was shown: those values
/// keep what is stored rather than becoming `[redacted]`.
fn keep_masked_secrets(new: &mut McpServers, old: &McpServers) {
    use toolbridge::config::REDACTED as MASK;
    for (name, spec) in &mut new.0 {
        let Some(previous) = old.0.get(name) else { continue };
        for (entries, before) in [(&mut spec.env, &previous.env), (&mut spec.headers, &previous.headers)] {
            for (key, value) in entries.iter_mut() {
                if value.0 == MASK
                    && let Some(kept) = before.get(key)
                {
                    value.clone_from(kept);
                }
            }
        }
        if let (Some(url), Some(before)) = (&spec.url, &previous.url)
            && url.contains(MASK)
            && previous.masked().url.as_deref() == Some(url.as_str())
        {
            spec.url = Some(before.clone());
        }
    }
}

pub(crate) async fn remove(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    if state.store.delete_agent(&name).await? { Ok(StatusCode::NO_CONTENT) } else { Err(no_agent(&name)) }
}
