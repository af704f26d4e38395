//! Registered runtime plugins (`toolbridge runtimes add`): how to start each and what it said
//! about itself in `initialize`, so that listing runtimes or creating an agent does not start
//! every plugin.
//!
//! The store keeps both as JSON: it does not depend on the plugin crate, which gives them
//! their types.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use crate::StoreError;
use crate::store::{Store, parse_time};

/// A registered runtime plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPlugin {
    /// Its runtime type.
    pub name: String,
    /// How to start it (program, args, env, cwd).
    pub command: Value,
    /// What it said in `initialize` (description, capabilities, config schema…).
    pub info: Value,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

type Row = (String, String, String, String);

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn plugin((name, command, info, created): Row) -> Result<StoredPlugin, StoreError> {
    let json = |text: &str, what: &str| {
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("runtime plugin {name:?} {what}: {e}")))
    };
    Ok(StoredPlugin {
        command: json(&command, "command")?,
        info: json(&info, "info")?,
        created_at: parse_time(&created)?,
        name,
    })
}

impl Store {
    /// Registers a runtime plugin; an existing name is an error.
    pub async fn add_plugin(&self, name: &str, command: &Value, info: &Value) -> Result<(), StoreError> {
        let (name, command, info) = (name.to_owned(), command.to_string(), info.to_string());
        self.with(move |c| {
            let now = Utc::now().to_rfc3339();
            match c.execute(
                "INSERT INTO runtime_plugins (name, command, info, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, command, info, now],
            ) {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                    Err(StoreError::PluginExists(name))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// One registered plugin.
    pub async fn get_plugin(&self, name: &str) -> Result<Option<StoredPlugin>, StoreError> {
        let name = name.to_owned();
        let found = self
            .with(move |c| {
                Ok(c.query_row(
                    "SELECT name, command, info, created_at FROM runtime_plugins WHERE name = ?1",
                    params![name],
                    row,
                )
                .optional()?)
            })
            .await?;
        found.map(plugin).transpose()
    }

    /// Every registered plugin, by name.
    pub async fn list_plugins(&self) -> Result<Vec<StoredPlugin>, StoreError> {
        let rows = self
            .with(|c| {
                let mut statement =
                    c.prepare("SELECT name, command, info, created_at FROM runtime_plugins ORDER BY name")?;
                let rows = statement.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        rows.into_iter().map(plugin).collect()
    }

    /// Unregisters a plugin; whether it was registered.
    pub async fn remove_plugin(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.with(move |c| Ok(c.execute("DELETE FROM runtime_plugins WHERE name = ?1", params![name])? > 0)).await
    }
}
