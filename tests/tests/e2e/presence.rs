//! `presence.get`: who is online, on which platforms.

use cirrus_tests::TestStack;
use serde_json::json;

#[tokio::test]
async fn presence_lists_online_users_and_their_platforms() {
    // GIVEN bob on his phone and on the web (twice), carol offline
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let _phone = stack.connect_from("bob", "ios").await;
    let _web = stack.connect_from("bob", "web").await;
    let _web_again = stack.connect_from("bob", "web").await;
    // WHEN alice asks about bob, carol and bob again
    let reply = alice
        .ok("presence.get", json!({"userIds": ["bob", "carol", "bob"]}))
        .await;
    // THEN each appears once, in request order, bob online on both platforms, carol offline
    assert_eq!(
        reply,
        json!({"users": [
            {"userId": "bob", "online": true, "status": "online", "platforms": ["ios", "web"]},
            {"userId": "carol", "online": false, "status": "logged_out", "platforms": []},
        ]})
    );
}

#[tokio::test]
async fn a_user_who_left_is_offline_and_an_unnamed_client_is_unknown() {
    // GIVEN dave connected without a platform, and erin who connected and left
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let _dave = stack.connect("dave").await;
    let erin = stack.connect("erin").await;
    erin.close().await;
    // THEN dave is online from `unknown` and erin (once her $disconnect ran) offline
    let mut erin_offline = false;
    for _ in 0..50 {
        let reply = alice
            .ok("presence.get", json!({"userIds": ["dave", "erin"]}))
            .await;
        assert_eq!(
            reply["users"][0],
            json!({"userId": "dave", "online": true, "status": "online", "platforms": ["unknown"]})
        );
        if reply["users"][1]["online"] == false {
            // She left without logging out: offline, not logged out.
            assert_eq!(reply["users"][1]["status"], "offline");
            erin_offline = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(erin_offline, "erin still online after closing");
}

#[tokio::test]
async fn bad_presence_requests_get_their_codes() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let too_many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    for (data, code) in [
        (json!({"userIds": []}), "invalid_field"),
        (json!({"userIds": too_many}), "invalid_field"),
        (json!({"userIds": ["bad id"]}), "invalid_user_id"),
        (json!({}), "missing_field"),
        (json!({"userIds": "bob"}), "invalid_field"),
    ] {
        assert_eq!(alice.err("presence.get", data.clone()).await, code, "{data}");
    }
}

/// The next `presence.changed` about `user` (events about others are skipped).
async fn change_of(socket: &mut cirrus_tests::TestSocket, user: &str) -> serde_json::Value {
    loop {
        let change = socket.event("presence.changed").await;
        if change["userId"] == user {
            return change;
        }
    }
}

#[tokio::test]
async fn subscribers_are_told_when_a_user_comes_changes_platforms_and_goes() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    // GIVEN alice subscribed to bob while he is offline
    let reply = alice.ok("presence.subscribe", json!({"userIds": ["bob"]})).await;
    assert_eq!(
        reply,
        json!({"users": [{"userId": "bob", "online": false, "status": "logged_out", "platforms": []}],
               "subscriptions": 1})
    );
    // WHEN bob connects from his phone, then the web, then leaves the phone, then the web
    let phone = stack.connect_from("bob", "ios").await;
    assert_eq!(
        change_of(&mut alice, "bob").await,
        json!({"userId": "bob", "online": true, "status": "online", "platforms": ["ios"]})
    );
    let web = stack.connect_from("bob", "web").await;
    assert_eq!(
        change_of(&mut alice, "bob").await["platforms"],
        json!(["ios", "web"])
    );
    phone.close().await;
    assert_eq!(change_of(&mut alice, "bob").await["platforms"], json!(["web"]));
    web.close().await;
    // THEN alice saw each step, ending offline (still logged in: push reaches him)
    assert_eq!(
        change_of(&mut alice, "bob").await,
        json!({"userId": "bob", "online": false, "status": "offline", "platforms": []})
    );
}

#[tokio::test]
async fn subscriptions_follow_the_user_and_end_with_unsubscribe() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN alice subscribes on one connection and then reconnects
    let mut first = stack.connect("alice").await;
    first
        .ok("presence.subscribe", json!({"userIds": ["bob", "carol"]}))
        .await;
    first.close().await;
    let mut alice = stack.connect("alice").await;
    // THEN the subscription still holds on the new connection
    let _bob = stack.connect("bob").await;
    assert_eq!(change_of(&mut alice, "bob").await["online"], true);
    // WHEN she unsubscribes from carol, carol's arrival is not told
    let reply = alice
        .ok("presence.unsubscribe", json!({"userIds": ["carol"]}))
        .await;
    assert_eq!(reply["subscriptions"], 1);
    let _carol = stack.connect("carol").await;
    alice.expect_no_event(std::time::Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_kicked_user_is_told_as_offline() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    alice.ok("presence.subscribe", json!({"userIds": ["bob"]})).await;
    let mut bob = stack.connect_from("bob", "android").await;
    assert_eq!(change_of(&mut alice, "bob").await["online"], true);
    stack
        .admin("im_open_login_svc/kick", json!({"UserID": "bob"}))
        .await;
    bob.closed().await;
    assert_eq!(
        change_of(&mut alice, "bob").await,
        json!({"userId": "bob", "online": false, "status": "logged_out", "platforms": []})
    );
}

#[tokio::test]
async fn subscriptions_are_bounded_per_user() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let hundred = |from: usize| (from..from + 100).map(|i| format!("u{i}")).collect::<Vec<_>>();
    alice
        .ok("presence.subscribe", json!({"userIds": hundred(0)}))
        .await;
    let reply = alice
        .ok("presence.subscribe", json!({"userIds": hundred(100)}))
        .await;
    assert_eq!(reply["subscriptions"], 200);
    // The 201st is refused, and nothing of that call is kept; re-subscribing a known one is fine.
    assert_eq!(
        alice
            .err("presence.subscribe", json!({"userIds": ["u0", "u200"]}))
            .await,
        "limit_exceeded"
    );
    let reply = alice.ok("presence.subscribe", json!({"userIds": ["u0"]})).await;
    assert_eq!(reply["subscriptions"], 200);
    assert_eq!(
        alice
            .err("presence.subscribe", json!({"userIds": ["bad id"]}))
            .await,
        "invalid_user_id"
    );
}
