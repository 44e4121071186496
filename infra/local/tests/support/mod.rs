//! What the binary's tests share: the `cirrus-local` binary started as a child process on free
//! loopback ports, and a bare WebSocket client that tells a failed socket apart from a reply.

#![allow(dead_code)] // each test binary uses its own part of this module

use anyhow::{Context as _, bail};
use cirrus_core::usersig::{DEV_APP_ID, DEV_SECRET_KEY, UserSigKey};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

/// How long a test waits for the binary's banner or for a frame.
pub const WAIT: Duration = Duration::from_secs(20);

type Stream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Starts the binary with `args` (after the three listener addresses, all on free ports) and the
/// environment `env`; returns it, stderr piped, with its WebSocket URL read from its banner.
pub async fn start(args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cirrus-local"));
    command
        .args(["--ws-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .args(["--connections-addr", "127.0.0.1:0"])
        .args(args)
        .env_remove("CIRRUS_SECRET_KEY")
        .env_remove("CIRRUS_APP_ID")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("cirrus-local starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let url = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.expect("stdout readable") {
            if let Some(url) = line.split_whitespace().find(|word| word.starts_with("ws://")) {
                return url.split("/?").next().unwrap_or_default().to_owned();
            }
        }
        panic!("cirrus-local exited before printing its address");
    })
    .await
    .expect("cirrus-local prints its address in time");
    (child, url)
}

/// A UserSig for `user` under the development key, valid for an hour.
pub fn token(user: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs() as i64;
    UserSigKey::new(DEV_APP_ID, DEV_SECRET_KEY).mint(user, now, 3600)
}

/// One client connection; every call says whether the socket failed before its reply.
pub struct Socket {
    stream: Stream,
    next_req: u64,
}

impl Socket {
    /// Connects as `user` with a fresh UserSig.
    pub async fn connect(url: &str, user: &str) -> anyhow::Result<Socket> {
        Self::connect_token(url, &token(user)).await
    }

    /// Connects with `token`.
    pub async fn connect_token(url: &str, token: &str) -> anyhow::Result<Socket> {
        let (stream, _) = tokio_tungstenite::connect_async(format!("{url}/?token={token}")).await?;
        Ok(Socket { stream, next_req: 0 })
    }

    /// Sends one request and returns its reply frame, skipping events.
    pub async fn call(&mut self, action: &str, data: Value) -> anyhow::Result<Value> {
        self.next_req += 1;
        let req_id = format!("r{}", self.next_req);
        let frame = json!({"action": action, "reqId": req_id, "data": data});
        self.stream.send(Message::text(frame.to_string())).await?;
        self.next(|frame| frame["type"] == "reply" && frame["reqId"] == req_id)
            .await
    }

    /// Sends one request that must succeed and returns its data.
    pub async fn ok(&mut self, action: &str, data: Value) -> Value {
        let reply = self.call(action, data).await.expect("a reply arrives");
        assert_eq!(reply["ok"], true, "{action} failed: {reply}");
        reply["data"].clone()
    }

    /// The next frame that `wanted` accepts.
    pub async fn next(&mut self, wanted: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        tokio::time::timeout(WAIT, async {
            loop {
                let message = self.stream.next().await.context("socket closed")??;
                match message {
                    Message::Text(text) => {
                        let frame: Value = serde_json::from_str(text.as_str())?;
                        if wanted(&frame) {
                            return Ok(frame);
                        }
                    }
                    Message::Close(_) => bail!("socket closed by the server"),
                    _ => {}
                }
            }
        })
        .await
        .context("timed out waiting for a frame")?
    }

    /// Closes the socket from the client side.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
        while let Some(Ok(_)) = self.stream.next().await {}
    }
}
