//! The server itself: health, metrics, this API's OpenAPI document, the runtimes, an agent's
//! tool catalogue, and the answers for unknown routes.

use std::sync::PoisonError;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use toolbridge::config::{ProcessEnv, ToolConfig};
use toolbridge::{CatalogueBuilder, PolicyContext};

use crate::error::ApiError;
use crate::routes::agents::no_agent;
use crate::routes::body::Params;
use crate::state::AppState;

pub(crate) async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "executions_running": state.executions.running(),
    }))
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(&state.pool.stats());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

pub(crate) async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

pub(crate) async fn runtimes(State(state): State<AppState>) -> Json<Value> {
    let infos = state.executions.registry().read().unwrap_or_else(PoisonError::into_inner).runtime_info_all();
    Json(json!({"runtimes": infos.into_values().collect::<Vec<_>>()}))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ToolsQuery {
    agent: Option<String>,
}

/// The catalogue the agent's executions would be offered (its policy applied for the default
/// caller), its servers started or reused through the shared pool.
pub(crate) async fn tools(
    State(state): State<AppState>,
    Params(query): Params<ToolsQuery>,
) -> Result<Json<Value>, ApiError> {
    let name = query
        .agent
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::bad_request("say which agent's tools: ?agent=NAME").field("agent"))?;
    let agent = state.store.get_agent(&name).await?.ok_or_else(|| no_agent(&name).field("agent"))?.definition;
    let config = ToolConfig {
        mcp_servers: agent.mcp_servers.clone(),
        skills: agent.skills.clone(),
        policy: agent.policy.clone(),
    };
    let catalogue = CatalogueBuilder::new(state.pool.clone())
        .tools(&config, &format!("agent {name}"), &ProcessEnv)
        .map_err(|e| ApiError::invalid("mcp_servers", e.to_string()))?
        .policy_context(PolicyContext::default())
        .build()
        .await
        .map_err(|e| ApiError::invalid("skills", e.to_string()))?;
    let tools: Vec<_> = catalogue.tools().collect();
    let mut body = json!({"agent": name, "tools": tools, "unavailable": catalogue.failures()});
    if !state.secrets.is_empty() {
        state.secrets.scrub_json(&mut body);
    }
    Ok(Json(body))
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not take that method")
}
