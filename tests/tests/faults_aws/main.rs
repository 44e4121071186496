//! The AWS backend behind a faulting proxy in front of moto: DynamoDB throttling, 5xx, lost
//! responses and hangs on the message write path, SQS throttling and 5xx on the fan-out queue.
//! What must hold: an acknowledged message is stored once at its seq, a failed send answers
//! `internal` within the store's call bound and leaves the socket usable, a resend with the same
//! clientMsgId answers the first ack, and seqs have no gaps.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

mod proxy;

use cirrus_aws::call_limits::{MAX_ATTEMPTS, OPERATION_TIMEOUT};
use cirrus_local::LocalConfig;
use cirrus_tests::{Backend, TestSocket, TestStack};
use proxy::{Fault, FaultProxy, Rule};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PUT: &str = "DynamoDB_20120810.PutItem";
const UPDATE: &str = "DynamoDB_20120810.UpdateItem";
const SEND_BATCH: &str = "AmazonSQS.SendMessageBatch";
/// In the body of the message's own put (a claim or an inbox row has no such attribute).
const MESSAGE_PUT: &str = "\"clientMsgId\"";
/// In the body of the stream head's update that takes the next seq.
const NEXT_SEQ: &str = "lastSeq = if_not_exists(lastSeq";
/// In the body of the claim of (sender, clientMsgId).
const CLAIM: &str = "\"idem:";

/// A stack on the AWS backend whose every SDK call goes through a fresh proxy.
async fn proxied(adjust: impl FnOnce(&mut LocalConfig)) -> (FaultProxy, TestStack) {
    let proxy = FaultProxy::start(cirrus_aws::moto::moto_endpoint()).await;
    let url = proxy.url().to_owned();
    let stack = TestStack::start_with(Backend::Aws, |config| {
        config.storage = cirrus_tests::aws_storage_on(&url);
        adjust(config);
    })
    .await;
    proxy.forget();
    (proxy, stack)
}

/// A one-to-one text message's data.
fn text_to(peer: &str, client_msg_id: &str, text: &str) -> Value {
    json!({"to": {"type": "c2c", "id": peer}, "clientMsgId": client_msg_id,
           "body": [{"type": "text", "text": text}]})
}

/// Sends `action` and waits up to `within` for its reply (the test client's own wait is
/// shorter than a store call may take).
async fn call_within(socket: &mut TestSocket, within: Duration, action: &str, data: Value) -> Value {
    let req_id = format!("slow-{action}");
    socket
        .send_raw(json!({"action": action, "reqId": req_id, "data": data}).to_string())
        .await;
    let deadline = Instant::now() + within;
    loop {
        match socket.reply(&req_id).await {
            Ok(reply) => return reply,
            Err(err) => assert!(
                Instant::now() < deadline,
                "no reply to {action} within {within:?}: {err}"
            ),
        }
    }
}

/// The whole one-to-one history `socket`'s user has with `peer`, oldest first.
async fn history(socket: &mut TestSocket, peer: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    let mut after = 0;
    loop {
        let page = socket
            .ok(
                "msg.history",
                json!({"conversationId": format!("C2C{peer}"), "afterSeq": after, "limit": 50}),
            )
            .await;
        let got = page["messages"].as_array().unwrap().clone();
        let Some(last) = got.last() else {
            return messages;
        };
        after = last["seq"].as_u64().unwrap();
        messages.extend(got);
    }
}

/// Asserts that `stored` is exactly the `acks`, in seq order from 1, without gaps.
fn assert_stored_once_in_order(stored: &[Value], acks: &[Value]) {
    let seqs: Vec<u64> = stored.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=acks.len() as u64).collect();
    assert_eq!(seqs, expected, "seqs from 1 without gaps or repeats");
    for (message, ack) in stored.iter().zip(acks) {
        assert_eq!(message["seq"], ack["seq"]);
        assert_eq!(
            message["msgId"], ack["msgId"],
            "the stored message is the acknowledged one"
        );
    }
}

async fn two_users(stack: &TestStack) -> (TestSocket, TestSocket) {
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "bob"}))
        .await;
    (stack.connect("alice").await, stack.connect("bob").await)
}

#[tokio::test]
async fn transient_throttling_and_5xx_on_the_write_are_retried_and_the_send_is_acked_once() {
    // GIVEN the message's put throttled twice and the seq's update answered 503 once
    let (proxy, stack) = proxied(|_| {}).await;
    let (mut alice, mut bob) = two_users(&stack).await;
    proxy.fail(Rule::on(PUT, Fault::Throttle).containing(MESSAGE_PUT).times(1));
    proxy.fail(
        Rule::on(PUT, Fault::ThrottlingException)
            .containing(MESSAGE_PUT)
            .times(1),
    );
    proxy.fail(Rule::on(UPDATE, Fault::Status503).containing(NEXT_SEQ).times(1));
    proxy.fail(Rule::on(PUT, Fault::Status500).containing(CLAIM).times(1));
    // WHEN alice sends
    let ack = alice.send_text("bob", "t-1", "through the storm").await;
    // THEN it is acked at seq 1 after the SDK's retries: 3 puts of the message, 2 seq updates,
    // 2 claims
    assert_eq!(ack["seq"], 1);
    assert_eq!(proxy.seen(PUT, MESSAGE_PUT).len(), 3);
    assert_eq!(proxy.seen(UPDATE, NEXT_SEQ).len(), 2);
    assert_eq!(proxy.seen(PUT, CLAIM).len(), 2);
    // AND bob gets it once
    assert_eq!(bob.event("msg.new").await["msgId"], ack["msgId"]);
    // AND a resend with the same clientMsgId answers the first ack, storing nothing
    let again = alice.send_text("bob", "t-1", "through the storm").await;
    assert_eq!(again, ack);
    bob.expect_no_event(Duration::from_millis(200)).await;
    assert_stored_once_in_order(&history(&mut bob, "alice").await, &[ack]);
}

#[tokio::test]
async fn a_lost_answer_of_the_seq_update_takes_no_second_seq() {
    // GIVEN the stream head's update applied by DynamoDB but its answer lost (a 500 after the
    // write), so that the SDK makes it again
    let (proxy, stack) = proxied(|_| {}).await;
    let (mut alice, mut bob) = two_users(&stack).await;
    proxy.fail(
        Rule::on(UPDATE, Fault::LostResponse)
            .containing(NEXT_SEQ)
            .times(1),
    );
    // WHEN alice sends twice
    let first = alice.send_text("bob", "l-1", "one").await;
    let second = alice.send_text("bob", "l-2", "two").await;
    // THEN the retried update took no second seq: 1 and 2, no gap
    assert_eq!(proxy.seen(UPDATE, NEXT_SEQ).len(), 3, "one retry");
    assert_eq!(
        (first["seq"].as_u64(), second["seq"].as_u64()),
        (Some(1), Some(2))
    );
    assert_stored_once_in_order(&history(&mut bob, "alice").await, &[first, second]);
}

#[tokio::test]
async fn a_lost_answer_of_the_claim_is_known_as_its_own_on_the_retry() {
    // GIVEN the claim's put made by DynamoDB but its answer lost, so that the SDK's retry finds
    // the claim taken
    let (proxy, stack) = proxied(|_| {}).await;
    let (mut alice, mut bob) = two_users(&stack).await;
    proxy.fail(Rule::on(PUT, Fault::LostResponse).containing(CLAIM).times(1));
    // WHEN alice sends THEN it is acked at once (not after the claim's 30 s lease), at seq 1
    let started = Instant::now();
    let ack = alice.send_text("bob", "o-1", "mine").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(proxy.seen(PUT, CLAIM).len(), 2, "one retry");
    assert_eq!(ack["seq"], 1);
    assert_eq!(bob.event("msg.new").await["msgId"], ack["msgId"]);
    assert_stored_once_in_order(&history(&mut bob, "alice").await, &[ack]);
}

#[tokio::test]
async fn persistent_throttling_fails_the_send_with_internal_and_a_resend_fills_its_seq() {
    // GIVEN every put of a message throttled
    let (proxy, stack) = proxied(|_| {}).await;
    let (mut alice, mut bob) = two_users(&stack).await;
    let ok = alice.send_text("bob", "p-0", "before").await;
    assert_eq!(bob.event("msg.new").await["msgId"], ok["msgId"]);
    proxy.forget();
    proxy.fail(Rule::on(PUT, Fault::Throttle).containing(MESSAGE_PUT));
    // WHEN alice sends THEN the send fails with `internal` after MAX_ATTEMPTS tries
    let reply = call_within(
        &mut alice,
        OPERATION_TIMEOUT * 2,
        "msg.send",
        text_to("bob", "p-1", "lost?"),
    )
    .await;
    assert_eq!(reply["error"]["code"], "internal", "{reply}");
    assert_eq!(proxy.seen(PUT, MESSAGE_PUT).len(), MAX_ATTEMPTS as usize);
    // AND bob was told nothing
    bob.expect_no_event(Duration::from_millis(200)).await;
    // WHEN DynamoDB recovers and alice resends (same clientMsgId), then sends another
    proxy.heal();
    let started = Instant::now();
    let resent = alice.send_text("bob", "p-1", "lost?").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a resend is not held up by the failed claim"
    );
    let later = alice.send_text("bob", "p-2", "after").await;
    // THEN the resend took the seq the failed send had taken, and the history has no gap
    assert_eq!(resent["seq"], 2);
    assert_eq!(later["seq"], 3);
    assert_stored_once_in_order(&history(&mut bob, "alice").await, &[ok, resent, later]);
}

#[tokio::test]
async fn persistent_throttling_of_the_claim_fails_the_send_and_writes_nothing() {
    // GIVEN the claim of every send throttled
    let (proxy, stack) = proxied(|_| {}).await;
    let (mut alice, mut bob) = two_users(&stack).await;
    proxy.fail(Rule::on(PUT, Fault::ThrottlingException).containing(CLAIM));
    // WHEN alice sends THEN `internal`, and nothing else was written
    let reply = call_within(
        &mut alice,
        OPERATION_TIMEOUT * 2,
        "msg.send",
        text_to("bob", "c-1", "x"),
    )
    .await;
    assert_eq!(reply["error"]["code"], "internal", "{reply}");
    assert_eq!(proxy.seen(PUT, CLAIM).len(), MAX_ATTEMPTS as usize);
    assert!(proxy.seen(UPDATE, NEXT_SEQ).is_empty(), "no seq taken");
    // WHEN it recovers THEN the next send is seq 1
    proxy.heal();
    let ack = alice.send_text("bob", "c-2", "y").await;
    assert_eq!(ack["seq"], 1);
    assert_stored_once_in_order(&history(&mut bob, "alice").await, &[ack]);
}

#[tokio::test]
async fn a_hanging_dynamodb_fails_the_send_within_the_operation_timeout_and_the_socket_stays_usable() {
    // GIVEN DynamoDB accepting connections but never answering
    let (proxy, stack) = proxied(|_| {}).await;
    let (mut alice, mut bob) = two_users(&stack).await;
    for target in [
        PUT,
        UPDATE,
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.Query",
        "DynamoDB_20120810.BatchGetItem",
    ] {
        proxy.fail(Rule::on(target, Fault::Hang));
    }
    // WHEN alice sends
    let started = Instant::now();
    let reply = call_within(
        &mut alice,
        OPERATION_TIMEOUT * 3,
        "msg.send",
        text_to("bob", "h-1", "hello?"),
    )
    .await;
    let took = started.elapsed();
    // THEN the send fails with `internal` once one store call has run out of its bound
    assert_eq!(reply["error"]["code"], "internal", "{reply}");
    assert!(
        took >= OPERATION_TIMEOUT && took < OPERATION_TIMEOUT + Duration::from_secs(3),
        "failed after {took:?}"
    );
    println!("hanging DynamoDB: the send failed after {took:?}");
    // AND the socket still answers
    alice.ok("sys.ping", json!({})).await;
    // WHEN DynamoDB answers again THEN the resend is stored once at seq 1
    proxy.heal();
    let ack = alice.send_text("bob", "h-1", "hello?").await;
    assert_eq!(ack["seq"], 1);
    assert_eq!(bob.event("msg.new").await["msgId"], ack["msgId"]);
    assert_stored_once_in_order(&history(&mut bob, "alice").await, &[ack]);
}

#[tokio::test]
async fn a_throttled_fanout_queue_keeps_the_message_acked_and_transient_errors_are_retried() {
    // GIVEN pages of 2 members and a private group of the owner and four members, all online
    let (proxy, stack) = proxied(|config| config.limits.group_fanout_page = 2).await;
    let mut owner = stack.connect("owner").await;
    let users = ["m1", "m2", "m3", "m4"];
    owner
        .ok(
            "group.create",
            json!({"type": "private", "groupId": "g-q", "name": "q", "members": users}),
        )
        .await;
    let mut members = Vec::new();
    for user in users {
        members.push(stack.connect(user).await);
    }
    let group_text = |cid: &str| {
        json!({"to": {"type": "group", "id": "g-q"}, "clientMsgId": cid,
               "body": [{"type": "text", "text": cid}]})
    };
    // WHEN the fan-out queue answers 503 twice, then works
    proxy.forget();
    proxy.fail(Rule::on(SEND_BATCH, Fault::Status503).times(2));
    let first = owner.ok("msg.send", group_text("q-1")).await;
    // THEN the SDK's retries queued it and every member gets it once
    for member in &mut members {
        assert_eq!(member.event("msg.new").await["msgId"], first["msgId"]);
    }
    assert_eq!(
        proxy
            .seen(SEND_BATCH, "")
            .iter()
            .filter(|s| s.fault.is_some())
            .count(),
        2
    );
    // WHEN the queue throttles every send
    proxy.forget();
    proxy.fail(Rule::on(SEND_BATCH, Fault::Throttle));
    let second = call_within(&mut owner, OPERATION_TIMEOUT * 2, "msg.send", group_text("q-2")).await;
    // THEN the send is still acknowledged (the message is stored), after MAX_ATTEMPTS tries to queue
    assert_eq!(second["ok"], true, "{second}");
    assert_eq!(proxy.seen(SEND_BATCH, "").len(), MAX_ATTEMPTS as usize);
    // AND the members get no live message but find it in the group's history
    proxy.heal();
    for member in &mut members {
        member.expect_no_event(Duration::from_millis(100)).await;
        let page = member
            .ok(
                "msg.history",
                json!({"conversationId": "GROUPg-q", "afterSeq": 0, "limit": 50}),
            )
            .await;
        let last = page["messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["msgId"], second["data"]["msgId"]);
    }
}

#[tokio::test]
async fn a_stream_of_sends_under_twenty_percent_faults_stores_every_ack_once_in_order() {
    // GIVEN 20% of the message path's DynamoDB calls failing (seeded): throttled, 5xx, or
    // applied with their answer lost
    let (proxy, stack) = proxied(|_| {}).await;
    let (mut alice, mut bob) = two_users(&stack).await;
    proxy.random(
        0x5eed_f00d,
        20,
        &[
            PUT,
            UPDATE,
            "DynamoDB_20120810.GetItem",
            "DynamoDB_20120810.Query",
            "DynamoDB_20120810.BatchGetItem",
        ],
        &[
            Fault::Throttle,
            Fault::ThrottlingException,
            Fault::Status500,
            Fault::Status503,
            Fault::LostResponse,
        ],
    );
    // WHEN alice sends 40 messages, resending each with its clientMsgId until it is acked
    let mut acks = Vec::new();
    let mut failed_sends = 0;
    for i in 0..40 {
        let cid = format!("r-{i}");
        let ack = loop {
            let reply = call_within(
                &mut alice,
                OPERATION_TIMEOUT * 2,
                "msg.send",
                text_to("bob", &cid, &cid),
            )
            .await;
            if reply["ok"] == true {
                break reply["data"].clone();
            }
            assert_eq!(reply["error"]["code"], "internal", "{reply}");
            failed_sends += 1;
        };
        acks.push(ack);
    }
    let faults = proxy.faults();
    proxy.heal();
    // THEN every acknowledged message is stored once, at its seq, without gaps
    assert!(faults >= 20, "the plan faulted {faults} calls");
    assert_stored_once_in_order(&history(&mut bob, "alice").await, &acks);
    println!("random faults: {faults} faulted calls, {failed_sends} sends failed and were resent");
}
