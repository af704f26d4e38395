//! The SQLite store.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;
use toolbridge_runtime::config::Secrets;
use toolbridge_runtime::{ExecutionStatus, RuntimeExecutionResult, TimedEvent, ToolCallRecord, Usage};

use crate::StoreError;
use crate::migrations;

/// Which executions to list.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// Only this agent's.
    pub agent: Option<String>,
    /// Only this status.
    pub status: Option<ExecutionStatus>,
    /// How many (default 20).
    pub limit: Option<usize>,
    /// Only those after this position of the listing (the `next` of the previous page).
    pub before: Option<ExecutionCursor>,
    /// How many of the newest matching ones to skip (numbered pages).
    pub offset: Option<usize>,
    /// Only those started at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only those started before this time.
    pub until: Option<DateTime<Utc>>,
}

/// A position in the listing of executions (newest first): the last one of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionCursor {
    /// When that execution started.
    pub started_at: DateTime<Utc>,
    /// Its id (ties on `started_at` are ordered by id).
    pub id: String,
}

/// One page of executions, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionPage {
    /// The executions.
    pub executions: Vec<ExecutionSummary>,
    /// Where the next page starts, when there is one.
    pub next: Option<ExecutionCursor>,
}

/// One line of an execution listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionSummary {
    /// The execution id.
    pub id: String,
    /// The agent.
    pub agent_id: String,
    /// The runtime.
    pub runtime_type: String,
    /// The model.
    pub model: Option<String>,
    /// `success`, `error` or `cancelled`; `running` while its process lives, `interrupted` when
    /// that process died before the execution ended (its record is then the start only).
    pub status: ExecutionStatus,
    /// The finish reason.
    pub finish_reason: Option<String>,
    /// The prompt (cut to 2000 characters).
    pub prompt: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended (`None` while running or interrupted).
    pub finished_at: Option<DateTime<Utc>>,
    /// How long it took.
    pub duration_ms: u64,
    /// Its error, when it failed or was cancelled.
    pub error: Option<String>,
    /// How many tool calls it made.
    pub tool_calls: usize,
    /// Tokens used.
    pub total_tokens: u64,
}

/// A whole stored execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredExecution {
    /// The summary.
    pub summary: ExecutionSummary,
    /// The execution context (secrets redacted).
    pub context: Value,
    /// The result (secrets redacted).
    pub result: RuntimeExecutionResult,
    /// The tool-call log, in call order.
    pub tool_calls: Vec<ToolCallRecord>,
    /// The usage.
    pub usage: Usage,
}

/// The store. Cheap to clone; clones share the connections.
#[derive(Debug, Clone)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
    /// A second, read-only connection for the reads on hot paths ([`Store::read`]): in WAL
    /// mode it reads while the first one writes, where a read on the first would wait for
    /// every record queued before it. `None` in memory, where another connection would open
    /// another database.
    reader: Option<Arc<Mutex<Connection>>>,
    path: Option<PathBuf>,
    pub(crate) secrets: Secrets,
}

pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time {text:?}: {e}")))
}

/// Makes the database (and its WAL and shared-memory files) readable by its owner only: it
/// holds OAuth tokens.
fn owner_only(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    for file in files.iter().filter(|f| f.exists()) {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).map_err(|e| StoreError::Open {
            path: file.display().to_string(),
            message: format!("cannot make it private: {e}"),
        })?;
    }
    Ok(())
}

impl Store {
    /// Where the database lives by default: `$TOOLBRIDGE_DB`, else
    /// `$XDG_DATA_HOME/toolbridge/toolbridge.db`, else `~/.local/share/toolbridge/toolbridge.db`.
    pub fn default_path() -> PathBuf {
        if let Some(path) = std::env::var_os("TOOLBRIDGE_DB").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let data = std::env::var_os("XDG_DATA_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        data.join("toolbridge").join("toolbridge.db")
    }

    /// Opens (creating if needed) the database at [`Store::default_path`].
    pub fn open_default() -> Result<Self, StoreError> {
        Self::open(&Self::default_path())
    }

    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Open { path: path.display().to_string(), message: e.to_string() })?;
        }
        let connection = Connection::open(path)
            .map_err(|e| StoreError::Open { path: path.display().to_string(), message: e.to_string() })?;
        let mut store = Self::setup(connection, Some(path.to_owned()))?;
        let reader =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| StoreError::Open { path: path.display().to_string(), message: e.to_string() })?;
        reader.busy_timeout(Duration::from_secs(10))?;
        store.reader = Some(Arc::new(Mutex::new(reader)));
        owner_only(path)?;
        Ok(store)
    }

    /// An in-memory database (for tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?, None)
    }

    fn setup(mut connection: Connection, path: Option<PathBuf>) -> Result<Self, StoreError> {
        connection.busy_timeout(Duration::from_secs(10))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        migrations::migrate(&mut connection)?;
        Ok(Self { connection: Arc::new(Mutex::new(connection)), reader: None, path, secrets: Secrets::from_env() })
    }

    /// How long a write waits for another process's lock before it retries (default 10 s;
    /// each record is tried 4 times).
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        self.connection.lock().unwrap_or_else(PoisonError::into_inner).busy_timeout(timeout)?;
        Ok(())
    }

    /// The store scrubbing `secrets` (the process's own set, shared with the logs and the pool)
    /// from every record it writes.
    #[must_use]
    pub fn with_secrets(mut self, secrets: Secrets) -> Self {
        secrets.extend(&self.secrets);
        self.secrets = secrets;
        self
    }

    /// The database file, if not in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version this build writes.
    pub fn schema_version() -> usize {
        migrations::CURRENT
    }

    /// Runs blocking SQLite work off the async runtime.
    pub(crate) async fn with<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        Self::run(Arc::clone(&self.connection), work).await
    }

    /// Runs one read (a single statement: two would see two states of the database) on the
    /// reading connection, off the async runtime.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        Self::run(Arc::clone(self.reader.as_ref().unwrap_or(&self.connection)), work).await
    }

    async fn run<T, F>(connection: Arc<Mutex<Connection>>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut connection)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Executions, newest first.
    pub async fn list_executions(&self, filter: &ExecutionFilter) -> Result<Vec<ExecutionSummary>, StoreError> {
        Ok(self.list_executions_page(filter).await?.executions)
    }

    /// One page of executions, newest first (by start time, then id), from `filter.before`.
    /// A page filtered on `running` or `interrupted` may hold fewer than `limit` executions
    /// and still have a next page: which of the two a started execution is depends on whether
    /// its process lives, known only once read.
    pub async fn list_executions_page(&self, filter: &ExecutionFilter) -> Result<ExecutionPage, StoreError> {
        let filter = filter.clone();
        self.with(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "{SUMMARY_SELECT} WHERE {FILTER_WHERE}
                 AND (?5 IS NULL OR e.started_at < ?5 OR (e.started_at = ?5 AND e.id < ?6))
                 ORDER BY e.started_at DESC, e.id DESC LIMIT ?7 OFFSET ?8"
            ))?;
            let limit = filter.limit.unwrap_or(20);
            let (agent, status, since, until) = filter_params(&filter);
            let (before_time, before_id) = match &filter.before {
                Some(cursor) => (Some(cursor.started_at.to_rfc3339()), Some(cursor.id.clone())),
                None => (None, None),
            };
            let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
            let offset = i64::try_from(filter.offset.unwrap_or(0)).unwrap_or(i64::MAX);
            let mut rows = statement
                .query_map(params![agent, status, since, until, before_time, before_id, fetch, offset], summary_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let summaries = rows.into_iter().map(to_summary).collect::<Result<Vec<_>, _>>()?;
            let next = summaries
                .last()
                .filter(|_| more)
                .map(|last| ExecutionCursor { started_at: last.started_at, id: last.id.clone() });
            let executions =
                summaries.into_iter().filter(|s| filter.status.is_none_or(|wanted| s.status == wanted)).collect();
            Ok(ExecutionPage { executions, next })
        })
        .await
    }

    /// How many executions match `filter` (its `limit`, `offset` and `before` aside).
    pub async fn count_executions(&self, filter: &ExecutionFilter) -> Result<usize, StoreError> {
        let filter = filter.clone();
        self.with(move |c| {
            let (agent, status, since, until) = filter_params(&filter);
            let count: i64 = c.query_row(
                &format!("SELECT COUNT(*) FROM executions e WHERE {FILTER_WHERE}"),
                params![agent, status, since, until],
                |r| r.get(0),
            )?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
        .await
    }

    /// Deletes one execution (by id or a unique prefix) with everything recorded for it (tool
    /// calls, usage, metadata, events); its full id, or `None` when there is no such execution.
    pub async fn delete_execution(&self, id: &str) -> Result<Option<String>, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            let Some(full) = resolve_id(c, &id)? else { return Ok(None) };
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            delete_ids(&tx, "?1", params![full])?;
            tx.commit()?;
            Ok(Some(full))
        })
        .await
    }

    /// Deletes every execution started before `before`, with everything recorded for it;
    /// how many.
    pub async fn delete_executions_before(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let deleted =
                delete_ids(&tx, "SELECT id FROM executions WHERE started_at < ?1", params![before.to_rfc3339()])?;
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    /// The events stored with an execution's record (exact id), in `seq` order; empty for an
    /// execution that has not finished (or was recorded before events were kept).
    pub async fn execution_events(&self, id: &str) -> Result<Vec<TimedEvent>, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            let mut statement =
                c.prepare_cached("SELECT seq, ts, data FROM execution_events WHERE execution_id = ?1 ORDER BY seq")?;
            let rows = statement
                .query_map(params![id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(seq, ts, data)| {
                    let event =
                        serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?;
                    Ok(TimedEvent { seq: seq.try_into().unwrap_or(0), ts: parse_time(&ts)?, event })
                })
                .collect()
        })
        .await
    }

    /// One execution, by id or a unique id prefix.
    pub async fn get_execution(&self, id: &str) -> Result<Option<StoredExecution>, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            let Some(full) = resolve_id(c, &id)? else { return Ok(None) };
            let (summary, context, result) = c.query_row(
                &format!("{SUMMARY_SELECT} WHERE e.id = ?1"),
                params![full],
                |row| Ok((summary_row(row)?, row.get::<_, String>(11)?, row.get::<_, String>(12)?)),
            )?;
            let summary = to_summary(summary)?;
            let context: Value = serde_json::from_str(&context).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let result: RuntimeExecutionResult = serde_json::from_str(&result).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut statement = c.prepare(
                "SELECT tool, tool_use_id, source, server, input, output, success, error, error_type, duration_ms, start_time, end_time, metadata
                 FROM tool_calls WHERE execution_id = ?1 ORDER BY seq",
            )?;
            let tool_calls = statement
                .query_map(params![full], |r| {
                    Ok(serde_json::json!({
                        "tool": r.get::<_, String>(0)?, "tool_use_id": r.get::<_, String>(1)?, "source": r.get::<_, String>(2)?,
                        "server": r.get::<_, Option<String>>(3)?, "input": r.get::<_, String>(4)?, "output": r.get::<_, String>(5)?,
                        "success": r.get::<_, bool>(6)?, "error": r.get::<_, Option<String>>(7)?, "error_type": r.get::<_, Option<String>>(8)?,
                        "duration_ms": r.get::<_, i64>(9)?, "start_time": r.get::<_, String>(10)?, "end_time": r.get::<_, String>(11)?,
                        "metadata": r.get::<_, String>(12)?,
                    }))
                })?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .map(|mut v| {
                    for key in ["input", "metadata"] {
                        if let Some(Value::String(text)) = v.get(key) {
                            v[key] = serde_json::from_str(text).unwrap_or(Value::Null);
                        }
                    }
                    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(format!("tool call: {e}")))
                })
                .collect::<Result<Vec<ToolCallRecord>, _>>()?;
            let usage = c
                .query_row(
                    "SELECT input_tokens, output_tokens, total_tokens, cache_read_tokens, model_provider, extra FROM usage WHERE execution_id = ?1",
                    params![full],
                    |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, Option<String>>(4)?, r.get::<_, String>(5)?))
                    },
                )
                .optional()?
                .map(|(i, o, t, cache, provider, extra)| Usage {
                    input_tokens: i.try_into().unwrap_or(0),
                    output_tokens: o.try_into().unwrap_or(0),
                    total_tokens: t.try_into().unwrap_or(0),
                    cache_read_tokens: cache.try_into().unwrap_or(0),
                    model_provider: provider,
                    extra: serde_json::from_str(&extra).unwrap_or_default(),
                })
                .unwrap_or_default();
            Ok(Some(StoredExecution { summary, context, result, tool_calls, usage }))
        })
        .await
    }
}

/// The full id of an execution given by id or a unique prefix.
fn resolve_id(c: &Connection, id: &str) -> Result<Option<String>, StoreError> {
    let mut statement = c.prepare("SELECT id FROM executions WHERE id = ?1 OR id LIKE ?2 ESCAPE '\\' LIMIT 6")?;
    let escaped = id.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let ids: Vec<String> =
        statement.query_map(params![id, format!("{escaped}%")], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(match ids.iter().find(|candidate| candidate.as_str() == id) {
        Some(exact) => Some(exact.clone()),
        None => match ids.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            many => return Err(StoreError::Ambiguous { prefix: id.to_owned(), candidates: many.join(", ") }),
        },
    })
}

/// Deletes the executions whose ids `ids` selects (an SQL expression: `?1` or a subquery on
/// `?1`), with everything recorded for them; how many executions.
fn delete_ids(tx: &rusqlite::Transaction<'_>, ids: &str, params: &[&dyn rusqlite::ToSql]) -> Result<usize, StoreError> {
    for table in ["tool_calls", "usage", "execution_metadata", "execution_events"] {
        tx.execute(&format!("DELETE FROM {table} WHERE execution_id IN ({ids})"), params)?;
    }
    Ok(tx.execute(&format!("DELETE FROM executions WHERE id IN ({ids})"), params)?)
}

/// The WHERE clause of a filtered listing (`?1` agent, `?2` status, `?3` since, `?4` until).
const FILTER_WHERE: &str = "(?1 IS NULL OR e.agent_id = ?1) AND (?2 IS NULL OR e.status = ?2)
     AND (?3 IS NULL OR e.started_at >= ?3) AND (?4 IS NULL OR e.started_at < ?4)";

/// The parameters of [`FILTER_WHERE`]. `running` and `interrupted` are both stored as
/// `running` (see `settled_status`); times as RFC 3339 in UTC, which sorts as text.
fn filter_params(filter: &ExecutionFilter) -> (Option<String>, Option<&'static str>, Option<String>, Option<String>) {
    let status = filter.status.map(|status| match status {
        ExecutionStatus::Interrupted => ExecutionStatus::Running.as_str(),
        other => other.as_str(),
    });
    (filter.agent.clone(), status, filter.since.map(|t| t.to_rfc3339()), filter.until.map(|t| t.to_rfc3339()))
}

const SUMMARY_SELECT: &str = "SELECT e.id, e.agent_id, e.runtime_type, e.model, e.status, e.finish_reason, e.prompt, e.started_at, e.duration_ms,
        (SELECT COUNT(*) FROM tool_calls t WHERE t.execution_id = e.id),
        COALESCE((SELECT u.total_tokens FROM usage u WHERE u.execution_id = e.id), 0),
        e.context_summary, e.result,
        (SELECT json_extract(m.metadata, '$.pid') FROM execution_metadata m WHERE m.execution_id = e.id),
        e.finished_at, e.error
 FROM executions e";

struct SummaryRow {
    id: String,
    agent_id: String,
    runtime_type: String,
    model: Option<String>,
    status: String,
    finish_reason: Option<String>,
    prompt: String,
    started: String,
    duration: i64,
    calls: i64,
    tokens: i64,
    pid: Option<i64>,
    finished: String,
    error: Option<String>,
}

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        runtime_type: r.get(2)?,
        model: r.get(3)?,
        status: r.get(4)?,
        finish_reason: r.get(5)?,
        prompt: r.get(6)?,
        started: r.get(7)?,
        duration: r.get(8)?,
        calls: r.get(9)?,
        tokens: r.get(10)?,
        pid: r.get(13)?,
        finished: r.get(14)?,
        error: r.get(15)?,
    })
}

/// An execution recorded as started whose process is gone ended without its record: it was
/// killed (SIGKILL, a crash, power loss).
fn settled_status(status: &str, pid: Option<i64>) -> Result<ExecutionStatus, StoreError> {
    let status: ExecutionStatus = status.parse().map_err(StoreError::Corrupt)?;
    if status != ExecutionStatus::Running {
        return Ok(status);
    }
    let alive = pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
    Ok(if alive { status } else { ExecutionStatus::Interrupted })
}

fn to_summary(row: SummaryRow) -> Result<ExecutionSummary, StoreError> {
    let status = settled_status(&row.status, row.pid)?;
    let finished_at = if status.is_finished() && status != ExecutionStatus::Interrupted {
        Some(parse_time(&row.finished)?)
    } else {
        None
    };
    Ok(ExecutionSummary {
        id: row.id,
        agent_id: row.agent_id,
        runtime_type: row.runtime_type,
        model: row.model,
        status,
        finish_reason: row.finish_reason,
        prompt: row.prompt,
        started_at: parse_time(&row.started)?,
        finished_at,
        duration_ms: row.duration.try_into().unwrap_or(0),
        error: row.error,
        tool_calls: row.calls.try_into().unwrap_or(0),
        total_tokens: row.tokens.try_into().unwrap_or(0),
    })
}
