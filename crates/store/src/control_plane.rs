//! The store as the runtime's control plane: every execution recorded, in one transaction.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};
use toolbridge_runtime::config::{ProcessEnv, Secrets, mask_secret_keys};
use toolbridge_runtime::{
    ControlPlane, ControlPlaneError, ExecutionId, ExecutionRecord, ExecutionStart, ExecutionStatus,
    RuntimeExecutionContext, RuntimeExecutionResult, TimedEvent, Usage,
};

use crate::{Store, StoreError};

fn cp(error: StoreError) -> ControlPlaneError {
    ControlPlaneError::with_source("store", error)
}

/// The longest prompt kept in a record's summary columns.
const PROMPT_CHARS: usize = 2000;

/// How many times a write that found the database locked is tried again (each attempt waits
/// up to the connection's busy timeout first).
const BUSY_RETRIES: u32 = 3;

/// Runs `write`, again after a pause while another process holds the database locked: an
/// execution's record must not be lost to a long transaction elsewhere.
fn busy_retry<T>(mut write: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let mut attempt = 0;
    loop {
        match write() {
            Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                if attempt < BUSY_RETRIES
                    && matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
            {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(200 << attempt));
            }
            other => return other,
        }
    }
}

impl Store {
    /// The secrets to scrub from one execution's record: the store's own, and the values
    /// behind the templates of the execution's servers (resolved as the runtime resolved them).
    fn secrets_of(&self, context: &RuntimeExecutionContext) -> Secrets {
        let secrets = Secrets::new();
        secrets.extend(&self.secrets);
        if let Ok(servers) = context.mcp_servers.resolve("mcp_servers", &ProcessEnv) {
            for server in &servers {
                server.register_secrets(&secrets);
            }
        }
        secrets
    }
}

#[async_trait]
impl ControlPlane for Store {
    async fn cache_metadata(&self, execution_id: &ExecutionId, metadata: Value) -> Result<(), ControlPlaneError> {
        let id = execution_id.to_string();
        let text = metadata.to_string();
        self.with(move |c| {
            c.execute(
                "INSERT INTO execution_metadata (execution_id, metadata) VALUES (?1, ?2)
                 ON CONFLICT (execution_id) DO UPDATE SET metadata = excluded.metadata",
                params![id, text],
            )?;
            Ok(())
        })
        .await
        .map_err(cp)
    }

    /// Records the execution as `running`, with this process's pid: one whose process is
    /// killed before it ends still has a record, listed as `interrupted`. The final record
    /// replaces it.
    async fn record_start(&self, start: ExecutionStart<'_>) -> Result<(), ControlPlaneError> {
        let context = start.context;
        let id = context.execution_id.to_string();
        let metadata = json!({
            "runtime_type": start.runtime_type,
            "agent_id": context.agent_id,
            "model_id": context.model_id,
            "started_at": start.started_at.to_rfc3339(),
            "pid": std::process::id(),
        })
        .to_string();
        let agent = context.agent_id.clone();
        let runtime = start.runtime_type.to_string();
        let model = context.model_id.clone();
        let prompt = self.secrets_of(context).scrub(&context.prompt.chars().take(PROMPT_CHARS).collect::<String>());
        let started = start.started_at.to_rfc3339();
        let empty_result = serde_json::to_string(&RuntimeExecutionResult::default())
            .map_err(|e| ControlPlaneError::new(e.to_string()))?;
        let running = ExecutionStatus::Running.as_str();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO execution_metadata (execution_id, metadata) VALUES (?1, ?2)
                 ON CONFLICT (execution_id) DO UPDATE SET metadata = excluded.metadata",
                params![id, metadata],
            )?;
            tx.execute(
                "INSERT INTO executions (id, agent_id, runtime_type, model, status, finish_reason, prompt, context_summary, result, error, started_at, finished_at, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, '{}', ?7, NULL, ?8, ?8, 0)
                 ON CONFLICT (id) DO NOTHING",
                params![id, agent, runtime, model, running, prompt, empty_result, started],
            )?;
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
        // Secrets wherever they turn up: a tool's output, a server's error quoting its
        // credential back, a prompt.
        let secrets = self.secrets_of(context);
        let mut summary = json!({
            "agent_id": context.agent_id,
            "organization_id": context.organization_id,
            "prompt": context.prompt,
            "system_prompt": context.system_prompt,
            "model_id": context.model_id,
            "runtime_config": context.runtime_config,
            "model_config": context.model_config,
            "mcp_servers": context.mcp_servers.masked(),
            "skills": context.skills,
            "policy": context.policy,
            "user_metadata": context.user_metadata,
            "history_messages": context.conversation_history.len(),
            "conversation_history": context.conversation_history,
            "user_id": context.user_id,
            "user_email": context.user_email,
            "user_roles": context.user_roles,
            "team_id": context.team_id,
            "team_name": context.team_name,
            "environment": context.environment,
        });
        mask_secret_keys(&mut summary);
        secrets.scrub_json(&mut summary);
        let mut result = serde_json::to_value(record.result).map_err(|e| ControlPlaneError::new(e.to_string()))?;
        mask_secret_keys(&mut result);
        secrets.scrub_json(&mut result);
        let calls = result.get("tool_execution_messages").and_then(Value::as_array).cloned().unwrap_or_default();
        let id = context.execution_id.to_string();
        let agent = context.agent_id.clone();
        let runtime = record.runtime_type.to_string();
        let model = record.result.model.clone().or_else(|| context.model_id.clone());
        let status = ExecutionStatus::of(record.result).as_str();
        let finish = record.result.finish_reason.map(|f| f.as_str().to_owned());
        let prompt = secrets.scrub(&context.prompt.chars().take(PROMPT_CHARS).collect::<String>());
        let error = result.get("error").and_then(Value::as_str).map(str::to_owned);
        let usage = record.result.usage.clone();
        let events = stored_events(record.events, &secrets)?;
        let (started, finished) = (record.started_at, record.finished_at);
        let duration = (finished - started).num_milliseconds().max(0);
        self.with(move |c| {
            busy_retry(|| {
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
                    "INSERT OR REPLACE INTO usage (execution_id, input_tokens, output_tokens, total_tokens, cache_read_tokens, model_provider, extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        id,
                        i64::try_from(usage.input_tokens).unwrap_or(i64::MAX),
                        i64::try_from(usage.output_tokens).unwrap_or(i64::MAX),
                        i64::try_from(usage.total_tokens).unwrap_or(i64::MAX),
                        i64::try_from(usage.cache_read_tokens).unwrap_or(i64::MAX),
                        usage.model_provider,
                        Value::Object(usage.extra.clone()).to_string(),
                    ],
                )?;
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO execution_events (execution_id, seq, ts, type, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?;
                    for (seq, ts, kind, data) in &events {
                        insert.execute(params![id, seq, ts, kind, data])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
        })
        .await
        .map_err(cp)
    }
}

/// An execution's events as rows `(seq, ts, type, data)`, secrets scrubbed like the rest of
/// the record (a tool's output in `tool_complete`, its arguments in `tool_start`).
fn stored_events(
    events: &[TimedEvent],
    secrets: &Secrets,
) -> Result<Vec<(i64, String, &'static str, String)>, ControlPlaneError> {
    events
        .iter()
        .map(|timed| {
            let mut data = serde_json::to_value(&timed.event).map_err(|e| ControlPlaneError::new(e.to_string()))?;
            mask_secret_keys(&mut data);
            secrets.scrub_json(&mut data);
            let seq = i64::try_from(timed.seq).unwrap_or(i64::MAX);
            Ok((seq, timed.ts.to_rfc3339(), timed.event.name(), data.to_string()))
        })
        .collect()
}
