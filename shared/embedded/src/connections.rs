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
        let connection = connection.clone();
        Ok(self
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO connections (id, user_id, platform, connected_at, expires_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, platform = excluded.platform, \
                     connected_at = excluded.connected_at, expires_at = excluded.expires_at",
                )?
                .execute(params![
                    connection.id.as_str(),
                    connection.user.as_str(),
                    connection.platform.as_deref(),
                    connection.connected_at,
                    connection.expires_at,
                ])?;
                Ok(())
            })
            .await?)
    }

    async fn delete_connection(&self, id: &ConnectionId) -> cirrus_core::Result<Option<Connection>> {
        let id = id.clone();
        Ok(self
            .write(move |conn| {
                conn.prepare_cached(
                    "DELETE FROM connections WHERE id = ?1 \
                     RETURNING id, user_id, platform, connected_at, expires_at",
                )?
                .query_and_then([id.as_str()], connection_from)?
                .next()
                .transpose()
            })
            .await?)
    }

    async fn get_connection(&self, id: &ConnectionId, now: i64) -> cirrus_core::Result<Option<Connection>> {
        let id = id.clone();
        Ok(self
            .read(move |conn| {
                // `+expires_at`: see `connections_of`.
                conn.prepare_cached(
                    "SELECT id, user_id, platform, connected_at, expires_at FROM connections \
                     WHERE id = ?1 AND +expires_at > ?2",
                )?
                .query_and_then(params![id.as_str(), now], connection_from)?
                .next()
                .transpose()
            })
            .await?)
    }

    async fn connections_of(&self, user: &UserId, now: i64) -> cirrus_core::Result<Vec<Connection>> {
        let user = user.clone();
        Ok(self
            .read(move |conn| {
                // No ORDER BY and a unary `+`: with STAT4 (which the bundled SQLite enables) either
                // lets the planner look at the bound time, and rebinding it then makes SQLite
                // re-prepare the statement on every call, which dominated the send path. A user has
                // a handful of connections; sorting them here is free.
                let mut connections: Vec<Connection> = conn
                    .prepare_cached(
                        "SELECT id, user_id, platform, connected_at, expires_at FROM connections \
                         WHERE user_id = ?1 AND +expires_at > ?2",
                    )?
                    .query_and_then(params![user.as_str(), now], connection_from)?
                    .collect::<Result<_>>()?;
                connections.sort_unstable_by(|a, b| a.id.cmp(&b.id));
                Ok(connections)
            })
            .await?)
    }
}

impl SqliteStore {
    /// Removes every connection record; returns how many there were. The local stack calls this
    /// at start-up, since no WebSocket survives a restart.
    pub async fn clear_connections(&self) -> cirrus_core::Result<u64> {
        Ok(self
            .write(|conn| Ok(conn.prepare_cached("DELETE FROM connections")?.execute([])? as u64))
            .await?)
    }
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
