//! Message edits (`msg.edit`, REST `modify_c2c_msg`): the sender replaces a message's body within
//! the edit window, it keeps its seq and msgId, every connection of the conversation gets
//! `msg.edited`, history shows the latest version, and a stale version is refused.

use cirrus_tests::TestStack;
use serde_json::{Value, json};
use std::time::Duration;

fn text(text: &str) -> Value {
    json!([{"type": "text", "text": text}])
}

fn edit(conversation: &str, seq: u64, version: u32, body: &str) -> Value {
    json!({"conversationId": conversation, "seq": seq, "version": version, "body": text(body)})
}

#[tokio::test]
async fn the_sender_edits_a_message_and_every_device_sees_the_new_version() {
    // GIVEN alice on two devices and bob on two, and a message from alice to bob
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut alice_web = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let mut bob_web = stack.connect("bob").await;
    let ack = alice.send_text("bob", "e-1", "helo").await;
    bob.event("msg.new").await;
    bob_web.event("msg.new").await;
    alice_web.event("msg.new").await;

    // WHEN alice edits it from version 0
    let edited = alice.ok("msg.edit", edit("C2Cbob", 1, 0, "hello")).await;

    // THEN the reply is the message at version 1, same seq and msgId
    assert_eq!(edited["msgId"], ack["msgId"]);
    assert_eq!(edited["seq"], 1);
    assert_eq!(edited["body"], text("hello"));
    assert_eq!(edited["edited"]["version"], 1);
    assert_eq!(edited["edited"]["by"], "alice");
    // AND bob's devices and alice's other device get msg.edited from their side
    for device in [&mut bob, &mut bob_web] {
        let event = device.event("msg.edited").await;
        assert_eq!(event["conversationId"], "C2Calice");
        assert_eq!(
            (event["seq"].clone(), event["body"].clone()),
            (json!(1), text("hello"))
        );
        assert_eq!(event["edited"]["version"], 1);
    }
    assert_eq!(alice_web.event("msg.edited").await["conversationId"], "C2Cbob");
    // AND history, sync and the conversation list show the new version
    let history = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    assert_eq!(history["messages"][0]["body"], text("hello"));
    assert_eq!(history["messages"][0]["edited"]["version"], 1);
    let list = bob.ok("conv.list", json!({})).await;
    assert_eq!(
        list["conversations"][0]["lastMessage"]["body"],
        text("hello"),
        "{list}"
    );

    // WHEN bob's copy of alice's client edits version 0 again, it is stale
    let mut stale = edit("C2Cbob", 1, 0, "hullo");
    assert_eq!(alice_web.err("msg.edit", stale.clone()).await, "stale_version");
    // AND editing the version it now has works, dropping nothing but what it replaces
    stale["version"] = json!(1);
    stale["cloudCustomData"] = json!("{\"lang\":\"en\"}");
    let second = alice_web.ok("msg.edit", stale).await;
    assert_eq!(second["edited"]["version"], 2);
    assert_eq!(second["cloudCustomData"], "{\"lang\":\"en\"}");
    assert_eq!(bob.event("msg.edited").await["body"], text("hullo"));
    // AND the editing connection itself is not told again
    alice_web.expect_no_event(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn edits_are_refused_to_others_after_recall_past_the_window_and_for_bad_input() {
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.edit_window_ms = 1_500;
    })
    .await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    alice.send_text("bob", "r-1", "first").await;
    alice.send_text("bob", "r-2", "second").await;
    let started = std::time::Instant::now();

    // Not the sender, no such message, a bad body, an unknown field.
    assert_eq!(
        bob.err("msg.edit", edit("C2Calice", 1, 0, "mine")).await,
        "forbidden"
    );
    assert_eq!(
        alice.err("msg.edit", edit("C2Cbob", 9, 0, "x")).await,
        "not_found"
    );
    assert_eq!(
        alice.err("msg.edit", edit("C2Cbob", 0, 0, "x")).await,
        "not_found"
    );
    let empty = json!({"conversationId": "C2Cbob", "seq": 1, "body": []});
    assert_eq!(alice.err("msg.edit", empty).await, "invalid_field");
    let unknown = json!({"conversationId": "C2Cbob", "seq": 1, "body": text("x"), "to": "bob"});
    assert_eq!(alice.err("msg.edit", unknown).await, "invalid_field");
    // A recalled message stays a tombstone.
    alice
        .ok("msg.recall", json!({"conversationId": "C2Cbob", "seq": 2}))
        .await;
    assert_eq!(
        alice.err("msg.edit", edit("C2Cbob", 2, 0, "back")).await,
        "recalled"
    );
    // Nothing of that changed the first message.
    let history = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    assert_eq!(history["messages"][0]["body"], text("first"));
    assert!(history["messages"][0].get("edited").is_none(), "{history}");

    // Past the window the sender may not, the administrator still may (Tencent's MsgKey form).
    let window = Duration::from_millis(1_600);
    tokio::time::sleep(window.saturating_sub(started.elapsed())).await;
    assert_eq!(
        alice.err("msg.edit", edit("C2Cbob", 1, 0, "late")).await,
        "edit_expired"
    );
    let reply = stack
        .admin(
            "openim/modify_c2c_msg",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgKey": "1_4242_1769771529",
                   "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "moderated"}}]}),
        )
        .await;
    assert_eq!(reply["ActionStatus"], "OK", "{reply}");
    let event = bob.event("msg.edited").await;
    assert_eq!(event["body"], text("moderated"));
    assert_eq!(event["edited"]["by"], "administrator");
    // A key this server never issued is a parameter error.
    let usersig = stack.token("administrator");
    let reply = stack
        .rest_as(
            "administrator",
            &usersig,
            "openim/modify_c2c_msg",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgKey": "x"}),
        )
        .await;
    assert_eq!(
        (reply["ActionStatus"].clone(), reply["ErrorCode"].clone()),
        (json!("FAIL"), json!(70402))
    );
}

#[tokio::test]
async fn a_group_member_edits_their_message_for_the_whole_group_unless_muted() {
    // GIVEN a group of alice, bob and carol with a message from bob
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let mut carol = stack.connect("carol").await;
    alice
        .ok(
            "group.create",
            json!({"type": "private", "groupId": "g-edit", "name": "edits", "members": ["bob", "carol"]}),
        )
        .await;
    let sent = bob
        .ok(
            "msg.send",
            json!({"to": {"type": "group", "id": "g-edit"}, "clientMsgId": "g-1", "body": text("typo")}),
        )
        .await;
    let seq = sent["seq"].as_u64().unwrap();

    // WHEN bob edits it
    bob.ok("msg.edit", edit("GROUPg-edit", seq, 0, "fixed")).await;

    // THEN the other members see the new version
    for member in [&mut alice, &mut carol] {
        let event = member.event("msg.edited").await;
        assert_eq!(event["conversationId"], "GROUPg-edit");
        assert_eq!(
            (event["seq"].clone(), event["body"].clone()),
            (json!(seq), text("fixed"))
        );
    }
    // AND the owner may not rewrite bob's words, and a muted bob may not edit any more
    assert_eq!(
        alice.err("msg.edit", edit("GROUPg-edit", seq, 1, "owner")).await,
        "forbidden"
    );
    alice
        .ok(
            "group.mute",
            json!({"groupId": "g-edit", "userId": "bob", "seconds": 60}),
        )
        .await;
    assert_eq!(
        bob.err("msg.edit", edit("GROUPg-edit", seq, 1, "again")).await,
        "muted"
    );
    let history = carol
        .ok("msg.history", json!({"conversationId": "GROUPg-edit"}))
        .await;
    let last = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["seq"] == seq)
        .cloned();
    assert_eq!(last.unwrap()["body"], text("fixed"));
}
