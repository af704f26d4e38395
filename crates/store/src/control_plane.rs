//! The store as the runtime's control plane: every execution recorded, in one transaction.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};
use toolbridge_runtime::{ControlPlane, ControlPlaneError, ExecutionId, ExecutionRecord, FinishReason, Usage};

use crate::redact::{config_secrets, environment_secrets, redact};
use crate::{Store, StoreError};

fn cp(error: StoreError) -> ControlPlaneError {
    ControlPlaneError::with_source("store", error)
}

fn status(result: &toolbridge_runtime::RuntimeExecutionResult) -> &'static str {
    match result.finish_reason {
        Some(FinishReason::Cancelled) => "cancelled",
        _ if result.success => "success",
        _ => "error",
    }
}

#[async_trait]
impl ControlPlane for Store {
    /// Caches the metadata and, for an execution's start (metadata with `runtime_type` and
    /// `started_at`, as the runtime handle sends), records it as `running` with this process's
    /// pid: an execution whose process is killed before it ends still has a record, listed as
    /// `interrupted`. The final record replaces it.
    async fn cache_metadata(&self, execution_id: &ExecutionId, metadata: Value) -> Result<(), ControlPlaneError> {
        let id = execution_id.to_string();
        let mut metadata = metadata;
        let start = match (&metadata["runtime_type"], &metadata["started_at"]) {
            (Value::String(runtime), Value::String(started)) => Some((
                runtime.clone(),
                started.clone(),
                metadata["agent_id"].as_str().unwrap_or_default().to_owned(),
                metadata["model_id"].as_str().map(str::to_owned),
                metadata["prompt"].as_str().unwrap_or_default().chars().take(2000).collect::<String>(),
            )),
            _ => None,
        };
        if let Value::Object(fields) = &mut metadata {
            fields.insert("pid".into(), Value::from(std::process::id()));
        }
        let text = metadata.to_string();
        let empty_result = serde_json::to_string(&toolbridge_runtime::RuntimeExecutionResult::default())
            .map_err(|e| ControlPlaneError::new(e.to_string()))?;
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO execution_metadata (execution_id, metadata) VALUES (?1, ?2)
                 ON CONFLICT (execution_id) DO UPDATE SET metadata = excluded.metadata",
                params![id, text],
            )?;
            if let Some((runtime, started, agent, model, prompt)) = start {
                tx.execute(
                    "INSERT INTO executions (id, agent_id, runtime_type, model, status, finish_reason, prompt, context_summary, result, error, started_at, finished_at, duration_ms)
                     VALUES (?1, ?2, ?3, ?4, 'running', NULL, ?5, '{}', ?6, NULL, ?7, ?7, 0)
                     ON CONFLICT (id) DO NOTHING",
                    params![id, agent, runtime, model, prompt, empty_result, started],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
        .map_err(cp)
    }

    async fn get_metadata(&self, execution_id: &ExecutionId) -> Result<Option<Value>, ControlPlaneError> {
        let id = execution_id.to_string();
        let text: Option<String> = self
            .with(move |c| {
                Ok(c.query_row("SELECT metadata FROM execution_metadata WHERE execution_id = ?1", params![id], |r| {
                    r.get(0)
                })
                .optional()?)
            })
            .await
            .map_err(cp)?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    async fn cache_agent_data(&self, agent_id: &str, data: Value) -> Result<(), ControlPlaneError> {
        let id = agent_id.to_owned();
        let text = data.to_string();
        self.with(move |c| {
            c.execute(
                "INSERT INTO agent_cache (agent_id, data) VALUES (?1, ?2) ON CONFLICT (agent_id) DO UPDATE SET data = excluded.data",
                params![id, text],
            )?;
            Ok(())
        })
        .await
        .map_err(cp)
    }

    async fn get_cached_data(&self, agent_id: &str) -> Result<Option<Value>, ControlPlaneError> {
        let id = agent_id.to_owned();
        let text: Option<String> = self
            .with(move |c| {
                Ok(c.query_row("SELECT data FROM agent_cache WHERE agent_id = ?1", params![id], |r| r.get(0))
                    .optional()?)
            })
            .await
            .map_err(cp)?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    async fn report_usage(&self, _execution_id: &ExecutionId, _usage: &Usage) -> Result<(), ControlPlaneError> {
        // Usage is written with the execution record, in the same transaction.
        Ok(())
    }

    async fn get_usage(&self, execution_id: &ExecutionId) -> Result<Option<Usage>, ControlPlaneError> {
        Ok(self.get_execution(execution_id.as_str()).await.map_err(cp)?.map(|e| e.usage))
    }

    async fn record_execution(&self, record: ExecutionRecord<'_>) -> Result<(), ControlPlaneError> {
        let context = record.context;
        let mut secrets = environment_secrets();
        // Values of the execution's own MCP server configs, wherever they turn up (a tool's
        // output, a server's error quoting its credential back).
        if let Some(servers) = &context.mcp_servers {
            secrets.extend(config_secrets(&Value::Object(servers.clone())));
        }
        let mut summary = json!({
            "agent_id": context.agent_id,
            "organization_id": context.organization_id,
            "prompt": context.prompt,
            "system_prompt": context.system_prompt,
            "model_id": context.model_id,
            "runtime_config": context.runtime_config,
            "mcp_servers": context.mcp_servers,
            "skills": context.skills,
            "history_messages": context.conversation_history.len(),
            "user_id": context.user_id,
            "user_email": context.user_email,
            "user_roles": context.user_roles,
            "team_id": context.team_id,
            "team_name": context.team_name,
            "environment": context.environment,
        });
        redact(&mut summary, &secrets);
        let mut result = serde_json::to_value(record.result).map_err(|e| ControlPlaneError::new(e.to_string()))?;
        redact(&mut result, &secrets);
        let calls = result.get("tool_execution_messages").and_then(Value::as_array).cloned().unwrap_or_default();
        let id = context.execution_id.to_string();
        let agent = context.agent_id.clone();
        let runtime = record.runtime_type.to_string();
        let model = record.result.model.clone().or_else(|| context.model_id.clone());
        let status = status(record.result).to_owned();
        let finish = record.result.finish_reason.map(|f| f.as_str().to_owned());
        let prompt: String = context.prompt.chars().take(2000).collect();
        let error = result.get("error").and_then(Value::as_str).map(str::to_owned);
        let usage = record.result.usage.clone();
        let (started, finished) = (record.started_at, record.finished_at);
        let duration = (finished - started).num_milliseconds().max(0);
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM executions WHERE id = ?1", params![id])?;
            tx.execute(
                "INSERT INTO executions (id, agent_id, runtime_type, model, status, finish_reason, prompt, context_summary, result, error, started_at, finished_at, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![id, agent, runtime, model, status, finish, prompt, summary.to_string(), result.to_string(), error, started.to_rfc3339(), finished.to_rfc3339(), duration],
            )?;
            for (seq, call) in calls.iter().enumerate() {
                let text = |k: &str| call.get(k).and_then(Value::as_str).map(str::to_owned);
                tx.execute(
                    "INSERT INTO tool_calls (execution_id, seq, tool, tool_use_id, source, server, input, output, success, error, error_type, duration_ms, start_time, end_time, metadata)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                    params![
                        id,
                        i64::try_from(seq).unwrap_or(i64::MAX),
                        text("tool").unwrap_or_default(),
                        text("tool_use_id").unwrap_or_default(),
                        text("source").unwrap_or_default(),
                        text("server"),
                        call.get("input").cloned().unwrap_or(Value::Null).to_string(),
                        text("output").unwrap_or_default(),
                        call.get("success").and_then(Value::as_bool).unwrap_or(false),
                        text("error"),
                        text("error_type"),
                        call.get("duration_ms").and_then(Value::as_i64).unwrap_or(0),
                        text("start_time").unwrap_or_default(),
                        text("end_time").unwrap_or_default(),
                        call.get("metadata").cloned().unwrap_or(Value::Null).to_string(),
                    ],
                )?;
            }
            tx.execute(
                "INSERT INTO usage (execution_id, input_tokens, output_tokens, total_tokens, cache_read_tokens, model_provider, extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    i64::try_from(usage.input_tokens).unwrap_or(i64::MAX),
                    i64::try_from(usage.output_tokens).unwrap_or(i64::MAX),
                    i64::try_from(usage.total_tokens).unwrap_or(i64::MAX),
                    i64::try_from(usage.cache_read_tokens).unwrap_or(i64::MAX),
                    usage.model_provider,
                    Value::Object(usage.extra).to_string(),
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
        .map_err(cp)
    }
}
