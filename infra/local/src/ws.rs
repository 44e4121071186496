//! The WebSocket API emulation: `$connect` with its authorizer, route selection on `action`,
//! route responses, `$disconnect`, and API Gateway's idle, duration and size limits.

use crate::events;
use crate::functions::{AuthFailure, Functions};
use crate::hub::{Hub, OUTBOUND_QUEUE, Outbound, Socket, now_ms};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cirrus_core::clock::IdGen;
use cirrus_core::ids::ConnectionId;
use cirrus_core::protocol::Action;
use cirrus_handlers::authorizer::is_allowed;
use futures_util::SinkExt as _;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite;

/// Read buffer per socket.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// API Gateway's per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct SocketLimits {
    /// Close after this long without an inbound frame (API Gateway: 10 minutes).
    pub idle_timeout: Duration,
    /// Close after this long in any case (API Gateway: 2 hours).
    pub max_duration: Duration,
    /// Largest inbound message; larger ones close the socket with 1009 (API Gateway: 128 KB).
    pub max_message_bytes: usize,
}

impl Default for SocketLimits {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(10 * 60),
            max_duration: Duration::from_secs(2 * 60 * 60),
            max_message_bytes: 128 * 1024,
        }
    }
}

/// Shared state of the WebSocket endpoint.
#[derive(Clone)]
pub struct WsState {
    /// Who runs the route handlers and the authorizer.
    pub functions: Functions,
    /// Live sockets.
    pub hub: Arc<Hub>,
    /// Connection id source.
    pub ids: Arc<dyn IdGen>,
    /// Limits.
    pub limits: SocketLimits,
    /// Flips to true at shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// Counts running socket tasks so shutdown can wait for their `$disconnect`.
    pub tasks: Arc<crate::TaskCount>,
}

/// `GET /?token=…[&platform=…]`: authorizes, runs `$connect`, then upgrades to a WebSocket.
pub async fn upgrade(
    State(state): State<WsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let verdict = state
        .functions
        .authorize(&events::authorizer_request(&query, &headers))
        .await;
    let context: HashMap<String, Value> = match verdict {
        Err(AuthFailure::Unauthorized) => return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response(),
        Err(AuthFailure::Broken) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error").into_response();
        }
        Ok(policy) if !is_allowed(&policy) => return (StatusCode::FORBIDDEN, "Forbidden").into_response(),
        Ok(policy) => match policy.context {
            Value::Object(map) => map.into_iter().collect(),
            _ => HashMap::new(),
        },
    };

    let id = state.ids.connection_id();
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let user_agent = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(user) = context
        .get(cirrus_handlers::context::USER_ID_KEY)
        .and_then(|u| u.as_str())
    else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "authorizer context lacks the user",
        )
            .into_response();
    };
    let Ok(user) = cirrus_core::ids::UserId::parse(user) else {
        return (StatusCode::FORBIDDEN, "Forbidden").into_response();
    };
    // Registered before `$connect` runs so that nothing posted to the new connection in between
    // is answered with Gone (which would delete the record just written).
    let socket = Arc::new(Socket {
        tx,
        user,
        connected_at: SystemTime::now(),
        last_active_ms: AtomicI64::new(now_ms()),
        source_ip: Some(peer),
        user_agent,
    });
    state.hub.insert(id.clone(), socket.clone());
    let connected = state
        .functions
        .connect(events::connect_request(&id, &context, &query))
        .await;
    if connected.status_code != 200 {
        state.hub.remove(&id);
        let status = StatusCode::from_u16(u16::try_from(connected.status_code).unwrap_or(500))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, body_text(connected.body)).into_response();
    }

    let limit = state.limits.max_message_bytes;
    let failed_state = state.clone();
    let failed_id = id.clone();
    let failed_context = context.clone();
    upgrade
        // Small read chunks: tungstenite zero-fills its read buffer, and 10,000 idle sockets must
        // stay cheap; API Gateway frames are 32 KB at most anyway.
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_failed_upgrade(move |err| {
            tracing::info!(error = %err, "WebSocket upgrade failed after $connect");
            tokio::spawn(async move { disconnect(&failed_state, &failed_id, &failed_context).await });
        })
        .on_upgrade(move |ws| serve(state, id, context, socket, ws, rx))
}

fn body_text(body: Option<aws_lambda_events::encodings::Body>) -> String {
    match body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => text,
        _ => String::new(),
    }
}

/// Runs one socket until it closes: inbound frames are routed to the handlers one at a time (so a
/// client's requests are answered in order), queued outbound frames are written in batches.
async fn serve(
    state: WsState,
    id: ConnectionId,
    context: HashMap<String, Value>,
    socket: Arc<Socket>,
    mut ws: WebSocket,
    mut rx: mpsc::Receiver<Outbound>,
) {
    let _running = state.tasks.enter();
    let idle = tokio::time::sleep(state.limits.idle_timeout);
    let max = tokio::time::sleep(state.limits.max_duration);
    tokio::pin!(idle, max);
    let mut shutdown = state.shutdown.clone();
    let close: Option<(u16, &'static str)> = loop {
        tokio::select! {
            inbound = ws.recv() => {
                let frame = match inbound {
                    None => break None,
                    Some(Err(err)) => break receive_error(err),
                    Some(Ok(frame)) => frame,
                };
                socket.touch();
                idle.as_mut().reset(tokio::time::Instant::now() + state.limits.idle_timeout);
                let reply = match frame {
                    Message::Text(text) => route(&state, &id, &context, text.as_str()).await,
                    Message::Binary(_) => binary_refusal(),
                    Message::Close(_) => break None,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                // An empty route response (logout's reply, already posted) sends no frame.
                if !reply.is_empty() && ws.send(Message::Text(reply)).await.is_err() {
                    break None;
                }
            }
            outbound = rx.recv() => {
                let Some(first) = outbound else { break None };
                match write_batch(&mut ws, &mut rx, first).await {
                    Ok(None) => {}
                    Ok(Some(close)) => break Some(close),
                    Err(_) => break None,
                }
            }
            () = &mut idle => break Some((1001, "Going away")),
            () = &mut max => break Some((1001, "Going away")),
            _ = shutdown.changed() => break Some((1001, "Server is shutting down")),
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = ws.send(Message::Close(Some(frame))).await;
    }
    disconnect(&state, &id, &context).await;
}

/// Writes `first` and whatever else is queued (up to a bound) with one flush.
async fn write_batch(
    ws: &mut WebSocket,
    rx: &mut mpsc::Receiver<Outbound>,
    first: Outbound,
) -> Result<Option<(u16, &'static str)>, axum::Error> {
    const MAX_BATCH: usize = 256;
    let mut next = Some(first);
    let mut written = 0;
    while let Some(frame) = next.take() {
        match frame {
            Outbound::Text(text) => ws.feed(Message::Text(text)).await?,
            Outbound::Binary(data) => ws.feed(Message::Binary(data)).await?,
            Outbound::Close(code, reason) => {
                ws.flush().await?;
                return Ok(Some((code, reason)));
            }
        }
        written += 1;
        if written < MAX_BATCH {
            next = rx.try_recv().ok();
        }
    }
    ws.flush().await?;
    Ok(None)
}

/// A receive error: an oversize message closes with 1009 as API Gateway does; anything else is a
/// broken socket.
fn receive_error(err: axum::Error) -> Option<(u16, &'static str)> {
    match err.into_inner().downcast::<tungstenite::Error>() {
        Ok(err) if matches!(*err, tungstenite::Error::Capacity(_)) => Some((1009, "Message too big")),
        _ => None,
    }
}

fn binary_refusal() -> Utf8Bytes {
    let err = cirrus_core::Error::InvalidField("binary frames are not supported; send JSON text".to_owned());
    cirrus_core::protocol::reply_err(None, &err).into()
}

/// Route selection on `$request.body.action`: a known action is its own route, anything else
/// (including bad JSON) goes to `$default`. Every route is served by the message handler.
async fn route(
    state: &WsState,
    id: &ConnectionId,
    context: &HashMap<String, Value>,
    body: &str,
) -> Utf8Bytes {
    #[derive(serde::Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        action: Option<Cow<'a, str>>,
    }
    let route_key = serde_json::from_str::<Probe<'_>>(body)
        .ok()
        .and_then(|probe| probe.action)
        .and_then(|action| Action::from_name(&action))
        .map_or("$default", Action::name);
    let request = events::websocket_request(route_key, "MESSAGE", id, context, Some(body.to_owned()));
    let response = state.functions.message(request).await;
    body_text(response.body).into()
}

async fn disconnect(state: &WsState, id: &ConnectionId, context: &HashMap<String, Value>) {
    state.hub.remove(id);
    let request = events::websocket_request("$disconnect", "DISCONNECT", id, context, None);
    state.functions.disconnect(request).await;
}
