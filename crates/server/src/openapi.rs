//! The OpenAPI 3.1 document, built from the route table (so every route is in it and nothing
//! else is) and the schemas of the wire types below. The tests check the document against the
//! router and validate real responses against these schemas, which keeps them honest.

use serde_json::{Map, Value, json};

use crate::routes::{Body, In, table};

/// The document.
pub(crate) fn document() -> Value {
    let mut paths = Map::new();
    for (route, _) in table() {
        let mut parameters = Vec::new();
        for param in route.params {
            let place = match param.place {
                In::Path => "path",
                In::Query => "query",
                In::Header => "header",
            };
            parameters.push(json!({
                "name": param.name, "in": place, "required": param.place == In::Path,
                "description": param.description, "schema": {"type": param.kind},
            }));
        }
        let mut responses = Map::new();
        for reply in route.replies {
            let content = match reply.body {
                Body::Json(schema) => {
                    json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}})
                }
                Body::Events => json!({"text/event-stream": {"schema": {"type": "string", "description":
                    "`id: <seq>`, `event: <type>`, `data: <Event>` per event; last `event: result`, `data: <Execution>` \
                     (`/events`) or `<ExecutionResult>` (`POST /executions?stream=true`)"}}}),
                Body::Text => json!({"text/plain": {"schema": {"type": "string"}}}),
                Body::Empty => Value::Null,
            };
            let mut response = json!({"description": reply.description});
            if !content.is_null() {
                response["content"] = content;
            }
            responses.insert(reply.status.to_string(), response);
        }
        let mut operation = json!({
            "summary": route.summary,
            "operationId": operation_id(route.method, route.path),
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(schema) = route.request {
            operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema":
                {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        if !route.auth {
            operation["security"] = json!([]);
        }
        let entry = paths.entry(route.path).or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "toolbridge HTTP API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Agents, executions with live events, cancel, usage and tool catalogues. Errors are \
                            `{\"error\": {\"code\", \"message\", \"field\"?}}`.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(),
        },
    })
}

/// `GET /api/v1/executions/{id}/events` → `get_api_v1_executions_id_events`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        id.push('_');
        id.extend(part.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').map(|c| c.to_ascii_lowercase()));
    }
    id
}

fn nullable(kind: &str) -> Value {
    json!({"type": [kind, "null"]})
}

/// The component schemas.
pub(crate) fn schemas() -> Value {
    let string = json!({"type": "string"});
    let time = json!({"type": "string", "format": "date-time"});
    let status = json!({"type": "string", "enum": ["running", "success", "error", "cancelled", "interrupted"]});
    let finish =
        json!({"type": ["string", "null"], "enum": ["stop", "length", "tool_use", "error", "cancelled", null]});
    let definition = json!({
        "type": "object", "required": ["name"], "additionalProperties": false,
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$"},
            "description": string, "runtime": {"type": "string", "default": "agent_loop"},
            "model_id": nullable("string"), "model": nullable("string"), "system_prompt": string,
            "runtime_config": {"type": ["object", "null"]}, "model_config": {"type": ["object", "null"]},
            "mcp_servers": {"$ref": "#/components/schemas/McpServers"},
            "skills": {"type": "array", "items": {"type": "object", "required": ["name", "type"]}},
            "policy": {"type": ["object", "null"]},
        },
    });
    let mut agent = definition.clone();
    agent["required"] = json!(["name", "runtime", "mcp_servers", "skills", "created_at", "updated_at"]);
    agent["properties"]["created_at"] = time.clone();
    agent["properties"]["updated_at"] = time.clone();
    json!({
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": string, "message": string, "field": {"type": "string", "description": "dotted path of the field at fault"},
            }}},
        },
        "Health": {"type": "object", "required": ["status", "version", "executions_running"], "properties": {
            "status": {"const": "ok"}, "version": string, "executions_running": {"type": "integer", "minimum": 0},
        }},
        "OpenApi": {"type": "object", "required": ["openapi", "paths"]},
        "McpServers": {"type": "object", "description": "name → {command, args, env, cwd} or {url, headers} (DESIGN.md); literal secret values masked as `[redacted]` in answers",
            "additionalProperties": {"type": "object"}},
        "AgentDefinition": definition,
        "Agent": agent,
        "AgentList": {"type": "object", "required": ["agents"], "properties": {
            "agents": {"type": "array", "items": {"$ref": "#/components/schemas/Agent"}},
        }},
        "Usage": {"type": "object", "required": ["input_tokens", "output_tokens", "total_tokens"], "properties": {
            "input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"},
            "cache_read_tokens": {"type": "integer"}, "model_provider": nullable("string"),
        }},
        "ToolCallRecord": {
            "type": "object",
            "required": ["tool", "tool_use_id", "source", "input", "output", "success", "duration_ms", "start_time", "end_time"],
            "properties": {
                "tool": string, "tool_use_id": string, "source": string, "server": nullable("string"), "input": {},
                "output": string, "success": {"type": "boolean"}, "error": nullable("string"),
                "error_type": {"type": ["string", "null"], "enum": ["invalid_arguments", "unknown_tool", "policy_denied",
                    "timeout", "cancelled", "server_unavailable", "tool_error", "output_truncated", null]},
                "duration_ms": {"type": "integer"}, "start_time": time, "end_time": time, "metadata": {"type": "object"},
            },
        },
        "ExecutionRequest": {
            "type": "object", "required": ["agent", "prompt"], "additionalProperties": false,
            "properties": {
                "agent": string, "prompt": {"type": "string", "minLength": 1},
                "conversation_history": {"type": "array", "items": {"type": "object", "required": ["role"],
                    "properties": {"role": string, "content": {}}}},
                "user_email": string, "user_id": string, "user_roles": {"type": "array", "items": string},
                "team_id": string, "team_name": string, "environment": {"type": "string", "default": "production"},
                "runtime_config": {"type": "object", "description": "merged over the agent's"},
                "user_metadata": {"type": "object"},
            },
        },
        "ExecutionResult": {
            "type": "object", "required": ["execution_id", "response", "usage", "success", "finish_reason"],
            "properties": {
                "execution_id": string, "response": string, "usage": {"$ref": "#/components/schemas/Usage"},
                "success": {"type": "boolean"}, "finish_reason": finish, "run_id": nullable("string"),
                "model": nullable("string"),
                "tool_execution_messages": {"type": ["array", "null"], "items": {"$ref": "#/components/schemas/ToolCallRecord"}},
                "tool_messages": {"type": ["array", "null"]}, "error": nullable("string"), "metadata": {"type": "object"},
            },
        },
        "Accepted": {"type": "object", "required": ["execution_id"], "properties": {"execution_id": string}},
        "Cancelled": {"type": "object", "required": ["cancelled"], "properties": {
            "cancelled": {"type": "boolean"}, "status": status, "note": nullable("string"),
        }},
        "ExecutionSummary": {
            "type": "object",
            "required": ["id", "agent_id", "runtime_type", "status", "prompt", "started_at", "finished_at",
                         "duration_ms", "tool_calls", "total_tokens"],
            "properties": {
                "id": string, "agent_id": string, "runtime_type": string, "model": nullable("string"),
                "status": status, "finish_reason": finish, "prompt": string, "started_at": time,
                "finished_at": {"type": ["string", "null"], "format": "date-time"},
                "duration_ms": nullable("integer"), "error": nullable("string"),
                "tool_calls": {"type": "integer"}, "total_tokens": {"type": "integer"},
            },
        },
        "ExecutionList": {"type": "object", "required": ["executions", "next_cursor"], "properties": {
            "executions": {"type": "array", "items": {"$ref": "#/components/schemas/ExecutionSummary"}},
            "next_cursor": nullable("string"),
        }},
        "Execution": {
            "type": "object",
            "required": ["id", "agent_id", "runtime_type", "status", "prompt", "started_at", "finished_at",
                         "duration_ms", "error", "success", "response", "usage", "tool_calls", "metadata"],
            "properties": {
                "id": string, "agent_id": string, "runtime_type": string, "model": nullable("string"),
                "status": status, "finish_reason": finish, "prompt": string, "started_at": time,
                "finished_at": {"type": ["string", "null"], "format": "date-time"},
                "duration_ms": nullable("integer"), "error": nullable("string"), "success": nullable("boolean"),
                "response": string, "usage": {"$ref": "#/components/schemas/Usage"},
                "tool_calls": {"type": "array", "items": {"$ref": "#/components/schemas/ToolCallRecord"}},
                "tool_messages": {"type": ["array", "null"]}, "run_id": nullable("string"), "metadata": {"type": "object"},
            },
        },
        "Event": {
            "type": "object", "required": ["seq", "ts", "type"],
            "description": "An execution event (DESIGN.md names) with its sequence number and time",
            "properties": {
                "seq": {"type": "integer", "minimum": 1}, "ts": time,
                "type": {"enum": ["content_chunk", "thinking_start", "thinking_delta", "thinking_complete",
                                  "tool_start", "tool_complete", "usage", "done"]},
            },
        },
        "RuntimeList": {"type": "object", "required": ["runtimes"], "properties": {"runtimes": {"type": "array", "items": {
            "type": "object", "required": ["runtime_type", "description", "kind", "capabilities", "requires_model", "runtime_config_schema"],
            "properties": {"runtime_type": string, "description": string, "kind": {"enum": ["builtin", "plugin"]},
                "capabilities": {"type": "object"}, "requires_model": {"type": "boolean"}, "runtime_config_schema": {}},
        }}}},
        "ToolList": {"type": "object", "required": ["agent", "tools", "unavailable"], "properties": {
            "agent": string,
            "tools": {"type": "array", "items": {"type": "object",
                "required": ["name", "source", "source_kind", "original_name", "description", "input_schema"],
                "properties": {"name": string, "source": string, "source_kind": string, "original_name": string,
                    "description": string, "input_schema": {"type": "object"}}}},
            "unavailable": {"type": "array", "items": {"type": "object"}},
        }},
    })
}
