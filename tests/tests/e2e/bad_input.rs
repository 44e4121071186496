//! Bad input gets a documented error code, keeps the connection open and changes nothing.

use cirrus_tests::TestStack;
use serde_json::json;

fn send(to: serde_json::Value, client_msg_id: &str, body: serde_json::Value) -> serde_json::Value {
    json!({"to": to, "clientMsgId": client_msg_id, "body": body})
}

#[tokio::test]
async fn each_kind_of_bad_input_gets_its_code_and_changes_nothing() {
    // GIVEN alice and bob online
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let text = json!([{"type": "text", "text": "hi"}]);
    let bob_target = json!({"type": "c2c", "id": "bob"});

    // WHEN alice sends frames that are not JSON objects, THEN each gets bad_json (there is no reqId)
    for raw in ["not json", "{\"action\":", "[1,2]", "42"] {
        alice.send_raw(raw).await;
        let reply = alice.any_reply().await.unwrap();
        assert_eq!(reply["ok"], false, "{raw}");
        assert_eq!(reply["error"]["code"], "bad_json", "{raw}");
        assert!(reply["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // AND an unknown or absent action is named as such, with the reqId echoed
    let reply = alice.call("msg.explode", json!({})).await;
    assert_eq!(
        (reply["reqId"].as_str(), reply["error"]["code"].as_str()),
        (Some("r1"), Some("unknown_action"))
    );
    alice.send_raw(r#"{"reqId":"no-action","data":{}}"#).await;
    let reply = alice.reply("no-action").await.unwrap();
    assert_eq!(reply["error"]["code"], "missing_field");

    // AND missing fields are reported by name
    let cases = [
        (json!({"clientMsgId": "x", "body": text}), "missing_field", "to"),
        (
            json!({"to": bob_target, "body": text}),
            "missing_field",
            "clientMsgId",
        ),
        (
            json!({"to": bob_target, "clientMsgId": "x"}),
            "missing_field",
            "body",
        ),
    ];
    for (data, code, field) in cases {
        let reply = alice.call("msg.send", data).await;
        assert_eq!(reply["error"]["code"], code);
        assert!(
            reply["error"]["message"].as_str().unwrap().contains(field),
            "{reply}"
        );
    }

    // AND malformed values get their own codes
    let oversize = json!([{"type": "text", "text": "x".repeat(13 * 1024)}]);
    let cases = [
        (
            send(json!({"type": "c2c", "id": "not a user"}), "x", text.clone()),
            "invalid_user_id",
        ),
        (
            send(json!({"type": "c2c", "id": ""}), "x", text.clone()),
            "invalid_user_id",
        ),
        (
            send(json!({"type": "c2c", "id": "x".repeat(33)}), "x", text.clone()),
            "invalid_user_id",
        ),
        (
            send(bob_target.clone(), "", text.clone()),
            "invalid_client_msg_id",
        ),
        (send(bob_target.clone(), "x", json!([])), "invalid_field"),
        (
            send(bob_target.clone(), "x", json!([{"type": "text", "text": ""}])),
            "invalid_element",
        ),
        (
            send(
                bob_target.clone(),
                "x",
                json!([{"type": "location", "latitude": 95.0, "longitude": 0.0}]),
            ),
            "invalid_element",
        ),
        (
            send(bob_target.clone(), "x", json!([{"type": "teleport"}])),
            "invalid_field",
        ),
        (send(bob_target.clone(), "x", oversize), "body_too_large"),
        (
            send(json!({"type": "fax", "id": "bob"}), "x", text.clone()),
            "invalid_field",
        ),
    ];
    for (data, code) in cases {
        assert_eq!(alice.err("msg.send", data.clone()).await, code, "{data}");
    }
    let history_cases = [
        (json!({"conversationId": "bob"}), "invalid_conversation_id"),
        (
            json!({"conversationId": "C2Cbob", "limit": "ten"}),
            "invalid_field",
        ),
        (
            json!({"conversationId": "C2Cbob", "afterSeq": 5, "beforeSeq": 5}),
            "invalid_field",
        ),
    ];
    for (data, code) in history_cases {
        assert_eq!(alice.err("msg.history", data).await, code);
    }
    assert_eq!(
        alice.err("conv.list", json!({"cursor": "forged"})).await,
        "invalid_field"
    );
    assert_eq!(
        alice
            .err("conv.read", json!({"conversationId": "C2Cnobody", "seq": 1}))
            .await,
        "not_found"
    );
    assert_eq!(
        alice.err("conv.read", json!({"conversationId": "C2Cbob"})).await,
        "missing_field"
    );

    // THEN the connection still works
    assert!(alice.ok("sys.ping", json!({})).await["time"].as_i64().unwrap() > 0);
    // AND nothing was stored or delivered
    assert_eq!(alice.ok("conv.list", json!({})).await["conversations"], json!([]));
    assert_eq!(bob.ok("conv.list", json!({})).await["conversations"], json!([]));
    bob.expect_no_event(std::time::Duration::from_millis(100)).await;
    // AND the first real message still gets seq 1
    assert_eq!(alice.send_text("bob", "real", "finally").await["seq"], 1);
}

#[tokio::test]
async fn a_frame_over_128_kb_closes_the_socket_with_1009() {
    // GIVEN alice online
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    // WHEN she sends a frame larger than API Gateway's 128 KB message limit
    let huge = json!({"action": "msg.send", "reqId": "big", "data": {"x": "y".repeat(130 * 1024)}});
    alice.send_raw(huge.to_string()).await;
    // THEN the server closes with 1009 (message too big), as API Gateway does
    assert_eq!(alice.closed().await, Some(1009));
    // AND a frame under the limit but over the body limit is an error reply, not a close
    let mut again = stack.connect("alice").await;
    let big = json!([{"type": "text", "text": "z".repeat(100 * 1024)}]);
    let code = again
        .err(
            "msg.send",
            json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "b", "body": big}),
        )
        .await;
    assert_eq!(code, "body_too_large");
}
