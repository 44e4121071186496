//! The HTTP side: API Gateway's `@connections` management API (POST / GET / DELETE, 410 for
//! unknown ids) so `aws-sdk-apigatewaymanagement` works against the local stack unchanged, and the
//! HTTP API (`/v4/...` server REST API, `/v1/auth/...` logins): in-process the `api` function's
//! own router, mounted as it is; under `--invoke-url` each request is turned into the HTTP API
//! event API Gateway would send and handed to the remote `api` function.

use crate::functions::{Functions, RemoteFunctions};
use crate::hub::{Hub, Outbound};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{any, get};
use cirrus_core::ids::ConnectionId;
use cirrus_core::ports::PostOutcome;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

/// Largest HTTP API request body: the `api` function's own limit, so the local stack and Lambda
/// refuse the same bodies with the same coded error.
const MAX_API_BODY: usize = cirrus_handlers::api::MAX_BODY_BYTES;

/// The router of the HTTP API: the REST API and logins (its `$default` stage at the root) and
/// `/health`. `@connections` is not here: it has a listener of its own ([`connections_router`]).
pub fn router(functions: Functions) -> Router {
    let api = match functions {
        Functions::InProcess { api, .. } => api,
        Functions::Remote(remote) => Router::new()
            .route("/v1/{*rest}", any(forward))
            .route("/v4/{*rest}", any(forward))
            .with_state(remote),
    };
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(api.layer(DefaultBodyLimit::max(MAX_API_BODY)))
}

/// Hands one request to the remote `api` function as an HTTP API event and answers with its
/// response.
async fn forward(
    State(remote): State<RemoteFunctions>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_API_BODY).await else {
        return cirrus_handlers::api::body_too_large(parts.uri.path());
    };
    let body = (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned());
    let event = crate::events::http_request(
        parts.method,
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        body,
        Some(peer.ip().to_string()),
    );
    let answer = remote.api(&event).await;
    let status = u16::try_from(answer.status_code)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = match answer.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => text,
        Some(aws_lambda_events::encodings::Body::Binary(bytes)) => {
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => String::new(),
    };
    let mut response = (status, text).into_response();
    response.headers_mut().extend(answer.headers);
    response
}

/// The router of the `@connections` management API: its paths with and without a stage prefix,
/// as on AWS, and `/health`.
pub fn connections_router(hub: Arc<Hub>, max_message_bytes: usize) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/@connections/{connection_id}",
            get(info).post(post).delete(delete),
        )
        .route(
            "/{stage}/@connections/{connection_id}",
            get(info).post(post).delete(delete),
        )
        .layer(DefaultBodyLimit::max(max_message_bytes))
        .with_state(hub)
}

fn gone() -> Response {
    (
        StatusCode::GONE,
        Json(serde_json::json!({"message": "GoneException"})),
    )
        .into_response()
}

fn connection(params: &HashMap<String, String>) -> Option<ConnectionId> {
    params
        .get("connection_id")
        .and_then(|raw| ConnectionId::parse(raw.as_str()).ok())
}

/// `POST /@connections/{id}`: sends the body to the connection as one frame.
async fn post(
    State(hub): State<Arc<Hub>>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let Some(id) = connection(&params) else {
        return gone();
    };
    let frame = match axum::extract::ws::Utf8Bytes::try_from(body.clone()) {
        Ok(text) => Outbound::Text(text),
        Err(_) => Outbound::Binary(body),
    };
    match hub.post(&id, frame) {
        PostOutcome::Delivered => StatusCode::OK.into_response(),
        PostOutcome::Gone => gone(),
        PostOutcome::Deferred => throttled(),
    }
}

/// `GET /@connections/{id}`: the connection's times and identity, in API Gateway's shape.
async fn info(State(hub): State<Arc<Hub>>, Path(params): Path<HashMap<String, String>>) -> Response {
    let Some(socket) = connection(&params).and_then(|id| hub.get(&id)) else {
        return gone();
    };
    let last_active = u64::try_from(socket.last_active_ms.load(Ordering::Relaxed)).unwrap_or_default();
    let last_active = SystemTime::UNIX_EPOCH + Duration::from_millis(last_active);
    Json(serde_json::json!({
        "connectedAt": humantime::format_rfc3339_millis(socket.connected_at).to_string(),
        "lastActiveAt": humantime::format_rfc3339_millis(last_active).to_string(),
        "identity": {
            "sourceIp": socket.source_ip.map(|addr| addr.ip().to_string()),
            "userAgent": socket.user_agent,
        },
    }))
    .into_response()
}

/// `DELETE /@connections/{id}`: closes the connection (its `$disconnect` runs as usual).
async fn delete(State(hub): State<Arc<Hub>>, Path(params): Path<HashMap<String, String>>) -> Response {
    let Some(id) = connection(&params) else {
        return gone();
    };
    match hub.post(&id, Outbound::Close(1000, "Connection deleted")) {
        PostOutcome::Delivered => StatusCode::NO_CONTENT.into_response(),
        PostOutcome::Gone => gone(),
        PostOutcome::Deferred => throttled(),
    }
}

/// API Gateway's throttling answer, for a post the hub deferred.
fn throttled() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        Json(serde_json::json!({"message": "Too Many Requests"})),
    )
        .into_response()
}
