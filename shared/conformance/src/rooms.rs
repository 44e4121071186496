//! [`RoomStore`](cirrus_core::ports::RoomStore): live-room audiences, one seat per connection
//! and room, spread over [`ROOM_SHARDS`] shards by [`shard_of`] the connection id.
//!
//! What the cases fix beyond the port docs: a seat has lapsed at its `expires_at` (as a
//! connection has); whether a connection is seated, for `join_room`'s and `leave_room`'s answers
//! and for the audience, does not depend on the time (neither call takes one), so a seat that
//! lapsed without a leave still counts, and a rejoin over it is not counted again. Connection id
//! order is the byte order of the id text (`ConnectionId`'s `Ord`).

use crate::fixture::{Fixture, Stores, T0};
use cirrus_core::ids::{ConnectionId, GroupId, UserId};
use cirrus_core::ports::{ROOM_SHARDS, Seat, shard_of};
use std::collections::BTreeSet;
use std::sync::Arc;

const HOUR: i64 = 3_600_000;

/// A seat of connection `name` (by `user`) in `room`, joined at [`T0`], lapsing at `expires_at`.
fn seat(fx: &Fixture, room: &GroupId, name: &str, user: &UserId, expires_at: i64) -> Seat {
    let connection = fx.connection_id(name);
    Seat {
        room: room.clone(),
        shard: shard_of(&connection),
        connection,
        user: user.clone(),
        guest: false,
        joined_at: T0,
        expires_at,
    }
}

/// The first `count` connection names `{prefix}{i}` whose ids fall in `shard`.
fn names_in_shard(fx: &Fixture, prefix: &str, shard: u32, count: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .filter(|name| shard_of(&fx.connection_id(name)) == shard)
        .take(count)
        .collect()
}

async fn join(stores: &Stores, seat: &Seat) -> bool {
    stores.rooms.join_room(seat).await.expect("join_room")
}

async fn leave(stores: &Stores, room: &GroupId, connection: &ConnectionId) -> bool {
    stores
        .rooms
        .leave_room(room, connection)
        .await
        .expect("leave_room")
}

async fn get_seat(stores: &Stores, room: &GroupId, connection: &ConnectionId, now: i64) -> Option<Seat> {
    stores
        .rooms
        .get_seat(room, connection, now)
        .await
        .expect("get_seat")
}

async fn shard_seats(
    stores: &Stores,
    room: &GroupId,
    shard: u32,
    after: Option<&ConnectionId>,
    limit: u32,
    now: i64,
) -> Vec<Seat> {
    stores
        .rooms
        .shard_seats(room, shard, after, limit, now)
        .await
        .expect("shard_seats")
}

async fn audience(stores: &Stores, room: &GroupId) -> u64 {
    stores.rooms.audience(room).await.expect("audience")
}

fn ids(seats: &[Seat]) -> Vec<ConnectionId> {
    seats.iter().map(|seat| seat.connection.clone()).collect()
}

/// Every unlapsed seat of one shard at `now`, read in pages of `page`; checks that each page
/// is in connection id order and continues the last one.
async fn whole_shard(stores: &Stores, room: &GroupId, shard: u32, page: u32, now: i64) -> Vec<Seat> {
    let mut all: Vec<Seat> = Vec::new();
    loop {
        let after = all.last().map(|seat| seat.connection.clone());
        let next = shard_seats(stores, room, shard, after.as_ref(), page, now).await;
        assert!(next.len() <= page as usize, "a page holds at most `limit` seats");
        let done = next.len() < page as usize;
        let mut order = ids(&next);
        order.sort();
        order.dedup();
        assert_eq!(order, ids(&next), "a page is in connection id order");
        if let (Some(after), Some(first)) = (&after, next.first()) {
            assert!(first.connection > *after, "a page starts after `after`");
        }
        all.extend(next);
        if done {
            return all;
        }
    }
}

/// GIVEN a connection not in the room WHEN it joins, then joins again with another user, the
/// guest flag, a later join time and a later expiry THEN the first join is new and the second is
/// not, the seat reads back as last joined, and it lives until the new expiry; the same
/// connection joining a second room is new there.
pub async fn join_reports_a_new_seat_and_a_rejoin_replaces_it(stores: Stores) {
    let fx = Fixture::new();
    let (room, other_room) = (fx.group("live"), fx.group("other"));
    let (alice, guest) = (fx.user("alice"), fx.user("guest"));
    let first = seat(&fx, &room, "c1", &alice, T0 + HOUR);

    assert!(join(&stores, &first).await, "the first join is new");
    assert_eq!(
        get_seat(&stores, &room, &first.connection, T0).await,
        Some(first.clone()),
        "the seat reads back as joined"
    );

    let again = Seat {
        user: guest.clone(),
        guest: true,
        joined_at: T0 + 10,
        expires_at: T0 + 3 * HOUR,
        ..first.clone()
    };
    assert!(!join(&stores, &again).await, "a rejoin is not new");
    assert_eq!(
        get_seat(&stores, &room, &first.connection, T0 + 20).await,
        Some(again.clone()),
        "a rejoin replaces the user, the guest flag, the join time and the expiry"
    );
    assert_eq!(
        get_seat(&stores, &room, &first.connection, T0 + 2 * HOUR).await,
        Some(again.clone()),
        "the rejoin refreshed the expiry past the first one"
    );

    let back = Seat {
        user: alice.clone(),
        guest: false,
        ..again.clone()
    };
    assert!(
        !join(&stores, &back).await,
        "joining a third time is not new either"
    );
    assert_eq!(
        get_seat(&stores, &room, &first.connection, T0 + 20).await,
        Some(back),
        "the guest flag can be cleared again"
    );

    let elsewhere = Seat {
        room: other_room.clone(),
        ..first.clone()
    };
    assert!(
        join(&stores, &elsewhere).await,
        "the same connection in another room is a new seat"
    );
    assert_eq!(
        get_seat(&stores, &other_room, &first.connection, T0).await,
        Some(elsewhere)
    );
}

/// GIVEN a connection seated in two rooms WHEN it leaves one, then leaves it again THEN the first
/// leave reports the seat and removes it, the second reports nothing, and its seat in the other
/// room stays; leaving a room it never joined reports nothing.
pub async fn leave_reports_whether_the_connection_was_seated(stores: Stores) {
    let fx = Fixture::new();
    let (room, other_room, never) = (fx.group("live"), fx.group("other"), fx.group("never"));
    let alice = fx.user("alice");
    let here = seat(&fx, &room, "c1", &alice, T0 + HOUR);
    let there = Seat {
        room: other_room.clone(),
        ..here.clone()
    };
    let neighbour = seat(&fx, &room, "c2", &alice, T0 + HOUR);
    for seat in [&here, &there, &neighbour] {
        assert!(join(&stores, seat).await);
    }

    assert!(
        leave(&stores, &room, &here.connection).await,
        "leaving reports the seat"
    );
    assert_eq!(get_seat(&stores, &room, &here.connection, T0).await, None);
    assert!(
        !leave(&stores, &room, &here.connection).await,
        "leaving twice finds nothing"
    );
    assert_eq!(
        get_seat(&stores, &other_room, &here.connection, T0).await,
        Some(there),
        "the seat in the other room stays"
    );
    assert_eq!(
        get_seat(&stores, &room, &neighbour.connection, T0).await,
        Some(neighbour),
        "another connection's seat in the room stays"
    );
    assert!(
        !leave(&stores, &never, &here.connection).await,
        "leaving a room never joined finds nothing"
    );
    assert!(
        !leave(&stores, &room, &fx.connection_id("unknown")).await,
        "an unknown connection was not seated"
    );
}

/// GIVEN a seat lapsing at `expires_at` WHEN it is read just before, at and after that time
/// THEN it is there just before and gone from `expires_at` on; an unknown connection and another
/// room have no seat.
pub async fn get_seat_honours_expiry(stores: Stores) {
    let fx = Fixture::new();
    let room = fx.group("live");
    let alice = fx.user("alice");
    let expires_at = T0 + HOUR;
    let seated = seat(&fx, &room, "c1", &alice, expires_at);
    assert!(join(&stores, &seated).await);

    assert_eq!(
        get_seat(&stores, &room, &seated.connection, expires_at - 1).await,
        Some(seated.clone()),
        "live until just before its expiry"
    );
    assert_eq!(
        get_seat(&stores, &room, &seated.connection, expires_at).await,
        None,
        "lapsed at exactly expires_at"
    );
    assert_eq!(
        get_seat(&stores, &room, &seated.connection, expires_at + HOUR).await,
        None
    );
    assert_eq!(
        get_seat(&stores, &room, &fx.connection_id("c2"), T0).await,
        None,
        "an unknown connection has no seat"
    );
    assert_eq!(
        get_seat(&stores, &fx.group("other"), &seated.connection, T0).await,
        None,
        "no seat in a room it did not join"
    );
}

async fn muted_until(stores: &Stores, room: &GroupId, user: &UserId, now: i64) -> Option<i64> {
    stores
        .rooms
        .viewer_muted_until(room, user, now)
        .await
        .expect("viewer_muted_until")
}

async fn mute(stores: &Stores, room: &GroupId, user: &UserId, until: i64) {
    stores
        .rooms
        .mute_viewer(room, user, until)
        .await
        .expect("mute_viewer");
}

/// GIVEN a viewer seated in a room WHEN they are muted until `until`, leave and come back THEN
/// the mute holds without the seat and after the rejoin, until just before `until` and not from
/// `until` on; it is the room's and the user's only (another room, another user: none); muting
/// again replaces it; `until` 0 lifts it; and no mute touches the seats or the audience.
pub async fn viewer_mutes_outlast_the_seat_and_lapse_at_their_time(stores: Stores) {
    let fx = Fixture::new();
    let room = fx.group("live");
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let seated = seat(&fx, &room, "c1", &alice, T0 + 2 * HOUR);
    assert!(join(&stores, &seated).await);
    assert_eq!(
        muted_until(&stores, &room, &alice, T0).await,
        None,
        "nobody is muted at first"
    );

    let until = T0 + HOUR;
    mute(&stores, &room, &alice, until).await;
    assert_eq!(muted_until(&stores, &room, &alice, T0).await, Some(until));
    assert_eq!(audience(&stores, &room).await, 1, "a mute is no seat");
    assert!(leave(&stores, &room, &seated.connection).await);
    assert_eq!(
        muted_until(&stores, &room, &alice, T0).await,
        Some(until),
        "the mute outlasts the seat"
    );
    assert!(join(&stores, &seated).await, "rejoining is a new seat");
    assert_eq!(muted_until(&stores, &room, &alice, until - 1).await, Some(until));
    assert_eq!(
        muted_until(&stores, &room, &alice, until).await,
        None,
        "lapsed at exactly its time"
    );
    assert_eq!(muted_until(&stores, &room, &bob, T0).await, None, "another user");
    assert_eq!(
        muted_until(&stores, &fx.group("other"), &alice, T0).await,
        None,
        "another room"
    );

    mute(&stores, &room, &alice, T0 + 3 * HOUR).await;
    assert_eq!(
        muted_until(&stores, &room, &alice, until).await,
        Some(T0 + 3 * HOUR),
        "a new mute replaces the old"
    );
    mute(&stores, &room, &alice, 0).await;
    assert_eq!(muted_until(&stores, &room, &alice, T0).await, None, "0 lifts it");
    mute(&stores, &room, &bob, 0).await;
    assert_eq!(
        muted_until(&stores, &room, &bob, T0).await,
        None,
        "lifting no mute is no error"
    );
    assert_eq!(audience(&stores, &room).await, 1);
    assert_eq!(
        get_seat(&stores, &room, &seated.connection, T0).await,
        Some(seated),
        "the seat is untouched"
    );
}

/// GIVEN seven seats in one shard and seats in every other shard WHEN that shard is read whole
/// and in pages of two THEN it holds exactly its seven seats, each as joined, in connection id
/// order, and the pages walk them without overlap or gap.
pub async fn shard_seats_returns_one_shard_in_connection_id_order_and_pages(stores: Stores) {
    let fx = Fixture::new();
    let room = fx.group("live");
    let alice = fx.user("alice");
    let shard = 3;
    // Joined in reverse name order, so a backend that returns insertion order fails.
    let mut names = names_in_shard(&fx, "in", shard, 7);
    names.reverse();
    let mut wanted = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let seated = Seat {
            guest: i % 2 == 0,
            joined_at: T0 + i as i64,
            ..seat(&fx, &room, name, &alice, T0 + HOUR)
        };
        assert!(join(&stores, &seated).await);
        wanted.push(seated);
    }
    wanted.sort_by(|a, b| a.connection.cmp(&b.connection));
    for other in (0..ROOM_SHARDS).filter(|&other| other != shard) {
        for name in names_in_shard(&fx, "out", other, 2) {
            assert!(join(&stores, &seat(&fx, &room, &name, &alice, T0 + HOUR)).await);
        }
    }

    let whole = shard_seats(&stores, &room, shard, None, 100, T0).await;
    assert_eq!(
        whole, wanted,
        "only that shard's seats, as joined, in connection id order"
    );
    assert!(whole.iter().all(|seat| seat.shard == shard));

    let first = shard_seats(&stores, &room, shard, None, 2, T0).await;
    assert_eq!(ids(&first), ids(&wanted[..2]), "the first page");
    let second = shard_seats(&stores, &room, shard, Some(&first[1].connection), 2, T0).await;
    assert_eq!(ids(&second), ids(&wanted[2..4]), "the page after the first");
    let last = shard_seats(&stores, &room, shard, Some(&wanted[5].connection), 2, T0).await;
    assert_eq!(ids(&last), ids(&wanted[6..]), "a short last page");
    let past = shard_seats(&stores, &room, shard, Some(&wanted[6].connection), 2, T0).await;
    assert!(past.is_empty(), "nothing after the last seat");
    assert_eq!(
        whole_shard(&stores, &room, shard, 2, T0).await,
        wanted,
        "pages of two walk the shard without overlap or gap"
    );
    assert!(
        shard_seats(&stores, &room, shard, None, 0, T0).await.is_empty(),
        "a limit of zero returns nothing"
    );
}

/// GIVEN a shard holding live seats, seats lapsing at the time read and earlier, seats of the
/// same connections in another room and a seat that left WHEN the shard is read THEN only the
/// live seats of this room are listed, and a lapsed seat does not take a place in a page.
pub async fn shard_seats_leave_out_lapsed_seats_and_other_rooms(stores: Stores) {
    let fx = Fixture::new();
    let (room, other_room) = (fx.group("live"), fx.group("other"));
    let alice = fx.user("alice");
    let shard = 9;
    let now = T0 + HOUR;
    let names = names_in_shard(&fx, "c", shard, 8);
    let mut live = Vec::new();
    for (i, name) in names.iter().enumerate() {
        // Every other seat lapses: one just at `now`, the others before it.
        let expires_at = match i % 4 {
            0 | 2 => now + 1,
            1 => now,
            _ => now - HOUR / 2,
        };
        let seated = seat(&fx, &room, name, &alice, expires_at);
        assert!(join(&stores, &seated).await);
        if expires_at > now {
            live.push(seated);
        }
        assert!(join(&stores, &seat(&fx, &other_room, name, &alice, now + HOUR)).await);
    }
    let gone = live.remove(1);
    assert!(leave(&stores, &room, &gone.connection).await);
    live.sort_by(|a, b| a.connection.cmp(&b.connection));

    assert_eq!(
        shard_seats(&stores, &room, shard, None, 100, now).await,
        live,
        "only this room's unlapsed seats that did not leave"
    );
    let first = shard_seats(&stores, &room, shard, None, 2, now).await;
    assert_eq!(
        ids(&first),
        ids(&live[..2]),
        "lapsed seats take no place in a page"
    );
    assert_eq!(whole_shard(&stores, &room, shard, 1, now).await, live);
    assert_eq!(
        shard_seats(&stores, &other_room, shard, None, 100, now)
            .await
            .len(),
        names.len(),
        "the other room keeps its own seats"
    );
    assert_eq!(
        shard_seats(&stores, &room, shard, None, 100, T0).await.len(),
        names.len() - 1,
        "read earlier, before any lapsed, every seat but the one that left is there"
    );
    assert!(
        shard_seats(&stores, &fx.group("empty"), shard, None, 100, now)
            .await
            .is_empty(),
        "a room nobody joined has no seats"
    );
}

/// GIVEN an empty room WHEN connections join, rejoin and leave (some leaving twice, some never
/// seated, one seat lapsed) THEN the audience is the number of joins that were new minus the
/// leaves that found a seat: a rejoin is not counted twice, a lapsed seat counts until it leaves,
/// leaving an unseated connection never takes it below zero, and rooms are counted apart.
pub async fn audience_counts_joins_minus_leaves(stores: Stores) {
    let fx = Fixture::new();
    let (room, other_room) = (fx.group("live"), fx.group("other"));
    let alice = fx.user("alice");
    assert_eq!(audience(&stores, &room).await, 0, "nobody joined yet");
    assert!(
        !leave(&stores, &room, &fx.connection_id("nobody")).await,
        "leaving an empty room finds nothing"
    );
    assert_eq!(audience(&stores, &room).await, 0, "and does not go below zero");

    let seats: Vec<Seat> = (0..3)
        .map(|i| seat(&fx, &room, &format!("c{i}"), &alice, T0 + HOUR))
        .collect();
    for seated in &seats {
        assert!(join(&stores, seated).await);
    }
    assert!(join(&stores, &seat(&fx, &other_room, "c0", &alice, T0 + HOUR)).await);
    assert_eq!(audience(&stores, &room).await, 3, "three joins");

    let rejoin = Seat {
        guest: true,
        expires_at: T0 + 2 * HOUR,
        ..seats[0].clone()
    };
    assert!(!join(&stores, &rejoin).await);
    assert_eq!(audience(&stores, &room).await, 3, "a rejoin is not counted twice");

    assert!(leave(&stores, &room, &seats[1].connection).await);
    assert_eq!(audience(&stores, &room).await, 2, "a leave");
    assert!(!leave(&stores, &room, &seats[1].connection).await);
    assert!(!leave(&stores, &room, &fx.connection_id("stranger")).await);
    assert_eq!(
        audience(&stores, &room).await,
        2,
        "leaving again or leaving unseated counts nothing"
    );
    assert_eq!(audience(&stores, &other_room).await, 1, "rooms are counted apart");

    // A seat that lapsed (read after its expiry) still counts until it leaves.
    let short = seat(&fx, &room, "short", &alice, T0 + 1);
    assert!(join(&stores, &short).await);
    assert_eq!(get_seat(&stores, &room, &short.connection, T0 + HOUR).await, None);
    assert_eq!(
        audience(&stores, &room).await,
        3,
        "a lapsed seat counts until left"
    );
    let renewed = Seat {
        expires_at: T0 + 2 * HOUR,
        ..short.clone()
    };
    assert!(
        !join(&stores, &renewed).await,
        "a rejoin over a lapsed seat that never left is not new"
    );
    assert_eq!(audience(&stores, &room).await, 3, "and not counted again");
    assert_eq!(
        get_seat(&stores, &room, &short.connection, T0 + HOUR).await,
        Some(renewed),
        "the rejoin brings the seat back"
    );

    for seated in [&seats[0], &seats[2], &short] {
        assert!(leave(&stores, &room, &seated.connection).await);
    }
    assert_eq!(audience(&stores, &room).await, 0, "everyone left");
    assert!(!leave(&stores, &room, &seats[0].connection).await);
    assert_eq!(audience(&stores, &room).await, 0, "never below zero");
    assert_eq!(audience(&stores, &other_room).await, 1);
}

/// GIVEN 2,000 connections joining one room concurrently WHEN every shard is paged through
/// THEN every shard holds some, each seat sits in the shard of its connection, and together the
/// shards hold every connection exactly once; the audience is 2,000.
pub async fn seats_of_2000_connections_cover_every_shard_without_loss(stores: Stores) {
    const CONNECTIONS: usize = 2_000;
    const TASKS: usize = 20;
    let fx = Arc::new(Fixture::new());
    let room = fx.group("live");
    let alice = fx.user("alice");

    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (stores, fx, room, alice) = (stores.clone(), fx.clone(), room.clone(), alice.clone());
        tasks.push(tokio::spawn(async move {
            for i in (task..CONNECTIONS).step_by(TASKS) {
                let seated = seat(&fx, &room, &format!("c{i:04}"), &alice, T0 + HOUR);
                assert!(join(&stores, &seated).await, "{} is new", seated.connection);
            }
        }));
    }
    for task in tasks {
        task.await.expect("join task panicked");
    }

    let joined: BTreeSet<ConnectionId> = (0..CONNECTIONS)
        .map(|i| fx.connection_id(&format!("c{i:04}")))
        .collect();
    let mut found = BTreeSet::new();
    for shard in 0..ROOM_SHARDS {
        let seats = whole_shard(&stores, &room, shard, 50, T0).await;
        assert!(!seats.is_empty(), "shard {shard} holds some of 2,000 seats");
        for seated in seats {
            assert_eq!(seated.shard, shard, "{} listed in its shard", seated.connection);
            assert_eq!(shard_of(&seated.connection), shard);
            assert!(
                found.insert(seated.connection.clone()),
                "{} listed once",
                seated.connection
            );
        }
    }
    assert_eq!(found.len(), CONNECTIONS, "no seat lost");
    assert_eq!(found, joined, "the shards hold exactly the joined connections");
    assert_eq!(audience(&stores, &room).await, CONNECTIONS as u64);
}
