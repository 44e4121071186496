//! Rate limits: a client over its rate is refused with `rate_limited` and a wait, nothing it was
//! refused is done, its other classes go on, and the wait is enough.

use cirrus_core::rates::{Rate, RateLimits, ScopedRates};
use cirrus_tests::TestStack;
use serde_json::{Value, json};
use std::time::Duration;

fn send(peer: &str, client_msg_id: &str) -> Value {
    json!({"to": {"type": "c2c", "id": peer}, "clientMsgId": client_msg_id,
           "body": [{"type": "text", "text": "hi"}]})
}

#[tokio::test]
async fn sends_over_the_rate_are_refused_with_a_wait_and_not_stored() {
    // GIVEN a stack allowing each connection 2 sends a second in bursts of 5, and alice online
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.rates = RateLimits {
            send: ScopedRates {
                connection: Some(Rate::new(2, 5)),
                user: None,
            },
            ..RateLimits::default()
        };
    })
    .await;
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "bob"}))
        .await;
    let mut alice = stack.connect("alice").await;
    // WHEN she sends 6 messages at once
    for n in 0..5 {
        alice.ok("msg.send", send("bob", &format!("m{n}"))).await;
    }
    let refused = alice.call("msg.send", send("bob", "m5")).await;
    // THEN the sixth is refused with rate_limited and a wait of at most half a second
    assert_eq!(refused["error"]["code"], "rate_limited", "{refused}");
    let wait = refused["error"]["retryAfterMs"].as_u64().expect("retryAfterMs");
    assert!((1..=500).contains(&wait), "wait {wait} ms");
    // AND it was not stored
    let history = alice
        .ok("msg.history", json!({"conversationId": "C2Cbob", "limit": 20}))
        .await;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(5));
    // AND the other classes are not held back
    alice.ok("sys.ping", json!({})).await;
    // AND after the wait the same message goes through, once
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let ack = alice.ok("msg.send", send("bob", "m5")).await;
    assert_eq!(ack["seq"], 6, "{ack}");
}

#[tokio::test]
async fn a_ping_flood_is_refused_past_its_burst_and_the_connection_stays() {
    // GIVEN the default limits, alice online and bob's account
    let stack = TestStack::start(crate::BACKEND).await;
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "bob"}))
        .await;
    let mut alice = stack.connect("alice").await;
    // WHEN she sends 100 pings without waiting for replies
    for n in 0..100 {
        alice
            .send_raw(json!({"action": "sys.ping", "reqId": format!("p{n}"), "data": {}}).to_string())
            .await;
    }
    let mut refused = 0;
    for n in 0..100 {
        let reply = alice.reply(&format!("p{n}")).await.unwrap();
        if reply["ok"] == false {
            assert_eq!(reply["error"]["code"], "rate_limited", "{reply}");
            refused += 1;
        }
    }
    // THEN at most the burst (20) and what refilled meanwhile were answered, the rest refused
    let default = RateLimits::default().ping.connection.unwrap();
    assert!(
        refused >= 100 - default.burst as usize - 5,
        "only {refused} of 100 refused"
    );
    // AND sends are not held back by it
    alice.ok("msg.send", send("bob", "after-pings")).await;
}

#[tokio::test]
async fn garbage_frames_draw_on_the_bucket_too() {
    // GIVEN 1 other action a second in bursts of 3 per connection
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.rates.other.connection = Some(Rate::new(1, 3));
    })
    .await;
    let mut alice = stack.connect("alice").await;
    // WHEN she sends unreadable frames and unknown actions
    let mut codes = Vec::new();
    for raw in [
        "not json",
        "[1]",
        r#"{"action":"nope","reqId":"x"}"#,
        "{}",
        "still not json",
    ] {
        alice.send_raw(raw).await;
        let reply = alice.any_reply().await.unwrap();
        codes.push(reply["error"]["code"].as_str().unwrap_or_default().to_owned());
    }
    // THEN the first three get their own errors and the rest are refused for their rate
    assert_eq!(
        codes,
        [
            "bad_json",
            "bad_json",
            "unknown_action",
            "rate_limited",
            "rate_limited"
        ]
    );
}

#[tokio::test]
async fn rest_calls_past_the_administrators_rate_get_tencents_frequency_error() {
    // GIVEN a REST bucket of 1 a second in bursts of 2
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.rates.rest = Some(Rate::new(1, 2));
    })
    .await;
    let usersig = stack.token("administrator");
    let check = json!({"CheckItem": [{"UserID": "alice"}]});
    // WHEN the administrator calls three times at once
    let mut codes = Vec::new();
    for _ in 0..3 {
        let answer = stack
            .rest_as(
                "administrator",
                &usersig,
                "im_open_login_svc/account_check",
                check.clone(),
            )
            .await;
        codes.push(answer["ErrorCode"].as_u64().unwrap_or(u64::MAX));
    }
    // THEN the third is refused with 60007 (Tencent's REST frequency limit)
    assert_eq!(codes, [0, 0, 60007]);
}
