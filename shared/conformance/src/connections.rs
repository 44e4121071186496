//! [`ConnectionStore`](cirrus_core::ports::ConnectionStore): records, per-user lookup, expiry.

use crate::fixture::{Fixture, Stores, T0};
use cirrus_core::ports::Connection;

const HOUR: i64 = 3_600_000;

fn sorted(mut connections: Vec<Connection>) -> Vec<Connection> {
    connections.sort_by(|a, b| a.id.cmp(&b.id));
    connections
}

/// GIVEN a stored connection WHEN it is read, deleted, read and deleted again THEN the read
/// returns it, the first delete returns it, and afterwards it is gone.
pub async fn connection_put_get_delete(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let record = fx.connection("c1", &alice, T0 + 2 * HOUR);
    stores.connections.put_connection(&record).await.expect("put");

    let got = stores
        .connections
        .get_connection(&record.id, T0)
        .await
        .expect("get");
    assert_eq!(got.as_ref(), Some(&record), "read back as stored");
    let deleted = stores
        .connections
        .delete_connection(&record.id)
        .await
        .expect("delete");
    assert_eq!(deleted, Some(record.clone()), "delete returns the old record");
    let gone = stores
        .connections
        .get_connection(&record.id, T0)
        .await
        .expect("get");
    assert_eq!(gone, None, "gone after delete");
    let again = stores
        .connections
        .delete_connection(&record.id)
        .await
        .expect("delete");
    assert_eq!(again, None, "deleting twice finds nothing");
    assert!(
        stores
            .connections
            .connections_of(&alice, T0)
            .await
            .expect("of")
            .is_empty()
    );
}

/// GIVEN a stored connection WHEN a record with the same id is put THEN it replaces the old one,
/// also in the per-user lookup.
pub async fn put_connection_replaces_the_same_id(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let first = fx.connection("c1", &alice, T0 + HOUR);
    stores.connections.put_connection(&first).await.expect("put");
    let replacement = Connection {
        user: bob.clone(),
        platform: None,
        connected_at: T0 + 5,
        expires_at: T0 + 2 * HOUR,
        ..first.clone()
    };
    stores
        .connections
        .put_connection(&replacement)
        .await
        .expect("put again");

    let got = stores
        .connections
        .get_connection(&first.id, T0 + 10)
        .await
        .expect("get");
    assert_eq!(
        got,
        Some(replacement.clone()),
        "the new record wins, platform none included"
    );
    assert!(
        stores
            .connections
            .connections_of(&alice, T0 + 10)
            .await
            .expect("of")
            .is_empty()
    );
    assert_eq!(
        stores
            .connections
            .connections_of(&bob, T0 + 10)
            .await
            .expect("of"),
        vec![replacement]
    );
}

/// GIVEN alice has three connections and bob one WHEN each user's connections are looked up THEN
/// each gets exactly their own.
pub async fn connections_of_lists_only_that_users(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let alices: Vec<_> = ["a1", "a2", "a3"]
        .iter()
        .map(|name| fx.connection(name, &alice, T0 + HOUR))
        .collect();
    let bobs = fx.connection("b1", &bob, T0 + HOUR);
    for record in alices.iter().chain([&bobs]) {
        stores.connections.put_connection(record).await.expect("put");
    }

    let of_alice = stores
        .connections
        .connections_of(&alice, T0)
        .await
        .expect("of alice");
    assert_eq!(sorted(of_alice), sorted(alices), "alice's three");
    let of_bob = stores.connections.connections_of(&bob, T0).await.expect("of bob");
    assert_eq!(of_bob, vec![bobs], "bob's one");
    let of_carol = stores
        .connections
        .connections_of(&fx.user("carol"), T0)
        .await
        .expect("of carol");
    assert!(of_carol.is_empty(), "carol has none");
}

/// GIVEN connections expiring at different times WHEN looked up at `now` THEN those with
/// `expires_at <= now` are left out, by id and per user.
pub async fn expired_connections_are_filtered(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let now = T0 + HOUR;
    let expired = fx.connection("old", &alice, now - 1);
    let expiring_now = fx.connection("edge", &alice, now);
    let live = fx.connection("live", &alice, now + 1);
    for record in [&expired, &expiring_now, &live] {
        stores.connections.put_connection(record).await.expect("put");
    }

    for record in [&expired, &expiring_now] {
        let got = stores
            .connections
            .get_connection(&record.id, now)
            .await
            .expect("get");
        assert_eq!(got, None, "{} has expired at now", record.id);
    }
    let got = stores
        .connections
        .get_connection(&live.id, now)
        .await
        .expect("get");
    assert_eq!(got.as_ref(), Some(&live), "the live one is found");
    let of = stores.connections.connections_of(&alice, now).await.expect("of");
    assert_eq!(of, vec![live.clone()], "only the live one is listed");
    let earlier = stores.connections.connections_of(&alice, T0).await.expect("of");
    assert_eq!(earlier.len(), 3, "all three were live an hour earlier");
}

/// GIVEN alice has two connections WHEN one is deleted THEN the other is still hers.
pub async fn deleting_one_connection_keeps_the_others(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let phone = fx.connection("phone", &alice, T0 + HOUR);
    let laptop = fx.connection("laptop", &alice, T0 + HOUR);
    stores.connections.put_connection(&phone).await.expect("put");
    stores.connections.put_connection(&laptop).await.expect("put");

    let deleted = stores
        .connections
        .delete_connection(&phone.id)
        .await
        .expect("delete");
    assert_eq!(deleted, Some(phone.clone()));
    let of = stores.connections.connections_of(&alice, T0).await.expect("of");
    assert_eq!(of, vec![laptop.clone()], "the laptop stays");
    let got = stores
        .connections
        .get_connection(&laptop.id, T0)
        .await
        .expect("get");
    assert_eq!(got, Some(laptop));
}

/// GIVEN nothing stored WHEN an unknown connection is read or deleted THEN none comes back.
pub async fn unknown_connection_is_none(stores: Stores) {
    let fx = Fixture::new();
    let id = fx.connection_id("ghost");
    assert_eq!(
        stores.connections.get_connection(&id, T0).await.expect("get"),
        None
    );
    assert_eq!(
        stores.connections.delete_connection(&id).await.expect("delete"),
        None
    );
}
