//! Live-room seats as DynamoDB sees them, against moto: what the conformance suite cannot check
//! through the port (the items, the table as created with its TTL), and the audience counter when
//! a join or a leave dies between its two writes, or the counter was lost: one high, never low,
//! never below zero.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{AttributeValue, KeyType, TimeToLiveStatus};
use cirrus_aws::{DynamoStore, create_tables, moto};
use cirrus_conformance::{Fixture, T0};
use cirrus_core::ids::{GroupId, UserId};
use cirrus_core::ports::{RoomStore, Seat, shard_of};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

type Item = HashMap<String, AttributeValue>;

const HOUR: i64 = 3_600_000;

async fn store() -> DynamoStore {
    support::fresh_store("rooms").await
}

fn seat(f: &Fixture, room: &GroupId, name: &str, user: &UserId, guest: bool) -> Seat {
    let connection = f.connection_id(name);
    Seat {
        room: room.clone(),
        shard: shard_of(&connection),
        connection,
        user: user.clone(),
        guest,
        joined_at: T0,
        expires_at: T0 + 2 * HOUR + 1,
    }
}

/// The item under (`roomShard`, `connectionId`), read back strongly consistent.
async fn item(store: &DynamoStore, partition: &str, sort: &str) -> Option<Item> {
    store
        .client()
        .get_item()
        .table_name(&store.config().rooms_table)
        .key("roomShard", AttributeValue::S(partition.to_owned()))
        .key("connectionId", AttributeValue::S(sort.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// The room's audience counter as stored (`None` without a counter item).
async fn stored_count(store: &DynamoStore, room: &GroupId) -> Option<String> {
    let counter = item(store, &format!("{room}#count"), "#").await?;
    Some(counter["audience"].as_n().unwrap().clone())
}

#[tokio::test]
async fn given_created_tables_then_the_rooms_table_is_keyed_by_room_shard_and_connection_with_ttl_on_expires_at()
 {
    let store = store().await;
    let client = Client::new(&moto::sdk());
    create_tables(&client, store.config()).await.expect("idempotent");

    let described = client
        .describe_table()
        .table_name(&store.config().rooms_table)
        .send()
        .await
        .unwrap();
    let table = described.table().unwrap();
    let keys: Vec<(&str, &KeyType)> = table
        .key_schema()
        .iter()
        .map(|key| (key.attribute_name(), key.key_type()))
        .collect();
    assert_eq!(
        keys,
        [("roomShard", &KeyType::Hash), ("connectionId", &KeyType::Range)]
    );
    assert!(
        table.global_secondary_indexes().is_empty(),
        "no index: {table:#?}"
    );

    let ttl = client
        .describe_time_to_live()
        .table_name(&store.config().rooms_table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expiresAt"));
    assert!(matches!(
        ttl.time_to_live_status(),
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ));
}

#[tokio::test]
async fn given_a_member_and_a_guest_seated_then_each_seat_is_one_item_under_its_room_shard_and_the_audience_one_counter_item()
 {
    let store = store().await;
    let f = Fixture::new();
    let (room, alice, visitor) = (f.group("live"), f.user("alice"), f.user("visitor"));
    let member = seat(&f, &room, "c1", &alice, false);
    let guest = seat(&f, &room, "c2", &visitor, true);

    // WHEN both join
    assert!(store.join_room(&member).await.unwrap());
    assert!(store.join_room(&guest).await.unwrap());

    // THEN each seat sits in `<room>#<shard>` under its connection id, with the expiry in ms and,
    // for TTL, in seconds rounded up; the guest flag only on the guest's
    for (seated, user) in [(&member, &alice), (&guest, &visitor)] {
        let partition = format!("{room}#{}", shard_of(&seated.connection));
        let stored = item(&store, &partition, seated.connection.as_str())
            .await
            .expect("the seat's item");
        assert_eq!(stored["userId"], AttributeValue::S(user.as_str().to_owned()));
        assert_eq!(stored["joinedAt"], AttributeValue::N(T0.to_string()));
        assert_eq!(
            stored["expiresAtMs"],
            AttributeValue::N((T0 + 2 * HOUR + 1).to_string())
        );
        assert_eq!(
            stored["expiresAt"],
            AttributeValue::N(((T0 + 2 * HOUR) / 1000 + 1).to_string())
        );
        assert_eq!(
            stored.get("guest"),
            seated.guest.then_some(&AttributeValue::Bool(true))
        );
        assert_eq!(stored.len(), 6 + usize::from(seated.guest), "{stored:#?}");
    }
    // AND the audience is one counter item under `<room>#count`, with no expiry
    let counter = item(&store, &format!("{room}#count"), "#")
        .await
        .expect("the counter's item");
    assert_eq!(counter["audience"], AttributeValue::N("2".to_owned()));
    assert_eq!(counter.len(), 3, "{counter:#?}");
    assert_eq!(store.audience(&room).await.unwrap(), 2);
}

/// Fails the first call of one kind to the rooms table once armed, as a process dying (or the
/// network failing) at that point would.
#[derive(Debug, Clone)]
struct FailOnce {
    table: String,
    /// Fail a `PutItem` (true) or an `UpdateItem` (false).
    put: bool,
    armed: Arc<AtomicBool>,
}

impl Intercept for FailOnce {
    fn name(&self) -> &'static str {
        "fail-once"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let table = if self.put {
            input
                .downcast_ref::<PutItemInput>()
                .and_then(|put| put.table_name())
        } else {
            input
                .downcast_ref::<UpdateItemInput>()
                .and_then(|update| update.table_name())
        };
        if table == Some(self.table.as_str()) && self.armed.swap(false, Ordering::SeqCst) {
            return Err("the process died here".into());
        }
        Ok(())
    }
}

/// A store over `plain`'s tables whose first rooms `PutItem` (`put`) or `UpdateItem` fails once
/// the returned switch is on.
fn failing(plain: &DynamoStore, put: bool) -> (DynamoStore, Arc<AtomicBool>) {
    let armed = Arc::new(AtomicBool::new(false));
    let fail = FailOnce {
        table: plain.config().rooms_table.clone(),
        put,
        armed: armed.clone(),
    };
    let client = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&moto::sdk())
            .interceptor(fail)
            .build(),
    );
    (DynamoStore::new(client, plain.config().clone()), armed)
}

#[tokio::test]
async fn given_a_join_that_dies_after_counting_then_the_audience_is_one_high_and_a_later_join_and_leave_keep_it_so()
 {
    let plain = store().await;
    let (store, armed) = failing(&plain, true);
    let f = Fixture::new();
    let (room, alice) = (f.group("live"), f.user("alice"));
    let first = seat(&f, &room, "c1", &alice, false);
    assert!(store.join_room(&first).await.unwrap());

    // WHEN a second join counts, then fails to put its seat
    let second = seat(&f, &room, "c2", &alice, false);
    armed.store(true, Ordering::SeqCst);
    assert!(store.join_room(&second).await.is_err());

    // THEN no seat was stored, and the audience is one high: an upper bound, never low
    assert_eq!(store.get_seat(&room, &second.connection, T0).await.unwrap(), None);
    assert_eq!(store.audience(&room).await.unwrap(), 2);

    // WHEN the join is tried again and both connections leave THEN the one extra stays
    assert!(store.join_room(&second).await.unwrap());
    assert_eq!(store.audience(&room).await.unwrap(), 3);
    for seated in [&first, &second] {
        assert!(store.leave_room(&room, &seated.connection).await.unwrap());
    }
    assert_eq!(store.audience(&room).await.unwrap(), 1);
}

#[tokio::test]
async fn given_a_leave_that_dies_before_uncounting_then_the_seat_is_gone_and_the_audience_one_high() {
    let plain = store().await;
    let (store, armed) = failing(&plain, false);
    let f = Fixture::new();
    let (room, alice) = (f.group("live"), f.user("alice"));
    let seated = seat(&f, &room, "c1", &alice, false);
    assert!(store.join_room(&seated).await.unwrap());

    // WHEN the leave deletes the seat, then fails to lower the count
    armed.store(true, Ordering::SeqCst);
    assert!(store.leave_room(&room, &seated.connection).await.is_err());

    // THEN the seat is gone and the audience still counts it; a retry finds nothing to uncount
    assert_eq!(store.get_seat(&room, &seated.connection, T0).await.unwrap(), None);
    assert_eq!(store.audience(&room).await.unwrap(), 1);
    assert!(!store.leave_room(&room, &seated.connection).await.unwrap());
    assert_eq!(store.audience(&room).await.unwrap(), 1);
}

#[tokio::test]
async fn given_a_lost_counter_when_seated_connections_leave_then_it_is_not_taken_below_zero() {
    let store = store().await;
    let f = Fixture::new();
    let (room, alice) = (f.group("live"), f.user("alice"));
    let seats: Vec<Seat> = (0..2)
        .map(|i| seat(&f, &room, &format!("c{i}"), &alice, false))
        .collect();
    for seated in &seats {
        assert!(store.join_room(seated).await.unwrap());
    }
    assert_eq!(stored_count(&store, &room).await.as_deref(), Some("2"));

    // GIVEN the counter item deleted behind the store's back
    store
        .client()
        .delete_item()
        .table_name(&store.config().rooms_table)
        .key("roomShard", AttributeValue::S(format!("{room}#count")))
        .key("connectionId", AttributeValue::S("#".to_owned()))
        .send()
        .await
        .unwrap();
    assert_eq!(store.audience(&room).await.unwrap(), 0);

    // WHEN both seats leave THEN each leave reports its seat, and the counter is not created
    // below zero
    for seated in &seats {
        assert!(store.leave_room(&room, &seated.connection).await.unwrap());
    }
    assert_eq!(stored_count(&store, &room).await, None);
    assert_eq!(store.audience(&room).await.unwrap(), 0);

    // AND a join counts from zero again
    assert!(store.join_room(&seats[0]).await.unwrap());
    assert_eq!(store.audience(&room).await.unwrap(), 1);
}
