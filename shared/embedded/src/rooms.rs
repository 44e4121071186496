//! [`RoomStore`] for [`SqliteStore`]: live-room seats and their audience counters.
//!
//! A seat is one row of `room_seats`, keyed by room, shard, connection: the shard is
//! [`shard_of`] the connection, computed here (the seat's `shard` field is not trusted), so a
//! fan-out job's page is one range of the primary key already in connection id order, and a seat
//! is still found by room and connection alone. Lapsed seats stay until they leave or
//! [`SqliteStore::sweep`] drops them; reads leave them out with a filter on the same range.
//!
//! The audience is a counter in `room_audiences`, not a `count(*)`: a new seat adds one, a leave
//! that found a seat or a swept seat takes one off, in the same writer job as the seat row, so
//! it always equals the room's seat rows and reading it reads no seat. Whether a connection is
//! seated is whether its row exists, whatever its expiry (the port's join and leave take no
//! time), so a lapsed seat counts until it leaves or is swept, and a rejoin over it is not new.

use crate::error::{Result, StoreError};
use crate::rows::user_at;
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::{ConnectionId, GroupId, UserId};
use cirrus_core::ports::{RoomStore, Seat, shard_of};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

/// The seat columns, in the order [`seat_from`] reads them (the key first).
macro_rules! seat_columns {
    () => {
        "room, shard, connection, user_id, guest, joined_at, expires_at"
    };
}

/// One page of room `?1`'s shard `?2`: seats after connection `?3` (`''` sorts before every id)
/// unlapsed at `?4`, at most `?5`.
pub(crate) const SHARD_SEATS: &str = concat!(
    "SELECT ",
    seat_columns!(),
    " FROM room_seats WHERE room = ?1 AND shard = ?2 AND connection > ?3 AND expires_at > ?4 \
     ORDER BY connection LIMIT ?5"
);

/// The seat of connection `?3` (in shard `?2`) in room `?1`, unless it lapsed at `?4`.
pub(crate) const GET_SEAT: &str = concat!(
    "SELECT ",
    seat_columns!(),
    " FROM room_seats WHERE room = ?1 AND shard = ?2 AND connection = ?3 AND expires_at > ?4"
);

/// Writes a seat row (the values in [`seat_columns`] order) unless the connection is seated.
const INSERT_SEAT: &str = concat!(
    "INSERT INTO room_seats (",
    seat_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (room, shard, connection) DO NOTHING"
);

/// Replaces the rest of an existing seat row (the values as for [`INSERT_SEAT`]).
const UPDATE_SEAT: &str = "UPDATE room_seats SET user_id = ?4, guest = ?5, joined_at = ?6, \
     expires_at = ?7 WHERE room = ?1 AND shard = ?2 AND connection = ?3";

/// Deletes up to `?2` seats lapsed at `?1`, found by the expiry index; returns each one's room.
pub(crate) const LAPSED_SEATS: &str = "DELETE FROM room_seats WHERE (room, shard, connection) IN \
     (SELECT room, shard, connection FROM room_seats WHERE expires_at <= ?1 ORDER BY expires_at \
     LIMIT ?2) RETURNING room";

#[async_trait]
impl RoomStore for SqliteStore {
    async fn join_room(&self, seat: &Seat) -> cirrus_core::Result<bool> {
        let seat = seat.clone();
        Ok(self.write(move |conn| join(conn, &seat)).await?)
    }

    async fn leave_room(&self, room: &GroupId, connection: &ConnectionId) -> cirrus_core::Result<bool> {
        let (room, connection) = (room.clone(), connection.clone());
        Ok(self
            .write(move |conn| {
                let removed = conn
                    .prepare_cached(
                        "DELETE FROM room_seats WHERE room = ?1 AND shard = ?2 AND connection = ?3",
                    )?
                    .execute(params![room.as_str(), shard_of(&connection), connection.as_str()])?;
                if removed > 0 {
                    lower_audience(conn, room.as_str(), 1)?;
                }
                Ok(removed > 0)
            })
            .await?)
    }

    async fn get_seat(
        &self,
        room: &GroupId,
        connection: &ConnectionId,
        now: i64,
    ) -> cirrus_core::Result<Option<Seat>> {
        let (room, connection) = (room.clone(), connection.clone());
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(GET_SEAT)?
                    .query_and_then(
                        params![room.as_str(), shard_of(&connection), connection.as_str(), now],
                        seat_from,
                    )?
                    .next()
                    .transpose()
            })
            .await?)
    }

    async fn shard_seats(
        &self,
        room: &GroupId,
        shard: u32,
        after: Option<&ConnectionId>,
        limit: u32,
        now: i64,
    ) -> cirrus_core::Result<Vec<Seat>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let room = room.clone();
        let after = after.map_or_else(String::new, |after| after.as_str().to_owned());
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(SHARD_SEATS)?
                    .query_and_then(params![room.as_str(), shard, after, now, limit], seat_from)?
                    .collect()
            })
            .await?)
    }

    async fn audience(&self, room: &GroupId) -> cirrus_core::Result<u64> {
        let room = room.clone();
        Ok(self
            .read(move |conn| {
                let audience: Option<i64> = conn
                    .prepare_cached("SELECT audience FROM room_audiences WHERE room = ?1")?
                    .query_row([room.as_str()], |row| row.get(0))
                    .optional()?;
                u64::try_from(audience.unwrap_or(0)).map_err(|_| StoreError::BadValue { column: "audience" })
            })
            .await?)
    }

    async fn mute_viewer(&self, room: &GroupId, user: &UserId, until: i64) -> cirrus_core::Result<()> {
        let (room, user) = (room.clone(), user.clone());
        Ok(self
            .write(move |conn| {
                if until == 0 {
                    conn.prepare_cached("DELETE FROM room_mutes WHERE room = ?1 AND user_id = ?2")?
                        .execute([room.as_str(), user.as_str()])?;
                } else {
                    conn.prepare_cached(
                        "INSERT INTO room_mutes (room, user_id, muted_until) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (room, user_id) DO UPDATE SET muted_until = excluded.muted_until",
                    )?
                    .execute(params![room.as_str(), user.as_str(), until])?;
                }
                Ok(())
            })
            .await?)
    }

    async fn viewer_muted_until(
        &self,
        room: &GroupId,
        user: &UserId,
        now: i64,
    ) -> cirrus_core::Result<Option<i64>> {
        let (room, user) = (room.clone(), user.clone());
        Ok(self
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT muted_until FROM room_mutes WHERE room = ?1 AND user_id = ?2 \
                         AND muted_until > ?3",
                    )?
                    .query_row(params![room.as_str(), user.as_str(), now], |row| row.get(0))
                    .optional()?)
            })
            .await?)
    }
}

/// Seats the connection, or replaces its seat; whether it was not seated before (then the
/// audience goes up by one).
fn join(conn: &Connection, seat: &Seat) -> Result<bool> {
    let values = params![
        seat.room.as_str(),
        shard_of(&seat.connection),
        seat.connection.as_str(),
        seat.user.as_str(),
        seat.guest,
        seat.joined_at,
        seat.expires_at,
    ];
    if conn.prepare_cached(INSERT_SEAT)?.execute(values)? > 0 {
        conn.prepare_cached(
            "INSERT INTO room_audiences (room, audience) VALUES (?1, 1) \
             ON CONFLICT (room) DO UPDATE SET audience = audience + 1",
        )?
        .execute([seat.room.as_str()])?;
        return Ok(true);
    }
    conn.prepare_cached(UPDATE_SEAT)?.execute(values)?;
    Ok(false)
}

/// Takes `by` seats off the room's audience, dropping its row once none is left.
fn lower_audience(conn: &Connection, room: &str, by: i64) -> Result<()> {
    let left: Option<i64> = conn
        .prepare_cached(
            "UPDATE room_audiences SET audience = audience - ?2 WHERE room = ?1 RETURNING audience",
        )?
        .query_row(params![room, by], |row| row.get(0))
        .optional()?;
    if left.is_some_and(|left| left <= 0) {
        conn.prepare_cached("DELETE FROM room_audiences WHERE room = ?1")?
            .execute([room])?;
    }
    Ok(())
}

/// Deletes up to `batch` seats lapsed at `now` and takes them off their rooms' audiences; returns
/// how many. (One job of [`SqliteStore::sweep`].)
pub(crate) fn sweep_seats(conn: &Connection, now: i64, batch: usize) -> Result<usize> {
    let mut per_room: HashMap<String, i64> = HashMap::new();
    let mut swept = 0;
    {
        let mut delete = conn.prepare_cached(LAPSED_SEATS)?;
        let mut rooms = delete.query(params![now, i64::try_from(batch).unwrap_or(i64::MAX)])?;
        while let Some(row) = rooms.next()? {
            *per_room.entry(row.get(0)?).or_default() += 1;
            swept += 1;
        }
    }
    for (room, count) in &per_room {
        lower_audience(conn, room, *count)?;
    }
    Ok(swept)
}

fn seat_from(row: &Row<'_>) -> Result<Seat> {
    let shard: i64 = row.get(1)?;
    let guest = match row.get::<_, i64>(4)? {
        0 => false,
        1 => true,
        _ => return Err(StoreError::BadValue { column: "guest" }),
    };
    Ok(Seat {
        room: GroupId::parse(row.get::<_, String>(0)?)
            .map_err(|_| StoreError::BadValue { column: "room" })?,
        shard: u32::try_from(shard).map_err(|_| StoreError::BadValue { column: "shard" })?,
        connection: ConnectionId::parse(row.get::<_, String>(2)?)
            .map_err(|_| StoreError::BadValue { column: "connection" })?,
        user: user_at(row, 3, "user_id")?,
        guest,
        joined_at: row.get(5)?,
        expires_at: row.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;
    use cirrus_core::ids::UserId;
    use cirrus_core::ports::ROOM_SHARDS;

    /// The plan SQLite picks for `sql`, its steps joined by `; `.
    fn plan(conn: &Connection, sql: &str) -> String {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let values = vec!["1"; explain.parameter_count()];
        explain
            .query_map(rusqlite::params_from_iter(values), |row| row.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn seat(room: &str, connection: &str, expires_at: i64) -> Seat {
        let connection = ConnectionId::parse(connection).unwrap();
        Seat {
            room: GroupId::parse(room).unwrap(),
            shard: shard_of(&connection),
            connection,
            user: UserId::parse("alice").unwrap(),
            guest: false,
            joined_at: 0,
            expires_at,
        }
    }

    async fn seat_rows(store: &SqliteStore) -> Vec<(String, String)> {
        store
            .read(|conn| {
                conn.prepare("SELECT room, connection FROM room_seats ORDER BY room, connection")?
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(StoreError::from)
            })
            .await
            .unwrap()
    }

    async fn audience_rows(store: &SqliteStore) -> Vec<(String, i64)> {
        store
            .read(|conn| {
                conn.prepare("SELECT room, audience FROM room_audiences ORDER BY room")?
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(StoreError::from)
            })
            .await
            .unwrap()
    }

    #[test]
    fn seat_reads_are_index_ranges_in_order_and_the_sweep_reads_the_expiry_index() {
        // GIVEN the current schema
        let mut conn = Connection::open_in_memory().unwrap();
        schema::migrate(&mut conn).unwrap();
        // WHEN SQLite plans a shard page and a seat lookup
        // THEN the page is one range of the primary key, already in connection id order (no scan,
        // no sort), and the lookup one key probe
        let page = plan(&conn, SHARD_SEATS);
        assert!(
            page.starts_with("SEARCH room_seats USING PRIMARY KEY (room=? AND shard=? AND connection>?)"),
            "{page}"
        );
        assert!(!page.contains("TEMP B-TREE") && !page.contains("SCAN"), "{page}");
        let get = plan(&conn, GET_SEAT);
        assert!(
            get.contains("SEARCH room_seats USING PRIMARY KEY (room=? AND shard=? AND connection=?)"),
            "{get}"
        );
        // AND the sweep finds lapsed seats through the expiry index, not by reading the seats
        let sweep = plan(&conn, LAPSED_SEATS);
        assert!(
            sweep.contains("SEARCH room_seats USING COVERING INDEX room_seats_by_expiry (expires_at<?)"),
            "{sweep}"
        );
        assert!(!sweep.contains("SCAN"), "{sweep}");
    }

    #[tokio::test]
    async fn the_audience_counter_follows_the_seat_rows_and_drops_at_zero() {
        // GIVEN two seats in one room and one in another
        let store = SqliteStore::open_in_memory().unwrap();
        for (room, connection) in [("r1", "a="), ("r1", "b="), ("r2", "a=")] {
            assert!(store.join_room(&seat(room, connection, 1_000)).await.unwrap());
        }
        // WHEN one rejoins and both leave the first room
        assert!(!store.join_room(&seat("r1", "a=", 2_000)).await.unwrap());
        assert_eq!(
            audience_rows(&store).await,
            [("r1".to_owned(), 2), ("r2".to_owned(), 1)]
        );
        for connection in ["a=", "b="] {
            let connection = ConnectionId::parse(connection).unwrap();
            assert!(
                store
                    .leave_room(&GroupId::parse("r1").unwrap(), &connection)
                    .await
                    .unwrap()
            );
        }
        // THEN the emptied room keeps no counter row, the other keeps its own
        assert_eq!(audience_rows(&store).await, [("r2".to_owned(), 1)]);
        assert_eq!(store.audience(&GroupId::parse("r1").unwrap()).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn sweeping_drops_lapsed_seats_and_takes_them_off_the_audience() {
        // GIVEN room r1 with seats lapsing at 100, 200 and 1,000 and room r2 with one at 100
        let store = SqliteStore::open_in_memory().unwrap();
        for (room, connection, expires_at) in [
            ("r1", "a=", 100),
            ("r1", "b=", 200),
            ("r1", "c=", 1_000),
            ("r2", "a=", 100),
        ] {
            assert!(
                store
                    .join_room(&seat(room, connection, expires_at))
                    .await
                    .unwrap()
            );
        }
        // WHEN the seats are swept at 200, then again
        let first = store.write(|conn| sweep_seats(conn, 200, 256)).await.unwrap();
        let second = store.write(|conn| sweep_seats(conn, 200, 256)).await.unwrap();
        // THEN those lapsed at 200 (200 included) are gone and counted off, once
        assert_eq!((first, second), (3, 0));
        assert_eq!(seat_rows(&store).await, [("r1".to_owned(), "c=".to_owned())]);
        assert_eq!(audience_rows(&store).await, [("r1".to_owned(), 1)]);
    }

    #[tokio::test]
    async fn a_seat_sweep_deletes_at_most_one_batch() {
        // GIVEN 40 lapsed seats spread over every shard
        let store = SqliteStore::open_in_memory().unwrap();
        for i in 0..40 {
            assert!(store.join_room(&seat("r1", &format!("c{i}="), 10)).await.unwrap());
        }
        let shards: std::collections::HashSet<u32> = (0..40)
            .map(|i| shard_of(&ConnectionId::parse(format!("c{i}=")).unwrap()))
            .collect();
        assert!(shards.len() > (ROOM_SHARDS / 2) as usize);
        // WHEN batches of 16 are swept
        let mut batches = Vec::new();
        loop {
            let swept = store.write(|conn| sweep_seats(conn, 10, 16)).await.unwrap();
            batches.push(swept);
            if swept < 16 {
                break;
            }
        }
        // THEN each deletes at most 16, and together all of them, the counter with them
        assert_eq!(batches, [16, 16, 8]);
        assert!(seat_rows(&store).await.is_empty());
        assert!(audience_rows(&store).await.is_empty());
    }

    #[tokio::test]
    async fn the_stored_shard_is_the_connections_whatever_the_seat_says() {
        // GIVEN a seat whose shard field is wrong
        let store = SqliteStore::open_in_memory().unwrap();
        let right = seat("r1", "a=", 1_000);
        let wrong = Seat {
            shard: (right.shard + 1) % ROOM_SHARDS,
            ..right.clone()
        };
        // WHEN it joins
        assert!(store.join_room(&wrong).await.unwrap());
        // THEN it is seated in the shard of its connection, where get_seat and leave find it
        let room = right.room.clone();
        assert_eq!(
            store.shard_seats(&room, right.shard, None, 10, 0).await.unwrap(),
            std::slice::from_ref(&right)
        );
        assert_eq!(
            store.get_seat(&room, &right.connection, 0).await.unwrap(),
            Some(right.clone())
        );
        assert!(store.leave_room(&room, &right.connection).await.unwrap());
    }

    #[tokio::test]
    async fn a_bad_stored_seat_is_an_error_not_a_panic() {
        // GIVEN a seat whose guest flag was damaged on disk
        let store = SqliteStore::open_in_memory().unwrap();
        let seated = seat("r1", "a=", 1_000);
        assert!(store.join_room(&seated).await.unwrap());
        store
            .write(|conn| Ok(conn.execute("UPDATE room_seats SET guest = 7", [])?))
            .await
            .unwrap();
        // WHEN it is read
        let err = store
            .get_seat(&seated.room, &seated.connection, 0)
            .await
            .unwrap_err();
        // THEN the read fails, naming the column
        assert!(format!("{err:?}").contains("guest"), "{err:?}");
    }
}
