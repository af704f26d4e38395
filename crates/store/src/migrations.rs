//! The schema, as an ordered list of migrations tracked in `PRAGMA user_version`.

use rusqlite::Connection;

use crate::StoreError;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE agents (
    name        TEXT PRIMARY KEY,
    definition  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE executions (
    id              TEXT PRIMARY KEY,
    agent_id        TEXT NOT NULL,
    runtime_type    TEXT NOT NULL,
    model           TEXT,
    status          TEXT NOT NULL,
    finish_reason   TEXT,
    prompt          TEXT NOT NULL,
    context_summary TEXT NOT NULL,
    result          TEXT NOT NULL,
    error           TEXT,
    started_at      TEXT NOT NULL,
    finished_at     TEXT NOT NULL,
    duration_ms     INTEGER NOT NULL
);
CREATE INDEX executions_by_time ON executions (started_at DESC);
CREATE INDEX executions_by_agent ON executions (agent_id, started_at DESC);
CREATE TABLE tool_calls (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    tool         TEXT NOT NULL,
    tool_use_id  TEXT NOT NULL,
    source       TEXT NOT NULL,
    server       TEXT,
    input        TEXT NOT NULL,
    output       TEXT NOT NULL,
    success      INTEGER NOT NULL,
    error        TEXT,
    error_type   TEXT,
    duration_ms  INTEGER NOT NULL,
    start_time   TEXT NOT NULL,
    end_time     TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
);
CREATE TABLE usage (
    execution_id      TEXT PRIMARY KEY,
    input_tokens      INTEGER NOT NULL,
    output_tokens     INTEGER NOT NULL,
    total_tokens      INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    model_provider    TEXT,
    extra             TEXT NOT NULL
);
CREATE TABLE execution_metadata (
    execution_id TEXT PRIMARY KEY,
    metadata     TEXT NOT NULL
);
CREATE TABLE agent_cache (
    agent_id TEXT PRIMARY KEY,
    data     TEXT NOT NULL
);
",
    r"
CREATE TABLE execution_events (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    ts           TEXT NOT NULL,
    type         TEXT NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
);
DROP INDEX executions_by_time;
CREATE INDEX executions_by_time ON executions (started_at DESC, id DESC);
",
    r"
CREATE TABLE runtime_plugins (
    name        TEXT PRIMARY KEY,
    command     TEXT NOT NULL,
    info        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
",
    r"
CREATE TABLE oauth_credentials (
    server      TEXT NOT NULL,
    url         TEXT NOT NULL,
    credentials TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (server, url)
);
",
];

/// Brings the database to the current schema. A database from a newer toolbridge is refused.
pub(crate) fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let version = usize::try_from(version).unwrap_or(0);
    if version > MIGRATIONS.len() {
        return Err(StoreError::FutureSchema { found: version, supported: MIGRATIONS.len() });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated meanwhile.
        let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if usize::try_from(current).unwrap_or(0) > index {
            continue;
        }
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", i64::try_from(index + 1).unwrap_or(i64::MAX))?;
        tx.commit()?;
    }
    Ok(())
}

/// The schema version this build writes.
pub(crate) const CURRENT: usize = MIGRATIONS.len();
