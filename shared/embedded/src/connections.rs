//! [`ConnectionStore`] for [`SqliteStore`]: live WebSocket connection records.

use crate::error::{Result, StoreError};
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::{ConnectionId, UserId};
use cirrus_core::ports::{Connection, ConnectionStore};
use rusqlite::{Row, params};

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn put_connection(&self, connection: &Connection) -> cirrus_core::Result<()> {
        let row = connection.clone();
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO connections (id, user_id, platform, connected_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, platform = excluded.platform, \
                 connected_at = excluded.connected_at, expires_at = excluded.expires_at",
            )?
            .execute(params![
                row.id.as_str(),
                row.user.as_str(),
                row.platform.as_deref(),
                row.connected_at,
                row.expires_at,
            ])?;
            Ok(())
        })
        .await?;
        self.connection_cache().put(connection.clone());
        Ok(())
    }

    async fn delete_connection(&self, id: &ConnectionId) -> cirrus_core::Result<Option<Connection>> {
        let key = id.clone();
        let removed = self
            .write(move |conn| {
                conn.prepare_cached(
                    "DELETE FROM connections WHERE id = ?1 \
                     RETURNING id, user_id, platform, connected_at, expires_at",
                )?
                .query_and_then([key.as_str()], connection_from)?
                .next()
                .transpose()
            })
            .await?;
        self.connection_cache().remove(id);
        Ok(removed)
    }

    async fn get_connection(&self, id: &ConnectionId, now: i64) -> cirrus_core::Result<Option<Connection>> {
        Ok(self.connection_cache().get(id, now))
    }

    async fn connections_of(&self, user: &UserId, now: i64) -> cirrus_core::Result<Vec<Connection>> {
        Ok(self.connection_cache().of(user, now))
    }
}

impl SqliteStore {
    /// Removes every connection record; returns how many there were. The local stack calls this
    /// at start-up, since no WebSocket survives a restart.
    pub async fn clear_connections(&self) -> cirrus_core::Result<u64> {
        let removed = self
            .write(|conn| Ok(conn.prepare_cached("DELETE FROM connections")?.execute([])? as u64))
            .await?;
        self.connection_cache().clear();
        Ok(removed)
    }
}

/// Every row of the table, to fill the mirror when the store opens.
pub(crate) fn load_all(conn: &rusqlite::Connection) -> Result<Vec<Connection>> {
    conn.prepare("SELECT id, user_id, platform, connected_at, expires_at FROM connections")?
        .query_and_then([], connection_from)?
        .collect()
}

fn connection_from(row: &Row<'_>) -> Result<Connection> {
    Ok(Connection {
        id: ConnectionId::parse(row.get::<_, String>(0)?)
            .map_err(|_| StoreError::BadValue { column: "id" })?,
        user: UserId::parse(row.get::<_, String>(1)?)
            .map_err(|_| StoreError::BadValue { column: "user_id" })?,
        platform: row.get(2)?,
        connected_at: row.get(3)?,
        expires_at: row.get(4)?,
    })
}
