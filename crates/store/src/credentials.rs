//! OAuth credentials of MCP servers (`toolbridge auth login`): one opaque JSON document per
//! server name and URL. The database file is made readable by its owner only when it is
//! opened, since it holds these tokens; nothing here logs or formats them.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::StoreError;
use crate::store::{Store, parse_time};

/// One stored login (what `auth list` shows comes from its credentials, read by the bridge).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredLogin {
    /// The server's name.
    pub server: String,
    /// Its URL.
    pub url: String,
    /// The credentials (client id, tokens, granted scopes) as JSON.
    pub credentials: String,
    /// When they were last written.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredLogin")
            .field("server", &self.server)
            .field("url", &self.url)
            .field("credentials", &"[redacted]")
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl Store {
    /// The credentials of `server` at `url`.
    pub async fn load_credentials(&self, server: &str, url: &str) -> Result<Option<String>, StoreError> {
        let (server, url) = (server.to_owned(), url.to_owned());
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT credentials FROM oauth_credentials WHERE server = ?1 AND url = ?2",
                params![server, url],
                |row| row.get(0),
            )
            .optional()?)
        })
        .await
    }

    /// Stores (replacing) the credentials of `server` at `url`.
    pub async fn save_credentials(&self, server: &str, url: &str, credentials: &str) -> Result<(), StoreError> {
        let (server, url, credentials) = (server.to_owned(), url.to_owned(), credentials.to_owned());
        self.with(move |c| {
            c.execute(
                "INSERT INTO oauth_credentials (server, url, credentials, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (server, url) DO UPDATE SET credentials = excluded.credentials, updated_at = excluded.updated_at",
                params![server, url, credentials, Utc::now().to_rfc3339()],
            )?;
            Ok(())
        })
        .await
    }

    /// Forgets the credentials of `server` (at `url`, or at every URL); how many were kept.
    pub async fn clear_credentials(&self, server: &str, url: Option<&str>) -> Result<usize, StoreError> {
        let (server, url) = (server.to_owned(), url.map(str::to_owned));
        self.with(move |c| {
            Ok(match url {
                Some(url) => {
                    c.execute("DELETE FROM oauth_credentials WHERE server = ?1 AND url = ?2", params![server, url])?
                }
                None => c.execute("DELETE FROM oauth_credentials WHERE server = ?1", params![server])?,
            })
        })
        .await
    }

    /// Every stored login, by server name.
    pub async fn list_credentials(&self) -> Result<Vec<StoredLogin>, StoreError> {
        let rows = self
            .with(|c| {
                let mut statement = c.prepare(
                    "SELECT server, url, credentials, updated_at FROM oauth_credentials ORDER BY server, url",
                )?;
                let rows = statement
                    .query_map([], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        rows.into_iter()
            .map(|(server, url, credentials, updated)| {
                Ok(StoredLogin { server, url, credentials, updated_at: parse_time(&updated)? })
            })
            .collect()
    }
}
