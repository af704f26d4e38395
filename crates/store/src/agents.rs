//! Agents: their definitions by name, with when they were created and last changed. Reads go
//! through the store's reading connection: `POST /api/v1/executions` looks its agent up on
//! every request, and should not queue behind the execution records being written.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use toolbridge_runtime::AgentDefinition;

use crate::store::parse_time;
use crate::{Store, StoreError};

/// A stored agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAgent {
    /// Its definition.
    pub definition: AgentDefinition,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl Store {
    /// Creates an agent; an existing name is an error.
    pub async fn create_agent(&self, agent: &AgentDefinition) -> Result<(), StoreError> {
        let definition = serde_json::to_string(agent).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let name = agent.name.clone();
        self.with(move |c| {
            let now = Utc::now().to_rfc3339();
            match c.execute(
                "INSERT INTO agents (name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                params![name, definition, now],
            ) {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                    Err(StoreError::AgentExists(name))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// Creates or replaces an agent.
    pub async fn upsert_agent(&self, agent: &AgentDefinition) -> Result<(), StoreError> {
        let definition = serde_json::to_string(agent).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let name = agent.name.clone();
        self.with(move |c| {
            let now = Utc::now().to_rfc3339();
            c.execute(
                "INSERT INTO agents (name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
                params![name, definition, now],
            )?;
            Ok(())
        })
        .await
    }

    fn agent_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String)> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    }

    fn to_agent((definition, created, updated): (String, String, String)) -> Result<StoredAgent, StoreError> {
        Ok(StoredAgent {
            definition: serde_json::from_str(&definition)
                .map_err(|e| StoreError::Corrupt(format!("agent definition: {e}")))?,
            created_at: parse_time(&created)?,
            updated_at: parse_time(&updated)?,
        })
    }

    /// One agent.
    pub async fn get_agent(&self, name: &str) -> Result<Option<StoredAgent>, StoreError> {
        let name = name.to_owned();
        let row = self
            .read(move |c| {
                let mut statement =
                    c.prepare_cached("SELECT definition, created_at, updated_at FROM agents WHERE name = ?1")?;
                Ok(statement.query_row(params![name], Self::agent_row).optional()?)
            })
            .await?;
        row.map(Self::to_agent).transpose()
    }

    /// Every agent, by name.
    pub async fn list_agents(&self) -> Result<Vec<StoredAgent>, StoreError> {
        let rows = self
            .read(|c| {
                let mut statement =
                    c.prepare_cached("SELECT definition, created_at, updated_at FROM agents ORDER BY name")?;
                let rows = statement.query_map([], Self::agent_row)?.collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        rows.into_iter().map(Self::to_agent).collect()
    }

    /// Deletes an agent; whether it existed.
    pub async fn delete_agent(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.with(move |c| Ok(c.execute("DELETE FROM agents WHERE name = ?1", params![name])? > 0)).await
    }
}
