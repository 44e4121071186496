//! [`ApnsFake`]: Apple's provider API on 127.0.0.1, HTTP/2 with prior knowledge (h2c: no TLS).

use super::{APNS_KEY_ID, APNS_TEAM_ID, APNS_TEST_PUBLIC_KEY, Script, Verdict, lock, serve};
use crate::apns::{ApnsConfig, ProviderClaims};
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use cirrus_core::clock::Clock;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One notification the fake took.
#[derive(Debug, Clone)]
pub struct ApnsCall {
    /// The device token of the path.
    pub token: String,
    /// The provider token it was authorized with.
    pub jwt: String,
    /// Its `apns-id`.
    pub apns_id: Option<String>,
    /// Its `apns-collapse-id`.
    pub collapse_id: Option<String>,
    /// The payload.
    pub body: Value,
}

#[derive(Default)]
struct State {
    script: Script,
    calls: Vec<ApnsCall>,
    refused: usize,
}

/// APNs on a loopback port: checks the path, the ES256 provider token against
/// [`APNS_TEST_PUBLIC_KEY`] (`kid`, `iss`, an `iat` under an hour old by its clock), the topic and
/// the push type, the way Apple answers when one is wrong.
#[derive(Clone)]
pub struct ApnsFake {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The topic (bundle id) it accepts.
    pub topic: String,
    state: Arc<Mutex<State>>,
}

impl ApnsFake {
    /// Starts a fake accepting `topic`, judging token age by `clock`.
    pub async fn start(topic: &str, clock: Arc<dyn Clock>) -> Self {
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let expected = topic.to_owned();
        let app = axum::Router::new().fallback(move |request: Request| {
            let state = shared.clone();
            let clock = clock.clone();
            let topic = expected.clone();
            async move { answer(&state, clock.as_ref(), &topic, request).await }
        });
        Self {
            endpoint: serve(app).await,
            topic: topic.to_owned(),
            state,
        }
    }

    /// From now on `token` is answered 410 `Unregistered`.
    pub fn mark_dead(&self, token: &str) {
        lock(&self.state).script.mark_dead(token);
    }

    /// From now on `token` is answered 503 (`false`: no more).
    pub fn set_failing(&self, token: &str, failing: bool) {
        lock(&self.state).script.set_failing(token, failing);
    }

    /// The notifications it took, in order.
    pub fn calls(&self) -> Vec<ApnsCall> {
        lock(&self.state).calls.clone()
    }

    /// How many requests it refused (bad credentials, topic, path; dead or failing tokens).
    pub fn refused(&self) -> usize {
        lock(&self.state).refused
    }

    /// A provider configuration for this fake, with the TEST key.
    pub fn config(&self) -> ApnsConfig {
        ApnsConfig {
            endpoint: self.endpoint.clone(),
            key_id: APNS_KEY_ID.to_owned(),
            team_id: APNS_TEAM_ID.to_owned(),
            key: super::apns_test_key(),
            topic: Some(self.topic.clone()),
            timeout: Duration::from_secs(5),
        }
    }
}

fn reason(status: StatusCode, reason: &str) -> Response {
    (status, axum::Json(json!({"reason": reason}))).into_response()
}

async fn answer(state: &Mutex<State>, clock: &dyn Clock, topic: &str, request: Request) -> Response {
    let response = check(state, clock, topic, request).await;
    if response.status() != StatusCode::OK {
        lock(state).refused += 1;
    }
    response
}

async fn check(state: &Mutex<State>, clock: &dyn Clock, topic: &str, request: Request) -> Response {
    if request.version() != Version::HTTP_2 {
        return StatusCode::HTTP_VERSION_NOT_SUPPORTED.into_response();
    }
    let Some(token) = request.uri().path().strip_prefix("/3/device/").map(str::to_owned) else {
        return reason(StatusCode::NOT_FOUND, "BadPath");
    };
    if request.method() != axum::http::Method::POST {
        return reason(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed");
    }
    let headers = request.headers().clone();
    let Ok(body) = axum::body::to_bytes(request.into_body(), 8192).await else {
        return reason(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
    };
    let jwt = match provider_token(&headers, clock) {
        Ok(jwt) => jwt,
        Err((status, why)) => return reason(status, why),
    };
    if header(&headers, "apns-topic").as_deref() != Some(topic) {
        return reason(StatusCode::BAD_REQUEST, "DeviceTokenNotForTopic");
    }
    if header(&headers, "apns-push-type").as_deref() != Some("alert") {
        return reason(StatusCode::BAD_REQUEST, "InvalidPushType");
    }
    let Some(body) = payload(&body) else {
        return reason(StatusCode::BAD_REQUEST, "PayloadEmpty");
    };
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return reason(StatusCode::BAD_REQUEST, "BadDeviceToken");
    }
    let mut state = lock(state);
    match state.script.verdict(&token) {
        Verdict::Dead => return reason(StatusCode::GONE, "Unregistered"),
        Verdict::Failing => return reason(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
        Verdict::Take => {}
    }
    state.calls.push(ApnsCall {
        token,
        jwt,
        apns_id: header(&headers, "apns-id"),
        collapse_id: header(&headers, "apns-collapse-id"),
        body,
    });
    StatusCode::OK.into_response()
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

/// The body, if it is JSON with an `aps.alert`.
fn payload(body: &Bytes) -> Option<Value> {
    let body: Value = serde_json::from_slice(body).ok()?;
    body["aps"]["alert"].is_object().then_some(body)
}

/// The provider token of `headers`, verified as Apple does; else the status and reason Apple
/// would answer.
fn provider_token(headers: &HeaderMap, clock: &dyn Clock) -> Result<String, (StatusCode, &'static str)> {
    let missing = (StatusCode::FORBIDDEN, "MissingProviderToken");
    let invalid = (StatusCode::FORBIDDEN, "InvalidProviderToken");
    let value = header(headers, "authorization").ok_or(missing)?;
    let jwt = value.strip_prefix("bearer ").ok_or(missing)?.to_owned();
    let head = jsonwebtoken::decode_header(&jwt).map_err(|_| invalid)?;
    if head.alg != Algorithm::ES256 || head.kid.as_deref() != Some(APNS_KEY_ID) {
        return Err(invalid);
    }
    let key = DecodingKey::from_ec_pem(APNS_TEST_PUBLIC_KEY.as_bytes()).map_err(|_| invalid)?;
    let mut validation = Validation::new(Algorithm::ES256);
    // Provider tokens carry no `exp`: their age is judged by `iat`.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<ProviderClaims>(&jwt, &key, &validation)
        .map_err(|_| invalid)?
        .claims;
    if claims.iss != APNS_TEAM_ID {
        return Err(invalid);
    }
    let age_s = clock.now_ms().div_euclid(1000) - claims.iat;
    if age_s >= 3600 {
        return Err((StatusCode::FORBIDDEN, "ExpiredProviderToken"));
    }
    Ok(jwt)
}
