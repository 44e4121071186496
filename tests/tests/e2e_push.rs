//! Offline push end to end: a message to a user with no live connection becomes exactly one
//! signed webhook call per registered webhook device to the app server (an HTTP sink on a free
//! loopback port here), a message to an online user none, a user without devices (logged out,
//! never registered) none; a webhook that keeps failing is retried and dead-lettered, one that
//! answers 4xx is not retried. APNs and FCM devices get theirs through the providers' fakes
//! (`cirrus_push::testing`), and a dead token is removed from the device store.
//!
//! On SQLite the push queue is the local stack's in-process queue. On the AWS backend the jobs go
//! to the push queue on this binary's moto server, which has no Lambda trigger: the local stack
//! polls the queue itself (`ReceiveMessage`, as Lambda's event source mapping would) and runs the
//! same push handler, deleting what succeeded; so both backends run the whole path.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cirrus_core::clock::{Clock, SystemClock};
use cirrus_core::ports::QueueName;
use cirrus_local::queue::{PushConfig, QueueOptions, WebhookConfig, WebhookSecret};
use cirrus_push::testing::{ApnsFake, FcmFake};
use cirrus_tests::{Backend, TestSocket, TestStack};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "whsec-e2e-0123456789";

/// One call the sink received.
#[derive(Debug, Clone)]
struct Call {
    headers: HeaderMap,
    body: String,
}

/// The app server: records every call and answers `status`.
struct Sink {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Sink {
    async fn start(status: StatusCode) -> Self {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let seen = calls.clone();
        let app = Router::new().route(
            "/cirrus/push",
            post(move |headers: HeaderMap, body: String| async move {
                seen.lock().unwrap().push(Call { headers, body });
                status
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cirrus/push", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, calls }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until `count` calls have arrived.
    async fn wait_for(&self, count: usize) -> Vec<Call> {
        let what = format!("{count} webhook call(s)");
        cirrus_tests::wait_until(&what, || Some(self.calls()).filter(|calls| calls.len() >= count)).await
    }
}

/// A stack whose offline pushes go to `sink`, retrying after `retry` up to `receives` times.
async fn stack(backend: Backend, sink: &Sink, retry: Duration, receives: u32) -> TestStack {
    let url = sink.url.clone();
    TestStack::start_with(backend, move |config| {
        config.push = PushConfig {
            webhook: Some(WebhookConfig::new(url, WebhookSecret::new(SECRET))),
            queue: QueueOptions {
                visibility_timeout: retry,
                max_receive_count: receives,
                ..QueueOptions::default()
            },
            ..PushConfig::default()
        };
    })
    .await
}

/// The webhook device token `user` registers.
fn webhook_token(user: &str) -> String {
    format!("webhook-{user}")
}

/// `user` registers `provider`'s device `token` from `socket`.
async fn register(socket: &mut TestSocket, provider: &str, token: &str) {
    socket
        .ok(
            "push.register",
            json!({"provider": provider, "token": token, "platform": "android", "bundleId": BUNDLE}),
        )
        .await;
}

/// The APNs topic of the tests' app.
const BUNDLE: &str = "com.example.chat";

/// The app server's check: the signature is HMAC-SHA256 over `"<timestamp>.<body>"`, and the
/// timestamp is recent. Returns the body as JSON.
fn verified(call: &Call) -> Value {
    let timestamp = call.headers["x-cirrus-timestamp"].to_str().unwrap();
    let signature = call.headers["x-cirrus-signature"].to_str().unwrap();
    let hex = signature.strip_prefix("sha256=").expect("sha256= prefix");
    let expected: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{}", call.body).as_bytes());
    mac.verify_slice(&expected)
        .expect("the signature verifies with the shared secret");
    let age = cirrus_tests::now_secs() - timestamp.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "timestamp {timestamp} is {age} s old");
    assert_eq!(call.headers["content-type"], "application/json");
    serde_json::from_str(&call.body).unwrap()
}

/// `user` logs in, registers a webhook device and disconnects without logging out: the
/// `offline` status offline push is for. Waits, through `watcher`'s `presence.get`, until the
/// stack has seen the disconnect.
async fn log_in_then_disconnect(stack: &TestStack, watcher: &mut TestSocket, user: &str) {
    let mut socket = stack.connect(user).await;
    register(&mut socket, "webhook", &webhook_token(user)).await;
    socket.close().await;
    wait_for_status(watcher, user, "offline").await;
}

/// Waits until `watcher`'s `presence.get` shows `user` with `status`.
async fn wait_for_status(watcher: &mut TestSocket, user: &str, status: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = watcher.ok("presence.get", json!({"userIds": [user]})).await;
        if reply["users"][0]["status"] == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{user} never {status}: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn an_offline_recipient_gets_exactly_one_signed_webhook_call(backend: Backend) {
    // GIVEN an app server taking calls, alice online with a nickname, bob offline
    let sink = Sink::start(StatusCode::OK).await;
    let stack = stack(backend, &sink, Duration::from_secs(1), 5).await;
    let mut alice = stack.connect("alice").await;
    alice.ok("profile.set", json!({"nickname": "Alice"})).await;
    log_in_then_disconnect(&stack, &mut alice, "bob").await;

    // WHEN alice sends bob a text and an image in one message
    let ack = alice
        .ok(
            "msg.send",
            json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "c-1", "body": [
                {"type": "text", "text": "see\nthis"},
                {"type": "image", "format": "png", "original": {"url": "https://img.example/a.png"}},
            ]}),
        )
        .await;

    // THEN the app server gets one call, signed, telling bob about it from his side
    let calls = sink.wait_for(1).await;
    let push = verified(&calls[0]);
    assert_eq!(
        push,
        json!({
            "event": "push.offline", "to": "bob", "from": "alice", "title": "Alice",
            "text": "see this [Image]", "conversationId": "C2Calice", "msgId": ack["msgId"],
            "seq": ack["seq"], "time": ack["time"],
            "device": {"token": "webhook-bob", "platform": "android", "bundleId": BUNDLE},
        })
    );
    assert_eq!(calls[0].headers["x-cirrus-event"], "push.offline");
    let fingerprint = hex::encode(<Sha256 as sha2::Digest>::digest(b"webhook-bob"));
    assert_eq!(
        calls[0].headers["x-cirrus-delivery"].to_str().unwrap(),
        format!("{}:bob:{}", ack["msgId"].as_str().unwrap(), &fingerprint[..16])
    );
    // AND no second call follows (the job was deleted, not retried)
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(sink.calls().len(), 1);
    if let Some(queue) = stack.stack.push_queue() {
        assert_eq!(queue.pending(QueueName::Push), 0);
        assert_eq!(queue.dead_letter_count(QueueName::Push), 0);
    }
    // AND a retried send (same clientMsgId) pushes nothing more
    alice
        .ok(
            "msg.send",
            json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "c-1", "body": [
                {"type": "text", "text": "see\nthis"},
            ]}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.calls().len(), 1);
}

async fn an_online_recipient_gets_no_webhook_call(backend: Backend) {
    // GIVEN an app server taking calls, alice and bob online, carol offline
    let sink = Sink::start(StatusCode::NO_CONTENT).await;
    let stack = stack(backend, &sink, Duration::from_secs(1), 5).await;
    let mut alice = stack.connect("alice").await;
    log_in_then_disconnect(&stack, &mut alice, "carol").await;
    let mut bob = stack.connect("bob").await;
    register(&mut bob, "webhook", &webhook_token("bob")).await;

    // WHEN alice writes to bob, who gets it live
    let to_bob = alice.send_text("bob", "c-1", "you are online").await;
    assert_eq!(bob.event("msg.new").await["msgId"], to_bob["msgId"]);
    // AND then to carol, who is offline
    let to_carol = alice.send_text("carol", "c-2", "you are not").await;

    // THEN the only call is carol's (it comes after bob's message would have been queued)
    let calls = sink.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let calls_after = sink.calls();
    assert_eq!(calls_after.len(), 1, "{calls:?}");
    let push = verified(&calls_after[0]);
    assert_eq!(push["to"], "carol");
    assert_eq!(push["msgId"], to_carol["msgId"]);
    assert_eq!(push["title"], "alice");
    assert_eq!(push["text"], "you are not");
}

async fn a_logged_out_or_never_logged_in_recipient_gets_no_webhook_call(backend: Backend) {
    // GIVEN an app server taking calls; bob registered a device, then logged out, carol never
    // logged in, and dave logged in, registered and disconnected (offline, as a control)
    let sink = Sink::start(StatusCode::OK).await;
    let stack = stack(backend, &sink, Duration::from_secs(1), 5).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    register(&mut bob, "webhook", &webhook_token("bob")).await;
    bob.ok("auth.logout", json!({})).await;
    wait_for_status(&mut alice, "bob", "logged_out").await;
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "carol"}))
        .await;
    log_in_then_disconnect(&stack, &mut alice, "dave").await;

    // WHEN alice writes to bob, then carol, then dave
    alice.send_text("bob", "c-1", "logged out").await;
    alice.send_text("carol", "c-2", "never logged in").await;
    let to_dave = alice.send_text("dave", "c-3", "offline").await;

    // THEN the only call is dave's, who is logged in: the others have no device to tell
    sink.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let calls = sink.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let push = verified(&calls[0]);
    assert_eq!(push["to"], "dave");
    assert_eq!(push["msgId"], to_dave["msgId"]);
}

/// A stack whose offline pushes go to the APNs and FCM fakes (no webhook).
async fn provider_stack(backend: Backend, apns: &ApnsFake, fcm: &FcmFake) -> TestStack {
    let (apns, fcm) = (apns.config(), fcm.config());
    TestStack::start_with(backend, move |config| {
        config.push = PushConfig {
            apns: Some(apns),
            fcm: Some(fcm),
            queue: QueueOptions {
                visibility_timeout: Duration::from_millis(500),
                max_receive_count: 5,
                ..QueueOptions::default()
            },
            ..PushConfig::default()
        };
    })
    .await
}

async fn a_user_with_two_devices_gets_both_and_a_dead_token_is_forgotten(backend: Backend) {
    // GIVEN the providers' fakes, and bob with an iPhone (APNs) and an Android phone (FCM), offline
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let apns = ApnsFake::start(BUNDLE, clock.clone()).await;
    let fcm = FcmFake::start(3600, clock).await;
    let stack = provider_stack(backend, &apns, &fcm).await;
    let mut alice = stack.connect("alice").await;
    let iphone = "ab".repeat(32);
    let mut bob = stack.connect("bob").await;
    register(&mut bob, "apns", &iphone).await;
    register(&mut bob, "fcm", "fcm-bob-android").await;
    bob.close().await;
    wait_for_status(&mut alice, "bob", "offline").await;

    // WHEN alice writes to bob
    let first = alice.send_text("bob", "c-1", "two phones").await;

    // THEN each phone's provider gets it once, with the ids the app opens the chat by
    let apns_calls =
        cirrus_tests::wait_until("the APNs push", || Some(apns.calls()).filter(|c| !c.is_empty())).await;
    let fcm_calls =
        cirrus_tests::wait_until("the FCM push", || Some(fcm.calls()).filter(|c| !c.is_empty())).await;
    assert_eq!(apns_calls[0].token, iphone);
    assert_eq!(apns_calls[0].body["aps"]["alert"]["body"], "two phones");
    assert_eq!(apns_calls[0].body["cirrus"]["msgId"], first["msgId"]);
    assert_eq!(fcm_calls[0].message["token"], "fcm-bob-android");
    assert_eq!(fcm_calls[0].message["data"]["msgId"], first["msgId"]);

    // WHEN the iPhone's token dies and alice writes again
    apns.mark_dead(&iphone);
    alice.send_text("bob", "c-2", "still there?").await;

    // THEN the Android phone gets it, APNs answers 410, and the iPhone is removed from the store
    cirrus_tests::wait_until("the second FCM push", || {
        Some(fcm.calls()).filter(|c| c.len() == 2)
    })
    .await;
    let devices = stack.stack.devices();
    let bob_id = cirrus_core::ids::UserId::parse("bob").unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left: Vec<String> = devices
            .devices_of(&bob_id)
            .await
            .unwrap()
            .into_iter()
            .map(|device| device.token)
            .collect();
        if left.len() == 1 || tokio::time::Instant::now() > deadline {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(left, ["fcm-bob-android"]);
    assert_eq!(apns.refused(), 1);
    assert_eq!(apns.calls().len(), 1);
    assert_eq!(fcm.tokens_issued(), 1, "one OAuth token for both sends");
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn a_user_with_two_devices_gets_both_and_a_dead_token_is_forgotten() {
        super::a_user_with_two_devices_gets_both_and_a_dead_token_is_forgotten(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_webhook_answering_4xx_is_not_retried() {
        // GIVEN an app server that answers 400 to everything, and three tries per job
        let sink = Sink::start(StatusCode::BAD_REQUEST).await;
        let stack = stack(Backend::Sqlite, &sink, Duration::from_millis(200), 3).await;
        let mut alice = stack.connect("alice").await;
        log_in_then_disconnect(&stack, &mut alice, "bob").await;

        // WHEN alice writes to offline bob
        alice.send_text("bob", "c-1", "refused").await;

        // THEN one call is made, the job is done (not pending, not dead-lettered)
        sink.wait_for(1).await;
        let queue = stack.stack.push_queue().unwrap();
        cirrus_tests::wait_until("the job settled", || {
            (queue.pending(QueueName::Push) == 0).then_some(())
        })
        .await;
        // three retry delays: a retried job would have called again by now
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(sink.calls().len(), 1);
        assert_eq!(queue.dead_letter_count(QueueName::Push), 0);
    }

    #[tokio::test]
    async fn an_offline_recipient_gets_exactly_one_signed_webhook_call() {
        super::an_offline_recipient_gets_exactly_one_signed_webhook_call(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn an_online_recipient_gets_no_webhook_call() {
        super::an_online_recipient_gets_no_webhook_call(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_logged_out_or_never_logged_in_recipient_gets_no_webhook_call() {
        super::a_logged_out_or_never_logged_in_recipient_gets_no_webhook_call(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_failing_webhook_is_retried_then_dead_lettered() {
        // GIVEN an app server that answers 500 to everything, and three tries per job
        let sink = Sink::start(StatusCode::INTERNAL_SERVER_ERROR).await;
        let stack = stack(Backend::Sqlite, &sink, Duration::from_millis(200), 3).await;
        let mut alice = stack.connect("alice").await;
        log_in_then_disconnect(&stack, &mut alice, "bob").await;

        // WHEN alice writes to offline bob
        let ack = alice.send_text("bob", "c-1", "anyone there?").await;

        // THEN the job is tried three times, each call signed, then dead-lettered
        let queue = stack
            .stack
            .push_queue()
            .expect("the SQLite backend has the local queue");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while queue.dead_letter_count(QueueName::Push) == 0 {
            assert!(tokio::time::Instant::now() < deadline, "never dead-lettered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let calls = sink.calls();
        assert_eq!(calls.len(), 3);
        for call in &calls {
            assert_eq!(verified(call)["msgId"], ack["msgId"]);
        }
        // AND the dead letter holds the job for inspection, and nothing is left to deliver
        let dead = queue.dead_letters(QueueName::Push);
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].receive_count, 3);
        let job: Value = serde_json::from_str(&dead[0].body).unwrap();
        assert_eq!(job["kind"], "offline");
        assert_eq!(job["to"], "bob");
        assert_eq!(job["msgId"], ack["msgId"]);
        assert_eq!(queue.pending(QueueName::Push), 0);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(sink.calls().len(), 3);
    }

    #[tokio::test]
    async fn a_webhook_that_recovers_gets_the_job_on_a_retry() {
        // GIVEN an app server that fails the first call and takes the next
        let calls: Arc<Mutex<u32>> = Arc::default();
        let seen = calls.clone();
        let app = Router::new().route(
            "/cirrus/push",
            post(move || async move {
                let mut calls = seen.lock().unwrap();
                *calls += 1;
                if *calls == 1 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = Sink {
            url: format!("http://{}/cirrus/push", listener.local_addr().unwrap()),
            calls: Arc::default(),
        };
        tokio::spawn(async move { axum::serve(listener, app).await });
        let stack = stack(Backend::Sqlite, &sink, Duration::from_millis(200), 3).await;
        let mut alice = stack.connect("alice").await;
        log_in_then_disconnect(&stack, &mut alice, "bob").await;

        // WHEN alice writes to offline bob
        alice.send_text("bob", "c-1", "second time lucky").await;

        // THEN the second try succeeds and nothing is dead-lettered
        let queue = stack.stack.push_queue().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while queue.pending(QueueName::Push) > 0 || *calls.lock().unwrap() < 2 {
            assert!(tokio::time::Instant::now() < deadline, "not delivered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(*calls.lock().unwrap(), 2);
        assert_eq!(queue.dead_letter_count(QueueName::Push), 0);
    }
}

mod aws {
    use super::*;

    #[tokio::test]
    async fn a_user_with_two_devices_gets_both_and_a_dead_token_is_forgotten() {
        super::a_user_with_two_devices_gets_both_and_a_dead_token_is_forgotten(Backend::Aws).await;
    }

    #[tokio::test]
    async fn an_offline_recipient_gets_exactly_one_signed_webhook_call() {
        super::an_offline_recipient_gets_exactly_one_signed_webhook_call(Backend::Aws).await;
    }

    #[tokio::test]
    async fn an_online_recipient_gets_no_webhook_call() {
        super::an_online_recipient_gets_no_webhook_call(Backend::Aws).await;
    }

    #[tokio::test]
    async fn a_logged_out_or_never_logged_in_recipient_gets_no_webhook_call() {
        super::a_logged_out_or_never_logged_in_recipient_gets_no_webhook_call(Backend::Aws).await;
    }
}
