//! One-to-one chat across users and devices.

use cirrus_tests::TestStack;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn two_users_chat() {
    // GIVEN alice and bob online
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;

    // WHEN alice sends bob a message
    let ack = alice.send_text("bob", "c-1", "hi bob 👋").await;

    // THEN the ack carries the first seq of the conversation from alice's side
    assert_eq!(ack["seq"], 1);
    assert_eq!(ack["conversationId"], "C2Cbob");
    assert!(ack["msgId"].as_str().is_some_and(|id| !id.is_empty()));
    // AND bob receives it, seen from his side
    let message = bob.event("msg.new").await;
    assert_eq!(message["msgId"], ack["msgId"]);
    assert_eq!(message["seq"], 1);
    assert_eq!(message["conversationId"], "C2Calice");
    assert_eq!(message["from"], "alice");
    assert_eq!(message["to"], json!({"type": "c2c", "id": "bob"}));
    assert_eq!(message["clientMsgId"], "c-1");
    assert_eq!(message["time"], ack["time"]);
    assert_eq!(message["body"], json!([{"type": "text", "text": "hi bob 👋"}]));

    // WHEN bob answers
    let reply = bob.send_text("alice", "b-1", "hello alice").await;
    // THEN the seq continues in the same conversation
    assert_eq!(reply["seq"], 2);
    assert_eq!(reply["conversationId"], "C2Calice");
    let message = alice.event("msg.new").await;
    assert_eq!(message["seq"], 2);
    assert_eq!(message["conversationId"], "C2Cbob");
    assert_eq!(message["body"][0]["text"], "hello alice");
}

#[tokio::test]
async fn a_third_device_of_the_same_user_sees_both_sides() {
    // GIVEN alice on a phone and a laptop, and bob
    let stack = TestStack::start(crate::BACKEND).await;
    let mut phone = stack.connect("alice").await;
    let mut laptop = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;

    // WHEN alice sends from her phone
    let ack = phone.send_text("bob", "p-1", "from my phone").await;
    // THEN her laptop sees her own message in the conversation with bob
    let mirrored = laptop.event("msg.new").await;
    assert_eq!(mirrored["msgId"], ack["msgId"]);
    assert_eq!(mirrored["conversationId"], "C2Cbob");
    assert_eq!(mirrored["from"], "alice");
    // AND bob gets it
    assert_eq!(bob.event("msg.new").await["msgId"], ack["msgId"]);

    // WHEN bob answers
    let answer = bob.send_text("alice", "b-1", "got it").await;
    // THEN both of alice's devices get the answer
    assert_eq!(phone.event("msg.new").await["msgId"], answer["msgId"]);
    assert_eq!(laptop.event("msg.new").await["msgId"], answer["msgId"]);
    // AND the sending device got only its ack, not an echo of its own message
    phone.expect_no_event(Duration::from_millis(200)).await;
    bob.expect_no_event(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn an_offline_user_reconnects_to_unread_counts_and_history_in_order() {
    // GIVEN alice sends three messages while bob is offline
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "bob"}))
        .await;
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        let ack = alice.send_text("bob", &format!("a-{i}"), text).await;
        assert_eq!(ack["seq"], i + 1);
    }

    // WHEN bob connects and lists his conversations
    let mut bob = stack.connect("bob").await;
    let list = bob.ok("conv.list", json!({})).await;

    // THEN he sees the conversation with alice with three unread messages
    let conversations = list["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 1);
    let conversation = &conversations[0];
    assert_eq!(conversation["conversationId"], "C2Calice");
    assert_eq!(conversation["type"], "c2c");
    assert_eq!(conversation["peer"], "alice");
    assert_eq!(conversation["unread"], 3);
    assert_eq!(conversation["lastSeq"], 3);
    assert_eq!(conversation["readSeq"], 0);
    assert_eq!(conversation["lastMessage"]["body"][0]["text"], "three");
    assert!(list.get("cursor").is_none());
    // AND alice's own list shows nothing unread: her own messages count as read
    let mine = alice.ok("conv.list", json!({})).await;
    assert_eq!(mine["conversations"][0]["conversationId"], "C2Cbob");
    assert_eq!(mine["conversations"][0]["unread"], 0);

    // AND history returns the messages in seq order
    let history = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    let texts: Vec<_> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"][0]["text"].clone())
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    assert_eq!(history["complete"], true);

    // WHEN bob reads up to seq 2
    bob.ok("conv.read", json!({"conversationId": "C2Calice", "seq": 2}))
        .await;
    // THEN one message stays unread, and reading never moves the pointer back
    bob.ok("conv.read", json!({"conversationId": "C2Calice", "seq": 1}))
        .await;
    let list = bob.ok("conv.list", json!({})).await;
    assert_eq!(list["conversations"][0]["unread"], 1);
    assert_eq!(list["conversations"][0]["readSeq"], 2);
}

#[tokio::test]
async fn history_pages_by_seq_in_both_directions() {
    // GIVEN a conversation of 25 messages
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "bob"}))
        .await;
    for i in 1..=25 {
        alice
            .send_text("bob", &format!("m{i}"), &format!("text {i}"))
            .await;
    }
    let seqs = |page: &serde_json::Value| -> Vec<u64> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect()
    };

    // WHEN alice pages backwards from the newest with the default page size of 20
    let newest = alice.ok("msg.history", json!({"conversationId": "C2Cbob"})).await;
    assert_eq!(seqs(&newest), (6..=25).collect::<Vec<_>>());
    assert_eq!(newest["complete"], false);
    let older = alice
        .ok("msg.history", json!({"conversationId": "C2Cbob", "beforeSeq": 6}))
        .await;
    assert_eq!(seqs(&older), (1..=5).collect::<Vec<_>>());
    assert_eq!(older["complete"], true);

    // AND forwards from a known seq (gap fill after reconnect)
    let forward = alice
        .ok(
            "msg.history",
            json!({"conversationId": "C2Cbob", "afterSeq": 20, "limit": 3}),
        )
        .await;
    assert_eq!(seqs(&forward), [21, 22, 23]);
    assert_eq!(forward["complete"], false);
    let rest = alice
        .ok(
            "msg.history",
            json!({"conversationId": "C2Cbob", "afterSeq": 23, "limit": 3}),
        )
        .await;
    assert_eq!(seqs(&rest), [24, 25]);
    assert_eq!(rest["complete"], true);

    // AND between two seqs
    let between = alice
        .ok(
            "msg.history",
            json!({"conversationId": "C2Cbob", "afterSeq": 10, "beforeSeq": 14}),
        )
        .await;
    assert_eq!(seqs(&between), [11, 12, 13]);
}

#[tokio::test]
async fn a_retried_send_yields_one_message() {
    // GIVEN alice sent a message to bob
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let first = alice.send_text("bob", "retry-me", "only once").await;
    bob.event("msg.new").await;

    // WHEN she retries with the same clientMsgId (say, after a timeout)
    let second = alice.send_text("bob", "retry-me", "only once").await;

    // THEN she gets the first ack again
    assert_eq!(second, first);
    // AND bob is not told twice, and history holds one message
    bob.expect_no_event(Duration::from_millis(200)).await;
    let history = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
    // AND the next message gets the next seq, not a skipped one
    assert_eq!(alice.send_text("bob", "next", "two").await["seq"], 2);
}

#[tokio::test]
async fn the_conversation_list_pages_by_last_activity() {
    // GIVEN alice talked to five people, in order
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    for peer in ["p1", "p2", "p3", "p4", "p5"] {
        stack
            .admin("im_open_login_svc/account_import", json!({"UserID": peer}))
            .await;
        alice.send_text(peer, &format!("to-{peer}"), "hello").await;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    // WHEN she lists two at a time
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let mut request = json!({"limit": 2});
        if let Some(c) = &cursor {
            request["cursor"] = json!(c);
        }
        let page = alice.ok("conv.list", request).await;
        for conversation in page["conversations"].as_array().unwrap() {
            seen.push(conversation["peer"].as_str().unwrap().to_owned());
        }
        match page.get("cursor") {
            Some(c) => cursor = Some(c.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    // THEN she sees everyone once, most recent first
    assert_eq!(seen, ["p5", "p4", "p3", "p2", "p1"]);
}

#[tokio::test]
async fn every_element_type_travels_intact() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let body = json!([
        {"type": "text", "text": "<script>alert('x')</script> \\ \" \u{0} ünï ✓"},
        {"type": "image", "format": "jpg", "original": {"url": "https://example.com/a.jpg", "width": 800, "height": 600, "size": 1000},
         "thumbnail": {"url": "https://example.com/t.jpg", "width": 198, "height": 148, "size": 100}},
        {"type": "sound", "url": "https://example.com/a.aac", "duration": 4, "size": 2000},
        {"type": "file", "url": "https://example.com/a.pdf", "name": "report.pdf", "size": 4096},
        {"type": "video", "url": "https://example.com/v.mp4", "duration": 12, "size": 999999, "format": "mp4",
         "snapshot": {"url": "https://example.com/v.jpg", "width": 320, "height": 240, "size": 500}},
        {"type": "location", "latitude": -33.86, "longitude": 151.21, "desc": "Sydney"},
        {"type": "face", "index": 7, "data": "[smile]"},
        {"type": "custom", "data": "{\"order\":42}", "desc": "an order", "ext": "v1"}
    ]);
    alice
        .ok(
            "msg.send",
            json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "all", "body": body,
                               "cloudCustomData": "{\"trace\":1}"}),
        )
        .await;
    let message = bob.event("msg.new").await;
    assert_eq!(message["body"], body);
    assert_eq!(message["cloudCustomData"], "{\"trace\":1}");
    let history = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    assert_eq!(history["messages"][0]["body"], body);
}

#[tokio::test]
async fn a_deleted_conversation_leaves_the_list_keeps_its_messages_and_returns_with_new_ones() {
    // GIVEN bob has two conversations, one with three unread messages from alice
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut carol = stack.connect("carol").await;
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "bob"}))
        .await;
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        alice.send_text("bob", &format!("a-{i}"), text).await;
    }
    carol.send_text("bob", "c-1", "hello").await;
    let mut bob = stack.connect("bob").await;
    // WHEN he deletes the one with alice
    bob.ok("conv.delete", json!({"conversationId": "C2Calice"})).await;
    // THEN his list has only carol's, while the history and alice's own entry stay
    let list = bob.ok("conv.list", json!({})).await;
    let ids: Vec<_> = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversationId"].clone())
        .collect();
    assert_eq!(ids, ["C2Ccarol"]);
    let history = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 3);
    let hers = alice.ok("conv.list", json!({})).await;
    assert_eq!(hers["conversations"][0]["conversationId"], "C2Cbob");
    // WHEN alice writes again
    alice.send_text("bob", "a-3", "four").await;
    // THEN the conversation is back with only the new message unread
    let list = bob.ok("conv.list", json!({})).await;
    assert_eq!(list["conversations"][0]["conversationId"], "C2Calice");
    assert_eq!(list["conversations"][0]["unread"], 1);
    assert_eq!(list["conversations"][0]["lastMessage"]["body"][0]["text"], "four");
    // AND deleting something he does not have, or a malformed id, has its code
    assert_eq!(
        bob.err("conv.delete", json!({"conversationId": "C2Czed"})).await,
        "not_found"
    );
    assert_eq!(
        bob.err("conv.delete", json!({"conversationId": "nonsense"}))
            .await,
        "invalid_conversation_id"
    );
}

fn filtered(mode: cirrus_core::filter::FilterMode) -> impl FnOnce(&mut cirrus_local::LocalConfig) {
    move |config| {
        let filter = cirrus_core::filter::WordFilter::new(["spam", "秘密"], mode)
            .unwrap()
            .unwrap();
        config.word_filter = Some(std::sync::Arc::new(filter));
    }
}

#[tokio::test]
async fn a_sensitive_word_refuses_the_message_in_reject_mode() {
    let stack =
        TestStack::start_with(crate::BACKEND, filtered(cirrus_core::filter::FilterMode::Reject)).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let send = |id: &str, body: serde_json::Value| json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": id, "body": body});
    for (id, body) in [
        ("s1", json!([{"type": "text", "text": "buy SPAM now"}])),
        (
            "s2",
            json!([{"type": "custom", "data": "{}", "desc": "这是秘密"}]),
        ),
        (
            "s3",
            json!([{"type": "text", "text": "fine"}, {"type": "text", "text": "spam"}]),
        ),
    ] {
        assert_eq!(
            alice.err("msg.send", send(id, body)).await,
            "sensitive_content",
            "{id}"
        );
    }
    // Nothing was stored or delivered; a clean message goes through as seq 1.
    let ack = alice.send_text("bob", "s4", "hello").await;
    assert_eq!(ack["seq"], 1);
    assert_eq!(bob.event("msg.new").await["body"][0]["text"], "hello");
}

#[tokio::test]
async fn a_sensitive_word_is_masked_in_mask_mode() {
    let stack = TestStack::start_with(crate::BACKEND, filtered(cirrus_core::filter::FilterMode::Mask)).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    alice.send_text("bob", "m1", "no Spam, 秘密 or spam here").await;
    let delivered = bob.event("msg.new").await;
    assert_eq!(delivered["body"][0]["text"], "no ***, *** or *** here");
    let history = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    assert_eq!(
        history["messages"][0]["body"][0]["text"],
        "no ***, *** or *** here"
    );
}

#[tokio::test]
async fn reading_sends_a_receipt_to_the_peer_and_syncs_the_readers_other_devices() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob_phone = stack.connect("bob").await;
    let mut bob_web = stack.connect("bob").await;
    for i in 0..3 {
        alice.send_text("bob", &format!("r-{i}"), "hi").await;
    }
    // WHEN bob reads up to seq 2 on his phone
    bob_phone
        .ok("conv.read", json!({"conversationId": "C2Calice", "seq": 2}))
        .await;
    // THEN alice gets a receipt for her side of the conversation
    assert_eq!(
        alice.event("msg.read").await,
        json!({"conversationId": "C2Cbob", "userId": "bob", "readSeq": 2})
    );
    // AND bob's other device learns his read pointer moved (the phone that read is not told)
    assert_eq!(
        bob_web.event("msg.read").await,
        json!({"conversationId": "C2Calice", "userId": "bob", "readSeq": 2})
    );
    let list = bob_web.ok("conv.list", json!({})).await;
    assert_eq!(list["conversations"][0]["unread"], 1);
}
