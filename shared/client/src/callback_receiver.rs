//! A callback receiver for benches: an app server on 127.0.0.1 that takes Cirrus's callbacks in
//! Tencent's shape (docs/callbacks.md), checks them, optionally takes its time, and allows every
//! one with `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}`.
//!
//! A call is checked as a careful app server would: the query's `SdkAppid` and `CallbackCommand`,
//! the body's `CallbackCommand`, and with a token Tencent's `Sign` and the `X-Cirrus-Signature`
//! HMAC. A call that fails a check is answered 401 and counted as bad, so a bench can tell that
//! what it measured was the real protocol.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The path callbacks are posted to.
pub const CALLBACK_PATH: &str = "/callback";

/// The reply allowing a call.
const ALLOW: &str = r#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#;

/// What the receiver expects and how it answers.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// Where to listen, e.g. `127.0.0.1:0` for a free port.
    pub addr: SocketAddr,
    /// The app id every call must carry as `SdkAppid`.
    pub app_id: u64,
    /// The token the calls must be signed with, if one is configured.
    pub token: Option<String>,
    /// How long the app server takes before it answers.
    pub delay: Duration,
}

/// The calls taken so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Calls that passed every check, by `CallbackCommand`.
    pub allowed: BTreeMap<String, u64>,
    /// Calls refused for a missing or wrong field or signature.
    pub bad: u64,
}

impl ReceiverStats {
    /// Calls that passed every check, over all commands.
    pub fn total(&self) -> u64 {
        self.allowed.values().sum()
    }
}

#[derive(Default)]
struct Counters {
    allowed: Mutex<BTreeMap<String, u64>>,
    bad: AtomicU64,
}

struct Shared {
    config: ReceiverConfig,
    counters: Counters,
}

/// A running receiver; it stops when dropped.
pub struct CallbackReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl CallbackReceiver {
    /// Binds `config.addr` and serves until dropped.
    pub async fn start(config: ReceiverConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            counters: Counters::default(),
        });
        let router = Router::new()
            .route(CALLBACK_PATH, axum::routing::post(take_call))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serving = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = serving.await {
                tracing::warn!(error = %err, "the callback receiver stopped");
            }
        });
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            server,
        })
    }

    /// The URL to configure as the app's callback URL.
    pub fn url(&self) -> String {
        format!("http://{}{CALLBACK_PATH}", self.addr)
    }

    /// The calls taken so far.
    pub fn stats(&self) -> ReceiverStats {
        let counters = &self.shared.counters;
        ReceiverStats {
            allowed: counters.allowed.lock().map(|m| m.clone()).unwrap_or_default(),
            bad: counters.bad.load(Ordering::Relaxed),
        }
    }

    /// Waits until no call has arrived for `quiet` (queued after-callbacks still on their way
    /// when a bench ends), or `limit` has passed; the calls taken by then.
    pub async fn settle(&self, quiet: Duration, limit: Duration) -> ReceiverStats {
        let deadline = tokio::time::Instant::now() + limit;
        let mut last = self.stats();
        loop {
            let next = tokio::time::Instant::now() + quiet;
            if next > deadline {
                return last;
            }
            tokio::time::sleep_until(next).await;
            let now = self.stats();
            if now == last {
                return now;
            }
            last = now;
        }
    }
}

impl Drop for CallbackReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The server keeps its callback connections alive, which would hold a graceful
        // shutdown open for as long as it does: signal it, then stop waiting.
        self.server.abort();
    }
}

async fn take_call(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let config = &shared.config;
    let Some(command) = checked_command(config, &query, &headers, &body) else {
        shared.counters.bad.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if let Ok(mut allowed) = shared.counters.allowed.lock() {
        *allowed.entry(command).or_default() += 1;
    }
    if !config.delay.is_zero() {
        // The app server's own work before it answers, which the bench measures.
        tokio::time::sleep(config.delay).await;
    }
    ([(axum::http::header::CONTENT_TYPE, "application/json")], ALLOW).into_response()
}

/// The call's command if every check passes.
fn checked_command(
    config: &ReceiverConfig,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<String> {
    let field = |name: &str| query.get(name).map(String::as_str);
    if field("SdkAppid")? != config.app_id.to_string() || field("contenttype")? != "json" {
        return None;
    }
    let command = field("CallbackCommand")?;
    let parsed: serde_json::Value = serde_json::from_slice(body).ok()?;
    if parsed.get("CallbackCommand")?.as_str()? != command {
        return None;
    }
    if let Some(token) = &config.token {
        let time = field("RequestTime")?;
        if field("Sign")? != tencent_sign(token, time) {
            return None;
        }
        let signature = headers.get("x-cirrus-signature")?.to_str().ok()?;
        if signature != body_signature(token, time, body) {
            return None;
        }
    }
    Some(command.to_owned())
}

/// Tencent's `Sign`: hex SHA-256 of the token followed by `RequestTime`.
fn tencent_sign(token: &str, request_time: &str) -> String {
    hex(&Sha256::new()
        .chain_update(token.as_bytes())
        .chain_update(request_time.as_bytes())
        .finalize())
}

/// `X-Cirrus-Signature`: `sha256=` and the hex HMAC-SHA256 of `"<RequestTime>.<body>"`.
fn body_signature(token: &str, request_time: &str, body: &[u8]) -> String {
    let Ok(mut mac) = <Hmac<Sha256>>::new_from_slice(token.as_bytes()) else {
        return String::new();
    };
    mac.update(request_time.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

    use super::*;

    const APP_ID: u64 = 1_400_000_001;
    const TOKEN: &str = "bench-token";

    async fn receiver(delay: Duration) -> CallbackReceiver {
        CallbackReceiver::start(ReceiverConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            app_id: APP_ID,
            token: Some(TOKEN.to_owned()),
            delay,
        })
        .await
        .unwrap()
    }

    /// Posts a call the way Cirrus signs it, with `sign` as the query's `Sign`.
    async fn post(url: &str, command: &str, sign: &str) -> reqwest::Response {
        let body = format!(r#"{{"CallbackCommand":"{command}","From_Account":"a"}}"#);
        let url = reqwest::Url::parse_with_params(
            url,
            &[
                ("SdkAppid", APP_ID.to_string().as_str()),
                ("CallbackCommand", command),
                ("contenttype", "json"),
                ("ClientIP", ""),
                ("OptPlatform", "RESTAPI"),
                ("RequestTime", "1700000000"),
                ("Sign", sign),
            ],
        )
        .unwrap();
        reqwest::Client::new()
            .post(url)
            .header(
                "X-Cirrus-Signature",
                body_signature(TOKEN, "1700000000", body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .unwrap()
    }

    #[test]
    fn signatures_match_independent_computations() {
        // python3 -c 'import hashlib; print(hashlib.sha256(b"abc1700000000").hexdigest())'
        assert_eq!(
            tencent_sign("abc", "1700000000"),
            "139d720ab3fe33252a099243519e7548ce791f035b647c70bc13e8a12f503cda"
        );
        // python3 -c 'import hmac, hashlib;
        // print(hmac.new(b"Jefe", b"1700000000.{\"a\":1}", hashlib.sha256).hexdigest())'
        assert_eq!(
            body_signature("Jefe", "1700000000", b"{\"a\":1}"),
            "sha256=fa5f6481efc59da48b19c9dc10196c9953e5651f8304b3a318b6b87d70272e0a"
        );
    }

    #[tokio::test]
    async fn a_signed_call_is_allowed_and_counted() {
        // GIVEN a receiver WHEN a correctly signed call arrives
        let receiver = receiver(Duration::ZERO).await;
        let sign = tencent_sign(TOKEN, "1700000000");
        let response = post(&receiver.url(), "C2C.CallbackBeforeSendMsg", &sign).await;
        // THEN it is allowed in Tencent's words and counted under its command
        assert_eq!(response.status(), 200);
        let reply: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            reply,
            serde_json::json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        );
        let stats = receiver.stats();
        assert_eq!(stats.allowed.get("C2C.CallbackBeforeSendMsg"), Some(&1));
        assert_eq!((stats.total(), stats.bad), (1, 0));
    }

    #[tokio::test]
    async fn a_call_with_a_wrong_sign_is_refused_and_counted_bad() {
        let receiver = receiver(Duration::ZERO).await;
        let wrong = tencent_sign("another-token", "1700000000");
        let response = post(&receiver.url(), "C2C.CallbackBeforeSendMsg", &wrong).await;
        assert_eq!(response.status(), 401);
        assert_eq!(
            receiver.stats(),
            ReceiverStats {
                allowed: BTreeMap::new(),
                bad: 1
            }
        );
    }

    #[tokio::test]
    async fn the_answer_waits_for_the_delay() {
        let receiver = receiver(Duration::from_millis(150)).await;
        let sign = tencent_sign(TOKEN, "1700000000");
        let started = std::time::Instant::now();
        let response = post(&receiver.url(), "C2C.CallbackAfterSendMsg", &sign).await;
        assert_eq!(response.status(), 200);
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn settle_returns_once_calls_stop() {
        let receiver = receiver(Duration::ZERO).await;
        let sign = tencent_sign(TOKEN, "1700000000");
        post(&receiver.url(), "C2C.CallbackAfterSendMsg", &sign).await;
        let stats = receiver
            .settle(Duration::from_millis(50), Duration::from_secs(5))
            .await;
        assert_eq!(stats.total(), 1);
    }
}
