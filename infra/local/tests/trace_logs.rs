//! The `cirrus-local` binary at `RUST_LOG=trace`, tried from outside: two users chat and one asks
//! for an upload URL; nothing of the message text, the URL's signature or a token reaches its log.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

use cirrus_core::usersig::{DEV_APP_ID, DEV_SECRET_KEY, UserSigKey};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(20);
const MARKER: &str = "marker-text-5d41402abc4b2a76";

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Starts the binary on free loopback ports at trace level; returns it and its WebSocket URL.
async fn start() -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cirrus-local"))
        .args([
            "--memory",
            "--ws-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .args(["--connections-addr", "127.0.0.1:0"])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.split_whitespace().find(|word| word.starts_with("ws://")) {
                return url.split("/?").next().unwrap().to_owned();
            }
        }
        panic!("the stack exited before printing its address");
    })
    .await
    .expect("the stack prints its address");
    (child, url)
}

async fn connect(url: &str, user: &str) -> (Socket, String) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let token = UserSigKey::new(DEV_APP_ID, DEV_SECRET_KEY).mint(user, now, 3600);
    let (socket, _) = tokio_tungstenite::connect_async(format!("{url}/?token={token}"))
        .await
        .unwrap();
    (socket, token)
}

/// Sends one request and returns its reply, skipping events.
async fn call(socket: &mut Socket, action: &str, data: Value) -> Value {
    let frame = json!({"action": action, "reqId": "r", "data": data});
    socket.send(Message::text(frame.to_string())).await.unwrap();
    next(socket, |frame| frame["type"] == "reply").await
}

async fn next(socket: &mut Socket, wanted: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(WAIT, async {
        loop {
            let message = socket.next().await.unwrap().unwrap();
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                if wanted(&frame) {
                    return frame;
                }
            }
        }
    })
    .await
    .expect("a frame arrives")
}

#[tokio::test]
async fn trace_logs_hold_no_message_text_signed_url_or_token() {
    // GIVEN the stack at RUST_LOG=trace, alice and bob connected
    let (mut child, url) = start().await;
    let (mut alice, alice_token) = connect(&url, "alice").await;
    let (mut bob, _) = connect(&url, "bob").await;
    // WHEN alice sends bob a message and asks for an upload URL
    let send = json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "m1",
                      "body": [{"type": "text", "text": MARKER}]});
    assert_eq!(call(&mut alice, "msg.send", send).await["ok"], true);
    let delivered = next(&mut bob, |frame| frame["event"] == "msg.new").await;
    assert_eq!(delivered["data"]["body"][0]["text"], MARKER);
    let upload = call(
        &mut alice,
        "media.upload",
        json!({"kind": "file", "contentType": "application/pdf", "size": 1000}),
    )
    .await;
    let upload_url = upload["data"]["url"].as_str().unwrap().to_owned();
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
