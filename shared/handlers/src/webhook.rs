//! The webhook push provider: each offline notification is `POST`ed as JSON to the app server's
//! URL, signed with HMAC-SHA256 so the app server can tell it came from Cirrus.
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! X-Cirrus-Event: push.offline
//! X-Cirrus-Delivery: <msgId>:<to>:<device>
//! X-Cirrus-Timestamp: <unix seconds>
//! X-Cirrus-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//!
//! {"event":"push.offline","to":"bob","from":"alice","title":"Alice","text":"hi",
//!  "conversationId":"C2Calice","msgId":"…","seq":7,"time":1700000000000,
//!  "device":{"token":"…","platform":"android"}}
//! ```
//!
//! One call per registered webhook device of the recipient; `<device>` in the delivery key is a
//! fingerprint of the device token (the first 16 hex digits of its SHA-256), so each device's
//! call has its own key, the same on every retry.
//!
//! Any 2xx answer means the app server took it. A 4xx other than 429 (slow down) is final: the app server refused it, and
//! another try would be refused the same way, so the notification is dropped (the push function
//! logs a warning without the payload). A 3xx, a 429, a 5xx, a timeout or a network error is a failure
//! the queue retries. The secret and the URL (which may carry a token) never reach a log.

use async_trait::async_trait;
use cirrus_core::clock::{Clock, SystemClock};
use cirrus_core::ports::{PushError, PushProvider};
use cirrus_core::push_devices::PushDevice;
use cirrus_core::service::push::OfflinePush;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The header naming the kind of call (`push.offline`).
pub const EVENT_HEADER: &str = "x-cirrus-event";
/// The header with a key for de-duplication: the same for every retry of one notification.
pub const DELIVERY_HEADER: &str = "x-cirrus-delivery";
/// The header with the signing time, in seconds since the Unix epoch.
pub const TIMESTAMP_HEADER: &str = "x-cirrus-timestamp";
/// The header with the signature, `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-cirrus-signature";
/// The `event` of an offline-push call.
pub const OFFLINE_PUSH_EVENT: &str = "push.offline";
/// How long one call may take, connecting included, unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The signing secret: shown as `***` by `Debug`, so it cannot slip into a log.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// Where and how to call the app server.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The `http(s)` URL notifications are `POST`ed to.
    pub url: String,
    /// The HMAC-SHA256 key.
    pub secret: WebhookSecret,
    /// How long one call may take.
    pub timeout: Duration,
}

impl WebhookConfig {
    /// A configuration with the [`DEFAULT_TIMEOUT`].
    pub fn new(url: impl Into<String>, secret: WebhookSecret) -> Self {
        Self {
            url: url.into(),
            secret,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Why a webhook provider cannot be built. Never carries the secret or the URL.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL does not parse, or is not `http` / `https`.
    #[error("the push webhook URL is not an http(s) URL")]
    BadUrl,
    /// The secret is empty: unsigned calls are not made.
    #[error("the push webhook secret is empty")]
    EmptySecret,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// [`PushProvider`] over the app server's webhook.
pub struct WebhookProvider {
    http: reqwest::Client,
    url: reqwest::Url,
    secret: WebhookSecret,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for WebhookProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookProvider")
            .field("host", &self.host())
            .finish_non_exhaustive()
    }
}

/// The body of a call.
#[derive(Serialize)]
struct Payload<'a> {
    event: &'static str,
    #[serde(flatten)]
    push: &'a OfflinePush,
    device: DevicePayload<'a>,
}

/// The device a call is for: the app server passes the notification on to it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DevicePayload<'a> {
    token: &'a str,
    platform: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle_id: Option<&'a str>,
}

impl WebhookProvider {
    /// A provider calling `config.url`, signing with the system clock's time.
    pub fn new(config: WebhookConfig) -> Result<Self, WebhookError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A provider signing with `clock`'s time.
    pub fn with_clock(config: WebhookConfig, clock: Arc<dyn Clock>) -> Result<Self, WebhookError> {
        let url = reqwest::Url::parse(&config.url).map_err(|_| WebhookError::BadUrl)?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(WebhookError::BadUrl);
        }
        if config.secret.0.is_empty() {
            return Err(WebhookError::EmptySecret);
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("cirrus-push/", env!("CARGO_PKG_VERSION")))
            // A redirect would re-send the signed body somewhere the app did not configure.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(WebhookError::Client)?;
        Ok(Self {
            http,
            url,
            secret: config.secret,
            clock,
        })
    }

    /// The host notifications go to (safe to log, unlike the whole URL).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }
}

#[async_trait]
impl PushProvider for WebhookProvider {
    async fn send(&self, device: &PushDevice, push: &OfflinePush) -> Result<(), PushError> {
        let body = serde_json::to_vec(&Payload {
            event: OFFLINE_PUSH_EVENT,
            push,
            device: DevicePayload {
                token: &device.token,
                platform: &device.platform,
                bundle_id: device.bundle_id.as_deref(),
            },
        })
        .map_err(|err| PushError::Unreachable(Box::new(err)))?;
        let timestamp = self.clock.now_ms().div_euclid(1000);
        let response = self
            .http
            .post(self.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(EVENT_HEADER, OFFLINE_PUSH_EVENT)
            .header(DELIVERY_HEADER, delivery_key(device, push))
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(self.secret.bytes(), timestamp, &body))
            .body(body)
            .send()
            .await
            // The URL may carry a token of the app's: keep it out of the error (and the log).
            .map_err(|err| PushError::Unreachable(Box::new(err.without_url())))?;
        let status = response.status();
        let answer = format!("HTTP {}", status.as_u16());
        if status.is_success() {
            Ok(())
        } else if status.is_client_error() && status != http::StatusCode::TOO_MANY_REQUESTS {
            Err(PushError::Rejected(answer))
        } else {
            Err(PushError::Refused(answer))
        }
    }
}

/// The `X-Cirrus-Delivery` value: `<msgId>:<to>:<fingerprint of the device token>`.
pub fn delivery_key(device: &PushDevice, push: &OfflinePush) -> String {
    let digest = Sha256::digest(device.token.as_bytes());
    format!("{}:{}:{}", push.msg_id, push.to, &hex::encode(digest)[..16])
}

/// The `X-Cirrus-Signature` value for `body` signed at `timestamp`:
/// `sha256=` and the lowercase hex HMAC-SHA256, under `secret`, of `"{timestamp}.{body}"`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use cirrus_core::ids::{ConversationId, MsgId, UserId};
    use std::sync::Mutex;

    struct FixedClock(i64);

    impl Clock for FixedClock {
        fn now_ms(&self) -> i64 {
            self.0
        }
    }

    type Calls = Arc<Mutex<Vec<(HeaderMap, String)>>>;

    /// An HTTP sink on a free loopback port answering `status`; returns its URL and its calls.
    async fn sink(status: StatusCode) -> (String, Calls) {
        let calls: Calls = Arc::default();
        let seen = calls.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| async move {
                seen.lock().unwrap().push((headers, body));
                status
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}/hook?token=app-token"), calls)
    }

    fn push() -> OfflinePush {
        OfflinePush {
            to: UserId::parse("bob").unwrap(),
            from: UserId::parse("alice").unwrap(),
            title: "Alice".to_owned(),
            text: "hi bob".to_owned(),
            conversation_id: ConversationId::parse("C2Calice").unwrap(),
            msg_id: MsgId::parse("m-1").unwrap(),
            seq: 3,
            time: 1_700_000_000_123,
        }
    }

    fn device() -> PushDevice {
        PushDevice {
            provider: cirrus_core::push_devices::PushService::Webhook,
            token: "tok-1".to_owned(),
            platform: "android".to_owned(),
            bundle_id: None,
            registered_at: 1,
        }
    }

    fn provider(url: &str) -> WebhookProvider {
        WebhookProvider::with_clock(
            WebhookConfig::new(url, WebhookSecret::new("s3cret")),
            Arc::new(FixedClock(1_700_000_001_999)),
        )
        .unwrap()
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: python3 -c 'import hmac, hashlib;
        // print(hmac.new(b"Jefe", b"1700000000.{\"a\":1}", hashlib.sha256).hexdigest())'
        assert_eq!(
            signature(b"Jefe", 1_700_000_000, b"{\"a\":1}"),
            "sha256=fa5f6481efc59da48b19c9dc10196c9953e5651f8304b3a318b6b87d70272e0a"
        );
        let sig = signature(b"key", 1_700_000_000, b"{\"a\":1}");
        assert!(sig.starts_with("sha256="));
        assert_eq!(sig.len(), 7 + 64);
        assert!(
            sig[7..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        // Any change to the key, the time or the body changes it.
        assert_ne!(sig, signature(b"kez", 1_700_000_000, b"{\"a\":1}"));
        assert_ne!(sig, signature(b"key", 1_700_000_001, b"{\"a\":1}"));
        assert_ne!(sig, signature(b"key", 1_700_000_000, b"{\"a\":2}"));
    }

    #[tokio::test]
    async fn given_a_sink_answering_200_when_a_push_is_sent_then_one_signed_json_call_arrives() {
        // GIVEN an app server that takes every call
        let (url, calls) = sink(StatusCode::NO_CONTENT).await;
        // WHEN a notification is sent
        provider(&url).send(&device(), &push()).await.unwrap();
        // THEN exactly one call arrived, with the notification as JSON
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        let (headers, body) = &calls[0];
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "event": "push.offline", "to": "bob", "from": "alice", "title": "Alice",
                "text": "hi bob", "conversationId": "C2Calice", "msgId": "m-1", "seq": 3,
                "time": 1_700_000_000_123_i64,
                "device": {"token": "tok-1", "platform": "android"},
            })
        );
        // AND it is signed over the timestamp and the exact body
        assert_eq!(headers[TIMESTAMP_HEADER], "1700000001");
        assert_eq!(
            headers[SIGNATURE_HEADER].to_str().unwrap(),
            signature(b"s3cret", 1_700_000_001, body.as_bytes())
        );
        assert_eq!(headers[EVENT_HEADER], "push.offline");
        // echo -n tok-1 | sha256sum: 65dcf16ea3dfa490…
        assert_eq!(headers[DELIVERY_HEADER], "m-1:bob:65dcf16ea3dfa490");
        assert_eq!(headers["content-type"], "application/json");
    }

    #[tokio::test]
    async fn given_a_sink_answering_500_when_a_push_is_sent_then_it_fails_naming_the_status() {
        let (url, calls) = sink(StatusCode::INTERNAL_SERVER_ERROR).await;
        let err = provider(&url).send(&device(), &push()).await.unwrap_err();
        assert!(
            matches!(&err, PushError::Refused(text) if text == "HTTP 500"),
            "{err:?}"
        );
        assert_eq!(calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn given_a_sink_answering_4xx_when_a_push_is_sent_then_it_is_rejected_for_good() {
        for status in [StatusCode::BAD_REQUEST, StatusCode::NOT_FOUND, StatusCode::GONE] {
            let (url, calls) = sink(status).await;
            let err = provider(&url).send(&device(), &push()).await.unwrap_err();
            let expected = format!("HTTP {}", status.as_u16());
            assert!(
                matches!(&err, PushError::Rejected(text) if *text == expected),
                "{status}: {err:?}"
            );
            assert_eq!(calls.lock().unwrap().len(), 1);
        }
        // AND 429 asks for a later try: it stays a failure the queue retries
        let (url, _) = sink(StatusCode::TOO_MANY_REQUESTS).await;
        let err = provider(&url).send(&device(), &push()).await.unwrap_err();
        assert!(
            matches!(&err, PushError::Refused(text) if text == "HTTP 429"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn given_a_redirect_when_a_push_is_sent_then_it_is_not_followed() {
        let (url, calls) = sink(StatusCode::TEMPORARY_REDIRECT).await;
        let err = provider(&url).send(&device(), &push()).await.unwrap_err();
        assert!(
            matches!(&err, PushError::Refused(text) if text == "HTTP 307"),
            "{err:?}"
        );
        assert_eq!(calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn given_nobody_listening_when_a_push_is_sent_then_it_is_unreachable_without_the_url() {
        // GIVEN a port nobody listens on
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/hook?token=app-token");
        // WHEN a notification is sent
        let err = provider(&url).send(&device(), &push()).await.unwrap_err();
        // THEN it is unreachable, and nothing in the error chain shows the URL's token
        assert!(matches!(err, PushError::Unreachable(_)), "{err:?}");
        let mut chain = format!("{err} {err:?}");
        let mut source = std::error::Error::source(&err);
        while let Some(inner) = source {
            chain.push_str(&format!(" {inner} {inner:?}"));
            source = inner.source();
        }
        assert!(!chain.contains("app-token"), "{chain}");
    }

    #[tokio::test]
    async fn given_a_slow_sink_when_a_push_is_sent_then_it_times_out() {
        let app = Router::new().route(
            "/hook",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                StatusCode::OK
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut config = WebhookConfig::new(format!("http://{addr}/hook"), WebhookSecret::new("k"));
        config.timeout = Duration::from_millis(200);
        let err = WebhookProvider::new(config)
            .unwrap()
            .send(&device(), &push())
            .await
            .unwrap_err();
        assert!(matches!(err, PushError::Unreachable(_)), "{err:?}");
    }

    #[test]
    fn a_bad_url_or_an_empty_secret_is_refused_and_the_secret_never_shows() {
        for url in ["", "not a url", "ftp://example.com/x", "file:///etc/passwd"] {
            let config = WebhookConfig::new(url, WebhookSecret::new("k"));
            assert!(
                matches!(WebhookProvider::new(config), Err(WebhookError::BadUrl)),
                "{url}"
            );
        }
        let config = WebhookConfig::new("https://app.example/hook", WebhookSecret::new(""));
        assert!(matches!(
            WebhookProvider::new(config),
            Err(WebhookError::EmptySecret)
        ));
        let config = WebhookConfig::new("https://app.example/hook?t=1", WebhookSecret::new("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
        let provider = WebhookProvider::new(config).unwrap();
        assert_eq!(
            format!("{provider:?}"),
            "WebhookProvider { host: \"app.example\", .. }"
        );
    }
}
