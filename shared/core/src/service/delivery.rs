//! Pushing frames to every live connection of a user.

use crate::error::Result;
use crate::ids::{ConnectionId, UserId};
use crate::ports::{ConnectionGateway, ConnectionStore, PostOutcome, Queue, QueueName};
use crate::service::push::{PushJob, Redeliver};
use bytes::Bytes;
use futures_util::future::join_all;
use std::sync::Arc;

/// Fans a frame out to a user's connections, drops the ones that are gone and hands the ones the
/// gateway deferred to the queue.
#[derive(Clone)]
pub struct Delivery {
    connections: Arc<dyn ConnectionStore>,
    gateway: Arc<dyn ConnectionGateway>,
    queue: Option<Arc<dyn Queue>>,
}

impl Delivery {
    /// A delivery over these ports.
    pub fn new(
        connections: Arc<dyn ConnectionStore>,
        gateway: Arc<dyn ConnectionGateway>,
        queue: Option<Arc<dyn Queue>>,
    ) -> Self {
        Self {
            connections,
            gateway,
            queue,
        }
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

    /// Posts to one connection; a `Gone` connection's record is removed (that one only), a
    /// deferred frame goes to the queue.
    async fn post(&self, connection: &ConnectionId, frame: Bytes) -> bool {
        match self.gateway.post(connection, frame.clone()).await {
            Ok(PostOutcome::Deferred) => {
                self.hand_off(connection, &frame).await;
                false
            }
            Ok(PostOutcome::Delivered) => true,
            Ok(PostOutcome::Gone) => {
                if let Err(err) = self.connections.delete_connection(connection).await {
                    tracing::warn!(connection = %connection.fingerprint(), error = %err, "could not remove a gone connection");
                }
                false
            }
            Err(err) => {
                tracing::warn!(connection = %connection.fingerprint(), error = %err, "post to connection failed");
                false
            }
        }
    }

    /// Queues a deferred frame for the push function, which posts it again later; without a
    /// queue (or if enqueueing fails) the frame is dropped: the message is stored and the client
    /// fills the gap from history.
    async fn hand_off(&self, connection: &ConnectionId, frame: &Bytes) {
        let Some(queue) = &self.queue else {
            tracing::warn!(connection = %connection.fingerprint(), "post deferred and no queue: dropped");
            return;
        };
        let job = PushJob::Redeliver(Redeliver {
            connection_id: connection.clone(),
            frame: String::from_utf8_lossy(frame).into_owned(),
        })
        .to_job();
        if let Err(err) = queue.enqueue(QueueName::Push, vec![job]).await {
            tracing::warn!(connection = %connection.fingerprint(), error = %err, "could not queue a deferred post");
        }
    }
}
