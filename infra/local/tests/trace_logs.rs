//! The `cirrus-local` binary at `RUST_LOG=trace`, tried from outside: two users chat and one asks
//! for an upload URL; nothing of the message text, the URL's signature or a token reaches its log.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

mod support;

use serde_json::json;
use support::{Socket, token};
use tokio::io::AsyncReadExt as _;

const MARKER: &str = "marker-text-5d41402abc4b2a76";

#[tokio::test]
async fn trace_logs_hold_no_message_text_signed_url_or_token() {
    // GIVEN the stack at RUST_LOG=trace, alice and bob connected
    let (mut child, url) = support::start(&["--memory"], &[("RUST_LOG", "trace")]).await;
    let alice_token = token("alice");
    let mut alice = Socket::connect_token(&url, &alice_token).await.unwrap();
    let mut bob = Socket::connect(&url, "bob").await.unwrap();
    // WHEN alice sends bob a message and asks for an upload URL
    let send = json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "m1",
                      "body": [{"type": "text", "text": MARKER}]});
    alice.ok("msg.send", send).await;
    let delivered = bob.next(|frame| frame["event"] == "msg.new").await.unwrap();
    assert_eq!(delivered["data"]["body"][0]["text"], MARKER);
    let upload = alice
        .ok(
            "media.upload",
            json!({"kind": "file", "contentType": "application/pdf", "size": 1000}),
        )
        .await;
    let upload_url = upload["url"].as_str().unwrap().to_owned();
    let signature = upload_url
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("signature="))
        .expect("the URL is signed")
        .to_owned();
    // AND the stack is stopped and its log read
    drop((alice, bob));
    child.start_kill().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
    // THEN the log is verbose (the send's own debug line is there)
    assert!(log.contains("message stored"), "no debug line at all:\n{log}");
    // AND neither the text, nor the URL's signature, nor alice's token is in it
    for (what, secret) in [
        ("message text", MARKER),
        ("URL signature", signature.as_str()),
        ("token", alice_token.as_str()),
    ] {
        assert!(!log.contains(secret), "the {what} was logged");
    }
}
