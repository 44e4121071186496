//! Connection lifecycle: recording connections at `$connect` (and displacing older ones under the
//! multi-device policy), forgetting them at `$disconnect`.

use crate::devices::platform_of;
use crate::error::{Error, Result};
use crate::ids::{ConnectionId, UserId};
use crate::ports::Connection;
use crate::protocol::{event, events};
use crate::service::presence::platforms;
use crate::service::{Ports, PresenceService};
use bytes::Bytes;
use serde::Serialize;

/// The `session.kicked` reason of a connection displaced by a newer login.
pub const KICKED_BY_LOGIN: &str = "login_elsewhere";

/// The data of a `session.kicked` event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Kicked<'a> {
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    by_platform: Option<&'a str>,
}

/// API Gateway closes every WebSocket after two hours; records expire with it.
pub const MAX_CONNECTION_MS: i64 = 2 * 60 * 60 * 1000;

/// Records and forgets connections.
pub struct SessionService {
    ports: Ports,
    presence: PresenceService,
}

impl SessionService {
    /// A session service over `ports`.
    pub fn new(ports: Ports) -> Self {
        Self {
            presence: PresenceService::new(ports.clone()),
            ports,
        }
    }

    /// Records that `user` connected on `id`, and (unless a guest, who has no account) notes the
    /// login on their account, creating it at their first login.
    pub async fn connect(
        &self,
        id: ConnectionId,
        user: UserId,
        platform: Option<String>,
        guest: bool,
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
        if guest {
            self.ports.connections.put_connection(&connection).await?;
        } else {
            futures_util::future::try_join(
                self.ports.connections.put_connection(&connection),
                self.ports.accounts.record_login(&connection.user, now),
            )
            .await?;
        }
        self.displace_older(&connection).await;
        Ok(connection)
    }

    /// The user's live connections now (an empty list if they cannot be read: presence is
    /// advisory).
    async fn live(&self, user: &UserId) -> Vec<Connection> {
        let now = self.ports.clock.now_ms();
        self.ports
            .connections
            .connections_of(user, now)
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(user = %user, error = %err, "could not list connections for presence");
                Vec::new()
            })
    }

    /// Closes the connections `new` displaces under the device policy, each told why first with
    /// `session.kicked`, and drops their records. Failures are logged: the new connection stands
    /// either way. Two logins racing may both see (or both miss) each other; the policy holds again
    /// at the next login.
    async fn displace_older(&self, new: &Connection) {
        let others = match self
            .ports
            .connections
            .connections_of(&new.user, new.connected_at)
            .await
        {
            Ok(others) => others,
            Err(err) => {
                tracing::warn!(user = %new.user, error = %err, "could not apply the device policy");
                return;
            }
        };
        let displaced = self.ports.limits.devices.displaced(new, &others);
        // The index the list comes from may lag (DynamoDB's is eventually consistent): the new
        // connection counts whether it is listed or not.
        let before = platforms(others.iter().filter(|c| c.id != new.id));
        let kept = others
            .iter()
            .filter(|c| c.id != new.id && !displaced.iter().any(|d| d.id == c.id));
        let after = platforms(kept.chain(std::iter::once(new)));
        self.presence.announce(&new.user, &before, &after).await;
        if displaced.is_empty() {
            return;
        }
        self.kick(&displaced, KICKED_BY_LOGIN, Some(platform_of(new)))
            .await;
        tracing::info!(
            user = %new.user,
            displaced = displaced.len(),
            by = %new.id,
            policy = %self.ports.limits.devices,
            "connections displaced by a newer login"
        );
    }

    /// Tells each connection why with `session.kicked`, closes it and drops its record; failures
    /// are logged and the rest go on.
    async fn kick(&self, connections: &[&Connection], reason: &str, by_platform: Option<&str>) {
        let frame = Bytes::from(event(events::SESSION_KICKED, &Kicked { reason, by_platform }));
        for old in connections {
            if let Err(err) = self.ports.gateway.post(&old.id, frame.clone()).await {
                tracing::warn!(connection = %old.id, error = %err, "could not tell a kicked connection");
            }
            if let Err(err) = self.ports.gateway.close(&old.id).await {
                tracing::warn!(connection = %old.id, error = %err, "could not close a kicked connection");
            }
            if let Err(err) = self.ports.connections.delete_connection(&old.id).await {
                tracing::warn!(connection = %old.id, error = %err, "could not drop a kicked connection");
            }
        }
    }

    /// Kicks every live connection of `user` but `except` (`session.kicked` with `reason`, then
    /// closed); returns how many.
    pub async fn kick_all(
        &self,
        user: &UserId,
        reason: &str,
        except: Option<&ConnectionId>,
    ) -> Result<usize> {
        let now = self.ports.clock.now_ms();
        let all = self.ports.connections.connections_of(user, now).await?;
        let before = platforms(&all);
        let (kept, connections): (Vec<Connection>, Vec<Connection>) =
            all.into_iter().partition(|c| Some(&c.id) == except);
        self.kick(&connections.iter().collect::<Vec<_>>(), reason, None)
            .await;
        // Their records are gone before their `$disconnect` runs, so the change is told here.
        self.presence.announce(user, &before, &platforms(&kept)).await;
        if !connections.is_empty() {
            tracing::info!(user = %user, count = connections.len(), reason, "connections kicked");
        }
        Ok(connections.len())
    }

    /// Forgets connection `id`, telling the user's presence subscribers if that changed what
    /// they see; returns its record if there was one.
    pub async fn disconnect(&self, id: &ConnectionId) -> Result<Option<Connection>> {
        let gone = self.ports.connections.delete_connection(id).await?;
        if let Some(connection) = &gone {
            let mut remaining = self.live(&connection.user).await;
            // A lagging index may still list the connection just deleted.
            remaining.retain(|c| c.id != connection.id);
            let after = platforms(&remaining);
            let before = platforms(remaining.iter().chain(std::iter::once(connection)));
            self.presence.announce(&connection.user, &before, &after).await;
        }
        Ok(gone)
    }
}
