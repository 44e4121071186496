//! The HTTP API (`api` function): the server REST API for the app's administrator (Tencent's
//! `/v4/...` shape) and the login endpoints for hosted, third-party and guest accounts
//! (`/v1/auth/...`), as one axum [`Router`]. On Lambda `lambda_http` serves it behind the HTTP
//! API (payload format 2.0); the local stack mounts it on its HTTP listener as it is.

mod admin;
mod admin_msg;
mod admin_social;
mod login;

use crate::deps::Deps;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use cirrus_auth::{IssuerConfigError, OidcVerifier, TrustedIssuer};
use cirrus_core::usersig::UserSigKey;
use serde::Serialize;
use std::sync::Arc;
use tracing::Instrument as _;

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
