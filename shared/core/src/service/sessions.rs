//! Connection lifecycle: recording connections at `$connect`, forgetting them at `$disconnect`.

use crate::error::{Error, Result};
use crate::ids::{ConnectionId, UserId};
use crate::ports::Connection;
use crate::service::Ports;

/// API Gateway closes every WebSocket after two hours; records expire with it.
pub const MAX_CONNECTION_MS: i64 = 2 * 60 * 60 * 1000;

/// Records and forgets connections.
pub struct SessionService {
    ports: Ports,
}

impl SessionService {
    /// A session service over `ports`.
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Records that `user` connected on `id`.
    pub async fn connect(
        &self,
        id: ConnectionId,
        user: UserId,
        platform: Option<String>,
    ) -> Result<Connection> {
        if let Some(platform) = &platform {
            let valid = !platform.is_empty()
                && platform.len() <= 32
                && platform
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
            if !valid {
                return Err(Error::InvalidField(
                    "platform must be 1-32 letters, digits, _ or -".to_owned(),
                ));
            }
        }
        let now = self.ports.clock.now_ms();
        let connection = Connection {
            id,
            user,
            platform,
            connected_at: now,
            expires_at: now + MAX_CONNECTION_MS,
        };
        self.ports.connections.put_connection(&connection).await?;
        Ok(connection)
    }

    /// Forgets connection `id`; returns its record if there was one.
    pub async fn disconnect(&self, id: &ConnectionId) -> Result<Option<Connection>> {
        self.ports.connections.delete_connection(id).await
    }
}
