//! [`FcmProvider`]: Firebase Cloud Messaging's HTTP v1 API.
//!
//! ```text
//! POST /v1/projects/<project_id>/messages:send
//! authorization: Bearer <OAuth2 access token of the service account>
//!
//! {"message":{"token":"<device token>","notification":{"title":"Alice","body":"hi"},
//!  "data":{"msgId":"…","conversationId":"C2Calice","from":"alice","seq":"7"},
//!  "android":{"collapse_key":"<msgId>","notification":{"tag":"<msgId>"}},
//!  "apns":{"headers":{"apns-collapse-id":"<msgId>"}}}}
//! ```
//!
//! 200 is delivered; 404 (`NOT_FOUND`) or an `UNREGISTERED` error code is a dead token; 401 drops
//! the access token, fetches a new one and tries once more; 429 and 5xx are retried; any other
//! 4xx is a rejection for good. The notification `tag` (and the APNs collapse id) is the message
//! id, so a retried send replaces the first notification on the phone instead of adding one.

use crate::oauth::TokenSource;
use crate::{ConfigError, KeyMaterial, client, endpoint, unreachable};
use async_trait::async_trait;
use cirrus_core::clock::{Clock, SystemClock};
use cirrus_core::ports::{PushError, PushProvider};
use cirrus_core::push_devices::PushDevice;
use cirrus_core::service::push::OfflinePush;
use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use crate::oauth::{AssertionClaims, GRANT_TYPE, SCOPE};

/// The fields of a Google service-account JSON key file that FCM needs.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccount {
    /// The account (the assertion's `iss`).
    pub client_email: String,
    /// Its RSA key, PKCS#8 PEM.
    pub private_key: KeyMaterial,
    /// Where assertions are exchanged for access tokens.
    pub token_uri: String,
    /// The Firebase project messages are sent in.
    pub project_id: String,
}

impl ServiceAccount {
    /// Reads a service-account JSON document (other fields are ignored).
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(json).map_err(ConfigError::BadServiceAccount)
    }
}

/// How to reach FCM.
#[derive(Debug, Clone)]
pub struct FcmConfig {
    /// The service account whose tokens authorize the sends.
    pub account: ServiceAccount,
    /// `https://fcm.googleapis.com`, or a stand-in.
    pub endpoint: String,
    /// How long one call may take.
    pub timeout: Duration,
}

/// [`PushProvider`] over FCM HTTP v1.
pub struct FcmProvider {
    http: reqwest::Client,
    send_url: String,
    tokens: TokenSource,
}

impl fmt::Debug for FcmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmProvider")
            .field("send_url", &self.send_url)
            .field("tokens", &self.tokens)
            .finish()
    }
}

/// An FCM error answer's body (`google.rpc.Status` with FCM's details).
#[derive(Deserialize, Default)]
struct ErrorAnswer {
    #[serde(default)]
    error: Status,
}

#[derive(Deserialize, Default)]
struct Status {
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(default, rename = "errorCode")]
    error_code: String,
}

impl FcmProvider {
    /// A provider on the system clock.
    pub fn new(config: FcmConfig) -> Result<Self, ConfigError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A provider timing access tokens with `clock` (tests move it to expire them).
    pub fn with_clock(config: FcmConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        let account = config.account;
        if account.project_id.is_empty() {
            return Err(ConfigError::Missing("FCM project id"));
        }
        if account.client_email.is_empty() {
            return Err(ConfigError::Missing("FCM client email"));
        }
        let http = client(config.timeout, reqwest::Client::builder())?;
        let send_url = format!(
            "{}/v1/projects/{}/messages:send",
            endpoint(&config.endpoint, "FCM")?,
            account.project_id
        );
        let tokens = TokenSource::new(
            http.clone(),
            account.client_email,
            account.token_uri,
            &account.private_key,
            clock,
        )?;
        Ok(Self {
            http,
            send_url,
            tokens,
        })
    }

    async fn post(&self, token: &str, body: &Value) -> Result<reqwest::Response, PushError> {
        self.http
            .post(&self.send_url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(unreachable)
    }
}

/// The `messages:send` body of `push` to `device`.
fn message(device: &PushDevice, push: &OfflinePush) -> Value {
    let msg_id = push.msg_id.as_str();
    json!({"message": {
        "token": device.token,
        "notification": {"title": push.title, "body": push.text},
        "data": {
            "msgId": msg_id,
            "conversationId": push.conversation_id.to_string(),
            "from": push.from.as_str(),
            "seq": push.seq.to_string(),
        },
        "android": {"collapse_key": msg_id, "notification": {"tag": msg_id}},
        "apns": {"headers": {"apns-collapse-id": msg_id}},
    }})
}

#[async_trait]
impl PushProvider for FcmProvider {
    async fn send(&self, device: &PushDevice, push: &OfflinePush) -> Result<(), PushError> {
        let body = message(device, push);
        let token = self.tokens.token().await?;
        let mut response = self.post(&token, &body).await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            // Revoked or expired early: one new token, one more try.
            self.tokens.invalidate(&token).await;
            let token = self.tokens.token().await?;
            response = self.post(&token, &body).await?;
        }
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let error = response.json::<ErrorAnswer>().await.unwrap_or_default().error;
        let unregistered = error
            .details
            .iter()
            .any(|detail| detail.error_code == "UNREGISTERED");
        let answer = format!("HTTP {} {}", status.as_u16(), error.status);
        match status.as_u16() {
            _ if unregistered || error.status == "NOT_FOUND" => Err(PushError::DeadToken),
            404 => Err(PushError::DeadToken),
            429 | 500..=599 | 401 => Err(PushError::Refused(answer)),
            _ => Err(PushError::Rejected(answer)),
        }
    }
}
