//! Groups as DynamoDB sees them, against moto: what the conformance suite cannot check through the
//! port (the items and index keys, the tables and indexes as created), member changes beyond one
//! transaction (more than 99 members), and an add that another process fills the group under,
//! between two of its transactions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeySchemaElement, KeyType, PointInTimeRecoveryStatus, ProjectionType,
};
use cirrus_aws::{DynamoStore, GROUPS_BY_NAME, MEMBERS_BY_USER, create_tables, moto};
use cirrus_conformance::{Fixture, T0};
use cirrus_core::group::{Group, GroupType, JoinRequest, Member, RequestKind, Role};
use cirrus_core::ids::{GroupId, UserId};
use cirrus_core::ports::GroupStore;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

type Item = HashMap<String, AttributeValue>;

async fn store() -> DynamoStore {
    support::fresh_store("groups").await
}

fn group(f: &Fixture, name: &str, kind: GroupType, owner: &UserId) -> Group {
    Group {
        id: f.group(name),
        kind,
        name: f.nickname(name),
        introduction: None,
        notice: None,
        avatar: None,
        owner: Some(owner.clone()),
        creator: owner.clone(),
        created_at: T0,
        join_policy: kind.default_join_policy(),
        mute_all: false,
        max_members: 1_000,
        custom: BTreeMap::new(),
        member_count: 0,
        dismissed: false,
    }
}

fn member(group: &GroupId, user: &UserId, role: Role) -> Member {
    Member {
        group: group.clone(),
        user: user.clone(),
        role,
        joined_at: T0,
        joined_seq: 0,
        name_card: None,
        muted_until: 0,
        custom: BTreeMap::new(),
    }
}

/// `n` users of `f` named `u000`, `u001`, … (so their order is their number's).
fn users(f: &Fixture, from: usize, n: usize) -> Vec<UserId> {
    (from..from + n).map(|i| f.user(&format!("u{i:03}"))).collect()
}

fn ordinary(group: &GroupId, users: &[UserId]) -> Vec<Member> {
    users
        .iter()
        .map(|user| member(group, user, Role::Member))
        .collect()
}

/// Every member of `group`, read 40 at a time.
async fn all_members(store: &DynamoStore, group: &GroupId) -> Vec<UserId> {
    let mut all: Vec<UserId> = Vec::new();
    loop {
        let page = store
            .list_members(group, all.last(), 40)
            .await
            .expect("list_members");
        if page.is_empty() {
            return all;
        }
        all.extend(page.into_iter().map(|member| member.user));
    }
}

async fn count(store: &DynamoStore, group: &GroupId) -> u32 {
    store
        .get_group(group)
        .await
        .expect("get_group")
        .expect("the group")
        .member_count
}

async fn item(store: &DynamoStore, table: &str, key: Item) -> Item {
    store
        .client()
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .expect("get_item")
        .item
        .expect("the item")
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn key_schema(schema: &[KeySchemaElement]) -> Vec<(&str, &KeyType)> {
    schema
        .iter()
        .map(|element| (element.attribute_name(), element.key_type()))
        .collect()
}

#[tokio::test]
async fn given_a_public_group_with_a_member_and_a_request_then_each_is_one_item_under_its_group_and_the_name_index_keys_follow_the_group()
 {
    let store = store().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    let club = Group {
        name: f.nickname("Chess Club"),
        ..group(&f, "club", GroupType::Public, &alice)
    };
    let id = club.id.clone();
    assert!(
        store
            .create_group(&club, &[member(&id, &alice, Role::Owner)])
            .await
            .unwrap()
    );
    store
        .put_join_request(&JoinRequest {
            group: id.clone(),
            user: bob.clone(),
            kind: RequestKind::Application,
            by: bob.clone(),
            reason: None,
            created_at: T0,
        })
        .await
        .unwrap();
    let config = store.config().clone();
    let group_key = Item::from([("groupId".to_owned(), s(id.as_str()))]);

    // THEN the group's item carries its count and the index keys: first character, name NUL id
    let stored = item(&store, &config.groups_table, group_key.clone()).await;
    assert_eq!(stored["memberCount"], AttributeValue::N("1".to_owned()));
    assert_eq!(stored["kind"], s("public"));
    assert_eq!(stored["joinPolicy"], s("need_approval"));
    let name = f.nickname("Chess Club").to_lowercase();
    assert_eq!(stored["nameShard"], s(&name[..1]));
    assert_eq!(stored["nameSort"], s(&format!("{name}\0{id}")));
    for absent in [
        "introduction",
        "notice",
        "avatar",
        "custom",
        "muteAll",
        "dismissed",
    ] {
        assert!(!stored.contains_key(absent), "{absent} is unset: {stored:?}");
    }

    // AND the member and the request are items of the members table under the group
    let alices = item(
        &store,
        &config.members_table,
        Item::from([
            ("groupId".to_owned(), s(id.as_str())),
            ("userId".to_owned(), s(alice.as_str())),
        ]),
    )
    .await;
    assert_eq!(alices["role"], s("owner"));
    let request = item(
        &store,
        &config.members_table,
        Item::from([
            ("groupId".to_owned(), s(id.as_str())),
            ("userId".to_owned(), s(&format!("#REQ#{bob}"))),
        ]),
    )
    .await;
    assert_eq!(request["requestKind"], s("application"));
    assert_eq!(request["requestedBy"], s(bob.as_str()));
    assert_eq!(
        all_members(&store, &id).await,
        vec![alice.clone()],
        "the request is no member"
    );
    assert_eq!(store.count_groups_of(&bob).await.unwrap(), 0, "nor a membership");

    // WHEN the group is dismissed THEN it leaves the index, and its count stays
    let dismissed = Group {
        dismissed: true,
        member_count: 99,
        ..club
    };
    assert!(store.put_group(&dismissed).await.unwrap());
    let stored = item(&store, &config.groups_table, group_key).await;
    assert!(!stored.contains_key("nameShard") && !stored.contains_key("nameSort"));
    assert_eq!(stored["dismissed"], AttributeValue::Bool(true));
    assert_eq!(stored["memberCount"], AttributeValue::N("1".to_owned()));
}

#[tokio::test]
async fn given_created_tables_then_the_groups_and_members_tables_and_their_indexes_are_as_declared() {
    let store = store().await;
    let client = Client::new(&moto::sdk());
    create_tables(&client, store.config()).await.expect("idempotent");

    let groups = client
        .describe_table()
        .table_name(&store.config().groups_table)
        .send()
        .await
        .unwrap();
    let groups = groups.table().unwrap();
    assert_eq!(key_schema(groups.key_schema()), [("groupId", &KeyType::Hash)]);
    let [by_name] = groups.global_secondary_indexes() else {
        panic!("one index: {groups:#?}");
    };
    assert_eq!(by_name.index_name(), Some(GROUPS_BY_NAME));
    assert_eq!(
        key_schema(by_name.key_schema()),
        [("nameShard", &KeyType::Hash), ("nameSort", &KeyType::Range)]
    );
    assert_eq!(
        by_name.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::KeysOnly)
    );

    let members = client
        .describe_table()
        .table_name(&store.config().members_table)
        .send()
        .await
        .unwrap();
    let members = members.table().unwrap();
    assert_eq!(
        key_schema(members.key_schema()),
        [("groupId", &KeyType::Hash), ("userId", &KeyType::Range)]
    );
    let [by_user] = members.global_secondary_indexes() else {
        panic!("one index: {members:#?}");
    };
    assert_eq!(by_user.index_name(), Some(MEMBERS_BY_USER));
    assert_eq!(
        key_schema(by_user.key_schema()),
        [("userId", &KeyType::Hash), ("groupId", &KeyType::Range)]
    );
    assert_eq!(
        by_user.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::All)
    );

    for table in [&store.config().groups_table, &store.config().members_table] {
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
        assert_eq!(recovery, Some(&PointInTimeRecoveryStatus::Enabled), "{table}");
    }
}

#[tokio::test]
async fn given_more_members_than_one_transaction_holds_then_create_add_and_remove_keep_the_count_exact() {
    let store = store().await;
    let f = Fixture::new();
    let first = users(&f, 0, 150);
    let team = group(&f, "team", GroupType::Chatroom, &first[0]);
    let id = team.id.clone();

    // WHEN a group is created with 150 members THEN all are in it, counted once
    assert!(store.create_group(&team, &ordinary(&id, &first)).await.unwrap());
    assert_eq!(count(&store, &id).await, 150);
    assert_eq!(all_members(&store, &id).await, first);

    // WHEN 120 are added, 10 of them members already, up to a cap that fits exactly
    let mut more = first[140..].to_vec();
    more.extend(users(&f, 150, 110));
    let added = store
        .add_members(&id, &ordinary(&id, &more), Some(260))
        .await
        .unwrap()
        .expect("within the cap");
    assert_eq!(added.iter().filter(|added| **added).count(), 110);
    assert!(added[..10].iter().all(|added| !added), "the existing ten");
    assert_eq!(count(&store, &id).await, 260);
    assert_eq!(all_members(&store, &id).await.len(), 260);
    assert_eq!(
        store
            .add_members(&id, &ordinary(&id, &users(&f, 260, 1)), Some(260))
            .await
            .unwrap(),
        None,
        "full"
    );

    // WHEN 200 are removed THEN 60 are left, counted so
    let everyone = all_members(&store, &id).await;
    let removed = store.remove_members(&id, &everyone[..200]).await.unwrap();
    assert_eq!(removed, vec![true; 200]);
    assert_eq!(count(&store, &id).await, 60);
    assert_eq!(all_members(&store, &id).await, everyone[200..].to_vec());
    assert_eq!(store.count_groups_of(&everyone[0]).await.unwrap(), 0);
    assert_eq!(store.count_groups_of(&everyone[259]).await.unwrap(), 1);
}

/// Once the first `TransactWriteItems` of the store's client has been made, raises a group's
/// `memberCount` by `by` with another client, as another process adding members would.
#[derive(Debug, Clone)]
struct FillAfterFirstTransaction {
    table: String,
    group: String,
    by: u32,
    transactions: Arc<Mutex<u32>>,
}

impl Intercept for FillAfterFirstTransaction {
    fn name(&self) -> &'static str {
        "fill-after-first-transaction"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if context
            .input()
            .downcast_ref::<TransactWriteItemsInput>()
            .is_some()
        {
            *self.transactions.lock().unwrap() += 1;
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let first = {
            let mut transactions = self.transactions.lock().unwrap();
            let first = *transactions == 1;
            if first {
                // Only once.
                *transactions += 100;
            }
            first
        };
        if first {
            let (table, group, by) = (self.table.clone(), self.group.clone(), self.by);
            // The store's runtime is busy in this call: the other "process" runs on its own.
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    Client::new(&moto::sdk())
                        .update_item()
                        .table_name(table)
                        .key("groupId", AttributeValue::S(group))
                        .update_expression("SET memberCount = memberCount + :by")
                        .expression_attribute_values(":by", AttributeValue::N(by.to_string()))
                        .send()
                        .await
                        .unwrap();
                });
            })
            .join()
            .unwrap();
        }
        Ok(())
    }
}

#[tokio::test]
async fn given_an_add_of_two_transactions_when_another_process_fills_the_group_between_them_then_the_first_is_taken_back_and_the_answer_is_none()
 {
    let plain = store().await;
    let f = Fixture::new();
    let owner = f.user("owner");
    let team = group(&f, "team", GroupType::Public, &owner);
    let id = team.id.clone();
    assert!(
        plain
            .create_group(&team, &[member(&id, &owner, Role::Owner)])
            .await
            .unwrap()
    );
    let config = plain.config().clone();
    let fill = FillAfterFirstTransaction {
        table: config.groups_table.clone(),
        group: id.as_str().to_owned(),
        by: 20,
        transactions: Arc::default(),
    };
    let client = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&moto::sdk())
            .interceptor(fill)
            .build(),
    );
    let store = DynamoStore::new(client, config);

    // GIVEN room for 159 more, and 150 to add (99 in the first transaction, 51 in the second)
    // WHEN 20 others join between the two transactions
    let joiners = users(&f, 0, 150);
    let answer = store
        .add_members(&id, &ordinary(&id, &joiners), Some(160))
        .await
        .unwrap();

    // THEN nothing of this call stays: the answer is None, the first 99 are gone again, and the
    // count is the owner and the 20 others
    assert_eq!(answer, None);
    assert_eq!(all_members(&store, &id).await, vec![owner]);
    assert_eq!(count(&store, &id).await, 21);
    assert_eq!(store.count_groups_of(&joiners[0]).await.unwrap(), 0);
}
