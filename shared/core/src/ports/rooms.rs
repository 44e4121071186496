//! The live-room port: a live room's audience is the set of connections that joined it, spread
//! over a fixed number of shards so that a message fans out as one queued job per shard and no
//! member list is read on the send path.

use crate::error::Result;
use crate::ids::{ConnectionId, GroupId, UserId};
use async_trait::async_trait;

/// How many shards a live room's audience is spread over: a message to a room becomes this
/// many fan-out jobs, each posting to about 1/`ROOM_SHARDS` of the audience.
pub const ROOM_SHARDS: u32 = 16;

/// The shard a connection sits in (a stable hash of its id, FNV-1a).
pub fn shard_of(connection: &ConnectionId) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in connection.as_str().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % ROOM_SHARDS
}

/// One connection in a live room's audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// The room.
    pub room: GroupId,
    /// The connection that joined.
    pub connection: ConnectionId,
    /// Its user.
    pub user: UserId,
    /// Whether it holds a guest token (receives only).
    pub guest: bool,
    /// Its shard ([`shard_of`] its connection).
    pub shard: u32,
    /// When it joined, ms since the epoch.
    pub joined_at: i64,
    /// When the seat lapses (the connection's own expiry), ms since the epoch.
    pub expires_at: i64,
}

/// Live-room audiences.
#[async_trait]
pub trait RoomStore: Send + Sync {
    /// Seats the connection (replacing its seat in that room, if any, and refreshing its
    /// expiry); returns whether it was not seated before.
    async fn join_room(&self, seat: &Seat) -> Result<bool>;

    /// Removes the connection from the room; returns whether it was seated.
    async fn leave_room(&self, room: &GroupId, connection: &ConnectionId) -> Result<bool>;

    /// The connection's seat in the room, unless it lapsed at `now`.
    async fn get_seat(&self, room: &GroupId, connection: &ConnectionId, now: i64) -> Result<Option<Seat>>;

    /// Up to `limit` unlapsed seats of one shard at `now`, in connection id order after `after`.
    async fn shard_seats(
        &self,
        room: &GroupId,
        shard: u32,
        after: Option<&ConnectionId>,
        limit: u32,
        now: i64,
    ) -> Result<Vec<Seat>>;

    /// The room's audience: joins minus leaves. Seats that lapsed without a leave count until
    /// they are removed (a fan-out removes the connections that are gone), so this is an upper
    /// bound, kept without reading the seats.
    async fn audience(&self, room: &GroupId) -> Result<u64>;

    /// Mutes `user` in the room until `until` (ms since the epoch), replacing any earlier mute;
    /// `until` 0 lifts it. Kept per room and user, not per seat: a viewer who leaves and comes
    /// back is still muted.
    async fn mute_viewer(&self, room: &GroupId, user: &UserId, until: i64) -> Result<()>;

    /// Until when `user` is muted in the room, if a mute is still running at `now`.
    async fn viewer_muted_until(&self, room: &GroupId, user: &UserId, now: i64) -> Result<Option<i64>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_connection_ids_when_sharded_then_stable_in_range_and_spread() {
        let mut counts = [0u32; ROOM_SHARDS as usize];
        for i in 0..1600 {
            let id = ConnectionId::parse(format!("conn{i}=")).unwrap();
            let shard = shard_of(&id);
            assert_eq!(shard, shard_of(&id));
            counts[shard as usize] += 1;
        }
        // 100 a shard on average: none empty, none with a third of all
        assert!(counts.iter().all(|&n| n > 30 && n < 530), "{counts:?}");
    }
}
