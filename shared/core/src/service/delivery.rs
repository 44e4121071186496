//! Pushing frames to every live connection of a user.

use crate::error::Result;
use crate::ids::{ConnectionId, UserId};
use crate::ports::{ConnectionGateway, ConnectionStore, PostOutcome};
use bytes::Bytes;
use futures_util::future::join_all;
use std::sync::Arc;

/// Fans a frame out to a user's connections and drops the ones that are gone.
#[derive(Clone)]
pub struct Delivery {
    connections: Arc<dyn ConnectionStore>,
    gateway: Arc<dyn ConnectionGateway>,
}

impl Delivery {
    /// A delivery over these ports.
    pub fn new(connections: Arc<dyn ConnectionStore>, gateway: Arc<dyn ConnectionGateway>) -> Self {
        Self { connections, gateway }
    }

    /// Posts `frame` to every connection of `user` except `skip`; returns how many took it.
    ///
    /// Delivery is best effort on top of durable storage: a failed post is logged, never returned,
    /// because the message is already stored and the client fills gaps with history.
    pub async fn to_user(
        &self,
        user: &UserId,
        frame: Bytes,
        skip: Option<&ConnectionId>,
        now: i64,
    ) -> Result<usize> {
        let targets = self.connections.connections_of(user, now).await?;
        let posts = targets
            .iter()
            .filter(|connection| Some(&connection.id) != skip)
            .map(|connection| self.post(&connection.id, frame.clone()));
        Ok(join_all(posts)
            .await
            .into_iter()
            .filter(|delivered| *delivered)
            .count())
    }

    /// Posts to one connection; a `Gone` connection's record is removed (that one only).
    async fn post(&self, connection: &ConnectionId, frame: Bytes) -> bool {
        match self.gateway.post(connection, frame).await {
            Ok(PostOutcome::Delivered) => true,
            Ok(PostOutcome::Gone) => {
                if let Err(err) = self.connections.delete_connection(connection).await {
                    tracing::warn!(connection = %connection, error = %err, "could not remove a gone connection");
                }
                false
            }
            Err(err) => {
                tracing::warn!(connection = %connection, error = %err, "post to connection failed");
                false
            }
        }
    }
}
