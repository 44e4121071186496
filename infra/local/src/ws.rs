//! The WebSocket API emulation: `$connect` with its authorizer, route selection on `action`,
//! route responses, `$disconnect`, and API Gateway's idle, duration and size limits.

use crate::events;
use crate::functions::{AuthFailure, Functions};
use crate::hub::{Hub, OUTBOUND_QUEUE, Outbound, SLOW_CONSUMER, Socket};
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite;

/// Read buffer per socket.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// The longest one write to a socket may take (a reply, or a batch of queued frames) before the
/// client counts as not reading and is cut off.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the close frame may take to go out before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a socket's task stops: a close frame to send, or none (the socket is broken or closed).
type Closing = Option<(u16, &'static str)>;

/// What ends a socket whatever its task is doing: the idle and maximum-duration timers, the
/// shutdown, and the hub cutting it off as a slow consumer.
struct Stops<'a> {
    idle: std::pin::Pin<&'a mut tokio::time::Sleep>,
    max: std::pin::Pin<&'a mut tokio::time::Sleep>,
    shutdown: watch::Receiver<bool>,
    socket: &'a Socket,
}

impl Stops<'_> {
    /// Resolves with the close frame to send when one of the stops fires.
    async fn fired(&mut self) -> Closing {
        tokio::select! {
            () = self.idle.as_mut() => Some((1001, "Going away")),
            () = self.max.as_mut() => Some((1001, "Going away")),
            _ = self.shutdown.changed() => Some((1001, "Server is shutting down")),
            () = self.socket.killed() => Some(SLOW_CONSUMER),
        }
    }

    /// Runs one write to the socket, for at most [`WRITE_TIMEOUT`] and only until a stop fires:
    /// `Ok` with what the write asked for, `Err` with how the socket must close instead.
    async fn write<F>(&mut self, write: F) -> Result<Closing, Closing>
    where
        F: std::future::Future<Output = Result<Closing, axum::Error>>,
    {
        tokio::select! {
            written = tokio::time::timeout(WRITE_TIMEOUT, write) => match written {
                Ok(Ok(closing)) => Ok(closing),
                Ok(Err(_)) => Err(None),
                Err(_) => Err(Some(SLOW_CONSUMER)),
            },
            closing = self.fired() => Err(closing),
        }
    }
}

/// API Gateway's per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct SocketLimits {
    /// Close after this long without an inbound frame (API Gateway: 10 minutes).
    pub idle_timeout: Duration,
    /// Close after this long in any case (API Gateway: 2 hours).
    pub max_duration: Duration,
    /// Largest inbound message; larger ones close the socket with 1009 (API Gateway: 128 KB).
    pub max_message_bytes: usize,
    /// How long a connection may take to send its request headers (a WebSocket handshake, an
    /// HTTP API request) before it is closed.
    pub header_read_timeout: Duration,
    /// Connections per listener in their HTTP phase at once (handshakes in flight, HTTP API
    /// connections); more wait in the kernel's backlog.
    pub max_http_connections: usize,
}

impl Default for SocketLimits {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(10 * 60),
            max_duration: Duration::from_secs(2 * 60 * 60),
            max_message_bytes: 128 * 1024,
            header_read_timeout: Duration::from_secs(10),
            max_http_connections: 1024,
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
    let socket = Arc::new(Socket::new(tx, user, Some(peer), user_agent));
    state.hub.insert(id.clone(), socket.clone());
    // From here until its task takes over, the connection is ended by this guard's drop, however
    // the upgrade ends: a refused `$connect`, a failed upgrade, or the client resetting mid-way
    // (which drops this very future). Without it such a connection stayed "online" for good.
    let pending = Arc::new(Pending {
        state: state.clone(),
        id: id.clone(),
        context: context.clone(),
        // Until `$connect` answers, its record may or may not have been written.
        recorded: AtomicBool::new(true),
        handed_over: AtomicBool::new(false),
    });
    let connected = state
        .functions
        .connect(events::connect_request(&id, &context, &query))
        .await;
    if connected.status_code != 200 {
        // A refused `$connect` writes nothing.
        pending.recorded.store(false, Ordering::Release);
        let status = StatusCode::from_u16(u16::try_from(connected.status_code).unwrap_or(500))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, body_text(connected.body)).into_response();
    }

    let limit = state.limits.max_message_bytes;
    let failed = pending.clone();
    upgrade
        // Small read chunks: tungstenite zero-fills its read buffer, and 10,000 idle sockets must
        // stay cheap; API Gateway frames are 32 KB at most anyway.
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_failed_upgrade(move |err| {
            tracing::info!(error = %err, "WebSocket upgrade failed after $connect");
            drop(failed);
        })
        .on_upgrade(move |ws| {
            pending.handed_over.store(true, Ordering::Release);
            serve(state, id, context, socket, ws, rx)
        })
}

/// A connection between its registration in the hub and its socket's task: dropped without being
/// handed over, it is removed from the hub, and `$disconnect` runs unless `$connect` refused it.
struct Pending {
    state: WsState,
    id: ConnectionId,
    context: HashMap<String, Value>,
    recorded: AtomicBool,
    handed_over: AtomicBool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.handed_over.load(Ordering::Acquire) {
            return;
        }
        self.state.hub.remove(&self.id);
        if self.recorded.load(Ordering::Acquire) {
            let (state, id, context) = (
                self.state.clone(),
                self.id.clone(),
                std::mem::take(&mut self.context),
            );
            tokio::spawn(async move { disconnect(&state, &id, &context).await });
        }
    }
}

fn body_text(body: Option<aws_lambda_events::encodings::Body>) -> String {
    match body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => text,
        _ => String::new(),
    }
}

/// Runs one socket until it closes: inbound frames are routed to the handlers one at a time (so a
/// client's requests are answered in order), queued outbound frames are written in batches. The
/// idle and maximum-duration timers, the shutdown and a slow-consumer cut-off end it whatever it
/// is waiting on, writes included, and no write takes longer than [`WRITE_TIMEOUT`].
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
    let mut stops = Stops {
        idle,
        max,
        shutdown: state.shutdown.clone(),
        socket: &socket,
    };
    let close: Closing = loop {
        tokio::select! {
            inbound = ws.recv() => {
                let frame = match inbound {
                    None => break None,
                    Some(Err(err)) => break receive_error(err),
                    Some(Ok(frame)) => frame,
                };
                socket.touch();
                stops.idle.as_mut().reset(tokio::time::Instant::now() + state.limits.idle_timeout);
                let reply = match frame {
                    Message::Text(text) => route(&state, &id, &context, text.as_str()).await,
                    Message::Binary(_) => binary_refusal(),
                    Message::Close(_) => break None,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                // An empty route response (logout's reply, already posted) sends no frame.
                if reply.is_empty() {
                    continue;
                }
                let send = async { ws.send(Message::Text(reply)).await.map(|()| None) };
                match stops.write(send).await {
                    Ok(_) => {}
                    Err(closing) => break closing,
                }
            }
            outbound = rx.recv() => {
                let Some(first) = outbound else { break None };
                match stops.write(write_batch(&mut ws, &mut rx, &socket, first)).await {
                    Ok(None) => {}
                    Ok(Some(close)) | Err(Some(close)) => break Some(close),
                    Err(None) => break None,
                }
            }
            closing = stops.fired() => break closing,
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        // A client that does not read may not take the close frame either.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.send(Message::Close(Some(frame)))).await;
    }
    disconnect(&state, &id, &context).await;
}

/// Writes `first` and whatever else is queued (up to a bound) with one flush.
async fn write_batch(
    ws: &mut WebSocket,
    rx: &mut mpsc::Receiver<Outbound>,
    socket: &Socket,
    first: Outbound,
) -> Result<Closing, axum::Error> {
    const MAX_BATCH: usize = 256;
    let mut next = Some(first);
    let mut written = 0;
    while let Some(frame) = next.take() {
        socket.written(&frame);
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

/// A receive error: an oversize message closes with 1009 as API Gateway does, a text frame that
/// is not UTF-8 with 1007; anything else is a broken socket.
fn receive_error(err: axum::Error) -> Closing {
    match err.into_inner().downcast::<tungstenite::Error>() {
        Ok(err) if matches!(*err, tungstenite::Error::Capacity(_)) => Some((1009, "Message too big")),
        // RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with 1007.
        Ok(err) if matches!(*err, tungstenite::Error::Utf8(_)) => Some((1007, "Invalid UTF-8")),
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
    // Boxed: awaited inline, the handler's state machine (the deepest of any action) would be part
    // of every socket task's future, idle or not; boxed, an idle socket holds none of it.
    let response = Box::pin(state.functions.message(request)).await;
    body_text(response.body).into()
}

async fn disconnect(state: &WsState, id: &ConnectionId, context: &HashMap<String, Value>) {
    state.hub.remove(id);
    let request = events::websocket_request("$disconnect", "DISCONNECT", id, context, None);
    Box::pin(state.functions.disconnect(request)).await;
}
