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
            {"userId": "bob", "online": true, "platforms": ["ios", "web"]},
            {"userId": "carol", "online": false, "platforms": []},
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
            json!({"userId": "dave", "online": true, "platforms": ["unknown"]})
        );
        if reply["users"][1]["online"] == false {
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
