//! Blacklists, recommendations and notifications as DynamoDB sees them, against moto: what the
//! conformance suite cannot check through the ports (the items in the relations table, its TTL,
//! how many queries a listing takes past expired notifications, calls beyond one batch).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use cirrus_aws::moto;
use cirrus_aws::{DynamoStore, create_tables};
use cirrus_conformance::{Fixture, T0};
use cirrus_core::ids::UserId;
use cirrus_core::ports::{BlockStore, NotificationStore, RecommendationStore};
use cirrus_core::social::{Block, Notification, Recommendation};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

type Item = HashMap<String, AttributeValue>;

fn client() -> Client {
    Client::new(&moto::sdk())
}

async fn store() -> DynamoStore {
    support::fresh_store("social").await
}

/// Every item of the relations table (a test-only scan of one case's table), sorted by key.
async fn relation_items(store: &DynamoStore) -> Vec<Item> {
    let mut items = store
        .client()
        .scan()
        .table_name(&store.config().relations_table)
        .consistent_read(true)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    items.sort_by_key(|item| (text(item, "userId"), text(item, "key")));
    items
}

fn text(item: &Item, name: &str) -> String {
    item[name].as_s().expect("a string").clone()
}

fn number(item: &Item, name: &str) -> i64 {
    item[name].as_n().expect("a number").parse().unwrap()
}

fn names(item: &Item) -> Vec<&str> {
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort_unstable();
    names
}

fn notification(owner: &UserId, id: &str, time: i64) -> Notification {
    Notification {
        owner: owner.clone(),
        id: id.to_owned(),
        event: "friend.added".to_owned(),
        data: "{}".to_owned(),
        time,
    }
}

/// Counts the `Query` calls of a client.
#[derive(Debug, Clone, Default)]
struct Queries(Arc<AtomicU32>);

impl Intercept for Queries {
    fn name(&self) -> &'static str {
        "query-counter"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if context.input().downcast_ref::<QueryInput>().is_some() {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[tokio::test]
async fn given_a_block_a_recommendation_and_a_notification_then_each_is_one_item_under_its_owner_in_the_relations_table()
 {
    // GIVEN alice blocks bob, has carol recommended and is told about dave
    let store = store().await;
    let f = Fixture::new();
    let (alice, bob, carol) = (f.user("alice"), f.user("bob"), f.user("carol"));
    store
        .put_blocks(&[Block {
            owner: alice.clone(),
            peer: bob.clone(),
            blocked_at: T0,
        }])
        .await
        .unwrap();
    store
        .put_recommendations(&[Recommendation {
            owner: alice.clone(),
            peer: carol.clone(),
            reason: Some("chess".to_owned()),
            added_at: T0 + 1,
        }])
        .await
        .unwrap();
    store
        .put_notification(&notification(&alice, "n-1", T0 + 2), T0 + 60_500)
        .await
        .unwrap();

    // THEN the relations table holds three items under alice, keyed by kind and peer or id
    let items = relation_items(&store).await;
    let keys: Vec<(String, String)> = items
        .iter()
        .map(|item| (text(item, "userId"), text(item, "key")))
        .collect();
    assert_eq!(
        keys,
        [
            (alice.to_string(), format!("BLOCK#{bob}")),
            (alice.to_string(), "NOTE#n-1".to_owned()),
            (alice.to_string(), format!("RECOMMEND#{carol}")),
        ]
    );
    assert_eq!(names(&items[0]), ["blockedAt", "key", "userId"]);
    assert_eq!(number(&items[0], "blockedAt"), T0);
    assert_eq!(
        names(&items[1]),
        [
            "data",
            "event",
            "expiresAt",
            "expiresAtMs",
            "key",
            "time",
            "userId"
        ]
    );
    // AND the notification's TTL attribute is in seconds, rounded up
    assert_eq!(number(&items[1], "expiresAtMs"), T0 + 60_500);
    assert_eq!(number(&items[1], "expiresAt"), (T0 + 60_500 + 999) / 1000);
    assert_eq!(names(&items[2]), ["addedAt", "key", "reason", "userId"]);
}

#[tokio::test]
async fn given_created_tables_then_the_relations_table_expires_items_on_expires_at() {
    let store = store().await;
    let client = client();
    create_tables(&client, store.config()).await.expect("idempotent");
    let ttl = client
        .describe_time_to_live()
        .table_name(&store.config().relations_table)
        .send()
        .await
        .unwrap();
    let description = ttl.time_to_live_description().unwrap();
    assert_eq!(
        description.time_to_live_status(),
        Some(&TimeToLiveStatus::Enabled)
    );
    assert_eq!(description.attribute_name(), Some("expiresAt"));
}

#[tokio::test]
async fn given_60_expired_notifications_ttl_has_not_deleted_before_5_live_ones_when_3_are_listed_then_the_pages_grow_past_the_expired_ones()
 {
    // GIVEN a store whose queries are counted
    let queries = Queries::default();
    let plain = store().await;
    let client = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&moto::sdk())
            .interceptor(queries.clone())
            .build(),
    );
    let store = DynamoStore::new(client, plain.config().clone());
    // AND alice's 60 oldest notifications have expired, her 5 newest have not
    let f = Fixture::new();
    let alice = f.user("alice");
    for i in 0..65 {
        let expires_at = if i < 60 { T0 + 10 } else { T0 + 60_000 };
        store
            .put_notification(&notification(&alice, &format!("n-{i:02}"), T0), expires_at)
            .await
            .unwrap();
    }

    // WHEN 3 are listed after they expired
    let listed = store.list_notifications(&alice, None, 3, T0 + 10).await.unwrap();

    // THEN the first 3 live ones come back
    let ids: Vec<&str> = listed.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["n-60", "n-61", "n-62"]);
    // AND it took 5 queries (Limit 3, 6, 12, 24, 48: each adds the expired ones skipped so far),
    // not one per 3 items read
    assert_eq!(queries.0.load(Ordering::Relaxed), 5);

    // AND a page after a live one starts there, the expired ones never read again
    queries.0.store(0, Ordering::Relaxed);
    let rest = store
        .list_notifications(&alice, Some("n-62"), 10, T0 + 10)
        .await
        .unwrap();
    let ids: Vec<&str> = rest.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["n-63", "n-64"]);
    assert_eq!(queries.0.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn given_20_peers_each_named_twice_when_blocked_unblocked_and_counted_then_each_counts_once() {
    let store = store().await;
    let f = Fixture::new();
    let alice = f.user("alice");
    let peers: Vec<UserId> = (0..20).map(|i| f.user(&format!("p{i:02}"))).collect();
    let blocks: Vec<Block> = peers
        .iter()
        .chain(&peers)
        .zip(0..)
        .map(|(peer, n)| Block {
            owner: alice.clone(),
            peer: peer.clone(),
            blocked_at: T0 + n,
        })
        .collect();

    // WHEN the 40 blocks are put (more than are sent at once)
    store.put_blocks(&blocks).await.unwrap();

    // THEN there are 20, each with the time first named, over pages of 7
    assert_eq!(store.count_blocks(&alice).await.unwrap(), 20);
    let mut listed = Vec::new();
    loop {
        let page = store
            .list_blocks(&alice, listed.last().map(|b: &Block| &b.peer), 7)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        listed.extend(page);
    }
    assert_eq!(listed, blocks[..20]);
    // AND unblocking them all, each twice, reports each once
    let twice: Vec<UserId> = peers.iter().chain(&peers).cloned().collect();
    let deleted = store.delete_blocks(&alice, &twice).await.unwrap();
    assert_eq!(deleted, [vec![true; 20], vec![false; 20]].concat());
    assert_eq!(store.count_blocks(&alice).await.unwrap(), 0);
}
