//! Online-only signals (`msg.signal`): typing and the app's own kinds reach the live connections
//! of a user or a group's members, and nothing is stored; the checks of a message apply.

use cirrus_tests::TestStack;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_typing_signal_reaches_the_peers_live_devices_and_leaves_nothing_behind() {
    // GIVEN alice on two devices and bob on two
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut alice_web = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let mut bob_web = stack.connect("bob").await;

    // WHEN alice signals that she is typing to bob
    let reply = alice
        .ok(
            "msg.signal",
            json!({"to": {"type": "c2c", "id": "bob"}, "kind": "typing"}),
        )
        .await;

    // THEN both of bob's devices are told, from his side of the conversation
    assert_eq!(reply, json!({}));
    for device in [&mut bob, &mut bob_web] {
        let signal = device.event("msg.signal").await;
        assert_eq!(signal["from"], "alice");
        assert_eq!(signal["conversationId"], "C2Calice");
        assert_eq!(signal["kind"], "typing");
        assert!(signal["time"].as_i64().unwrap() > 0);
        assert!(signal.get("data").is_none(), "{signal}");
    }
    // AND the app's own kind carries its data
    alice
        .ok(
            "msg.signal",
            json!({"to": {"type": "c2c", "id": "bob"}, "kind": "app.wave", "data": "{\"hand\":1}"}),
        )
        .await;
    let wave = bob.event("msg.signal").await;
    assert_eq!(
        (wave["kind"].clone(), wave["data"].clone()),
        (json!("app.wave"), json!("{\"hand\":1}"))
    );
    // AND nothing was stored: no history, no conversation, and alice's other device heard nothing
    let history = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    assert_eq!(history["messages"], json!([]));
    let conversations = bob.ok("conv.list", json!({})).await;
    assert_eq!(conversations["conversations"], json!([]));
    alice_web.expect_no_event(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_signal_is_refused_where_a_message_would_be_and_for_bad_input() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let typing_to = |id: &str| json!({"to": {"type": "c2c", "id": id}, "kind": "typing"});
    // Nobody to tell, or oneself.
    assert_eq!(alice.err("msg.signal", typing_to("nobody")).await, "not_found");
    assert_eq!(alice.err("msg.signal", typing_to("alice")).await, "invalid_field");
    // A kind that is no short name, data over 1 KB, an unknown field.
    for bad in [
        json!({"to": {"type": "c2c", "id": "bob"}, "kind": ""}),
        json!({"to": {"type": "c2c", "id": "bob"}, "kind": "two words"}),
        json!({"to": {"type": "c2c", "id": "bob"}, "kind": "typing", "data": "x".repeat(1025)}),
        json!({"to": {"type": "c2c", "id": "bob"}, "kind": "typing", "body": []}),
    ] {
        assert_eq!(
            alice.err("msg.signal", bad.clone()).await,
            "invalid_field",
            "{bad}"
        );
    }
    // Bob blocked alice: her signals are refused as her messages are.
    bob.ok("block.add", json!({"userIds": ["alice"]})).await;
    assert_eq!(alice.err("msg.signal", typing_to("bob")).await, "peer_refused");
    bob.expect_no_event(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_group_signal_reaches_the_other_members_and_not_outsiders_or_the_muted() {
    // GIVEN a group of alice, bob and carol, and dave outside it
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let mut carol = stack.connect("carol").await;
    let mut dave = stack.connect("dave").await;
    alice
        .ok(
            "group.create",
            json!({"type": "private", "groupId": "g-sig", "name": "signals", "members": ["bob", "carol"]}),
        )
        .await;
    let typing = json!({"to": {"type": "group", "id": "g-sig"}, "kind": "typing"});

    // WHEN alice types in the group
    alice.ok("msg.signal", typing.clone()).await;

    // THEN bob and carol are told, with the group's conversation id
    for member in [&mut bob, &mut carol] {
        let signal = member.event("msg.signal").await;
        assert_eq!(signal["from"], "alice");
        assert_eq!(signal["conversationId"], "GROUPg-sig");
    }
    // AND an outsider may not signal there, nor a muted member
    assert_eq!(dave.err("msg.signal", typing.clone()).await, "forbidden");
    alice
        .ok(
            "group.mute",
            json!({"groupId": "g-sig", "userId": "carol", "seconds": 60}),
        )
        .await;
    assert_eq!(carol.err("msg.signal", typing.clone()).await, "muted");
    // AND nothing was stored in the group's history beyond its tips
    let history = bob
        .ok("msg.history", json!({"conversationId": "GROUPg-sig"}))
        .await;
    let kinds: Vec<_> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["system"].clone())
        .collect();
    assert!(kinds.iter().all(|system| system == &json!(true)), "{history}");
}
