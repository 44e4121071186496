//! Live rooms at scale: the audience is the set of seated connections, and a frame for the room
//! fans out as one queued job per shard of seats, which the push function (the local stack's
//! queue consumer) posts in parallel.

use crate::clock::Clock;
use crate::error::Result;
use crate::ids::{ConnectionId, GroupId, UserId};
use crate::ports::{
    ConnectionGateway, ConnectionStore, PostOutcome, Queue, QueueName, ROOM_SHARDS, RoomStore, Seat, shard_of,
};
use crate::service::{Caller, Ports, StoreSource};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Seats read per page while posting one shard.
const SEAT_PAGE: u32 = 500;

/// Posts in flight at once per shard job: with [`ROOM_SHARDS`] jobs in parallel this stays well
/// under API Gateway's 10,000 `@connections` requests a second per account, and the gateway
/// adapter backs off on throttling.
const POSTS_IN_FLIGHT: usize = 64;

/// One shard of a room fan-out, as queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomFanout {
    /// The live room.
    pub room: GroupId,
    /// Which shard of its audience.
    pub shard: u32,
    /// The frame to post, as text.
    pub frame: String,
    /// A connection not to post to (the sender's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<ConnectionId>,
}

/// Where a live room's seats are kept and posted to.
#[derive(Clone)]
pub struct Seats {
    /// Seats by room and shard.
    pub rooms: Arc<dyn RoomStore>,
    /// Connection records (a seat lasts as long as its connection).
    pub connections: Arc<dyn ConnectionStore>,
    /// Posting to seated connections.
    pub gateway: Arc<dyn ConnectionGateway>,
    /// Shard jobs for the push function, where it runs.
    pub queue: Option<Arc<dyn Queue>>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

impl Seats {
    /// The seats' ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            rooms: ports.stores.rooms(),
            connections: ports.stores.connections(),
            gateway: ports.gateway.clone(),
            queue: ports.queue.clone(),
            clock: ports.clock.clone(),
        }
    }

    /// Seats the caller's connection in the room, until the connection itself expires; returns
    /// whether it was not seated before. Over HTTP (no connection) there is nothing to seat.
    pub(crate) async fn seat(&self, room: &GroupId, caller: &Caller) -> Result<bool> {
        let Some(connection) = &caller.connection else {
            return Err(crate::error::Error::InvalidField(
                "live rooms are joined from a WebSocket connection".to_owned(),
            ));
        };
        let now = self.clock.now_ms();
        let expires_at = self
            .connections
            .get_connection(connection, now)
            .await?
            .map_or(now + 2 * 3600 * 1000, |c| c.expires_at);
        self.rooms
            .join_room(&Seat {
                room: room.clone(),
                connection: connection.clone(),
                user: caller.user.clone(),
                guest: caller.guest,
                shard: shard_of(connection),
                joined_at: now,
                expires_at,
            })
            .await
    }

    /// Unseats every connection of `user`; returns whether any was seated.
    pub(crate) async fn unseat_user(&self, room: &GroupId, user: &UserId) -> Result<bool> {
        let now = self.clock.now_ms();
        let mut any = false;
        for connection in self.connections.connections_of(user, now).await? {
            any |= self.rooms.leave_room(room, &connection.id).await?;
        }
        Ok(any)
    }

    /// Sends `frame` to the room's whole audience but `skip`: one fan-out job per shard on the
    /// queue, or, where no queue consumer runs, every shard right here.
    pub(crate) async fn fan_out(
        &self,
        room: &GroupId,
        frame: &str,
        skip: Option<&ConnectionId>,
    ) -> Result<()> {
        let jobs: Vec<RoomFanout> = (0..ROOM_SHARDS)
            .map(|shard| RoomFanout {
                room: room.clone(),
                shard,
                frame: frame.to_owned(),
                skip: skip.cloned(),
            })
            .collect();
        match &self.queue {
            Some(queue) => {
                let jobs = jobs
                    .into_iter()
                    .map(|job| crate::service::push::PushJob::Room(job).to_job())
                    .collect();
                queue.enqueue(QueueName::Fanout, jobs).await
            }
            None => {
                let now = self.clock.now_ms();
                for job in &jobs {
                    deliver_shard(self.rooms.as_ref(), self.gateway.as_ref(), now, job).await?;
                }
                Ok(())
            }
        }
    }
}

/// Posts one shard's frame to every seat in it, a bounded number at a time; a connection that
/// is gone loses its seat. Returns how many took the frame.
pub async fn deliver_shard(
    rooms: &dyn RoomStore,
    gateway: &dyn ConnectionGateway,
    now: i64,
    job: &RoomFanout,
) -> Result<usize> {
    let frame = bytes::Bytes::from(job.frame.clone());
    let mut delivered = 0;
    let mut after: Option<ConnectionId> = None;
    loop {
        let seats = rooms
            .shard_seats(&job.room, job.shard, after.as_ref(), SEAT_PAGE, now)
            .await?;
        let done = seats.len() < SEAT_PAGE as usize;
        after = seats.last().map(|seat| seat.connection.clone());
        let posts = futures_util::stream::iter(
            seats
                .into_iter()
                .filter(|seat| Some(&seat.connection) != job.skip.as_ref()),
        )
        .map(|seat| {
            let frame = frame.clone();
            async move {
                let outcome = gateway.post(&seat.connection, frame).await;
                (seat, outcome)
            }
        })
        .buffer_unordered(POSTS_IN_FLIGHT);
        let outcomes: Vec<_> = posts.collect().await;
        for (seat, outcome) in outcomes {
            match outcome {
                Ok(PostOutcome::Delivered) => delivered += 1,
                Ok(PostOutcome::Gone) => {
                    rooms.leave_room(&job.room, &seat.connection).await?;
                }
                Ok(PostOutcome::Deferred) => {
                    tracing::debug!(connection = %seat.connection, "room post deferred; dropped (live rooms do not redeliver)");
                }
                Err(err) => {
                    tracing::warn!(connection = %seat.connection.fingerprint(), error = %err, "room post failed")
                }
            }
        }
        if done {
            return Ok(delivered);
        }
    }
}
