//! `$connect`: only genuine, current tokens of this app get a connection, and refusals write nothing.

use cirrus_core::ids::UserId;
use cirrus_core::usersig::{DEV_APP_ID, DEV_SECRET_KEY, UserSigKey};
use cirrus_tests::{TestStack, now_secs};

#[tokio::test]
async fn bad_tokens_are_refused_at_the_upgrade_and_leave_no_record() {
    let stack = TestStack::start(crate::BACKEND).await;
    let dev = UserSigKey::new(DEV_APP_ID, DEV_SECRET_KEY);
    let cases = [
        ("".to_owned(), 401),
        ("token=".to_owned(), 401),
        ("token=not-a-usersig".to_owned(), 401),
        (
            format!("token={}", dev.mint("alice", now_secs() - 7200, 3600)),
            401,
        ),
        (
            format!(
                "token={}",
                UserSigKey::new(DEV_APP_ID, "forged-secret").mint("alice", now_secs(), 3600)
            ),
            403,
        ),
        (
            format!(
                "token={}",
                UserSigKey::new(DEV_APP_ID + 1, DEV_SECRET_KEY).mint("alice", now_secs(), 3600)
            ),
            403,
        ),
        (format!("token={}", dev.mint("bad user", now_secs(), 3600)), 403),
    ];
    for (query, status) in cases {
        // WHEN a client connects with a bad token THEN the upgrade fails with the status
        assert_eq!(
            stack.connect_query(&query).await.err(),
            Some(status),
            "{query:.40}"
        );
    }
    // AND no connection record was written, no socket kept
    let alice = UserId::parse("alice").unwrap();
    assert!(
        stack
            .stack
            .connections()
            .connections_of(&alice, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(stack.stack.open_sockets(), 0);
}

#[tokio::test]
async fn a_good_token_connects_and_records_the_platform() {
    let stack = TestStack::start(crate::BACKEND).await;
    let token = stack.token("alice");
    let mut socket = stack
        .connect_query(&format!("token={token}&platform=ios"))
        .await
        .unwrap();
    socket.ok("sys.ping", serde_json::json!({})).await;
    let alice = UserId::parse("alice").unwrap();
    let records = stack.stack.connections().connections_of(&alice, 0).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].platform.as_deref(), Some("ios"));
    // A malformed platform is refused with 400 before the upgrade.
    assert_eq!(
        stack
            .connect_query(&format!("token={token}&platform=a%20b"))
            .await
            .err(),
        Some(400)
    );
}
