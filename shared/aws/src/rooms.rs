//! [`RoomStore`] for [`DynamoStore`]: live-room seats and audience counters in the rooms table.
//!
//! - Seat: key `roomShard` = `<room>#<shard>` ([`shard_of`] the connection) + `connectionId`;
//!   `userId`, `joinedAt` (ms), `expiresAtMs` (ms, what reads compare), `expiresAt` (epoch
//!   seconds, rounded up: the TTL attribute) and `guest` (BOOL, only `true`). A shard is one
//!   partition in connection id order, so a fan-out job reads its seats with one `Query`.
//! - Audience counter: key `roomShard` = `<room>#count` + `connectionId` = [`COUNTER_SORT`];
//!   `audience` (N). Group ids hold no `#` and a shard is digits, so neither key meets another.
//!
//! - Viewer mute: key `roomShard` = `<room>#mute` + `connectionId` = the user id; `mutedUntil`
//!   (ms, what reads compare) and `expiresAt` (its TTL, epoch seconds). Per user, not per seat, so
//!   it outlasts the seat; one `GetItem` on the send path of a viewer.
//!
//! The counter moves with plain atomic `ADD`s, never in a transaction with the seat: every join
//! and leave of a room touches that one item, and transactions on one item at the same moment
//! cancel each other (`TransactionConflict`), where plain updates of it queue up. Each change
//! counts before the seat appears and uncounts after it is gone, so the counter is never below
//! the number of stored seats (nor below zero), whatever runs concurrently or dies between the
//! two writes: an upper bound, as the port allows. The costs are in this crate's `README.md`.

use crate::connections::ttl_seconds;
use crate::error::{Result, StoreError, written};
use crate::item::{Item, get_id, get_n, get_s, n, opt_bool, opt_n, s};
use crate::store::DynamoStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use cirrus_core::ids::{ConnectionId, GroupId, UserId};
use cirrus_core::ports::{RoomStore, Seat, shard_of};

/// The sort key of a room's audience counter (under `<room>#count`).
const COUNTER_SORT: &str = "#";

#[async_trait]
impl RoomStore for DynamoStore {
    async fn join_room(&self, seat: &Seat) -> cirrus_core::Result<bool> {
        // Count first: if the put below fails or never happens, the count is one high, never low.
        self.move_audience(&seat.room, 1).await?;
        let put = self
            .client
            .put_item()
            .table_name(&self.config.rooms_table)
            .set_item(Some(seat_item(seat)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        if put.attributes.is_none() {
            return Ok(true);
        }
        // The seat was stored already, so counted already (even if it had lapsed: TTL had not
        // deleted it yet, and a seat counts until it is removed): take the count back.
        self.move_audience(&seat.room, -1).await?;
        Ok(false)
    }

    async fn leave_room(&self, room: &GroupId, connection: &ConnectionId) -> cirrus_core::Result<bool> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.config.rooms_table)
            .set_key(Some(seat_key(room, connection)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        if deleted.attributes.is_none() {
            return Ok(false);
        }
        // Uncount after the seat is gone: if this fails, the count is one high, never low.
        self.move_audience(room, -1).await?;
        Ok(true)
    }

    async fn get_seat(
        &self,
        room: &GroupId,
        connection: &ConnectionId,
        now: i64,
    ) -> cirrus_core::Result<Option<Seat>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.rooms_table)
            .set_key(Some(seat_key(room, connection)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let seat = got.item.as_ref().map(seat_from).transpose()?;
        Ok(seat.filter(|seat| seat.expires_at > now))
    }

    async fn shard_seats(
        &self,
        room: &GroupId,
        shard: u32,
        after: Option<&ConnectionId>,
        limit: u32,
        now: i64,
    ) -> cirrus_core::Result<Vec<Seat>> {
        Ok(self.read_shard(room, shard, after, limit, now).await?)
    }

    async fn audience(&self, room: &GroupId) -> cirrus_core::Result<u64> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.rooms_table)
            .set_key(Some(counter_key(room)))
            .projection_expression("audience")
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let count: Option<i64> = got
            .item
            .as_ref()
            .map(|item| opt_n(item, "audience"))
            .transpose()?
            .flatten();
        Ok(count.map_or(0, |count| u64::try_from(count).unwrap_or(0)))
    }

    async fn mute_viewer(&self, room: &GroupId, user: &UserId, until: i64) -> cirrus_core::Result<()> {
        if until == 0 {
            self.client
                .delete_item()
                .table_name(&self.config.rooms_table)
                .set_key(Some(mute_key(room, user)))
                .send()
                .await
                .map_err(StoreError::sdk)?;
            return Ok(());
        }
        let mut item = mute_key(room, user);
        item.insert("mutedUntil".to_owned(), n(until));
        // TTL deletes the item some time after the mute lapses; reads compare `mutedUntil`.
        item.insert("expiresAt".to_owned(), n(ttl_seconds(until)));
        self.client
            .put_item()
            .table_name(&self.config.rooms_table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(())
    }

    async fn viewer_muted_until(
        &self,
        room: &GroupId,
        user: &UserId,
        now: i64,
    ) -> cirrus_core::Result<Option<i64>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.rooms_table)
            .set_key(Some(mute_key(room, user)))
            .projection_expression("mutedUntil")
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let until: Option<i64> = got
            .item
            .as_ref()
            .map(|item| opt_n(item, "mutedUntil"))
            .transpose()?
            .flatten();
        Ok(until.filter(|until| *until > now))
    }
}

impl DynamoStore {
    /// Moves the room's audience counter by `delta`: one `UpdateItem` `ADD` (creating the counter
    /// at the first join). A decrease is on condition that the counter stays at or above zero; a
    /// refused one changes nothing (the counter is never below the stored seats, so that only
    /// happens to a counter someone else changed).
    ///
    /// This process's moves of one room's counter take turns (an in-process lock held for the
    /// call, as appends of one stream do): `ADD` is atomic in DynamoDB, but moto does not isolate
    /// concurrent updates of an item and would lose some. Across processes nothing waits.
    async fn move_audience(&self, room: &GroupId, delta: i64) -> Result<()> {
        let lock = self.stream_lock(&format!("audience:{room}"));
        let _turn = lock.lock().await;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.config.rooms_table)
            .set_key(Some(counter_key(room)))
            .update_expression("ADD audience :delta")
            .expression_attribute_values(":delta", n(delta));
        if delta < 0 {
            update = update
                .condition_expression("audience >= :least")
                .expression_attribute_values(":least", n(-delta));
        }
        written(update.send().await)?;
        Ok(())
    }

    /// Up to `limit` unlapsed seats of one shard after `after`: a `Query` of the shard's partition
    /// in connection id order from `ExclusiveStartKey` (the `after` seat, which need not exist),
    /// `Limit` = what is still missing, eventually consistent. Lapsed seats TTL has not deleted
    /// yet are read and dropped, and the next page is read only if some were (`limit = 0` reads
    /// nothing).
    async fn read_shard(
        &self,
        room: &GroupId,
        shard: u32,
        after: Option<&ConnectionId>,
        limit: u32,
        now: i64,
    ) -> Result<Vec<Seat>> {
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        let partition = shard_partition(room, shard);
        let mut seats = Vec::new();
        let mut start = after.map(|after| {
            Item::from([
                ("roomShard".to_owned(), s(&partition)),
                ("connectionId".to_owned(), s(after.as_str())),
            ])
        });
        while seats.len() < wanted {
            let missing = i32::try_from(wanted - seats.len()).unwrap_or(i32::MAX);
            let page = self
                .client
                .query()
                .table_name(&self.config.rooms_table)
                .key_condition_expression("roomShard = :shard")
                .expression_attribute_values(":shard", s(&partition))
                .limit(missing)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            for item in page.items() {
                let seat = seat_from(item)?;
                if seat.expires_at > now {
                    seats.push(seat);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        seats.truncate(wanted);
        Ok(seats)
    }
}

/// The partition of one shard of a room's seats: `<room>#<shard>`.
fn shard_partition(room: &GroupId, shard: u32) -> String {
    format!("{room}#{shard}")
}

/// The key of a connection's seat in a room (in the shard [`shard_of`] the connection).
fn seat_key(room: &GroupId, connection: &ConnectionId) -> Item {
    Item::from([
        (
            "roomShard".to_owned(),
            s(shard_partition(room, shard_of(connection))),
        ),
        ("connectionId".to_owned(), s(connection.as_str())),
    ])
}

/// The key of a room's audience counter.
fn counter_key(room: &GroupId) -> Item {
    Item::from([
        ("roomShard".to_owned(), s(format!("{room}#count"))),
        ("connectionId".to_owned(), s(COUNTER_SORT)),
    ])
}

/// The key of a viewer's mute in a room: partition `<room>#mute`, sort key the user id. A group
/// id holds no `#` and "mute" is no shard nor "count", so it meets no seat and no counter.
fn mute_key(room: &GroupId, user: &UserId) -> Item {
    Item::from([
        ("roomShard".to_owned(), s(format!("{room}#mute"))),
        ("connectionId".to_owned(), s(user.as_str())),
    ])
}

/// A seat's item, under the shard [`shard_of`] its connection (which `seat.shard` is, by the
/// port's definition: `get_seat` and `leave_room` find the seat by the connection alone).
fn seat_item(seat: &Seat) -> Item {
    let mut item = seat_key(&seat.room, &seat.connection);
    item.insert("userId".to_owned(), s(seat.user.as_str()));
    item.insert("joinedAt".to_owned(), n(seat.joined_at));
    item.insert("expiresAtMs".to_owned(), n(seat.expires_at));
    item.insert("expiresAt".to_owned(), n(ttl_seconds(seat.expires_at)));
    if seat.guest {
        item.insert("guest".to_owned(), AttributeValue::Bool(true));
    }
    item
}

fn seat_from(item: &Item) -> Result<Seat> {
    let (room, shard) = get_s(item, "roomShard")?
        .rsplit_once('#')
        .ok_or(StoreError::BadAttribute("roomShard"))?;
    Ok(Seat {
        room: GroupId::parse(room).map_err(|_| StoreError::BadAttribute("roomShard"))?,
        connection: get_id(item, "connectionId", ConnectionId::parse)?,
        user: get_id(item, "userId", UserId::parse)?,
        guest: opt_bool(item, "guest")?,
        shard: shard.parse().map_err(|_| StoreError::BadAttribute("roomShard"))?,
        joined_at: get_n(item, "joinedAt")?,
        expires_at: get_n(item, "expiresAtMs")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cirrus_core::ports::ROOM_SHARDS;

    fn seat(connection: &str, guest: bool) -> Seat {
        let connection = ConnectionId::parse(connection).unwrap();
        Seat {
            room: GroupId::parse("live1").unwrap(),
            shard: shard_of(&connection),
            connection,
            user: UserId::parse("alice").unwrap(),
            guest,
            joined_at: 1_700_000_000_000,
            expires_at: 1_700_007_200_001,
        }
    }

    #[test]
    fn a_seat_round_trips_through_its_item_under_its_shard() {
        // GIVEN a member's seat and a guest's
        for seat in [seat("abc=", false), seat("Zy-_.+9", true)] {
            // WHEN it is written to an item
            let item = seat_item(&seat);
            // THEN it sits in `<room>#<shard>` with the TTL in seconds, rounded up
            assert_eq!(item["roomShard"], s(format!("{}#{}", seat.room, seat.shard)));
            assert_eq!(item["expiresAt"], n(1_700_007_201));
            assert_eq!(item.contains_key("guest"), seat.guest);
            // AND reads back whole
            assert_eq!(seat_from(&item).unwrap(), seat);
        }
    }

    #[test]
    fn the_counter_meets_no_shard_of_any_room() {
        // GIVEN a room's counter key
        let room = GroupId::parse("live1").unwrap();
        let counter = counter_key(&room);
        // THEN it is none of the room's shards
        for shard in 0..ROOM_SHARDS {
            assert_ne!(counter["roomShard"], s(shard_partition(&room, shard)));
        }
        // AND no other room's either: a group id holds no `#`, so `<room>#<shard>` splits at its
        // only `#` and "count" is no shard
        assert!(GroupId::parse("live1#count").is_err());
        assert!("count".parse::<u32>().is_err());
    }
}
