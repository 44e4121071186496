//! Pinned messages (`conv.pin`, `conv.unpin`, `conv.pins`): either user of a one-to-one
//! conversation pins, a group's owner and admins do; every other connection of the conversation
//! gets `conv.pinned` / `conv.unpinned`, and the list is bounded.

use cirrus_tests::TestStack;
use serde_json::{Value, json};
use std::time::Duration;

fn at(conversation: &str, seq: u64) -> Value {
    json!({"conversationId": conversation, "seq": seq})
}

fn pinned_seqs(pins: &Value) -> Vec<u64> {
    pins["pins"]
        .as_array()
        .map(|pins| pins.iter().filter_map(|pin| pin["seq"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn either_user_pins_and_unpins_and_every_other_device_is_told() {
    // GIVEN alice on one device, bob on two, and two messages between them
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let mut bob_web = stack.connect("bob").await;
    alice.send_text("bob", "p-1", "the address").await;
    alice.send_text("bob", "p-2", "the time").await;
    for device in [&mut bob, &mut bob_web] {
        device.event("msg.new").await;
        device.event("msg.new").await;
    }

    // WHEN alice pins seq 2
    let pin = alice.ok("conv.pin", at("C2Cbob", 2)).await;

    // THEN the reply is the pin with its message
    assert_eq!(
        (pin["seq"].clone(), pin["pinnedBy"].clone()),
        (json!(2), json!("alice"))
    );
    assert_eq!(pin["conversationId"], "C2Cbob");
    assert_eq!(pin["message"]["body"][0]["text"], "the time");
    // AND both of bob's devices hear of it from their side
    for device in [&mut bob, &mut bob_web] {
        let event = device.event("conv.pinned").await;
        assert_eq!(event["conversationId"], "C2Calice", "{event}");
        assert_eq!(event["seq"], 2);
        assert_eq!(event["message"]["seq"], 2);
    }

    // WHEN bob pins seq 1, and alice pins seq 2 again
    bob.ok("conv.pin", at("C2Calice", 1)).await;
    assert_eq!(alice.event("conv.pinned").await["conversationId"], "C2Cbob");
    bob_web.event("conv.pinned").await;
    let again = alice.ok("conv.pin", at("C2Cbob", 2)).await;
    // THEN the repeat answers with the first pin and tells no one
    assert_eq!(again["pinnedAt"], pin["pinnedAt"]);
    bob.expect_no_event(Duration::from_millis(300)).await;
    // AND both sides list the pins newest first
    assert_eq!(
        pinned_seqs(&alice.ok("conv.pins", json!({"conversationId": "C2Cbob"})).await),
        [1, 2]
    );
    let listed = bob.ok("conv.pins", json!({"conversationId": "C2Calice"})).await;
    assert_eq!(pinned_seqs(&listed), [1, 2]);
    assert_eq!(listed["pins"][1]["message"]["body"][0]["text"], "the time");

    // WHEN bob unpins seq 2 THEN alice and bob's other device are told; a second unpin removes nothing
    assert_eq!(bob.ok("conv.unpin", at("C2Calice", 2)).await["removed"], true);
    let unpinned = alice.event("conv.unpinned").await;
    assert_eq!(
        (
            unpinned["conversationId"].clone(),
            unpinned["seq"].clone(),
            unpinned["unpinnedBy"].clone()
        ),
        (json!("C2Cbob"), json!(2), json!("bob"))
    );
    assert_eq!(bob_web.event("conv.unpinned").await["conversationId"], "C2Calice");
    assert_eq!(bob.ok("conv.unpin", at("C2Calice", 2)).await["removed"], false);
    assert_eq!(
        pinned_seqs(&bob.ok("conv.pins", json!({"conversationId": "C2Calice"})).await),
        [1]
    );
}

#[tokio::test]
async fn pins_are_refused_for_recalled_missing_unmanaged_and_past_the_bound() {
    // GIVEN a public group owned by alice with bob as a member, and messages in it
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    alice
        .ok(
            "group.create",
            json!({"type": "public", "groupId": "pins", "name": "Pins", "members": ["bob"]}),
        )
        .await;
    let group = json!({"type": "group", "id": "pins"});
    for n in 1..=12 {
        alice
            .ok(
                "msg.send",
                json!({"to": group, "clientMsgId": format!("g-{n}"),
                       "body": [{"type": "text", "text": format!("note {n}")}]}),
            )
            .await;
    }
    let pins_seq = |n: u64| at("GROUPpins", n);

    // A member who does not manage the group may not pin; bad input gets its code.
    assert_eq!(bob.err("conv.pin", pins_seq(1)).await, "forbidden");
    assert_eq!(alice.err("conv.pin", pins_seq(99)).await, "not_found");
    assert_eq!(alice.err("conv.pin", pins_seq(0)).await, "not_found");
    assert_eq!(
        alice.err("conv.pin", at("nonsense", 1)).await,
        "invalid_conversation_id"
    );
    assert_eq!(
        alice
            .err(
                "conv.pin",
                json!({"conversationId": "GROUPpins", "seq": 1, "extra": 1})
            )
            .await,
        "invalid_field"
    );
    // A recalled message cannot be pinned.
    alice.ok("msg.recall", pins_seq(12)).await;
    assert_eq!(alice.err("conv.pin", pins_seq(12)).await, "recalled");

    // WHEN the owner pins THEN the member hears of it and can list the pins.
    alice.ok("conv.pin", pins_seq(1)).await;
    let event = bob.event("conv.pinned").await;
    assert_eq!(
        (event["conversationId"].clone(), event["pinnedBy"].clone()),
        (json!("GROUPpins"), json!("alice"))
    );
    for n in 2..=10 {
        alice.ok("conv.pin", pins_seq(n)).await;
    }
    // AND the eleventh pin is refused until one is unpinned.
    assert_eq!(alice.err("conv.pin", pins_seq(11)).await, "pins_full");
    let listed = bob.ok("conv.pins", json!({"conversationId": "GROUPpins"})).await;
    assert_eq!(pinned_seqs(&listed).len(), 10, "{listed}");
    assert_eq!(bob.err("conv.unpin", pins_seq(1)).await, "forbidden");
    alice.ok("conv.unpin", pins_seq(1)).await;
    alice.ok("conv.pin", pins_seq(11)).await;
    assert_eq!(
        pinned_seqs(&bob.ok("conv.pins", json!({"conversationId": "GROUPpins"})).await)[0],
        11
    );
    // AND a stranger may not read them.
    let mut carol = stack.connect("carol").await;
    assert_eq!(
        carol
            .err("conv.pins", json!({"conversationId": "GROUPpins"}))
            .await,
        "forbidden"
    );
}
