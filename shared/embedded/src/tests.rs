//! Tests of what is specific to the SQLite store: schema, durability across reopen, group commit.

use crate::error::StoreError;
use crate::schema;
use crate::store::{SqliteStore, StoreOptions, Synchronous};
use cirrus_core::ErrorCode;
use cirrus_core::accounts::{Account, AccountKind};
use cirrus_core::ids::{ClientMsgId, ConnectionId, ConversationId, MsgId, StreamKey, UserId};
use cirrus_core::message::Target;
use cirrus_core::ports::{
    AccountStore, Appended, BlockStore, Connection, ConnectionStore, ConversationStore, InboxUpdate,
    MessageStore, NewMessage, NotificationStore, ProfileStore, RecommendationStore, RelationStore, SeqRange,
    SubscriptionStore,
};
use cirrus_core::social::{
    AllowType, Block, Friend, FriendRequest, Gender, Notification, Profile, Recommendation, RequestDirection,
    UserProfile,
};
use std::collections::BTreeMap;
use std::path::Path;

fn user(raw: &str) -> UserId {
    UserId::parse(raw).unwrap()
}

fn c2c(from: &str, to: &str, client_msg_id: &str, time: i64) -> NewMessage {
    let (from, to) = (user(from), user(to));
    NewMessage {
        stream: StreamKey::c2c(&from, &to),
        msg_id: MsgId::parse(format!("m-{client_msg_id}")).unwrap(),
        to: Target::C2c(to.clone()),
        time,
        client_msg_id: ClientMsgId::parse(client_msg_id).unwrap(),
        body: vec![cirrus_core::element::Element::Text {
            text: client_msg_id.to_owned(),
        }],
        cloud_custom_data: None,
        sender: None,
        system: false,
        expires_at: time + WEEK,
        keep_last: u64::MAX,
        inbox: InboxUpdate::c2c(&from, &to),
        from,
    }
}

/// A week in ms: the roaming period of messages sent before expiry was stored.
const WEEK: i64 = 7 * 24 * 3600 * 1000;

/// The newest `limit` messages as read at time 0 (nothing has expired), with no cap.
fn latest(limit: u32) -> SeqRange {
    latest_at(limit, 0)
}

/// The newest `limit` messages as read at `now`, with no cap.
fn latest_at(limit: u32, now: i64) -> SeqRange {
    SeqRange {
        before: None,
        after: None,
        limit,
        now,
        keep_last: u64::MAX,
    }
}

fn raw_version(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    schema::version(&conn).unwrap()
}

async fn sample_table(store: &SqliteStore) {
    store
        .write(|conn| Ok(conn.execute_batch("CREATE TABLE sample (v TEXT PRIMARY KEY)")?))
        .await
        .unwrap();
}

async fn sample_rows(store: &SqliteStore) -> Vec<String> {
    store
        .read(|conn| {
            let mut stmt = conn.prepare("SELECT v FROM sample ORDER BY v")?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn migrations_run_once_and_reopen_is_idempotent() {
    // GIVEN a new database file in a directory that does not exist yet
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/cirrus.sqlite3");
    // WHEN it is opened, closed and opened again
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    store.append(c2c("alice", "bob", "c1", 1)).await.unwrap();
    drop(store);
    assert_eq!(raw_version(&path), schema::latest_version());
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    // THEN the schema is at the latest version, nothing was re-created, and the data is intact
    assert_eq!(raw_version(&path), schema::latest_version());
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(schema::migrate(&mut conn).unwrap(), 0, "nothing left to migrate");
    let page = store
        .history(&StreamKey::c2c(&user("alice"), &user("bob")), latest(10), None)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    // GIVEN a file store with messages, a read pointer and a connection
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cirrus.sqlite3");
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    for i in 0..3 {
        store
            .append(c2c("bob", "alice", &format!("m{i}"), 100 + i))
            .await
            .unwrap();
    }
    store
        .mark_read(&user("alice"), &ConversationId::C2c(user("bob")), 2)
        .await
        .unwrap()
        .unwrap();
    let connection = Connection {
        id: ConnectionId::parse("conn-1").unwrap(),
        user: user("alice"),
        platform: Some("ios".to_owned()),
        connected_at: 1,
        expires_at: 10_000,
    };
    store.put_connection(&connection).await.unwrap();
    let before = store.list_conversations(&user("alice"), None, 10).await.unwrap();

    // WHEN it is closed explicitly, dropped, and the file opened again
    store.close().await;
    drop(store);
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();

    // THEN everything acknowledged before is there
    let stream = StreamKey::c2c(&user("alice"), &user("bob"));
    let seqs: Vec<u64> = store
        .history(&stream, latest(10), None)
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(
        store.list_conversations(&user("alice"), None, 10).await.unwrap(),
        before
    );
    assert_eq!(before[0].read_seq, 2);
    assert_eq!(
        store.get_connection(&connection.id, 5).await.unwrap(),
        Some(connection)
    );
    // AND the seq counter continues where it stopped
    let Appended::New(next) = store.append(c2c("alice", "bob", "m3", 200)).await.unwrap() else {
        panic!("a new clientMsgId is a new message");
    };
    assert_eq!(next.seq, 4);
}

#[tokio::test]
async fn a_failing_job_rolls_back_only_itself() {
    // GIVEN a writer held busy so the next jobs queue up behind it
    let store = SqliteStore::open_in_memory().unwrap();
    sample_table(&store).await;
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let blocker = store
        .submit(move |_| {
            started_tx.send(()).ok();
            gate.recv().ok();
            Ok(())
        })
        .unwrap();
    started.recv().unwrap();
    let batches_before = store.stats().batches;

    // WHEN three jobs run in one batch and the middle one fails after writing
    let insert =
        |conn: &rusqlite::Connection, v: &str| conn.execute("INSERT INTO sample (v) VALUES (?1)", [v]);
    let first = store.submit(move |conn| Ok(insert(conn, "a")?)).unwrap();
    let failing = store
        .submit(move |conn| {
            insert(conn, "b")?;
            insert(conn, "a")?; // primary key violation
            Ok(0)
        })
        .unwrap();
    let third = store.submit(move |conn| Ok(insert(conn, "c")?)).unwrap();
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();

    // THEN the others commit and only the failing job's writes are gone
    assert_eq!(first.await.unwrap().unwrap(), 1);
    assert!(matches!(failing.await.unwrap(), Err(StoreError::Sqlite(_))));
    assert_eq!(third.await.unwrap().unwrap(), 1);
    assert_eq!(
        store.stats().batches - batches_before,
        1,
        "the three jobs shared one transaction"
    );
    assert_eq!(sample_rows(&store).await, vec!["a", "c"]);
}

#[tokio::test]
async fn a_panicking_job_fails_alone_and_the_writer_carries_on() {
    // GIVEN a store
    let store = SqliteStore::open_in_memory().unwrap();
    sample_table(&store).await;
    // WHEN a job panics after writing
    let outcome = store
        .write(|conn| -> crate::Result<()> {
            conn.execute("INSERT INTO sample (v) VALUES ('x')", [])?;
            panic!("boom")
        })
        .await;
    // THEN its caller gets an error, its write is undone, and later jobs still run
    assert!(matches!(outcome, Err(StoreError::JobPanicked)), "{outcome:?}");
    assert!(sample_rows(&store).await.is_empty());
    store
        .write(|conn| Ok(conn.execute("INSERT INTO sample (v) VALUES ('y')", [])?))
        .await
        .unwrap();
    assert_eq!(sample_rows(&store).await, vec!["y"]);
}

#[tokio::test]
async fn bad_stored_data_is_an_error_not_a_panic() {
    // GIVEN a file store whose rows were damaged behind its back
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cirrus.sqlite3");
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    store.append(c2c("alice", "bob", "ok", 1)).await.unwrap();
    store
        .put_connection(&Connection {
            id: ConnectionId::parse("c1").unwrap(),
            user: user("alice"),
            platform: None,
            connected_at: 0,
            expires_at: 100,
        })
        .await
        .unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "UPDATE messages SET body = '{not json'; \
         UPDATE connections SET user_id = 'not a user id'; \
         UPDATE conversations SET read_seq = -5 WHERE owner = 'bob';",
    )
    .unwrap();

    // WHEN it is read THEN each read fails with a store error
    let stream = StreamKey::c2c(&user("alice"), &user("bob"));
    let err = store.history(&stream, latest(10), None).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert!(format!("{:?}", err).contains("body"), "{err:?}");
    // (connections are read from the mirror loaded at open: damage shows when the store reopens)
    assert!(SqliteStore::open(&path, StoreOptions::default()).is_err());
    let err = store
        .get_conversation(&user("bob"), &ConversationId::C2c(user("alice")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    // AND a duplicate whose first copy is damaged is an error too, not a second message
    let err = store.append(c2c("alice", "bob", "ok", 2)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
}

#[tokio::test]
async fn file_databases_use_wal_and_the_chosen_durability() {
    // GIVEN a store opened with synchronous = NORMAL
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        synchronous: Synchronous::Normal,
        ..StoreOptions::default()
    };
    let store = SqliteStore::open(dir.path().join("x.db"), options).unwrap();
    // WHEN the write connection's settings are read
    let (mode, sync, fk) = store
        .write(|conn| {
            let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
            let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
            let fk: i64 = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
            Ok((mode, sync, fk))
        })
        .await
        .unwrap();
    // THEN they are WAL, NORMAL (1) and no foreign keys, and no ack waited for an fsync
    assert_eq!((mode.as_str(), sync, fk), ("wal", 1, 0));
    assert_eq!(store.stats().wal_syncs, 0);

    // GIVEN the default, FULL durability
    let full = SqliteStore::open(dir.path().join("y.db"), StoreOptions::default()).unwrap();
    // WHEN a message is appended
    full.append(c2c("alice", "bob", "durable", 1)).await.unwrap();
    // THEN its ack came after the syncer's fsync of the WAL (the connection itself runs NORMAL)
    assert!(full.stats().wal_syncs >= 1, "{:?}", full.stats());
    let sync: i64 = full
        .write(|conn| Ok(conn.pragma_query_value(None, "synchronous", |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(sync, 1);
}

#[tokio::test]
async fn background_checkpoints_restart_the_wal_without_losing_data() {
    // GIVEN a file store whose WAL limit is one page, checkpointed every millisecond
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        checkpoint_interval: std::time::Duration::from_millis(1),
        wal_limit_pages: 1,
        ..StoreOptions::default()
    };
    let store = SqliteStore::open(dir.path().join("x.db"), options).unwrap();
    // WHEN messages keep arriving
    let mut sent = 0;
    while store.stats().wal_restarts == 0 && sent < 500 {
        store
            .append(c2c("alice", "bob", &format!("w{sent}"), sent))
            .await
            .unwrap();
        sent += 1;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    // THEN the writer restarted the WAL, and every message is still there, also after a reopen
    assert!(
        store.stats().wal_restarts > 0,
        "no WAL restart after {sent} appends"
    );
    store.append(c2c("alice", "bob", "after", 1_000)).await.unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path().join("x.db"), StoreOptions::default()).unwrap();
    let stream = StreamKey::c2c(&user("alice"), &user("bob"));
    let page = store.history(&stream, latest(1_000), None).await.unwrap();
    assert_eq!(page.len(), usize::try_from(sent).unwrap() + 1);
    assert_eq!(page.last().unwrap().seq, u64::try_from(sent).unwrap() + 1);
}

#[tokio::test]
async fn a_closed_store_refuses_writes() {
    // GIVEN a store that was closed
    let store = SqliteStore::open_in_memory().unwrap();
    store.close().await;
    store.close().await;
    // WHEN it is written to THEN the call fails cleanly
    let err = store.append(c2c("alice", "bob", "late", 1)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert!(matches!(store.write(|_| Ok(())).await, Err(StoreError::Closed)));
}

#[tokio::test]
async fn clear_connections_removes_every_record() {
    // GIVEN two connections
    let store = SqliteStore::open_in_memory().unwrap();
    for id in ["c1", "c2"] {
        store
            .put_connection(&Connection {
                id: ConnectionId::parse(id).unwrap(),
                user: user("alice"),
                platform: None,
                connected_at: 0,
                expires_at: 100,
            })
            .await
            .unwrap();
    }
    // WHEN they are cleared at start-up
    let cleared = store.clear_connections().await.unwrap();
    // THEN none is left
    assert_eq!(cleared, 2);
    assert!(store.connections_of(&user("alice"), 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_version_1_database_gains_accounts_and_keeps_them_across_reopen() {
    // GIVEN a database file written before accounts existed (schema version 1), with a connection
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cirrus.sqlite3");
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(schema::MIGRATIONS[0]).unwrap();
    raw.pragma_update(None, "user_version", 1).unwrap();
    raw.execute(
        "INSERT INTO connections (id, user_id, platform, connected_at, expires_at) \
         VALUES ('c1', 'alice', NULL, 0, 100)",
        [],
    )
    .unwrap();
    drop(raw);

    // WHEN this build opens it and records a login, a logout and a failed login
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(raw_version(&path), schema::latest_version());
    store.record_login(&user("alice"), 10).await.unwrap();
    store
        .record_logout(&user("alice"), 20, Some(7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.note_login_failure("alice", 30, 1_000).await.unwrap(), 1);
    store.close().await;
    drop(store);

    // THEN after a reopen the old data, the account and the failure are all there
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.connections_of(&user("alice"), 50).await.unwrap().len(), 1);
    let expected = Account {
        tokens_valid_after: 7,
        last_login_at: Some(10),
        last_logout_at: Some(20),
        ..Account::new(user("alice"), AccountKind::FirstLogin, 10)
    };
    assert_eq!(
        store.get_accounts(&[user("alice")]).await.unwrap(),
        vec![expected]
    );
    assert_eq!(store.login_failures("alice", 40, 1_000).await.unwrap(), 1);

    // AND a kind this build does not know is an error, not a panic or a guess
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("UPDATE accounts SET kind = 'guest'", []).unwrap();
    let err = store.get_accounts(&[user("alice")]).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert!(format!("{err:?}").contains("kind"), "{err:?}");
}

#[tokio::test]
async fn a_version_2_database_gains_presence_subscriptions_and_keeps_them_across_reopen() {
    // GIVEN a database file written before presence subscriptions existed (schema version 2), with
    // an account
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cirrus.sqlite3");
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(schema::MIGRATIONS[0]).unwrap();
    raw.execute_batch(schema::MIGRATIONS[1]).unwrap();
    raw.pragma_update(None, "user_version", 2).unwrap();
    raw.execute(
        "INSERT INTO accounts (user_id, kind, created_at, tokens_valid_after) \
         VALUES ('alice', 'registered', 1, 0)",
        [],
    )
    .unwrap();
    drop(raw);

    // WHEN this build opens it and alice subscribes to bob and carol
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(raw_version(&path), schema::latest_version());
    store
        .subscribe(&user("alice"), &[user("carol"), user("bob")])
        .await
        .unwrap();
    store.close().await;
    drop(store);

    // THEN after a reopen the account and both subscriptions are there, read from either side
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.get_accounts(&[user("alice")]).await.unwrap().len(), 1);
    assert_eq!(
        store.subscriptions_of(&user("alice")).await.unwrap(),
        vec![user("bob"), user("carol")]
    );
    assert_eq!(
        store.subscribers_of(&user("carol"), 10).await.unwrap(),
        vec![user("alice")]
    );

    // AND a stored id that does not validate is an error, not a panic
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "UPDATE presence_subscriptions SET subscriber = '' WHERE target = 'bob'",
        [],
    )
    .unwrap();
    let err = store.subscribers_of(&user("bob"), 10).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert!(format!("{err:?}").contains("subscriber"), "{err:?}");
}

#[tokio::test]
async fn a_version_3_database_gains_profiles_and_relations_and_keeps_them_across_reopen() {
    // GIVEN a database file written before profiles and relations existed (schema version 3), with
    // a presence subscription
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cirrus.sqlite3");
    let raw = rusqlite::Connection::open(&path).unwrap();
    for sql in &schema::MIGRATIONS[..3] {
        raw.execute_batch(sql).unwrap();
    }
    raw.pragma_update(None, "user_version", 3).unwrap();
    raw.execute(
        "INSERT INTO presence_subscriptions (subscriber, target) VALUES ('alice', 'bob')",
        [],
    )
    .unwrap();
    drop(raw);

    // WHEN this build opens it and alice sets a profile, befriends bob and asks carol
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(raw_version(&path), schema::latest_version());
    let profile = Profile {
        nickname: Some("Alice".to_owned()),
        gender: Gender::Female,
        allow_type: AllowType::AllowAny,
        custom: BTreeMap::from([("Tag_Profile_Custom_Hobby".to_owned(), "chess".to_owned())]),
        updated_at: 5,
        ..Profile::default()
    };
    store.put_profile(&user("alice"), &profile).await.unwrap();
    let friend = Friend {
        owner: user("alice"),
        peer: user("bob"),
        remark: Some("B".to_owned()),
        groups: vec!["work".to_owned()],
        added_at: 6,
    };
    store.put_friends(std::slice::from_ref(&friend)).await.unwrap();
    let request = FriendRequest {
        from: user("alice"),
        to: user("carol"),
        reason: Some("hi".to_owned()),
        remark: None,
        created_at: 7,
    };
    store.put_request(&request).await.unwrap();
    store.close().await;
    drop(store);

    // THEN after a reopen the subscription, the profile, the friend and the request are all there
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(
        store.subscriptions_of(&user("alice")).await.unwrap(),
        vec![user("bob")]
    );
    let alices = UserProfile {
        user: user("alice"),
        profile,
    };
    assert_eq!(
        store.get_profiles(&[user("alice")]).await.unwrap(),
        vec![alices.clone()]
    );
    assert_eq!(store.search_nickname("al", 10).await.unwrap(), vec![alices]);
    assert_eq!(
        store.list_friends(&user("alice"), None, 10).await.unwrap(),
        vec![friend]
    );
    assert_eq!(
        store
            .list_requests(&user("carol"), RequestDirection::Incoming, None, 10)
            .await
            .unwrap(),
        vec![request]
    );

    // AND stored text this build does not know is an error, not a panic or a guess
    let raw = rusqlite::Connection::open(&path).unwrap();
    for (damage, column) in [
        ("UPDATE profiles SET gender = 'other'", "gender"),
        (
            "UPDATE profiles SET gender = 'female', allow_type = 'ask_me'",
            "allow_type",
        ),
        (
            "UPDATE profiles SET allow_type = 'allow_any', custom = '[1]'",
            "custom",
        ),
        ("UPDATE profiles SET custom = '{}', birthday = -1", "birthday"),
    ] {
        raw.execute(damage, []).unwrap();
        let err = store.get_profiles(&[user("alice")]).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal);
        assert!(format!("{err:?}").contains(column), "{column}: {err:?}");
    }
    raw.execute("UPDATE friends SET groups = 'work'", []).unwrap();
    let err = store.list_friends(&user("alice"), None, 10).await.unwrap_err();
    assert!(format!("{err:?}").contains("groups"), "{err:?}");
    raw.execute("UPDATE friend_requests SET from_user = 'not a user id'", [])
        .unwrap();
    let err = store
        .list_requests(&user("carol"), RequestDirection::Incoming, None, 10)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("from_user"), "{err:?}");
}

#[tokio::test]
async fn a_version_4_database_gains_blocks_recommendations_and_notifications_across_reopen() {
    // GIVEN a database file written before blocks, recommendations and notifications existed
    // (schema version 4), with a friend entry
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cirrus.sqlite3");
    let raw = rusqlite::Connection::open(&path).unwrap();
    for sql in &schema::MIGRATIONS[..4] {
        raw.execute_batch(sql).unwrap();
    }
    raw.pragma_update(None, "user_version", 4).unwrap();
    raw.execute(
        "INSERT INTO friends (owner, peer, remark, groups, added_at) VALUES ('alice', 'bob', NULL, '[]', 1)",
        [],
    )
    .unwrap();
    drop(raw);

    // WHEN this build opens it and alice blocks carol, gets dave recommended and a notification
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(raw_version(&path), schema::latest_version());
    let block = Block {
        owner: user("alice"),
        peer: user("carol"),
        blocked_at: 5,
    };
    store.put_blocks(std::slice::from_ref(&block)).await.unwrap();
    let recommendation = Recommendation {
        owner: user("alice"),
        peer: user("dave"),
        reason: Some("same school".to_owned()),
        added_at: 6,
    };
    store
        .put_recommendations(std::slice::from_ref(&recommendation))
        .await
        .unwrap();
    let notification = Notification {
        owner: user("alice"),
        id: "n-1".to_owned(),
        event: "friend.added".to_owned(),
        data: r#"{"peer":"bob"}"#.to_owned(),
        time: 7,
    };
    store.put_notification(&notification, 1_000).await.unwrap();
    store.close().await;
    drop(store);

    // THEN after a reopen the friend and the new records are all there
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.count_friends(&user("alice")).await.unwrap(), 1);
    assert_eq!(
        store.list_blocks(&user("alice"), None, 10).await.unwrap(),
        vec![block]
    );
    assert_eq!(
        store
            .list_recommendations(&user("alice"), None, 10)
            .await
            .unwrap(),
        vec![recommendation]
    );
    assert_eq!(
        store
            .list_notifications(&user("alice"), None, 10, 8)
            .await
            .unwrap(),
        vec![notification]
    );

    // AND a stored user id that does not validate is an error naming its column, not a panic
    let raw = rusqlite::Connection::open(&path).unwrap();
    for table in ["blocks", "recommendations"] {
        raw.execute(&format!("UPDATE {table} SET peer = 'not a user id'"), [])
            .unwrap();
    }
    let err = store.list_blocks(&user("alice"), None, 10).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert!(format!("{err:?}").contains("peer"), "{err:?}");
    let err = store
        .list_recommendations(&user("alice"), None, 10)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert!(format!("{err:?}").contains("peer"), "{err:?}");
}

/// The notification ids stored for `owner`, in id order, expired ones too.
async fn stored_notification_ids(store: &SqliteStore, owner: &'static str) -> Vec<String> {
    store
        .read(move |conn| {
            let mut select = conn.prepare("SELECT id FROM notifications WHERE owner = ?1 ORDER BY id")?;
            let ids = select.query_map([owner], |row| row.get(0))?;
            Ok(ids.collect::<Result<Vec<String>, _>>()?)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn put_notification_deletes_the_owners_rows_expired_at_its_time() {
    // GIVEN alice has notifications expiring at 100, 200 and 1,000, and bob one expiring at 100
    let store = SqliteStore::open_in_memory().unwrap();
    let note = |owner: &str, id: &str, time: i64| Notification {
        owner: user(owner),
        id: id.to_owned(),
        event: "friend.added".to_owned(),
        data: "{}".to_owned(),
        time,
    };
    for (id, expires_at) in [("a-1", 100), ("a-2", 200), ("a-3", 1_000)] {
        store
            .put_notification(&note("alice", id, 10), expires_at)
            .await
            .unwrap();
    }
    store
        .put_notification(&note("bob", "b-1", 10), 100)
        .await
        .unwrap();

    // WHEN alice gets a notification at time 200
    store
        .put_notification(&note("alice", "a-4", 200), 2_000)
        .await
        .unwrap();

    // THEN her rows expired by then (at 200 included) are gone from the table, her live ones and
    // the new one stay, and bob's expired row waits for his own next notification
    assert_eq!(stored_notification_ids(&store, "alice").await, ["a-3", "a-4"]);
    assert_eq!(stored_notification_ids(&store, "bob").await, ["b-1"]);
    store
        .put_notification(&note("bob", "b-2", 150), 2_000)
        .await
        .unwrap();
    assert_eq!(stored_notification_ids(&store, "bob").await, ["b-2"]);
}

#[test]
fn the_notification_sweep_reads_the_expiry_index() {
    // GIVEN the current schema
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    schema::migrate(&mut conn).unwrap();
    // WHEN SQLite plans the delete of an owner's expired notifications
    let plan: String = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", crate::notifications::SWEEP))
        .unwrap()
        .query_map(["a", "1"], |row| row.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .join("; ");
    // THEN it searches a range of the expiry index, not the owner's whole list
    assert!(
        plan.contains("notifications_by_expiry (owner=? AND expires_at<?)"),
        "{plan}"
    );
}

#[test]
fn searches_and_pages_read_an_index_range_in_order() {
    // GIVEN the current schema
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    schema::migrate(&mut conn).unwrap();
    // WHEN SQLite plans the nickname search and the friend, request, block, recommendation and
    // notification pages
    let plan = |sql: &str| -> String {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let texts = vec!["a"; explain.parameter_count()];
        explain
            .query_map(rusqlite::params_from_iter(texts), |row| row.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ")
    };
    // THEN each is a search of one index range, already in result order (no scan, no sort)
    for (sql, index) in [
        (
            crate::profiles::SEARCH_RANGE,
            "profiles_by_nickname (nickname_key>? AND nickname_key<?)",
        ),
        (
            crate::profiles::SEARCH_FROM,
            "profiles_by_nickname (nickname_key>?)",
        ),
        (crate::relations::LIST_FRIENDS, "PRIMARY KEY (owner=? AND peer>?)"),
        (
            crate::relations::LIST_INCOMING,
            "friend_requests_by_to_user (to_user=? AND from_user>?)",
        ),
        (
            crate::relations::LIST_OUTGOING,
            "PRIMARY KEY (from_user=? AND to_user>?)",
        ),
        (crate::blocks::LIST_BLOCKS, "PRIMARY KEY (owner=? AND peer>?)"),
        (
            crate::recommendations::LIST_RECOMMENDATIONS,
            "PRIMARY KEY (owner=? AND peer>?)",
        ),
        (crate::notifications::LIST_FIRST, "PRIMARY KEY (owner=? AND id>?)"),
        (crate::notifications::LIST_AFTER, "PRIMARY KEY (owner=? AND id>?)"),
    ] {
        let plan = plan(sql);
        assert!(
            plan.starts_with("SEARCH") && plan.contains(index),
            "{sql}: {plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
    }
}

#[test]
fn conversation_pages_read_only_the_owners_rows() {
    // GIVEN the current schema, with the hidden-conversation filter
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    schema::migrate(&mut conn).unwrap();
    // WHEN SQLite plans the first and a later page of a conversation list
    for sql in [crate::conversations::LIST_FIRST, crate::conversations::LIST_AFTER] {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let texts = vec!["a"; explain.parameter_count()];
        let plan = explain
            .query_map(rusqlite::params_from_iter(texts), |row| row.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ");
        // THEN the owner's rows are a primary-key range, each joined to its stream and last message
        // by key: no table is scanned
        for step in [
            "SEARCH c USING PRIMARY KEY (owner=?)",
            "SEARCH s USING PRIMARY KEY (stream=?)",
            "SEARCH m USING INDEX messages_by_seq (stream=? AND seq=?)",
        ] {
            assert!(plan.contains(step), "{sql}: {plan}");
        }
        for table in ["c", "s", "m"] {
            assert!(!plan.contains(&format!("SCAN {table} ")), "{sql}: {plan}");
        }
    }
}

#[tokio::test]
async fn conversations_stay_listed_across_the_hidden_conversation_migration() {
    // GIVEN a file at schema version 5 in which bob wrote to alice
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cirrus.sqlite3");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &schema::MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 5; \
             INSERT INTO streams (stream, last_seq, updated_at) VALUES ('s', 2, 100); \
             INSERT INTO conversations (owner, conversation_id, stream, read_seq) \
             VALUES ('alice', 'C2Cbob', 's', 1);",
        )
        .unwrap();
    }
    // WHEN this build opens it
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    // THEN alice's conversation is still listed as it was
    let listed = store.list_conversations(&user("alice"), None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].read_seq, listed[0].last_seq), (1, 2));
    // AND she can hide it now
    let conversation = ConversationId::C2c(user("bob"));
    assert!(
        store
            .hide_conversation(&user("alice"), &conversation)
            .await
            .unwrap()
    );
    assert!(
        store
            .list_conversations(&user("alice"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Every message row of the alice–bob stream as stored, expired and rolled-over ones too: seqs in
/// seq order.
async fn stored_seqs(store: &SqliteStore) -> Vec<i64> {
    let stream = StreamKey::c2c(&user("alice"), &user("bob")).as_str().to_owned();
    store
        .read(move |conn| {
            let mut select = conn.prepare("SELECT seq FROM messages WHERE stream = ?1 ORDER BY seq")?;
            let seqs = select.query_map([&stream], |row| row.get(0))?;
            Ok(seqs.collect::<Result<Vec<i64>, _>>()?)
        })
        .await
        .unwrap()
}

/// Appends a message from alice to bob at `time` that roams until `expires_at`.
async fn append_expiring(store: &SqliteStore, client_msg_id: &str, time: i64, expires_at: i64) -> u64 {
    let message = NewMessage {
        expires_at,
        ..c2c("alice", "bob", client_msg_id, time)
    };
    match store.append(message).await.unwrap() {
        Appended::New(stored) => stored.seq,
        Appended::Duplicate(_) => panic!("{client_msg_id} is new"),
    }
}

fn alice_bob() -> StreamKey {
    StreamKey::c2c(&user("alice"), &user("bob"))
}

#[tokio::test]
async fn an_append_deletes_the_message_its_seq_rolls_over() {
    // GIVEN a stream capped at the newest 3 messages
    let store = SqliteStore::open_in_memory().unwrap();
    // WHEN 5 messages are appended
    for i in 0..5 {
        let message = NewMessage {
            keep_last: 3,
            ..c2c("alice", "bob", &format!("r{i}"), i)
        };
        store.append(message).await.unwrap();
    }
    // THEN only seqs 3..=5 are still stored: each append past the cap deleted one message
    assert_eq!(stored_seqs(&store).await, [3, 4, 5]);
    // AND with a cap of 0 nothing is deleted at append (reads show nothing either way)
    let uncapped = NewMessage {
        keep_last: 0,
        ..c2c("alice", "bob", "r5", 5)
    };
    store.append(uncapped).await.unwrap();
    assert_eq!(stored_seqs(&store).await, [3, 4, 5, 6]);
}

#[tokio::test]
async fn sweep_deletes_the_expired_oldest_messages_and_stops_at_the_first_live_one() {
    // GIVEN messages expiring at 100, 200, 300 and 1,000, then one appended later that expires
    // at 150 (a roaming period shortened meanwhile)
    let store = SqliteStore::open_in_memory().unwrap();
    for (i, expires_at) in [100, 200, 300, 1_000, 150].into_iter().enumerate() {
        append_expiring(&store, &format!("e{i}"), 10, expires_at).await;
    }
    // WHEN the store is swept at 200
    let swept = store.sweep(200).await.unwrap();
    // THEN the two oldest, expired at 200 (at 200 included), are gone; the one expiring at 150
    // waits behind the live ones but is left out of history already
    assert_eq!(
        swept,
        crate::Swept {
            messages: 2,
            hidden: 0,
            seats: 0
        }
    );
    assert_eq!(stored_seqs(&store).await, [3, 4, 5]);
    let shown: Vec<u64> = store
        .history(&alice_bob(), latest_at(10, 200), None)
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(shown, [3, 4]);
    // AND once the blocking one has expired, the next sweep takes the rest
    assert_eq!(store.sweep(1_000).await.unwrap().messages, 3);
    assert!(stored_seqs(&store).await.is_empty());
    // AND the stream's seq counter carries on
    assert_eq!(append_expiring(&store, "later", 2_000, 9_000).await, 6);
    assert_eq!(store.sweep(1_000).await.unwrap(), crate::Swept::default());
}

#[tokio::test]
async fn a_large_sweep_runs_as_bounded_writer_jobs() {
    // GIVEN 600 expired messages
    let store = SqliteStore::open_in_memory().unwrap();
    for i in 0..600 {
        append_expiring(&store, &format!("b{i}"), i, 1_000 + i).await;
    }
    let jobs_before = store.stats().jobs;
    // WHEN the store is swept after they all expired
    let swept = store.sweep(5_000).await.unwrap();
    // THEN all are deleted, in three message jobs of at most 256 rows and one hidden-row job, so
    // appends could run between them
    assert_eq!(store.stats().jobs - jobs_before, 4);
    assert_eq!(swept.messages, 600);
    assert!(stored_seqs(&store).await.is_empty());
}

#[tokio::test]
async fn sweep_drops_only_the_expired_hidden_rows() {
    // GIVEN bob hid message 1 until 100 and message 2 until 1,000
    let store = SqliteStore::open_in_memory().unwrap();
    for i in 0..3 {
        append_expiring(&store, &format!("h{i}"), i, 10_000).await;
    }
    let stream = alice_bob();
    store
        .hide_messages(&user("bob"), &stream, &[1], 100)
        .await
        .unwrap();
    store
        .hide_messages(&user("bob"), &stream, &[2], 1_000)
        .await
        .unwrap();
    // WHEN the store is swept at 500
    let swept = store.sweep(500).await.unwrap();
    // THEN only the row expired by then went, and no live message
    assert_eq!(
        swept,
        crate::Swept {
            messages: 0,
            hidden: 1,
            seats: 0
        }
    );
    let hidden: Vec<(String, i64)> = store
        .read(|conn| {
            let mut select = conn.prepare("SELECT owner, seq FROM hidden_messages")?;
            let rows = select.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap();
    assert_eq!(hidden, [("bob".to_owned(), 2)]);
    let page = store
        .history(&stream, latest_at(10, 500), Some(&user("bob")))
        .await
        .unwrap();
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 3]);
}

#[tokio::test]
async fn hiding_a_seq_not_allocated_yet_does_not_hide_the_message_that_later_gets_it() {
    // GIVEN a stream of one message
    let store = SqliteStore::open_in_memory().unwrap();
    append_expiring(&store, "first", 1, 10_000).await;
    // WHEN bob hides seqs 1 and 2 and then message 2 arrives
    store
        .hide_messages(&user("bob"), &alice_bob(), &[1, 2], 10_000)
        .await
        .unwrap();
    append_expiring(&store, "second", 2, 10_000).await;
    // THEN only message 1 is hidden from him
    let page = store
        .history(&alice_bob(), latest(10), Some(&user("bob")))
        .await
        .unwrap();
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [2]);
}

#[test]
fn history_and_the_sweeper_read_index_ranges() {
    // GIVEN the current schema
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    schema::migrate(&mut conn).unwrap();
    let plan = |sql: &str| -> String {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let texts = vec!["1"; explain.parameter_count()];
        explain
            .query_map(rusqlite::params_from_iter(texts), |row| row.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ")
    };
    // WHEN SQLite plans both history pages
    for (sql, range) in [
        (crate::messages::HISTORY_FORWARD, "(stream=? AND seq>?)"),
        (
            crate::messages::HISTORY_BACKWARD,
            "(stream=? AND seq>? AND seq<?)",
        ),
    ] {
        let plan = plan(sql);
        // THEN each reads one range of the seq index, bounded by the range and the cap, already
        // in page order, and probes the viewer's hidden rows by key and the stream row once
        for step in [
            format!("SEARCH m USING INDEX messages_by_seq {range}"),
            "SEARCH h USING PRIMARY KEY (owner=? AND stream=? AND seq=?)".to_owned(),
            "SEARCH s USING PRIMARY KEY (stream=?)".to_owned(),
        ] {
            assert!(plan.contains(&step), "{sql}: {plan}");
        }
        assert!(!plan.contains("SCAN"), "{sql}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
    }
    // AND the hidden-row sweep reads the expiry index, not the table
    let sweep = plan(crate::sweeper::EXPIRED_HIDDEN);
    assert!(
        sweep
            .contains("SEARCH hidden_messages USING COVERING INDEX hidden_messages_by_expiry (expires_at<?)"),
        "{sweep}"
    );
    // AND the message sweep walks the table from its lowest rowid, with no sort
    let oldest = plan(crate::sweeper::OLDEST);
    assert!(!oldest.contains("TEMP B-TREE"), "{oldest}");
}

#[tokio::test]
async fn messages_keep_working_across_the_roaming_migration() {
    // GIVEN a file at schema version 6 holding a message sent at 1,000
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cirrus.sqlite3");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &schema::MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        let stream = alice_bob();
        conn.execute(
            "INSERT INTO messages (stream, seq, msg_id, from_user, to_kind, to_id, time, client_msg_id, \
             body, cloud_custom_data) VALUES (?1, 1, 'm-old', 'alice', 'c2c', 'bob', 1000, 'old', \
             '[{\"type\":\"text\",\"text\":\"hi\"}]', 'ccd')",
            [stream.as_str()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO streams (stream, last_seq, updated_at) VALUES (?1, 1, 1000)",
            [stream.as_str()],
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 6).unwrap();
    }
    // WHEN this build opens it
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(raw_version(&path), schema::latest_version());
    // THEN the message reads as before: no sender, not a system notice, not recalled
    let old = store
        .get_message(&alice_bob(), 1, 1_000)
        .await
        .unwrap()
        .expect("the old message is there");
    assert_eq!((&old.sender, old.system, &old.recalled), (&None, false, &None));
    assert_eq!(old.cloud_custom_data.as_deref(), Some("ccd"));
    // AND it roams for a week from its time, then the sweeper takes it
    let gone_at = 1_000 + WEEK;
    assert!(
        store
            .get_message(&alice_bob(), 1, gone_at - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_message(&alice_bob(), 1, gone_at)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.sweep(gone_at - 1).await.unwrap().messages, 0);
    assert_eq!(store.sweep(gone_at).await.unwrap().messages, 1);
}

#[tokio::test]
async fn damaged_message_extension_columns_are_errors_naming_the_column() {
    // GIVEN a file store with one message
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cirrus.sqlite3");
    let store = SqliteStore::open(&path, StoreOptions::default()).unwrap();
    store.append(c2c("alice", "bob", "ok", 1)).await.unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    // WHEN a new column is damaged behind its back THEN reading the message fails naming it
    for (damage, column) in [
        ("UPDATE messages SET sender = '[1]'", "sender"),
        ("UPDATE messages SET sender = NULL, system = 2", "system"),
        (
            "UPDATE messages SET system = 1, recalled_by = 'alice'",
            "recalled_at",
        ),
        (
            "UPDATE messages SET recalled_by = 'not a user id', recalled_at = 5",
            "recalled_by",
        ),
    ] {
        raw.execute(damage, []).unwrap();
        let err = store.get_message(&alice_bob(), 1, 0).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal);
        assert!(format!("{err:?}").contains(column), "{column}: {err:?}");
    }
}
