//! [`FcmFake`]: FCM's HTTP v1 send API and a Google-style OAuth2 token endpoint on 127.0.0.1.

use super::{FCM_CLIENT_EMAIL, FCM_PROJECT, FCM_TEST_KEY, FCM_TEST_PUBLIC_KEY, Script, Verdict, lock, serve};
use crate::KeyMaterial;
use crate::fcm::{AssertionClaims, FcmConfig, SCOPE, ServiceAccount};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cirrus_core::clock::Clock;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One message the fake took.
#[derive(Debug, Clone)]
pub struct FcmCall {
    /// The access token it was authorized with.
    pub bearer: String,
    /// The `message` object.
    pub message: Value,
}

struct State {
    /// Where assertions must be addressed (`aud`).
    token_uri: String,
    expires_in: i64,
    issued_count: usize,
    /// Issued access tokens and when each expires, ms by the fake's clock.
    issued: HashMap<String, i64>,
    script: Script,
    calls: Vec<FcmCall>,
    unauthorized: usize,
}

/// FCM on a loopback port. `/token` takes an RS256 assertion of the TEST service account (checked
/// against [`FCM_TEST_PUBLIC_KEY`]: `iss`, `aud`, `scope`, `exp`) and issues `tok-<n>` valid for
/// `expires_in` seconds by its clock; `messages:send` answers 401 to any other or expired token.
#[derive(Clone)]
pub struct FcmFake {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FcmFake {
    /// Starts a fake whose access tokens last `expires_in` seconds by `clock`.
    pub async fn start(expires_in: i64, clock: Arc<dyn Clock>) -> Self {
        let state = Arc::new(Mutex::new(State {
            token_uri: String::new(),
            expires_in,
            issued_count: 0,
            issued: HashMap::new(),
            script: Script::default(),
            calls: Vec::new(),
            unauthorized: 0,
        }));
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |request: Request| {
            let state = shared.clone();
            let clock = clock.clone();
            async move { answer(&state, clock.as_ref(), request).await }
        });
        let endpoint = serve(app).await;
        lock(&state).token_uri = format!("{endpoint}/token");
        Self { endpoint, state }
    }

    /// The TEST service account, its `token_uri` this fake's.
    pub fn service_account(&self) -> ServiceAccount {
        ServiceAccount {
            client_email: FCM_CLIENT_EMAIL.to_owned(),
            private_key: KeyMaterial::new(FCM_TEST_KEY),
            token_uri: format!("{}/token", self.endpoint),
            project_id: FCM_PROJECT.to_owned(),
        }
    }

    /// A provider configuration for this fake.
    pub fn config(&self) -> FcmConfig {
        FcmConfig {
            account: self.service_account(),
            endpoint: self.endpoint.clone(),
            timeout: Duration::from_secs(5),
        }
    }

    /// From now on `token` is answered 404 `UNREGISTERED`.
    pub fn mark_dead(&self, token: &str) {
        lock(&self.state).script.mark_dead(token);
    }

    /// From now on `token` is answered 503.
    pub fn set_failing(&self, token: &str, failing: bool) {
        lock(&self.state).script.set_failing(token, failing);
    }

    /// Revokes every access token issued so far (the next send with one gets 401).
    pub fn revoke_all(&self) {
        lock(&self.state).issued.clear();
    }

    /// How many access tokens the token endpoint issued.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.state).issued_count
    }

    /// How many sends were answered 401.
    pub fn unauthorized(&self) -> usize {
        lock(&self.state).unauthorized
    }

    /// The messages it took, in order.
    pub fn calls(&self) -> Vec<FcmCall> {
        lock(&self.state).calls.clone()
    }
}

fn error(status: StatusCode, name: &str, code: Option<&str>) -> Response {
    let details: Vec<Value> = code
        .map(
            |code| json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}),
        )
        .into_iter()
        .collect();
    let body =
        json!({"error": {"code": status.as_u16(), "message": name, "status": name, "details": details}});
    (status, axum::Json(body)).into_response()
}

async fn answer(state: &Mutex<State>, clock: &dyn Clock, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let Ok(body) = axum::body::to_bytes(request.into_body(), 65536).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    if path == "/token" {
        token(state, clock, &body)
    } else if path == format!("/v1/projects/{FCM_PROJECT}/messages:send") {
        send(state, clock, &headers, &body)
    } else {
        error(StatusCode::NOT_FOUND, "NOT_FOUND", None)
    }
}

/// The token endpoint: a form with the jwt-bearer grant and a valid assertion gets a token.
fn token(state: &Mutex<State>, clock: &dyn Clock, form: &str) -> Response {
    let fields: HashMap<&str, &str> = form.split('&').filter_map(|pair| pair.split_once('=')).collect();
    let grant = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";
    if fields.get("grant_type") != Some(&grant) {
        return oauth_error("unsupported_grant_type");
    }
    let Some(assertion) = fields.get("assertion") else {
        return oauth_error("invalid_request");
    };
    let Ok(key) = DecodingKey::from_rsa_pem(FCM_TEST_PUBLIC_KEY.as_bytes()) else {
        return oauth_error("invalid_grant");
    };
    let token_uri = lock(state).token_uri.clone();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[token_uri]);
    // `exp` is judged by the fake's clock below, which tests move.
    validation.validate_exp = false;
    let Ok(data) = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation) else {
        return oauth_error("invalid_grant");
    };
    let claims = data.claims;
    let now_s = clock.now_ms().div_euclid(1000);
    let fresh = claims.iat <= now_s + 60 && now_s < claims.exp && claims.exp - claims.iat <= 3600;
    if claims.iss != FCM_CLIENT_EMAIL || claims.scope != SCOPE || !fresh {
        return oauth_error("invalid_grant");
    }
    let mut state = lock(state);
    state.issued_count += 1;
    let access = format!("tok-{}", state.issued_count);
    let expires_in = state.expires_in;
    state
        .issued
        .insert(access.clone(), clock.now_ms() + expires_in * 1000);
    axum::Json(json!({"access_token": access, "expires_in": expires_in, "token_type": "Bearer"}))
        .into_response()
}

fn oauth_error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": code}))).into_response()
}

/// `messages:send`: a live access token and a message with a token and a notification.
fn send(state: &Mutex<State>, clock: &dyn Clock, headers: &HeaderMap, body: &str) -> Response {
    let mut state = lock(state);
    let bearer = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let live = state
        .issued
        .get(&bearer)
        .is_some_and(|expiry| clock.now_ms() < *expiry);
    if !live {
        state.unauthorized += 1;
        return error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", None);
    }
    let Ok(body) = serde_json::from_str::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", None);
    };
    let message = body["message"].clone();
    let Some(token) = message["token"].as_str().map(str::to_owned) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            Some("INVALID_ARGUMENT"),
        );
    };
    if !message["notification"]["title"].is_string() {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            Some("INVALID_ARGUMENT"),
        );
    }
    match state.script.verdict(&token) {
        Verdict::Dead => return error(StatusCode::NOT_FOUND, "NOT_FOUND", Some("UNREGISTERED")),
        Verdict::Failing => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                Some("UNAVAILABLE"),
            );
        }
        Verdict::Take => {}
    }
    state.calls.push(FcmCall { bearer, message });
    let name = format!("projects/{FCM_PROJECT}/messages/{}", state.calls.len());
    axum::Json(json!({"name": name})).into_response()
}
