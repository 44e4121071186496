//! The background task of a [`super::Client`]: it owns the WebSocket, writes the requests it is
//! handed, matches replies to them by reqId, types pushed events, pings, and reconnects with
//! backoff when the connection is lost.

use super::{CLOSE_GRACE, ClientEvent, Command, MAX_BATCH, SWEEP_INTERVAL, WsStream};
use crate::backoff::Backoff;
use crate::error::{ClientError, Result, is_fatal_status};
use crate::frame::{self, ServerFrame};
use crate::types::{PinnedMessage, ReceivedMessage};
use cirrus_core::protocol::{Action, SignalEvent, events};
use futures_util::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Interval, MissedTickBehavior, timeout};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Opens one WebSocket connection within `limit`.
pub(super) async fn open(url: String, limit: Duration) -> Result<WsStream> {
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let attempt = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
    match timeout(limit, attempt).await {
        Err(_) => Err(ClientError::Timeout),
        Ok(Err(error)) => Err(error.into()),
        Ok(Ok((socket, _response))) => Ok(socket),
    }
}

/// Why a connection stopped being served.
enum Ended {
    /// The user closed the client (or dropped every handle).
    Closed,
    /// The connection was lost.
    Lost(String),
}

enum Step {
    Command(Option<Command>),
    Frame(Option<std::result::Result<WsMessage, tokio_tungstenite::tungstenite::Error>>),
    Ping,
    Sweep,
}

/// The background task.
pub(super) struct Connection {
    pub(super) url: String,
    pub(super) auto_reconnect: bool,
    pub(super) ping_interval: Option<Duration>,
    pub(super) connect_timeout: Duration,
    pub(super) backoff: Backoff,
    pub(super) commands: mpsc::Receiver<Command>,
    pub(super) events: mpsc::UnboundedSender<ClientEvent>,
    pub(super) pending: HashMap<u64, oneshot::Sender<Result<Value>>>,
    pub(super) next_ping: u64,
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl Connection {
    pub(super) async fn run(mut self, mut socket: WsStream) {
        loop {
            let ended = self.serve(socket).await;
            for (_, reply) in self.pending.drain() {
                let _ = reply.send(Err(ClientError::Disconnected));
            }
            let reason = match ended {
                Ended::Closed => return,
                Ended::Lost(reason) => reason,
            };
            tracing::debug!(%reason, reconnecting = self.auto_reconnect, "connection lost");
            self.emit(ClientEvent::Disconnected {
                reason,
                reconnecting: self.auto_reconnect,
            });
            if !self.auto_reconnect {
                return;
            }
            match self.reconnect().await {
                Some(fresh) => {
                    socket = fresh;
                    self.emit(ClientEvent::Reconnected);
                }
                None => return,
            }
        }
    }

    fn emit(&self, event: ClientEvent) {
        // Nobody listening is fine.
        let _ = self.events.send(event);
    }

    async fn serve(&mut self, socket: WsStream) -> Ended {
        let (mut sink, mut stream) = socket.split();
        let mut ping = self.ping_interval.map(|period| {
            let mut interval = tokio::time::interval_at(Instant::now() + period, period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        let mut sweep = tokio::time::interval_at(Instant::now() + SWEEP_INTERVAL, SWEEP_INTERVAL);
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let step = tokio::select! {
                command = self.commands.recv() => Step::Command(command),
                frame = stream.next() => Step::Frame(frame),
                () = tick(&mut ping) => Step::Ping,
                _ = sweep.tick() => Step::Sweep,
            };
            match step {
                Step::Command(None) => {
                    close_socket(sink, stream).await;
                    return Ended::Closed;
                }
                Step::Command(Some(first)) => {
                    // Write every request already queued, then flush once.
                    let mut next = Some(first);
                    let mut close = None;
                    let mut batch = 0;
                    while let Some(command) = next.take() {
                        match command {
                            // A caller that stopped waiting (timeout) needs no frame.
                            Command::Request { reply, .. } if reply.is_closed() => {}
                            Command::Request { id, frame, reply } => {
                                self.pending.insert(id, reply);
                                if let Err(error) = sink.feed(WsMessage::text(frame)).await {
                                    return Ended::Lost(error.to_string());
                                }
                            }
                            Command::Close { done } => {
                                close = Some(done);
                                break;
                            }
                        }
                        batch += 1;
                        if batch < MAX_BATCH {
                            next = self.commands.try_recv().ok();
                        }
                    }
                    if let Err(error) = sink.flush().await {
                        return Ended::Lost(error.to_string());
                    }
                    if let Some(done) = close {
                        close_socket(sink, stream).await;
                        let _ = done.send(());
                        return Ended::Closed;
                    }
                }
                Step::Frame(None) => return Ended::Lost("the connection was closed".to_owned()),
                Step::Frame(Some(Err(error))) => return Ended::Lost(error.to_string()),
                Step::Frame(Some(Ok(message))) => match message {
                    WsMessage::Text(text) => self.dispatch(text.as_str()),
                    WsMessage::Binary(bytes) => match std::str::from_utf8(&bytes) {
                        Ok(text) => self.dispatch(text),
                        Err(_) => tracing::warn!("ignoring a binary frame that is not UTF-8"),
                    },
                    WsMessage::Close(frame) => {
                        let reason = match frame {
                            Some(frame) => format!(
                                "the server closed the connection (code {}{}{})",
                                u16::from(frame.code),
                                if frame.reason.is_empty() { "" } else { ": " },
                                frame.reason
                            ),
                            None => "the server closed the connection".to_owned(),
                        };
                        return Ended::Lost(reason);
                    }
                    WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
                },
                Step::Ping => {
                    self.next_ping += 1;
                    let req_id = format!("p{}", self.next_ping);
                    let frame = frame::request_frame(
                        Action::SysPing.name(),
                        &req_id,
                        &Value::Object(serde_json::Map::new()),
                    );
                    if let Err(error) = sink.send(WsMessage::text(frame)).await {
                        return Ended::Lost(error.to_string());
                    }
                }
                Step::Sweep => self.pending.retain(|_, reply| !reply.is_closed()),
            }
        }
    }

    fn dispatch(&mut self, text: &str) {
        match frame::parse_server_frame(text) {
            Ok(ServerFrame::Reply { req_id, outcome }) => {
                let Some(id) = req_id.as_deref().and_then(frame::parse_req_id) else {
                    // Keep-alive pings, or a reply to a frame the server could not read.
                    if let Err(error) = outcome {
                        tracing::debug!(code = %error.code, "error reply without a request of ours");
                    }
                    return;
                };
                if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(outcome.map_err(|error| ClientError::Server {
                        code: error.code,
                        message: error.message,
                    }));
                }
            }
            Ok(ServerFrame::Event { event, data }) => self.emit(to_event(event, data)),
            Err(error) => tracing::warn!(%error, "ignoring an unreadable server frame"),
        }
    }

    /// Waits for `work` while failing requests (nothing can be sent while disconnected);
    /// `None` when the client is closed meanwhile.
    async fn while_disconnected<F: Future>(&mut self, work: F) -> Option<F::Output> {
        tokio::pin!(work);
        loop {
            tokio::select! {
                output = &mut work => return Some(output),
                command = self.commands.recv() => match command {
                    Some(Command::Request { reply, .. }) => {
                        let _ = reply.send(Err(ClientError::Disconnected));
                    }
                    Some(Command::Close { done }) => {
                        let _ = done.send(());
                        return None;
                    }
                    None => return None,
                },
            }
        }
    }

    async fn reconnect(&mut self) -> Option<WsStream> {
        let mut delays = self.backoff.delays();
        let mut attempt = 0u32;
        loop {
            let delay = delays.next().unwrap_or(self.backoff.max);
            self.while_disconnected(tokio::time::sleep(delay)).await?;
            let opening = open(self.url.clone(), self.connect_timeout);
            match self.while_disconnected(opening).await? {
                Ok(socket) => return Some(socket),
                Err(ClientError::Rejected(status)) if is_fatal_status(status) => {
                    self.emit(ClientEvent::Disconnected {
                        reason: ClientError::Rejected(status).to_string(),
                        reconnecting: false,
                    });
                    return None;
                }
                Err(error) => {
                    tracing::debug!(attempt, %error, "reconnection attempt failed");
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }
}

/// Sends a close frame and waits briefly for the server's answer.
async fn close_socket(
    mut sink: futures_util::stream::SplitSink<WsStream, WsMessage>,
    mut stream: futures_util::stream::SplitStream<WsStream>,
) {
    if sink.send(WsMessage::Close(None)).await.is_err() {
        return;
    }
    let _ = timeout(CLOSE_GRACE, async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
}

/// Types a pushed event.
pub(super) fn to_event(event: String, data: Value) -> ClientEvent {
    if event == events::MSG_NEW {
        match ReceivedMessage::deserialize(&data) {
            Ok(message) => return ClientEvent::Message(Box::new(message)),
            Err(error) => tracing::warn!(%error, "msg.new data did not parse; passing it on raw"),
        }
    }
    if event == events::MSG_EDITED {
        match ReceivedMessage::deserialize(&data) {
            Ok(message) => return ClientEvent::Edited(Box::new(message)),
            Err(error) => tracing::warn!(%error, "msg.edited data did not parse; passing it on raw"),
        }
    }
    if event == events::CONV_PINNED {
        match PinnedMessage::deserialize(&data) {
            Ok(pin) => return ClientEvent::Pinned(Box::new(pin)),
            Err(error) => tracing::warn!(%error, "conv.pinned data did not parse; passing it on raw"),
        }
    }
    if event == events::MSG_SIGNAL {
        match SignalEvent::deserialize(&data) {
            Ok(signal) => return ClientEvent::Signal(signal),
            Err(error) => tracing::warn!(%error, "msg.signal data did not parse; passing it on raw"),
        }
    }
    ClientEvent::Event { event, data }
}
