//! The users table as DynamoDB sees it, against moto: what the conformance suite cannot check
//! through the port (the item layout, the table's settings) and a call larger than the store's
//! in-flight limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PointInTimeRecoveryStatus, TimeToLiveStatus};
use cirrus_aws::moto;
use cirrus_aws::{DynamoStore, create_tables};
use cirrus_conformance::{Fixture, T0};
use cirrus_core::accounts::{Account, AccountKind};
use cirrus_core::ports::AccountStore;
use std::collections::HashMap;

fn client() -> Client {
    Client::new(&moto::sdk())
}

async fn store() -> DynamoStore {
    support::fresh_store("accounts").await
}

async fn item(store: &DynamoStore, key: &str) -> Option<HashMap<String, AttributeValue>> {
    store
        .client()
        .get_item()
        .table_name(&store.config().users_table)
        .key("userId", AttributeValue::S(key.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("get_item")
        .item
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    item[name].as_n().expect("a number").parse().expect("an integer")
}

#[tokio::test]
async fn given_an_account_and_a_failure_counter_of_the_same_user_then_they_are_two_items_and_the_counter_expires_with_its_window()
 {
    let store = store().await;
    let fx = Fixture::new();
    let alice = fx.user("alice");

    // GIVEN alice's account and a failed login counted against her user id
    store.record_login(&alice, T0).await.unwrap();
    let window = 60_000;
    assert_eq!(
        store
            .note_login_failure(alice.as_str(), T0 + 1, window)
            .await
            .unwrap(),
        1
    );

    // THEN the account is the item keyed by her id, with the attributes of the README
    let account = item(&store, alice.as_str()).await.expect("the account item");
    let mut names: Vec<&str> = account.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        vec!["createdAt", "kind", "lastLoginAt", "tokensValidAfter", "userId"]
    );
    assert_eq!(account["kind"].as_s().unwrap(), "first_login");

    // AND the counter is a separate item under "fail#<key>", expiring (in seconds) at the window's end
    let counter = item(&store, &format!("fail#{alice}"))
        .await
        .expect("the counter item");
    assert_eq!(number(&counter, "failures"), 1);
    assert_eq!(number(&counter, "windowStart"), T0 + 1);
    assert_eq!(number(&counter, "expiresAt"), (T0 + 1 + window + 999) / 1000);

    // WHEN a failure comes after the window THEN the counter restarts and its expiry moves on
    let later = T0 + 10 * window;
    assert_eq!(
        store
            .note_login_failure(alice.as_str(), later, window)
            .await
            .unwrap(),
        1
    );
    let counter = item(&store, &format!("fail#{alice}")).await.unwrap();
    assert_eq!(number(&counter, "windowStart"), later);
    assert_eq!(number(&counter, "expiresAt"), (later + window + 999) / 1000);

    // AND deleting the account leaves the counter, clearing the counter leaves nothing
    assert_eq!(
        store
            .delete_accounts(std::slice::from_ref(&alice), 1)
            .await
            .unwrap(),
        vec![true]
    );
    assert!(item(&store, &format!("fail#{alice}")).await.is_some());
    store.clear_login_failures(alice.as_str()).await.unwrap();
    assert!(item(&store, &format!("fail#{alice}")).await.is_none());
}

#[tokio::test]
async fn given_created_tables_then_the_users_table_has_ttl_and_point_in_time_recovery_and_creating_again_changes_nothing()
 {
    let store = store().await;
    let client = client();
    let table = &store.config().users_table;

    // WHEN the tables are created a second time THEN that succeeds
    create_tables(&client, store.config()).await.expect("idempotent");

    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expiresAt"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));

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

    let described = client.describe_table().table_name(table).send().await.unwrap();
    let key: Vec<&str> = described
        .table()
        .unwrap()
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(key, vec!["userId"]);
}

#[tokio::test]
async fn given_more_accounts_than_run_at_once_when_they_are_created_read_and_deleted_then_every_answer_keeps_its_place()
 {
    let store = store().await;
    let fx = Fixture::new();
    let users: Vec<_> = (0..150).map(|i| fx.user(&format!("u{i}"))).collect();
    let accounts: Vec<Account> = users
        .iter()
        .enumerate()
        .map(|(i, user)| {
            Account::new(
                user.clone(),
                AccountKind::Imported,
                T0 + i64::try_from(i).unwrap(),
            )
        })
        .collect();

    // GIVEN every third account exists already
    let existing: Vec<Account> = accounts.iter().step_by(3).cloned().collect();
    assert_eq!(
        store.create_accounts(&existing).await.unwrap(),
        vec![true; existing.len()]
    );

    // WHEN all are created THEN exactly the others are, each answer in its input's place
    let created = store.create_accounts(&accounts).await.unwrap();
    let expected: Vec<bool> = (0..accounts.len()).map(|i| i % 3 != 0).collect();
    assert_eq!(created, expected);

    // AND reading them back (two batches) keeps the asked order
    let mut asked = users.clone();
    asked.reverse();
    let read = store.get_accounts(&asked).await.unwrap();
    let mut reversed = accounts.clone();
    reversed.reverse();
    assert_eq!(read, reversed);

    // AND deleting every other one reports each, in place
    let half: Vec<_> = users.iter().step_by(2).cloned().collect();
    assert_eq!(
        store.delete_accounts(&half, 1).await.unwrap(),
        vec![true; half.len()]
    );
    assert_eq!(
        store.get_accounts(&users).await.unwrap().len(),
        users.len() - half.len()
    );
}
