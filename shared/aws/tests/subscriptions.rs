//! The subscriptions table as DynamoDB sees it, against moto: what the conformance suite cannot
//! check through the port (the item layout, the table and its index) and calls larger than one
//! `BatchWriteItem`; plus the retry of unprocessed writes against a scripted HTTP server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeyType, PointInTimeRecoveryStatus, ProjectionType};
use cirrus_aws::moto;
use cirrus_aws::{Config, DynamoStore, SUBSCRIPTIONS_BY_SUBSCRIBER, create_tables};
use cirrus_conformance::Fixture;
use cirrus_core::ids::UserId;
use cirrus_core::ports::SubscriptionStore;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

fn client() -> Client {
    Client::new(&moto::sdk())
}

async fn store() -> DynamoStore {
    support::fresh_store("subscriptions").await
}

/// Every item of the table (a test-only scan of a table holding one case's items).
async fn items(store: &DynamoStore) -> Vec<HashMap<String, AttributeValue>> {
    store
        .client()
        .scan()
        .table_name(&store.config().subscriptions_table)
        .consistent_read(true)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default()
}

fn key_schema(schema: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> Vec<(&str, &KeyType)> {
    schema
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect()
}

#[tokio::test]
async fn given_a_subscription_then_it_is_one_item_of_two_keys_under_its_target() {
    let store = store().await;
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));

    // WHEN alice subscribes to bob
    store.subscribe(&alice, std::slice::from_ref(&bob)).await.unwrap();

    // THEN the table holds one item, keyed by bob (the target) and alice (the subscriber), and
    // nothing else
    let expected = HashMap::from([
        ("target".to_owned(), AttributeValue::S(bob.to_string())),
        ("subscriber".to_owned(), AttributeValue::S(alice.to_string())),
    ]);
    assert_eq!(items(&store).await, vec![expected]);
}

#[tokio::test]
async fn given_created_tables_then_the_subscriptions_table_has_its_keys_only_index_and_point_in_time_recovery_and_creating_again_changes_nothing()
 {
    let store = store().await;
    let client = client();
    let table = &store.config().subscriptions_table;

    // WHEN the tables are created a second time THEN that succeeds
    create_tables(&client, store.config()).await.expect("idempotent");

    let described = client.describe_table().table_name(table).send().await.unwrap();
    let described = described.table().unwrap();
    assert_eq!(
        key_schema(described.key_schema()),
        vec![("target", &KeyType::Hash), ("subscriber", &KeyType::Range)]
    );
    let [index] = described.global_secondary_indexes() else {
        panic!("one index: {described:#?}");
    };
    assert_eq!(index.index_name(), Some(SUBSCRIPTIONS_BY_SUBSCRIBER));
    assert_eq!(
        key_schema(index.key_schema()),
        vec![("subscriber", &KeyType::Hash), ("target", &KeyType::Range)]
    );
    assert_eq!(
        index.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::KeysOnly)
    );

    let backups = client
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let recovery = backups
        .continuous_backups_description()
        .and_then(|b| b.point_in_time_recovery_description())
        .and_then(|r| r.point_in_time_recovery_status());
    assert_eq!(recovery, Some(&PointInTimeRecoveryStatus::Enabled));
}

#[tokio::test]
async fn given_more_targets_than_one_batch_holds_when_subscribing_and_unsubscribing_then_every_one_counts_once()
 {
    let store = store().await;
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let targets: Vec<UserId> = (0..60).map(|i| fx.user(&format!("t{i:02}"))).collect();

    // GIVEN alice subscribes to 60 users, asked backwards and each named twice (three batches)
    let mut asked: Vec<UserId> = targets.iter().rev().cloned().collect();
    asked.extend(targets.iter().cloned());
    store.subscribe(&alice, &asked).await.unwrap();

    // THEN she has 60 subscriptions, in user id order
    assert_eq!(store.subscriptions_of(&alice).await.unwrap(), targets);
    assert_eq!(items(&store).await.len(), 60);

    // WHEN she unsubscribes from the first 40, and from users she never followed
    let mut dropped: Vec<UserId> = targets[..40].to_vec();
    dropped.extend((0..10).map(|i| fx.user(&format!("never{i}"))));
    dropped.extend(targets[..5].iter().cloned());
    store.unsubscribe(&alice, &dropped).await.unwrap();

    // THEN the last 20 are left
    assert_eq!(
        store.subscriptions_of(&alice).await.unwrap(),
        targets[40..].to_vec()
    );
}

#[tokio::test]
async fn given_many_subscribers_when_listing_them_then_the_first_by_user_id_come_up_to_the_limit() {
    let store = store().await;
    let fx = Fixture::new();
    let bob = fx.user("bob");
    let subscribers: Vec<UserId> = (0..30).map(|i| fx.user(&format!("s{i:02}"))).collect();

    // GIVEN 30 users subscribed to bob, in reverse order
    for subscriber in subscribers.iter().rev() {
        store
            .subscribe(subscriber, std::slice::from_ref(&bob))
            .await
            .unwrap();
    }

    // THEN a limit cuts the list in user id order; a larger one gets them all; 0 gets none
    assert_eq!(
        store.subscribers_of(&bob, 7).await.unwrap(),
        subscribers[..7].to_vec()
    );
    assert_eq!(store.subscribers_of(&bob, 1000).await.unwrap(), subscribers);
    assert_eq!(store.subscribers_of(&bob, 0).await.unwrap(), Vec::<UserId>::new());
}

/// A stand-in for DynamoDB that answers every `BatchWriteItem` by leaving the writes after the
/// first `made(n)` of call `n` (0-based) unprocessed; returns its endpoint and the number of
/// writes each call carried.
async fn throttling(made: fn(usize) -> usize) -> (String, Arc<Mutex<Vec<usize>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move { answer(stream, &seen, made).await });
        }
    });
    (endpoint, calls)
}

async fn answer(mut stream: TcpStream, calls: &Mutex<Vec<usize>>, made: fn(usize) -> usize) -> Option<()> {
    let mut buffer = Vec::new();
    loop {
        let (head, body) = support::next_request(&mut stream, &mut buffer).await?;
        assert!(
            head.contains("x-amz-target: dynamodb_20120810.batchwriteitem"),
            "{head}"
        );
        let request: Value = serde_json::from_slice(&body).unwrap();
        let (table, writes) = request["RequestItems"]
            .as_object()
            .unwrap()
            .iter()
            .next()
            .unwrap();
        let writes = writes.as_array().unwrap();
        let call = {
            let mut calls = calls.lock().unwrap();
            calls.push(writes.len());
            calls.len() - 1
        };
        let left = &writes[made(call).min(writes.len())..];
        let body = if left.is_empty() {
            json!({ "UnprocessedItems": {} })
        } else {
            json!({ "UnprocessedItems": { table.as_str(): left } })
        }
        .to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await.ok()?;
    }
}

fn scripted_store(endpoint: &str) -> DynamoStore {
    let config = aws_sdk_dynamodb::config::Builder::from(&moto::offline_sdk())
        .endpoint_url(endpoint)
        .build();
    DynamoStore::new(Client::from_conf(config), Config::with_prefix("scripted"))
}

#[tokio::test]
async fn given_a_throttled_table_when_a_batch_leaves_writes_unprocessed_then_only_those_are_sent_again() {
    // GIVEN a table that makes one write per call
    let (endpoint, calls) = throttling(|_| 1).await;
    let store = scripted_store(&endpoint);
    let fx = Fixture::new();
    let targets: Vec<UserId> = (0..3).map(|i| fx.user(&format!("t{i}"))).collect();

    // WHEN alice subscribes to three users THEN that succeeds, each call carrying what was left
    store.subscribe(&fx.user("alice"), &targets).await.unwrap();
    assert_eq!(*calls.lock().unwrap(), vec![3, 2, 1]);
}

#[tokio::test]
async fn given_a_table_that_stays_throttled_when_subscribing_then_the_call_fails_after_8_attempts() {
    // GIVEN a table that never makes a write
    let (endpoint, calls) = throttling(|_| 0).await;
    let store = scripted_store(&endpoint);
    let fx = Fixture::new();

    // WHEN alice subscribes THEN the call gives up after 8 calls (about 2 to 4 s of backoff)
    let subscribed = store.subscribe(&fx.user("alice"), &[fx.user("bob")]).await;
    assert!(subscribed.is_err(), "{subscribed:?}");
    assert_eq!(*calls.lock().unwrap(), vec![1; 8]);
}
