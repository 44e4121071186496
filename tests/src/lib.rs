//! Helpers for the end-to-end suites: a local stack on free ports with a fresh store per test (an
//! in-memory SQLite database, or new DynamoDB tables on this process's moto server), and a raw
//! WebSocket test client that speaks the wire protocol frame by frame.

use anyhow::{Context as _, bail};
use cirrus_core::usersig::UserSigKey;
use cirrus_local::{AwsStorage, LocalConfig, LocalStack, Storage};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long a test waits for a frame it expects.
pub const WAIT: Duration = Duration::from_secs(5);

/// Polls `probe` every 20 ms until it gives a value, failing the test with `what` after 20 s:
/// for what arrives from outside the stack's protocol (an HTTP receiver's calls, a queue's depth).
pub async fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "waited 20 s for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A local stack started for one test.
pub struct TestStack {
    /// The running stack.
    pub stack: LocalStack,
    key: UserSigKey,
}

/// Seconds since the epoch.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The store an end-to-end suite runs on: each suite binary picks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store, in memory.
    Sqlite,
    /// The AWS backend on moto: fresh tables, queues and bucket per stack.
    Aws,
}

impl Backend {
    /// Fresh storage of this kind, unique to the caller.
    pub fn storage(self) -> Storage {
        match self {
            Self::Sqlite => Storage::Memory,
            Self::Aws => aws_storage_on(cirrus_aws::moto::moto_endpoint()),
        }
    }
}

/// Fresh tables, queues and bucket of the AWS backend, unique to the caller, reached through
/// `endpoint` (this process's moto server, or a proxy in front of it).
pub fn aws_storage_on(endpoint: &str) -> Storage {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let prefix = format!(
        "e2e-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Storage::Aws(Box::new(AwsStorage {
        sdk: cirrus_aws::moto::sdk_for(endpoint),
        tables: cirrus_aws::Config::with_prefix(&prefix),
        create: true,
        prefix,
    }))
}

impl TestStack {
    /// A stack with the test defaults (loopback, free ports, fresh store, development key).
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// A stack with the test defaults adjusted by `adjust`.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut LocalConfig)) -> Self {
        let mut config = LocalConfig::for_tests();
        config.storage = backend.storage();
        adjust(&mut config);
        let key = config.key.clone();
        let stack = LocalStack::start(config).await.expect("local stack starts");
        Self { stack, key }
    }

    /// A valid token for `user`.
    pub fn token(&self, user: &str) -> String {
        self.key.mint(user, now_secs(), 3600)
    }

    /// A token for `user` issued at `issued_at` (seconds), valid for an hour from then.
    pub fn token_issued_at(&self, user: &str, issued_at: i64) -> String {
        self.key.mint(user, issued_at, 3600)
    }

    /// Connects with a raw token, panicking on refusal.
    pub async fn connect_token(&self, token: &str) -> TestSocket {
        self.connect_query(&format!("token={token}"))
            .await
            .expect("connection accepted")
    }

    /// `POST {http}{path}` with a JSON body: the status and the JSON answer (`null` if none).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let answer = reqwest::Client::new()
            .post(format!("{}{path}", self.stack.http_url()))
            .json(&body)
            .send()
            .await
            .expect("the HTTP API answers");
        let status = answer.status().as_u16();
        let text = answer.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A server REST API call (`/v4/{command}`) as `identifier` with `usersig`.
    pub async fn rest_as(&self, identifier: &str, usersig: &str, command: &str, body: Value) -> Value {
        let path = format!(
            "/v4/{command}?sdkappid={}&identifier={identifier}&usersig={usersig}&random=7&contenttype=json",
            self.key.app_id()
        );
        let (status, answer) = self.post(&path, body).await;
        assert_eq!(status, 200, "REST calls answer 200 with ActionStatus: {answer}");
        answer
    }

    /// A server REST API call as the administrator (`administrator`), asserting `ActionStatus: OK`.
    pub async fn admin(&self, command: &str, body: Value) -> Value {
        let usersig = self.token("administrator");
        let answer = self.rest_as("administrator", &usersig, command, body).await;
        assert_eq!(answer["ActionStatus"], "OK", "{command} failed: {answer}");
        answer
    }

    /// Connects `user` with a valid token, panicking on refusal.
    pub async fn connect(&self, user: &str) -> TestSocket {
        self.connect_query(&format!("token={}", self.token(user)))
            .await
            .expect("connection accepted")
    }

    /// Connects `user` from `platform` (the `platform` query parameter), panicking on refusal.
    pub async fn connect_from(&self, user: &str, platform: &str) -> TestSocket {
        self.connect_query(&format!("token={}&platform={platform}", self.token(user)))
            .await
            .expect("connection accepted")
    }

    /// Connects with a raw query string; a refused upgrade returns its HTTP status.
    pub async fn connect_query(&self, query: impl AsRef<str>) -> Result<TestSocket, u16> {
        TestSocket::connect(&format!("{}/?{}", self.stack.ws_url(), query.as_ref())).await
    }
}

/// A raw protocol client: sends frames, matches replies by reqId and buffers events.
pub struct TestSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    events: VecDeque<Value>,
    next_req: u64,
    /// How long to wait for each frame ([`WAIT`] unless a test allows more).
    wait: Duration,
}

impl TestSocket {
    /// Opens a socket; a refused upgrade returns its HTTP status.
    pub async fn connect(url: &str) -> Result<TestSocket, u16> {
        match connect_async(url).await {
            Ok((ws, _)) => Ok(Self {
                ws,
                events: VecDeque::new(),
                next_req: 0,
                wait: WAIT,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(other) => panic!("unexpected connect error: {other}"),
        }
    }

    /// Waits up to `wait` for each frame from now on: for a test whose load, not its subject,
    /// makes the server slow to answer (many first sends at once against one moto process).
    pub fn allow_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// Sends a raw text frame.
    pub async fn send_raw(&mut self, text: impl Into<String>) {
        self.ws
            .send(Message::text(text.into()))
            .await
            .expect("frame sent");
    }

    /// Sends `action` with `data` and returns the whole reply frame (ok or not).
    pub async fn call(&mut self, action: &str, data: Value) -> Value {
        self.next_req += 1;
        let req_id = format!("r{}", self.next_req);
        let frame = json!({"action": action, "reqId": req_id, "data": data});
        self.send_raw(frame.to_string()).await;
        self.reply(&req_id).await.expect("a reply arrives")
    }

    /// Sends `action` and returns the reply's data, failing the test on an error reply.
    pub async fn ok(&mut self, action: &str, data: Value) -> Value {
        let reply = self.call(action, data).await;
        assert_eq!(reply["ok"], true, "{action} failed: {reply}");
        reply["data"].clone()
    }

    /// Sends `action` expecting an error reply; returns its code.
    pub async fn err(&mut self, action: &str, data: Value) -> String {
        let reply = self.call(action, data).await;
        assert_eq!(reply["ok"], false, "{action} should fail: {reply}");
        reply["error"]["code"].as_str().unwrap_or_default().to_owned()
    }

    /// Sends a text message to `peer`.
    pub async fn send_text(&mut self, peer: &str, client_msg_id: &str, text: &str) -> Value {
        self.ok(
            "msg.send",
            json!({"to": {"type": "c2c", "id": peer}, "clientMsgId": client_msg_id,
                   "body": [{"type": "text", "text": text}]}),
        )
        .await
    }

    /// Waits for the reply with `req_id` (or, with `None`, the next reply), buffering events.
    pub async fn reply(&mut self, req_id: &str) -> anyhow::Result<Value> {
        loop {
            let frame = self.next_frame().await?;
            match frame["type"].as_str() {
                Some("event") => self.events.push_back(frame),
                Some("reply") if frame["reqId"] == req_id || frame.get("reqId").is_none() => {
                    return Ok(frame);
                }
                _ => bail!("unexpected frame {frame}"),
            }
        }
    }

    /// Waits for the next reply frame of any reqId (or none), buffering events.
    pub async fn any_reply(&mut self) -> anyhow::Result<Value> {
        loop {
            let frame = self.next_frame().await?;
            if frame["type"] == "reply" {
                return Ok(frame);
            }
            self.events.push_back(frame);
        }
    }

    /// The next event named `name` (earlier events of other names are kept).
    pub async fn event(&mut self, name: &str) -> Value {
        if let Some(pos) = self.events.iter().position(|e| e["event"] == name) {
            return self
                .events
                .remove(pos)
                .map(|e| e["data"].clone())
                .unwrap_or_default();
        }
        loop {
            let frame = self
                .next_frame()
                .await
                .unwrap_or_else(|e| panic!("waiting for {name}: {e}"));
            if frame["type"] == "event" && frame["event"] == name {
                return frame["data"].clone();
            }
            if frame["type"] == "event" {
                self.events.push_back(frame);
            }
        }
    }

    /// Asserts that no event arrives within `within`.
    pub async fn expect_no_event(&mut self, within: Duration) {
        assert!(
            self.events.is_empty(),
            "unexpected buffered events: {:?}",
            self.events
        );
        if let Ok(frame) = tokio::time::timeout(within, self.next_frame()).await {
            panic!("expected silence, got {frame:?}");
        }
    }

    /// Waits for the server to close the socket; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => panic!("socket did not close in time"),
                Ok(None) | Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f: CloseFrame| f.code.into()),
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Closes the socket from the client side.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        while let Some(Ok(_)) = self.ws.next().await {}
    }

    async fn next_frame(&mut self) -> anyhow::Result<Value> {
        loop {
            let message = tokio::time::timeout(self.wait, self.ws.next())
                .await
                .context("timed out waiting for a frame")?
                .context("socket closed")??;
            match message {
                Message::Text(text) => return Ok(serde_json::from_str(text.as_str())?),
                Message::Close(frame) => bail!("socket closed by server: {frame:?}"),
                _ => {}
            }
        }
    }
}
