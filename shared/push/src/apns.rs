//! [`ApnsProvider`]: Apple's HTTP/2 provider API with token-based authentication.
//!
//! ```text
//! POST /3/device/<device token>          (HTTP/2)
//! authorization: bearer <ES256 JWT {alg, kid: key id} . {iss: team id, iat}>
//! apns-topic: <bundle id>   apns-push-type: alert   apns-priority: 10
//! apns-id: <UUID from msgId, user and token>   apns-collapse-id: <msgId>
//!
//! {"aps":{"alert":{"title":"Alice","body":"hi"},"sound":"default"},
//!  "cirrus":{"msgId":"…","conversationId":"C2Calice","from":"alice","seq":7}}
//! ```
//!
//! 200 is delivered; 410, or 400 `BadDeviceToken` / `Unregistered`, is a dead token; 403
//! `ExpiredProviderToken` drops the cached JWT and is retried; 429 and 5xx are retried; any
//! other 4xx is a rejection for good. A retry carries the same `apns-collapse-id`, so the phone
//! replaces the first notification instead of showing a second one.

use crate::{ConfigError, KeyMaterial, client, endpoint, unreachable};
use async_trait::async_trait;
use cirrus_core::clock::{Clock, SystemClock};
use cirrus_core::ports::{PushError, PushProvider};
use cirrus_core::push_devices::PushDevice;
use cirrus_core::service::push::OfflinePush;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long one provider token is reused: Apple refuses tokens refreshed more often than every
/// 20 minutes (`TooManyProviderTokenUpdates`) and tokens older than an hour (`ExpiredProviderToken`).
pub const TOKEN_REUSE: Duration = Duration::from_secs(50 * 60);
/// Longest `apns-collapse-id` Apple takes, in bytes.
const MAX_COLLAPSE_ID: usize = 64;

/// How to reach APNs and sign provider tokens.
#[derive(Debug, Clone)]
pub struct ApnsConfig {
    /// `https://api.push.apple.com`, the sandbox `https://api.sandbox.push.apple.com`, or a
    /// stand-in (`http://` is HTTP/2 without TLS).
    pub endpoint: String,
    /// The signing key's id (the `kid` of every provider token).
    pub key_id: String,
    /// The Apple developer team id (the `iss`).
    pub team_id: String,
    /// The `.p8` key's PEM text.
    pub key: KeyMaterial,
    /// The topic (bundle id) for devices that registered without a `bundleId`.
    pub topic: Option<String>,
    /// How long one call may take.
    pub timeout: Duration,
}

/// [`PushProvider`] over APNs.
pub struct ApnsProvider {
    http: reqwest::Client,
    endpoint: String,
    key_id: String,
    team_id: String,
    key: EncodingKey,
    topic: Option<String>,
    clock: Arc<dyn Clock>,
    token: Mutex<Option<ProviderToken>>,
}

impl fmt::Debug for ApnsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnsProvider")
            .field("endpoint", &self.endpoint)
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .finish_non_exhaustive()
    }
}

/// A signed provider token and when it was signed.
#[derive(Clone)]
struct ProviderToken {
    jwt: String,
    issued_ms: i64,
}

/// The claims of a provider token.
#[derive(Serialize, Deserialize)]
pub struct ProviderClaims {
    /// The team id.
    pub iss: String,
    /// When it was signed, seconds since the epoch.
    pub iat: i64,
}

impl ApnsProvider {
    /// A provider signing with the system clock's time.
    pub fn new(config: ApnsConfig) -> Result<Self, ConfigError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A provider signing with `clock`'s time (tests move it to expire tokens).
    pub fn with_clock(config: ApnsConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        if config.key_id.is_empty() {
            return Err(ConfigError::Missing("APNs key id"));
        }
        if config.team_id.is_empty() {
            return Err(ConfigError::Missing("APNs team id"));
        }
        let key = EncodingKey::from_ec_pem(config.key.bytes())
            .map_err(|_| ConfigError::BadKey("APNs", "EC P-256"))?;
        Ok(Self {
            // Apple speaks HTTP/2 only; over TLS ALPN agrees on it, over a stand-in's plain
            // TCP prior knowledge is the only way to.
            http: client(config.timeout, reqwest::Client::builder().http2_prior_knowledge())?,
            endpoint: endpoint(&config.endpoint, "APNs")?,
            key_id: config.key_id,
            team_id: config.team_id,
            key,
            topic: config.topic.filter(|topic| !topic.is_empty()),
            clock,
            token: Mutex::new(None),
        })
    }

    /// The provider token to send now: the cached one while younger than [`TOKEN_REUSE`], else
    /// a new one.
    fn provider_token(&self) -> Result<String, PushError> {
        let now = self.clock.now_ms();
        let mut cached = self.token.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(token) = cached.as_ref() {
            let age = now - token.issued_ms;
            if (0..TOKEN_REUSE.as_millis() as i64).contains(&age) {
                return Ok(token.jwt.clone());
            }
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = ProviderClaims {
            iss: self.team_id.clone(),
            iat: now.div_euclid(1000),
        };
        let jwt = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|_| PushError::Refused("cannot sign the APNs provider token".to_owned()))?;
        *cached = Some(ProviderToken {
            jwt: jwt.clone(),
            issued_ms: now,
        });
        tracing::debug!("new APNs provider token");
        Ok(jwt)
    }

    /// Forgets `jwt` if it is still the cached token (Apple called it expired).
    fn drop_token(&self, jwt: &str) {
        let mut cached = self.token.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cached.as_ref().is_some_and(|token| token.jwt == jwt) {
            *cached = None;
        }
    }
}

/// The notification's JSON.
#[derive(Serialize)]
struct Payload<'a> {
    aps: Aps<'a>,
    cirrus: Ids<'a>,
}

#[derive(Serialize)]
struct Aps<'a> {
    alert: Alert<'a>,
    sound: &'static str,
}

#[derive(Serialize)]
struct Alert<'a> {
    title: &'a str,
    body: &'a str,
}

/// Our ids, for the app to open the conversation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ids<'a> {
    msg_id: &'a str,
    conversation_id: String,
    from: &'a str,
    seq: u64,
}

/// An APNs error answer's body.
#[derive(Deserialize, Default)]
struct Reason {
    #[serde(default)]
    reason: String,
}

#[async_trait]
impl PushProvider for ApnsProvider {
    async fn send(&self, device: &PushDevice, push: &OfflinePush) -> Result<(), PushError> {
        // Apple's tokens are hex; anything else is refused by Apple, and must not reach a URL.
        if !device.token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PushError::DeadToken);
        }
        let topic = device
            .bundle_id
            .as_deref()
            .or(self.topic.as_deref())
            .ok_or_else(|| {
                PushError::Rejected("no APNs topic: no bundleId and no default topic".to_owned())
            })?;
        let body = serde_json::to_vec(&Payload {
            aps: Aps {
                alert: Alert {
                    title: &push.title,
                    body: &push.text,
                },
                sound: "default",
            },
            cirrus: Ids {
                msg_id: push.msg_id.as_str(),
                conversation_id: push.conversation_id.to_string(),
                from: push.from.as_str(),
                seq: push.seq,
            },
        })
        .map_err(|err| PushError::Unreachable(Box::new(err)))?;
        let jwt = self.provider_token()?;
        let mut request = self
            .http
            .post(format!("{}/3/device/{}", self.endpoint, device.token))
            .header(http::header::AUTHORIZATION, format!("bearer {jwt}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("apns-topic", topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-id", apns_id(device, push));
        if push.msg_id.as_str().len() <= MAX_COLLAPSE_ID {
            request = request.header("apns-collapse-id", push.msg_id.as_str());
        }
        let response = request.body(body).send().await.map_err(unreachable)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let reason = response.json::<Reason>().await.unwrap_or_default().reason;
        let answer = format!("HTTP {} {reason}", status.as_u16());
        match (status.as_u16(), reason.as_str()) {
            (410, _) | (400, "BadDeviceToken" | "Unregistered") => Err(PushError::DeadToken),
            (403, "ExpiredProviderToken") => {
                self.drop_token(&jwt);
                Err(PushError::Refused(answer))
            }
            (429, _) | (500..=599, _) => Err(PushError::Refused(answer)),
            _ => Err(PushError::Rejected(answer)),
        }
    }
}

/// The `apns-id` of `push` to `device`: a UUID (8-4-4-4-12 hex) from the SHA-256 of the message,
/// the recipient and the token, the same on every retry.
pub fn apns_id(device: &PushDevice, push: &OfflinePush) -> String {
    let digest = Sha256::digest(format!("{}\n{}\n{}", push.msg_id, push.to, device.token));
    let hex = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
