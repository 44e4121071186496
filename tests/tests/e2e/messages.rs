//! The message lifecycle: recall, delete for oneself, roaming expiry and the per-conversation
//! cap, sync after an offline period, and the sender's profile carried by messages.

use cirrus_tests::TestStack;
use serde_json::{Value, json};
use std::time::Duration;

fn seqs(page: &Value) -> Vec<u64> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_sender_recalls_inside_the_window_and_every_device_sees_a_tombstone() {
    // GIVEN alice on two devices and bob
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut alice_web = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let ack = alice.send_text("bob", "r-1", "oops").await;
    bob.event("msg.new").await;
    alice_web.event("msg.new").await;

    // WHEN alice recalls it
    let reply = alice
        .ok("msg.recall", json!({"conversationId": "C2Cbob", "seq": 1}))
        .await;

    // THEN the reply and both sides' events name the message from each side
    assert_eq!(reply["msgId"], ack["msgId"]);
    assert_eq!(reply["recalledBy"], "alice");
    let to_bob = bob.event("msg.recalled").await;
    assert_eq!(to_bob["conversationId"], "C2Calice");
    assert_eq!(to_bob["seq"], 1);
    assert_eq!(to_bob["msgId"], ack["msgId"]);
    assert_eq!(alice_web.event("msg.recalled").await["conversationId"], "C2Cbob");
    // AND history holds a tombstone: no body, the recall recorded
    let history = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    let tombstone = &history["messages"][0];
    assert_eq!(tombstone["body"], json!([]));
    assert_eq!(tombstone["recalled"]["by"], "alice");
    // AND recalling again answers the same, with no second event
    let again = alice
        .ok("msg.recall", json!({"conversationId": "C2Cbob", "seq": 1}))
        .await;
    assert_eq!(again["time"], reply["time"]);
    bob.expect_no_event(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn only_the_sender_may_recall_and_only_inside_the_window_but_the_administrator_any_time() {
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.recall_window_ms = 300;
    })
    .await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    alice.send_text("bob", "w-1", "first").await;
    alice.send_text("bob", "w-2", "second").await;

    // bob may not recall alice's message, nor can anyone recall what is not there
    assert_eq!(
        bob.err("msg.recall", json!({"conversationId": "C2Calice", "seq": 1}))
            .await,
        "forbidden"
    );
    assert_eq!(
        alice
            .err("msg.recall", json!({"conversationId": "C2Cbob", "seq": 9}))
            .await,
        "not_found"
    );
    // past the window alice gets recall_expired and the message stays
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        alice
            .err("msg.recall", json!({"conversationId": "C2Cbob", "seq": 1}))
            .await,
        "recall_expired"
    );
    let history = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    assert_eq!(history["messages"][0]["body"][0]["text"], "first");
    assert!(history["messages"][0].get("recalled").is_none());

    // the administrator may still recall it through the REST API (MsgKey is the seq)
    let reply = stack
        .admin(
            "openim/admin_msgwithdraw",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgKey": "1"}),
        )
        .await;
    assert_eq!(reply["ActionStatus"], "OK", "{reply}");
    let recalled = bob.event("msg.recalled").await;
    assert_eq!(recalled["recalledBy"], "administrator");
    assert_eq!(recalled["seq"], 1);
    let history = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    assert_eq!(history["messages"][0]["body"], json!([]));
    // and seq 2 is untouched
    assert_eq!(history["messages"][1]["body"][0]["text"], "second");
    // an unknown message is a parameter error
    let usersig = stack.token("administrator");
    let reply = stack
        .rest_as(
            "administrator",
            &usersig,
            "openim/admin_msgwithdraw",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgKey": "77"}),
        )
        .await;
    assert_eq!(reply["ErrorCode"], 70402);
}

#[tokio::test]
async fn deleting_for_oneself_hides_messages_on_every_device_but_not_for_the_peer() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob_phone = stack.connect("bob").await;
    let mut bob_web = stack.connect("bob").await;
    for i in 1..=3 {
        alice.send_text("bob", &format!("d-{i}"), &format!("m{i}")).await;
    }

    // WHEN bob deletes seq 2 on his phone
    let reply = bob_phone
        .ok(
            "msg.delete",
            json!({"conversationId": "C2Calice", "seqs": [2, 2]}),
        )
        .await;
    assert_eq!(reply, json!({"conversationId": "C2Calice", "seqs": [2]}));

    // THEN his other device is told, and his history (from either device) skips it
    assert_eq!(
        bob_web.event("msg.deleted").await,
        json!({"conversationId": "C2Calice", "seqs": [2]})
    );
    let page = bob_web
        .ok("msg.history", json!({"conversationId": "C2Calice"}))
        .await;
    assert_eq!(seqs(&page), vec![1, 3]);
    // AND a page of 2 is still filled past the hidden message
    let page = bob_web
        .ok("msg.history", json!({"conversationId": "C2Calice", "limit": 2}))
        .await;
    assert_eq!(seqs(&page), vec![1, 3]);
    assert_eq!(page["complete"], true);
    // AND alice still has all three
    let page = alice.ok("msg.history", json!({"conversationId": "C2Cbob"})).await;
    assert_eq!(seqs(&page), vec![1, 2, 3]);
    // AND bad requests change nothing
    for bad in [json!([]), json!([0]), json!((1..=101).collect::<Vec<u64>>())] {
        assert_eq!(
            bob_phone
                .err("msg.delete", json!({"conversationId": "C2Calice", "seqs": bad}))
                .await,
            "invalid_field"
        );
    }
}

#[tokio::test]
async fn roaming_ends_after_the_configured_time() {
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.roaming_ttl_ms = 700;
    })
    .await;
    let mut alice = stack.connect("alice").await;
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "bob"}))
        .await;
    alice.send_text("bob", "e-1", "old").await;
    alice.send_text("bob", "e-2", "old too").await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    alice.send_text("bob", "e-3", "new").await;
    let page = alice.ok("msg.history", json!({"conversationId": "C2Cbob"})).await;
    assert_eq!(seqs(&page), vec![3]);
    assert_eq!(
        alice
            .err("msg.recall", json!({"conversationId": "C2Cbob", "seq": 1}))
            .await,
        "not_found"
    );
}

#[tokio::test]
async fn a_conversation_keeps_only_its_newest_messages() {
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.max_stream_messages = 3;
    })
    .await;
    let mut alice = stack.connect("alice").await;
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "bob"}))
        .await;
    for i in 1..=5 {
        alice.send_text("bob", &format!("c-{i}"), "x").await;
    }
    let page = alice.ok("msg.history", json!({"conversationId": "C2Cbob"})).await;
    assert_eq!(seqs(&page), vec![3, 4, 5]);
    assert_eq!(page["complete"], true);
    let page = alice
        .ok("msg.history", json!({"conversationId": "C2Cbob", "afterSeq": 0}))
        .await;
    assert_eq!(seqs(&page), vec![3, 4, 5]);
}

#[tokio::test]
async fn sync_after_an_offline_period_fills_the_gaps() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut carol = stack.connect("carol").await;
    let mut dave = stack.connect("dave").await;
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "bob"}))
        .await;
    // bob saw alice's first message and dave's only one before going offline
    alice.send_text("bob", "s-1", "a1").await;
    dave.send_text("bob", "s-d", "d1").await;
    // while he is away alice sends three more and carol writes for the first time
    for i in 2..=4 {
        alice.send_text("bob", &format!("s-{i}"), &format!("a{i}")).await;
    }
    carol.send_text("bob", "s-c", "c1").await;

    let mut bob = stack.connect("bob").await;
    let reply = bob
        .ok(
            "msg.sync",
            json!({"cursors": [
                {"conversationId": "C2Calice", "seq": 1},
                {"conversationId": "C2Cdave", "seq": 1}
            ]}),
        )
        .await;
    let conversations = reply["conversations"].as_array().unwrap();
    // dave's conversation has nothing new: left out; newest activity first
    let ids: Vec<&str> = conversations
        .iter()
        .map(|c| c["conversationId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["C2Ccarol", "C2Calice"]);
    assert_eq!(seqs(&conversations[1]), vec![2, 3, 4]);
    assert_eq!(conversations[1]["complete"], true);
    assert_eq!(conversations[1]["unread"], 4);
    assert_eq!(conversations[1]["messages"][0]["body"][0]["text"], "a2");
    assert_eq!(seqs(&conversations[0]), vec![1]);

    // a smaller page says it is incomplete, and msg.history goes on from there
    let reply = bob
        .ok(
            "msg.sync",
            json!({"cursors": [{"conversationId": "C2Calice", "seq": 1}], "limit": 2}),
        )
        .await;
    let alice_part = reply["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["conversationId"] == "C2Calice")
        .unwrap()
        .clone();
    assert_eq!(seqs(&alice_part), vec![2, 3]);
    assert_eq!(alice_part["complete"], false);
    let rest = bob
        .ok(
            "msg.history",
            json!({"conversationId": "C2Calice", "afterSeq": 3}),
        )
        .await;
    assert_eq!(seqs(&rest), vec![4]);
    // a bad cursor is refused
    assert_eq!(
        bob.err(
            "msg.sync",
            json!({"cursors": [{"conversationId": "nope", "seq": 1}]})
        )
        .await,
        "invalid_conversation_id"
    );
}

#[tokio::test]
async fn messages_carry_the_senders_nickname_and_avatar() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    alice
        .ok(
            "profile.set",
            json!({"nickname": "Alice", "faceUrl": "https://img.example/alice.png"}),
        )
        .await;
    alice.send_text("bob", "p-1", "hi").await;
    let message = bob.event("msg.new").await;
    assert_eq!(
        message["sender"],
        json!({"nickname": "Alice", "avatar": "https://img.example/alice.png"})
    );
    // bob set no profile: his messages carry none
    bob.send_text("alice", "p-2", "hello").await;
    let message = alice.event("msg.new").await;
    assert!(message.get("sender").is_none(), "{message}");
}

#[tokio::test]
async fn the_app_server_sends_as_a_user_or_as_a_system_notice() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut bob = stack.connect("bob").await;
    // as alice, retried with the same MsgRandom: one message
    for _ in 0..2 {
        let reply = stack
            .admin(
                "openim/sendmsg",
                json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 42,
                       "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "from the server"}}]}),
            )
            .await;
        assert_eq!(reply["ActionStatus"], "OK", "{reply}");
        assert_eq!(reply["MsgKey"], "1");
    }
    let message = bob.event("msg.new").await;
    assert_eq!(message["from"], "alice");
    assert_eq!(message["body"][0]["text"], "from the server");
    bob.expect_no_event(Duration::from_millis(300)).await;

    // without From_Account: a system notice from the administrator, kept in history
    let reply = stack
        .admin(
            "openim/batchsendmsg",
            json!({"To_Account": ["bob", "carol", "not a user"],
                   "MsgBody": [{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "{}", "Desc": "maintenance tonight"}}]}),
        )
        .await;
    assert_eq!(reply["ActionStatus"], "OK", "{reply}");
    // carol was never imported nor logged in: refused as Tencent refuses her (70107)
    assert_eq!(
        reply["ErrorList"][0],
        json!({"To_Account": "carol", "ErrorCode": 70107})
    );
    assert_eq!(reply["ErrorList"][1]["To_Account"], "not a user");
    let notice = bob.event("msg.system").await;
    assert_eq!(notice["system"], true);
    assert_eq!(notice["from"], "administrator");
    assert_eq!(notice["conversationId"], "C2Cadministrator");
    let history = bob
        .ok("msg.history", json!({"conversationId": "C2Cadministrator"}))
        .await;
    assert_eq!(history["messages"][0]["body"][0]["desc"], "maintenance tonight");
    assert_eq!(history["messages"][0]["system"], true);

    // unsupported elements are refused and nothing is sent
    let usersig = stack.token("administrator");
    let reply = stack
        .rest_as(
            "administrator",
            &usersig,
            "openim/sendmsg",
            json!({"To_Account": "bob", "MsgBody": [{"MsgType": "TIMImageElem", "MsgContent": {}}]}),
        )
        .await;
    assert_eq!(reply["ErrorCode"], 70402);
    bob.expect_no_event(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_message_to_a_user_who_never_existed_is_refused_and_leaves_nothing() {
    // GIVEN alice, and a user id nobody imported, registered or logged in with
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let to_ghost = json!({"to": {"type": "c2c", "id": "ghost"}, "clientMsgId": "g-1",
                          "body": [{"type": "text", "text": "anyone?"}]});
    // WHEN alice writes to it THEN she is refused with not_found
    assert_eq!(alice.err("msg.send", to_ghost).await, "not_found");
    // AND the app server is refused too (70107, account not found)
    let reply = stack
        .rest_as(
            "administrator",
            &stack.token("administrator"),
            "openim/sendmsg",
            json!({"From_Account": "alice", "To_Account": "ghost", "MsgRandom": 1,
                   "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}),
        )
        .await;
    assert_eq!(
        (reply["ActionStatus"].as_str(), reply["ErrorCode"].as_u64()),
        (Some("FAIL"), Some(70107))
    );
    // AND no conversation was created
    let list = alice.ok("conv.list", json!({})).await;
    assert_eq!(list["conversations"], json!([]), "{list}");
    // AND once imported, the same id takes messages
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "ghost"}))
        .await;
    alice.send_text("ghost", "g-2", "welcome").await;
}

#[tokio::test]
async fn a_page_of_zero_is_refused_and_larger_pages_are_lowered_to_the_limit() {
    // GIVEN alice and bob with three messages between them
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "bob"}))
        .await;
    for n in 0..3 {
        alice.send_text("bob", &format!("m{n}"), "hi").await;
    }
    // WHEN alice asks for a page of 0 THEN she is refused (it used to answer one message)
    let history = json!({"conversationId": "C2Cbob", "limit": 0});
    assert_eq!(alice.err("msg.history", history).await, "invalid_field");
    assert_eq!(alice.err("conv.list", json!({"limit": 0})).await, "invalid_field");
    // AND a page far over the limit is served, lowered to it
    let page = alice
        .ok(
            "msg.history",
            json!({"conversationId": "C2Cbob", "limit": 100_000}),
        )
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 3);
}
