//! Profiles and relations as DynamoDB sees them, against moto: what the conformance suite cannot
//! check through the ports (the items, the nickname index's keys, the tables and the index as
//! created, a profile sharing its item with an account) and `put_friends` beyond one transaction.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoveryStatus,
    ProjectionType, ScalarAttributeType,
};
use cirrus_aws::moto;
use cirrus_aws::{
    Config, DynamoStore, MAX_TRANSACTION_ITEMS, NICKNAME_INDEX_ATTRIBUTES, USERS_BY_NICKNAME, create_tables,
};
use cirrus_conformance::{Fixture, T0};
use cirrus_core::accounts::{Account, AccountKind};
use cirrus_core::ids::UserId;
use cirrus_core::ports::{AccountStore, ProfileStore, RelationStore};
use cirrus_core::social::{Friend, FriendRequest, Profile, RequestDirection};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Item = HashMap<String, AttributeValue>;

fn client() -> Client {
    Client::new(&moto::sdk())
}

async fn store() -> DynamoStore {
    support::fresh_store("relations").await
}

/// Every item of `table` (a test-only scan of a table holding one case's items), sorted by key.
async fn items(store: &DynamoStore, table: &str) -> Vec<Item> {
    let mut items = store
        .client()
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    items.sort_by_key(|item| {
        (
            text(item, "userId"),
            item.get("key").map(|k| k.as_s().unwrap().clone()),
        )
    });
    items
}

fn text(item: &Item, name: &str) -> String {
    item[name].as_s().expect("a string").clone()
}

fn names(item: &Item) -> Vec<&str> {
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort_unstable();
    names
}

/// (userId, key) of each item.
fn keys(items: &[Item]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|item| (text(item, "userId"), text(item, "key")))
        .collect()
}

fn key_schema(schema: &[KeySchemaElement]) -> Vec<(&str, &KeyType)> {
    schema
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect()
}

fn friend(owner: &UserId, peer: &UserId) -> Friend {
    Friend {
        owner: owner.clone(),
        peer: peer.clone(),
        remark: None,
        groups: Vec::new(),
        added_at: T0,
    }
}

fn request(from: &UserId, to: &UserId) -> FriendRequest {
    FriendRequest {
        from: from.clone(),
        to: to.clone(),
        reason: Some("hello".to_owned()),
        remark: None,
        created_at: T0,
    }
}

fn named(nickname: &str) -> Profile {
    Profile {
        nickname: Some(nickname.to_owned()),
        updated_at: T0,
        ..Profile::default()
    }
}

#[tokio::test]
async fn given_a_profile_with_a_nickname_then_its_users_item_holds_the_p_attributes_and_the_index_keys_until_the_nickname_goes()
 {
    let store = store().await;
    let fx = Fixture::new();
    let alice = fx.user("alice");

    // WHEN alice sets a nickname
    store.put_profile(&alice, &named("Élodie")).await.unwrap();

    // THEN her item holds the profile attributes and the nickname index's keys: the first
    // character of the lower-cased nickname, and the lower-cased nickname, NUL, her id
    let item = &items(&store, &store.config().users_table).await[0];
    assert_eq!(
        names(item),
        [
            "nickShard",
            "nickSort",
            "pAllow",
            "pGender",
            "pNick",
            "pUpdatedAt",
            "userId"
        ]
    );
    assert_eq!(text(item, "pNick"), "Élodie");
    assert_eq!(text(item, "nickShard"), "é");
    assert_eq!(text(item, "nickSort"), format!("élodie\0{alice}"));
    assert_eq!(text(item, "pGender"), "unknown");
    assert_eq!(text(item, "pAllow"), "need_confirm");

    // WHEN the nickname is cleared THEN the nickname and both index keys are removed
    store
        .put_profile(
            &alice,
            &Profile {
                updated_at: T0 + 1,
                ..Profile::default()
            },
        )
        .await
        .unwrap();
    let item = &items(&store, &store.config().users_table).await[0];
    assert_eq!(names(item), ["pAllow", "pGender", "pUpdatedAt", "userId"]);
}

#[tokio::test]
async fn given_an_account_when_its_user_sets_a_profile_then_both_share_one_item_and_neither_touches_the_other()
 {
    let store = store().await;
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let account = Account {
        nickname: Some("Account Nick".to_owned()),
        password_hash: Some("$argon2id$v=19$x".to_owned()),
        ..Account::new(alice.clone(), AccountKind::Registered, T0)
    };
    assert_eq!(
        store
            .create_accounts(std::slice::from_ref(&account))
            .await
            .unwrap(),
        [true]
    );

    // WHEN alice sets a profile, and logs in
    let profile = named("Alice");
    store.put_profile(&alice, &profile).await.unwrap();
    let logged_in = store.record_login(&alice, T0 + 5).await.unwrap();

    // THEN the account is as it was (plus the login), and the profile as put
    assert_eq!(
        logged_in,
        Account {
            last_login_at: Some(T0 + 5),
            ..account.clone()
        }
    );
    assert_eq!(
        store.get_accounts(std::slice::from_ref(&alice)).await.unwrap(),
        [logged_in]
    );
    let profiles = store.get_profiles(std::slice::from_ref(&alice)).await.unwrap();
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].profile, profile);

    // GIVEN bob has a profile but no account
    store.put_profile(&bob, &named("Bob")).await.unwrap();
    // THEN he has no account: reading finds none, a logout or password change does nothing
    assert!(
        store
            .get_accounts(std::slice::from_ref(&bob))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.record_logout(&bob, T0, Some(1)).await.unwrap(), None);
    assert!(!store.set_password(&bob, "h", T0, 1).await.unwrap());
    // WHEN his account is created THEN it is, and his profile stays
    let bobs = Account::new(bob.clone(), AccountKind::Imported, T0);
    assert_eq!(
        store.create_accounts(std::slice::from_ref(&bobs)).await.unwrap(),
        [true]
    );
    assert_eq!(
        store.get_accounts(std::slice::from_ref(&bob)).await.unwrap(),
        [bobs]
    );
    assert_eq!(
        store
            .get_profiles(std::slice::from_ref(&bob))
            .await
            .unwrap()
            .len(),
        1
    );

    // WHEN the accounts are deleted THEN the profiles go with them (the whole item is replaced by
    // a tombstone), and a profile without an account is replaced too but was no account
    let carol = fx.user("carol");
    store.put_profile(&carol, &named("Carol")).await.unwrap();
    assert_eq!(
        store
            .delete_accounts(&[alice.clone(), bob.clone(), carol.clone()], 7)
            .await
            .unwrap(),
        [true, true, false]
    );
    assert!(store.get_profiles(&[alice, bob, carol]).await.unwrap().is_empty());
    // AND each item left is a tombstone: the key, the revocation second and when
    for item in items(&store, &store.config().users_table).await {
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["deletedAt", "tokensValidAfter", "userId"]);
    }
}

#[tokio::test]
async fn given_a_nickname_longer_than_a_sort_key_holds_then_it_is_put_and_found_by_any_prefix() {
    let store = store().await;
    let fx = Fixture::new();
    let alice = fx.user("alice");
    // 1,200 bytes: over the 1,024 of a sort key
    let long = format!("{}{}", fx.nickname(""), "é".repeat(600));
    store.put_profile(&alice, &named(&long)).await.unwrap();

    let item = &items(&store, &store.config().users_table).await[0];
    assert!(text(item, "nickSort").len() <= 1024);
    for prefix in [fx.nickname(""), long.clone(), long[..long.len() - 2].to_owned()] {
        let found = store.search_nickname(&prefix, 10).await.unwrap();
        assert_eq!(found.len(), 1, "prefix of {} bytes", prefix.len());
        assert_eq!(found[0].profile.nickname.as_deref(), Some(long.as_str()));
    }
    let longer = format!("{long}x");
    assert!(store.search_nickname(&longer, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn given_a_request_then_it_is_stored_under_both_sides_and_a_friendship_replaces_both_copies_with_entries()
 {
    let store = store().await;
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let table = store.config().relations_table.clone();

    // WHEN alice asks bob
    store.put_request(&request(&alice, &bob)).await.unwrap();

    // THEN the request is an outgoing copy under alice and an incoming one under bob, alike
    let stored = items(&store, &table).await;
    assert_eq!(
        keys(&stored),
        [
            (alice.to_string(), format!("REQ_OUT#{bob}")),
            (bob.to_string(), format!("REQ_IN#{alice}")),
        ]
    );
    for copy in &stored {
        assert_eq!(names(copy), ["createdAt", "key", "reason", "userId"]);
        assert_eq!(text(copy, "reason"), "hello");
    }

    // WHEN bob asks alice too, and then they become friends both ways
    store.put_request(&request(&bob, &alice)).await.unwrap();
    let with_groups = Friend {
        remark: Some("Al".to_owned()),
        groups: vec!["a".to_owned(), "b".to_owned()],
        ..friend(&bob, &alice)
    };
    store
        .put_friends(&[friend(&alice, &bob), with_groups])
        .await
        .unwrap();

    // THEN only the two entries are left, FRIEND#<peer> under each side
    let stored = items(&store, &table).await;
    assert_eq!(
        keys(&stored),
        [
            (alice.to_string(), format!("FRIEND#{bob}")),
            (bob.to_string(), format!("FRIEND#{alice}")),
        ]
    );
    assert_eq!(names(&stored[0]), ["addedAt", "key", "userId"]);
    assert_eq!(
        names(&stored[1]),
        ["addedAt", "groups", "key", "remark", "userId"]
    );
    assert_eq!(
        stored[1]["groups"],
        AttributeValue::L(vec![
            AttributeValue::S("a".to_owned()),
            AttributeValue::S("b".to_owned())
        ])
    );
}

/// Counts the items of each `TransactWriteItems` a client sends.
#[derive(Debug, Clone, Default)]
struct Transactions(Arc<Mutex<Vec<usize>>>);

impl Intercept for Transactions {
    fn name(&self) -> &'static str {
        "transactions"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(input) = context.input().downcast_ref::<TransactWriteItemsInput>() {
            self.0.lock().unwrap().push(input.transact_items().len());
        }
        Ok(())
    }
}

#[tokio::test]
async fn given_more_friendships_than_one_transaction_holds_then_they_are_split_between_pairs_and_all_written()
{
    let plain = store().await;
    let transactions = Transactions::default();
    let client = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&moto::sdk())
            .interceptor(transactions.clone())
            .build(),
    );
    let store = DynamoStore::new(client, plain.config().clone());
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let peers: Vec<UserId> = (0..20).map(|i| fx.user(&format!("p{i:02}"))).collect();

    // GIVEN a request from each peer to alice
    for peer in &peers {
        store.put_request(&request(peer, &alice)).await.unwrap();
    }
    transactions.0.lock().unwrap().clear();

    // WHEN alice and 20 peers become friends both ways: 20 pairs of 2 puts and 4 deletes
    let entries: Vec<Friend> = peers
        .iter()
        .flat_map(|peer| [friend(&alice, peer), friend(peer, &alice)])
        .collect();
    store.put_friends(&entries).await.unwrap();

    // THEN two transactions: 16 whole pairs (96 items, at most 100), then the other 4 (24)
    assert_eq!(MAX_TRANSACTION_ITEMS, 100);
    assert_eq!(*transactions.0.lock().unwrap(), [96, 24]);
    // AND every entry is written, every request gone
    assert_eq!(store.count_friends(&alice).await.unwrap(), 20);
    let listed = store.list_friends(&alice, None, 100).await.unwrap();
    assert_eq!(listed.iter().map(|f| f.peer.clone()).collect::<Vec<_>>(), peers);
    for peer in &peers {
        assert_eq!(store.count_friends(peer).await.unwrap(), 1);
    }
    assert!(
        store
            .list_requests(&alice, RequestDirection::Incoming, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let stored = items(&store, &store.config().relations_table).await;
    assert!(stored.iter().all(|item| text(item, "key").starts_with("FRIEND#")));
    assert_eq!(stored.len(), 40);
}

#[tokio::test]
async fn given_created_tables_then_the_relations_table_its_index_and_the_nickname_index_are_as_declared_and_creating_again_changes_nothing()
 {
    let store = store().await;
    let client = client();
    create_tables(&client, store.config()).await.expect("idempotent");

    // The relations table: userId + key, point-in-time recovery
    let described = client
        .describe_table()
        .table_name(&store.config().relations_table)
        .send()
        .await
        .unwrap();
    let relations = described.table().unwrap();
    assert_eq!(
        key_schema(relations.key_schema()),
        [("userId", &KeyType::Hash), ("key", &KeyType::Range)]
    );
    // AND its one index turns the key around, keys only (who has FRIEND#/BLOCK#<peer>)
    let indexes = relations.global_secondary_indexes();
    assert_eq!(indexes.len(), 1);
    assert_eq!(indexes[0].index_name(), Some("byKey"));
    assert_eq!(
        key_schema(indexes[0].key_schema()),
        [("key", &KeyType::Hash), ("userId", &KeyType::Range)]
    );
    assert_eq!(
        indexes[0].projection().and_then(|p| p.projection_type()),
        Some(&aws_sdk_dynamodb::types::ProjectionType::KeysOnly)
    );
    let backups = client
        .describe_continuous_backups()
        .table_name(&store.config().relations_table)
        .send()
        .await
        .unwrap();
    let recovery = backups
        .continuous_backups_description()
        .and_then(|b| b.point_in_time_recovery_description())
        .and_then(|r| r.point_in_time_recovery_status());
    assert_eq!(recovery, Some(&PointInTimeRecoveryStatus::Enabled));

    // The users table's nickname index: nickShard + nickSort, the profile attributes included
    let described = client
        .describe_table()
        .table_name(&store.config().users_table)
        .send()
        .await
        .unwrap();
    assert_nickname_index(described.table().unwrap());
}

fn assert_nickname_index(users: &aws_sdk_dynamodb::types::TableDescription) {
    let [index] = users.global_secondary_indexes() else {
        panic!("one index: {users:#?}");
    };
    assert_eq!(index.index_name(), Some(USERS_BY_NICKNAME));
    assert_eq!(
        key_schema(index.key_schema()),
        [("nickShard", &KeyType::Hash), ("nickSort", &KeyType::Range)]
    );
    let projection = index.projection().unwrap();
    assert_eq!(projection.projection_type(), Some(&ProjectionType::Include));
    let mut included = projection.non_key_attributes().to_vec();
    included.sort_unstable();
    let mut expected = NICKNAME_INDEX_ATTRIBUTES.map(str::to_owned).to_vec();
    expected.sort_unstable();
    assert_eq!(included, expected);
}

#[tokio::test]
async fn given_a_users_table_made_before_profiles_when_tables_are_created_then_the_nickname_index_is_added() {
    let client = client();
    let config = Config::with_prefix(&format!("cirrus-old-users-{}", std::process::id()));
    // GIVEN a users table as it was before profiles: its key only
    client
        .create_table()
        .table_name(&config.users_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("userId")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("userId")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // WHEN the tables are created (twice)
    create_tables(&client, &config).await.unwrap();
    create_tables(&client, &config).await.unwrap();

    // THEN the users table has gained the index, and searches work
    let described = client
        .describe_table()
        .table_name(&config.users_table)
        .send()
        .await
        .unwrap();
    assert_nickname_index(described.table().unwrap());
    let store = DynamoStore::new(client, config);
    let fx = Fixture::new();
    let alice = fx.user("alice");
    store
        .put_profile(&alice, &named(&fx.nickname("Alice")))
        .await
        .unwrap();
    let found = store.search_nickname(&fx.nickname("al"), 5).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].user, alice);
}
