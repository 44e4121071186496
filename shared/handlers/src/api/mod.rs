//! The HTTP API (`api` function): the server REST API for the app's administrator (Tencent's
//! `/v4/...` shape) and the login endpoints for hosted, third-party and guest accounts
//! (`/v1/auth/...`), as one axum [`Router`]. On Lambda `lambda_http` serves it behind the HTTP
//! API (payload format 2.0); the local stack mounts it on its HTTP listener as it is.

mod admin;
mod admin_accounts;
mod admin_callback;
mod admin_group;
mod admin_group_members;
mod admin_msg;
mod admin_social;
mod login;
mod tim_body;

use crate::deps::Deps;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use cirrus_auth::{IssuerConfigError, OidcVerifier, TrustedIssuer};
use cirrus_core::usersig::UserSigKey;
use serde::Serialize;
use std::sync::Arc;
use tracing::Instrument as _;

/// Largest request body the HTTP API takes, in bytes (1 MiB), on Lambda and on the local stack
/// alike: a larger one is refused with 413 and a coded error ([`body_too_large`]) before any
/// handler runs. The biggest legitimate body (`batchsendmsg` to 500 users with a full message)
/// is far below it.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The answer to a body over [`MAX_BODY_BYTES`]: HTTP 413 with, under `/v4/`, Tencent's shape and
/// `ErrorCode` 70413, and otherwise `{"error":{"code":"body_too_large"}}`.
pub fn body_too_large(path: &str) -> Response {
    let message = format!("the request body is over {MAX_BODY_BYTES} bytes");
    let body = if path.contains("/v4/") {
        serde_json::json!({"ActionStatus": "FAIL", "ErrorCode": BODY_TOO_LARGE_CODE, "ErrorInfo": message})
    } else {
        serde_json::json!({"error": {"code": "body_too_large", "message": message}})
    };
    json(StatusCode::PAYLOAD_TOO_LARGE, &body)
}

/// The REST API's `ErrorCode` for a body over the limit (Cirrus's own number, after HTTP 413).
pub const BODY_TOO_LARGE_CODE: u32 = 70413;

/// Refuses a body over [`MAX_BODY_BYTES`] (by its `Content-Length`, or once reading it passes the
/// limit) and hands the handlers the body read, so every route has the same limit whatever its
/// extractor (axum's own default is 2 MB).
async fn limited(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return body_too_large(&path);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return body_too_large(&path);
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// What the HTTP API needs besides the services.
pub struct Api {
    deps: Deps,
    key: UserSigKey,
    oidc: Option<OidcVerifier>,
    /// `{alias}_` of every trusted issuer: federated ids live there, so nobody may register one.
    federated_prefixes: Vec<String>,
}

/// The state every route handler shares.
type Shared = Arc<Api>;

impl Api {
    /// The HTTP API over `deps`, minting and checking UserSigs with `key`, verifying ID tokens from
    /// `issuers` (third-party login is off when there are none).
    pub fn new(deps: Deps, key: UserSigKey, issuers: Vec<TrustedIssuer>) -> Result<Self, IssuerConfigError> {
        let federated_prefixes = issuers.iter().map(|i| format!("{}_", i.alias)).collect();
        let oidc = if issuers.is_empty() {
            None
        } else {
            Some(OidcVerifier::new(issuers)?)
        };
        Ok(Self {
            deps,
            key,
            oidc,
            federated_prefixes,
        })
    }

    /// Every route of the HTTP API: `POST /v4/{service}/{command}` and `POST /v1/auth/{op}`, at the
    /// root and under one leading segment (a named API Gateway stage: `/prod/v4/...`), no deeper.
    pub fn router(self) -> Router {
        let routes = admin::routes().merge(login::routes());
        Router::new()
            .merge(routes.clone())
            .nest("/{stage}", routes)
            .layer(axum::middleware::from_fn(limited))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(axum::middleware::from_fn(traced))
            .with_state(Arc::new(self))
    }
}

/// One span per request, so the handlers' events say which call they belong to.
async fn traced(request: Request, next: Next) -> Response {
    let span = tracing::debug_span!("http_api", method = %request.method(), path = request.uri().path());
    next.run(request).instrument(span).await
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response {
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

    use super::Api;
    use crate::deps::Deps;
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use cirrus_core::clock::{SystemClock, UuidIds};
    use cirrus_core::service::{Ports, Stores};
    use cirrus_core::usersig::{DEV_APP_ID, DEV_SECRET_KEY, UserSigKey};
    use cirrus_embedded::SqliteStore;
    use lambda_http::tower::ServiceExt as _;
    use serde_json::Value;
    use std::sync::Arc;

    /// The HTTP API over an in-memory store, with guests on and hosted accounts off.
    fn router() -> Router {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let gateway = Arc::new(NoGateway);
        let mut ports = Ports::new(
            Stores::of(store),
            gateway,
            Arc::new(SystemClock),
            Arc::new(UuidIds),
        );
        ports.limits.accounts.guests = true;
        ports.limits.accounts.hosted = false;
        let key = UserSigKey::new(DEV_APP_ID, DEV_SECRET_KEY);
        Api::new(Deps::new(&ports), key, Vec::new()).unwrap().router()
    }

    struct NoGateway;

    #[async_trait::async_trait]
    impl cirrus_core::ports::ConnectionGateway for NoGateway {
        async fn post(
            &self,
            _: &cirrus_core::ids::ConnectionId,
            _: bytes::Bytes,
        ) -> cirrus_core::Result<cirrus_core::ports::PostOutcome> {
            Ok(cirrus_core::ports::PostOutcome::Gone)
        }

        async fn close(&self, _: &cirrus_core::ids::ConnectionId) -> cirrus_core::Result<()> {
            Ok(())
        }
    }

    /// Sends one request; the status, the headers and the JSON answer (`null` if none).
    async fn call(method: &str, path: &str, body: &str) -> (StatusCode, header::HeaderMap, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = router().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (parts.status, parts.headers, json)
    }

    #[tokio::test]
    async fn bodies_over_one_mib_are_refused_with_a_coded_error_in_each_familys_shape() {
        // GIVEN bodies of 1.5 MiB (under axum's own 2 MB default), one byte over the limit, and
        // one at it
        let big = "x".repeat(super::MAX_BODY_BYTES * 3 / 2);
        let over = " ".repeat(super::MAX_BODY_BYTES + 1);
        for body in [&big, &over] {
            // WHEN sent to a REST command THEN 413 with Tencent's shape and 70413
            let (status, _, answer) = call("POST", "/v4/im_open_login_svc/account_import", body).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{} bytes", body.len());
            assert_eq!(answer["ActionStatus"], "FAIL");
            assert_eq!(answer["ErrorCode"], super::BODY_TOO_LARGE_CODE);
            // AND to a login endpoint THEN 413 with a stable code
            let (status, _, answer) = call("POST", "/prod/v1/auth/guest", body).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{} bytes", body.len());
            assert_eq!(answer["error"]["code"], "body_too_large");
        }
        // AND a body at the limit reaches the endpoint (here: whitespace, not JSON, but a guest
        // login reads no body)
        let at = " ".repeat(super::MAX_BODY_BYTES);
        let (status, _, answer) = call("POST", "/v1/auth/guest", &at).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    #[tokio::test]
    async fn routes_ignore_a_stage_prefix_but_nothing_deeper() {
        // GIVEN guest access on: a guest login answers 200 with a token
        let (status, headers, answer) = call("POST", "/v1/auth/guest", "{}").await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert!(answer["userSig"].is_string(), "{answer}");
        // WHEN the same path comes under a stage THEN it routes the same
        let (status, _, answer) = call("POST", "/prod/v1/auth/guest", "{}").await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        // AND two leading segments are no route
        let (status, _, _) = call("POST", "/a/b/v1/auth/guest", "{}").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // AND a /v4 command under a stage still asks for the administrator's token
        let (status, _, answer) = call("POST", "/prod/v4/openim/query_online_status", "{}").await;
        assert_eq!(
            (status, &answer["ErrorCode"]),
            (StatusCode::OK, &Value::from(70003))
        );
    }

    #[tokio::test]
    async fn unknown_endpoints_and_methods_answer_in_each_familys_shape() {
        // GIVEN no such login endpoint THEN 404 with a stable code
        let (status, _, answer) = call("POST", "/v1/auth/nothing", "{}").await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        // AND a login endpoint answers only POST
        let (status, _, answer) = call("GET", "/v1/auth/guest", "").await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        // AND a REST command called with GET is an unknown command (Tencent answers 200 and a code)
        let (status, _, answer) = call("GET", "/v4/openim/sendmsg", "").await;
        assert_eq!(
            (status, &answer["ErrorCode"]),
            (StatusCode::OK, &Value::from(70404))
        );
        // AND any other /v4 path asks for the administrator's token first
        let (status, _, answer) = call("POST", "/v4/a/b/c", "{}").await;
        assert_eq!(
            (status, &answer["ErrorCode"]),
            (StatusCode::OK, &Value::from(70003))
        );
    }

    #[tokio::test]
    async fn the_administrators_commands_check_the_token_then_run() {
        // GIVEN the administrator's token
        let key = UserSigKey::new(DEV_APP_ID, DEV_SECRET_KEY);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let usersig = key.mint("administrator", i64::try_from(now).unwrap(), 3600);
        let query = format!(
            "sdkappid={DEV_APP_ID}&identifier=administrator&usersig={usersig}&random=1&contenttype=json"
        );
        // WHEN an unknown command comes with it THEN 70404
        let (_, _, answer) = call("POST", &format!("/v4/openim/nothing?{query}"), "{}").await;
        assert_eq!(answer["ErrorCode"], 70404, "{answer}");
        // AND a bad body is a bad parameter
        let (_, _, answer) = call(
            "POST",
            &format!("/v4/im_open_login_svc/account_check?{query}"),
            "[",
        )
        .await;
        assert_eq!(answer["ErrorCode"], 70402, "{answer}");
        // AND a good one runs
        let body = r#"{"CheckItem":[{"UserID":"zed"}]}"#;
        let (_, _, answer) = call(
            "POST",
            &format!("/v4/im_open_login_svc/account_check?{query}"),
            body,
        )
        .await;
        assert_eq!(answer["ActionStatus"], "OK", "{answer}");
        assert_eq!(answer["ResultItem"][0]["AccountStatus"], "NotImported");
    }
}
