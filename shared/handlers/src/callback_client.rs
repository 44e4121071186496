//! The HTTP client of the app's callbacks, in Tencent IM's shape:
//!
//! ```text
//! POST <url>?SdkAppid=1400000001&CallbackCommand=C2C.CallbackBeforeSendMsg&contenttype=json
//!           &ClientIP=&OptPlatform=RESTAPI&RequestTime=1700000000&Sign=<hex sha256(token + RequestTime)>
//! Content-Type: application/json
//! X-Cirrus-Delivery: <call id, the same on every retry>
//! X-Cirrus-Timestamp: <RequestTime>
//! X-Cirrus-Signature: sha256=<hex HMAC-SHA256(token, "<RequestTime>.<body>")>
//!
//! {"CallbackCommand": "C2C.CallbackBeforeSendMsg", "From_Account": "alice", …}
//! ```
//!
//! `Sign` and `X-Cirrus-Signature` are sent when a token is configured. The reply must be a 2xx
//! with Tencent's JSON (`ActionStatus`, `ErrorCode`, `ErrorInfo`, and for a before-send the
//! rewritten fields); at most [`MAX_REPLY_BYTES`] of it are read. Neither the URL (which may
//! carry credentials) nor the token reaches a log or an error.

use crate::webhook::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use async_trait::async_trait;
use cirrus_core::callbacks::{CallbackCall, CallbackConfig, CallbackFailure, CallbackReply};
use cirrus_core::clock::{Clock, SystemClock};
use cirrus_core::ports::CallbackClient;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The most bytes of a reply read; a longer one is a bad reply.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// `OptPlatform` of every call: the server makes them, not a client SDK.
const OPT_PLATFORM: &str = "RESTAPI";

/// [`CallbackClient`] over HTTP(S).
pub struct HttpCallbackClient {
    http: reqwest::Client,
    app_id: u64,
    clock: Arc<dyn Clock>,
}

impl HttpCallbackClient {
    /// A client calling as app `app_id` (`SdkAppid`), signing with the system clock's time.
    pub fn new(app_id: u64) -> Self {
        Self::with_clock(app_id, Arc::new(SystemClock))
    }

    /// A client signing with `clock`'s time.
    pub fn with_clock(app_id: u64, clock: Arc<dyn Clock>) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("cirrus-callback/", env!("CARGO_PKG_VERSION")))
            // A redirect would re-send the signed body somewhere the app did not configure.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Only a broken TLS backend fails here; the default builder then still works
            // for http URLs.
            .unwrap_or_default();
        Self { http, app_id, clock }
    }

    /// The URL with Tencent's query added to what it already holds.
    fn url(
        &self,
        config: &CallbackConfig,
        call: &CallbackCall,
        time: i64,
    ) -> Result<reqwest::Url, CallbackFailure> {
        let mut url = reqwest::Url::parse(config.url.trim())
            .map_err(|_| CallbackFailure::Transport("the callback URL does not parse".to_owned()))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("SdkAppid", &self.app_id.to_string())
                .append_pair("CallbackCommand", call.command.name())
                .append_pair("contenttype", "json")
                .append_pair("ClientIP", "")
                .append_pair("OptPlatform", OPT_PLATFORM)
                .append_pair("RequestTime", &time.to_string());
            if let Some(token) = &config.token {
                query.append_pair("Sign", &tencent_sign(token, time));
            }
        }
        Ok(url)
    }
}

/// Tencent's `Sign`: the lowercase hex SHA-256 of the token followed by `RequestTime`.
pub fn tencent_sign(token: &str, request_time: i64) -> String {
    let digest = Sha256::new()
        .chain_update(token.as_bytes())
        .chain_update(request_time.to_string().as_bytes())
        .finalize();
    hex::encode(digest)
}

/// The body of a call: `CallbackCommand` first, then the command's fields.
fn body(call: &CallbackCall) -> Vec<u8> {
    let mut object = Map::with_capacity(call.fields.len() + 1);
    object.insert("CallbackCommand".to_owned(), Value::from(call.command.name()));
    object.extend(call.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    serde_json::to_vec(&Value::Object(object)).unwrap_or_default()
}

/// Reads Tencent's reply out of a body.
fn reply(bytes: &[u8]) -> Result<CallbackReply, CallbackFailure> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(bytes) else {
        return Err(CallbackFailure::BadReply);
    };
    let error_code = match fields.get("ErrorCode") {
        Some(code) => code.as_i64().ok_or(CallbackFailure::BadReply)?,
        // Tencent's samples answer {"ActionStatus": "OK", "ErrorCode": 0}; a reply with only
        // an ActionStatus is read by it.
        None => match fields.get("ActionStatus").and_then(Value::as_str) {
            Some("OK") => 0,
            Some(_) => 1,
            None => return Err(CallbackFailure::BadReply),
        },
    };
    let error_info = fields
        .get("ErrorInfo")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(CallbackReply {
        error_code,
        error_info,
        fields,
    })
}

#[async_trait]
impl CallbackClient for HttpCallbackClient {
    async fn call(
        &self,
        config: &CallbackConfig,
        call: &CallbackCall,
        timeout: Duration,
    ) -> Result<CallbackReply, CallbackFailure> {
        let time = self.clock.now_ms().div_euclid(1000);
        let url = self.url(config, call, time)?;
        let body = body(call);
        let mut request = self
            .http
            .post(url)
            .timeout(timeout)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, &call.id)
            .header(TIMESTAMP_HEADER, time.to_string());
        if let Some(token) = &config.token {
            request = request.header(SIGNATURE_HEADER, signature(token.as_bytes(), time, &body));
        }
        let exchange = async {
            let mut response = request.body(body).send().await.map_err(failure)?;
            let status = response.status();
            if !status.is_success() {
                return Err(CallbackFailure::Status(status.as_u16()));
            }
            let mut read = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(failure)? {
                if read.len() + chunk.len() > MAX_REPLY_BYTES {
                    return Err(CallbackFailure::BadReply);
                }
                read.extend_from_slice(&chunk);
            }
            reply(&read)
        };
        // The request's own timeout covers reading too; this bounds a server that trickles.
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(CallbackFailure::Timeout))
    }
}

/// A transport error, without the URL.
fn failure(err: reqwest::Error) -> CallbackFailure {
    if err.is_timeout() {
        CallbackFailure::Timeout
    } else {
        CallbackFailure::Transport(err.without_url().to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

    use super::*;

    #[test]
    fn tencents_sign_is_the_sha256_of_token_and_time() {
        // sha256("abc1700000000"), from Python's hashlib.
        let expected = "139d720ab3fe33252a099243519e7548ce791f035b647c70bc13e8a12f503cda";
        assert_eq!(tencent_sign("abc", 1_700_000_000), expected);
        assert_ne!(tencent_sign("abc", 1_700_000_001), expected);
    }

    #[test]
    fn replies_are_read_as_tencent_writes_them() {
        let ok = reply(br#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#).unwrap();
        assert_eq!(ok.error_code, 0);
        let refused = reply(br#"{"ActionStatus":"FAIL","ErrorCode":1,"ErrorInfo":"no"}"#).unwrap();
        assert_eq!((refused.error_code, refused.error_info.as_str()), (1, "no"));
        assert_eq!(reply(br#"{"ActionStatus":"OK"}"#).unwrap().error_code, 0);
        for bad in [&b"<html>"[..], b"[]", br#"{"ErrorCode":"zero"}"#, b"{}"] {
            assert_eq!(reply(bad), Err(CallbackFailure::BadReply));
        }
    }
}
