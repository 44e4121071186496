//! The host and viewer tasks, their setup requests and the state they share.

use super::config::{SETUP_REQ_ID, SETUP_TIMEOUT};
use super::frames::{apply_frame, group_send_frame};
use crate::bench::{WsStream, parse_ack, parse_delivery};
use crate::error::ClientError;
use crate::frame::{self, ServerFrame};
use crate::proc_stats::CpuReading;
use futures_util::{SinkExt as _, StreamExt as _};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The run's clock and the counters its tasks bump.
pub(super) struct Shared {
    /// The epoch of every `at_ns`.
    pub(super) epoch: Instant,
    pub(super) room: String,
    pub(super) host: String,
    pub(super) run_id: String,
    pub(super) payload: String,
    /// Per message: viewers that received it.
    pub(super) received: Vec<AtomicU64>,
    /// Per message: [`PENDING`], [`ACKED`] or [`REFUSED`].
    pub(super) acked: Vec<AtomicU8>,
    pub(super) joined: AtomicU64,
    pub(super) join_failed: AtomicU64,
    pub(super) host_done: AtomicBool,
    pub(super) join_permits: Semaphore,
    pub(super) server_pid: Option<u32>,
}

pub(super) const PENDING: u8 = 0;
pub(super) const ACKED: u8 = 1;
pub(super) const REFUSED: u8 = 2;

impl Shared {
    pub(super) fn ns_since_epoch(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Microseconds from `at_ns` to `now`, plus one so that zero can mean "none".
    pub(super) fn latency_slot(&self, at_ns: u64, now: Instant) -> u32 {
        let at = self.epoch + Duration::from_nanos(at_ns);
        let us = now.saturating_duration_since(at).as_micros();
        u32::try_from(us.saturating_add(1)).unwrap_or(u32::MAX)
    }
}

/// What one viewer saw.
#[derive(Debug, Default)]
pub(super) struct ViewerResult {
    /// The `group.apply` round trip, if it succeeded.
    pub(super) join: Option<Duration>,
    /// Per message: receive latency in µs + 1; 0 = not received.
    pub(super) receipts: Vec<u32>,
    /// Per message: receipts beyond the first.
    pub(super) duplicates: Vec<u64>,
    pub(super) errors: HashMap<String, u64>,
}

/// What the host saw.
#[derive(Debug, Default)]
pub(super) struct HostResult {
    /// Per message: whether it was sent.
    pub(super) sent: Vec<bool>,
    /// Per message: ack latency in µs + 1; 0 = no successful ack.
    pub(super) acks: Vec<u32>,
    /// Per message: the server's error code.
    pub(super) refused: Vec<Option<String>>,
    /// Per message: CPU times right before it was sent.
    pub(super) cpu_at_send: Vec<Option<CpuReading>>,
    pub(super) errors: HashMap<String, u64>,
}

/// Waits for the reply to [`SETUP_REQ_ID`], skipping events; the reply's error as a
/// [`ClientError::Server`].
pub(super) async fn setup_reply(
    stream: &mut (impl futures_util::Stream<Item = WsResult> + Unpin),
) -> Result<(), ClientError> {
    let wait = async {
        while let Some(frame) = stream.next().await {
            match frame {
                Ok(WsMessage::Text(text)) => {
                    if let Ok(ServerFrame::Reply {
                        req_id: Some(req_id),
                        outcome,
                    }) = frame::parse_server_frame(text.as_str())
                        && req_id == SETUP_REQ_ID
                    {
                        return outcome.map(drop).map_err(|error| ClientError::Server {
                            code: error.code,
                            message: error.message,
                        });
                    }
                }
                Ok(WsMessage::Close(_)) => return Err(ClientError::Disconnected),
                Ok(_) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Err(ClientError::Disconnected)
    };
    tokio::time::timeout(SETUP_TIMEOUT, wait)
        .await
        .unwrap_or(Err(ClientError::Timeout))
}

pub(super) type WsResult = Result<WsMessage, tokio_tungstenite::tungstenite::Error>;

/// The error code a failed setup request counts under.
pub(super) fn setup_error_code(error: &ClientError) -> String {
    match error {
        ClientError::Server { code, .. } => code.clone(),
        ClientError::Timeout => "join_timeout".to_owned(),
        _ => "connection_lost".to_owned(),
    }
}

pub(super) async fn run_viewer(
    shared: Arc<Shared>,
    socket: WsStream,
    mut stop: watch::Receiver<bool>,
) -> ViewerResult {
    let n = shared.received.len();
    let mut result = ViewerResult {
        receipts: vec![0; n],
        duplicates: vec![0; n],
        ..ViewerResult::default()
    };
    let (mut sink, mut stream) = socket.split();

    // Enter the room, a bounded number of viewers at a time.
    let permit = shared.join_permits.acquire().await;
    let asked = Instant::now();
    let outcome = match sink.send(WsMessage::text(apply_frame(&shared.room))).await {
        Ok(()) => setup_reply(&mut stream).await,
        Err(error) => Err(error.into()),
    };
    drop(permit);
    // A viewer refused entry keeps listening: anything it receives is counted, not expected.
    let mut connected = match outcome {
        Ok(()) => {
            result.join = Some(asked.elapsed());
            shared.joined.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(error) => {
            *result.errors.entry(setup_error_code(&error)).or_default() += 1;
            shared.join_failed.fetch_add(1, Ordering::Relaxed);
            !matches!(error, ClientError::Disconnected | ClientError::WebSocket(_))
        }
    };
    while connected {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => {
                    let now = Instant::now();
                    // Tips (`msg.system`) and other events are not the bench's.
                    let Some(delivery) = parse_delivery(text.as_str()) else { continue };
                    let slot = usize::try_from(delivery.k).ok().filter(|&i| i < n);
                    let (Some(slot), true) = (slot, delivery.from == shared.host) else {
                        *result.errors.entry("misrouted".to_owned()).or_default() += 1;
                        continue;
                    };
                    if result.receipts[slot] != 0 {
                        result.duplicates[slot] += 1;
                        continue;
                    }
                    result.receipts[slot] = shared.latency_slot(delivery.at_ns, now);
                    shared.received[slot].fetch_add(1, Ordering::Relaxed);
                }
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => {
                    *result.errors.entry("connection_lost".to_owned()).or_default() += 1;
                    connected = false;
                }
                Some(Ok(_)) => {}
            },
            _ = stop.changed() => break,
        }
    }
    if connected {
        let _ = sink.send(WsMessage::Close(None)).await;
    }
    result
}

pub(super) async fn run_host(
    shared: Arc<Shared>,
    socket: WsStream,
    first_at: Instant,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> HostResult {
    let n = shared.received.len();
    let mut result = HostResult {
        sent: vec![false; n],
        acks: vec![0; n],
        refused: vec![None; n],
        cpu_at_send: vec![None; n],
        errors: HashMap::new(),
    };
    let mut sent_at = vec![0u64; n];
    let (mut sink, mut stream) = socket.split();
    let mut k = 0usize;
    let sleep = tokio::time::sleep_until(first_at);
    tokio::pin!(sleep);
    let mut connected = true;
    while connected {
        tokio::select! {
            () = &mut sleep, if k < n => {
                result.cpu_at_send[k] = Some(CpuReading::take(shared.server_pid));
                let at_ns = shared.ns_since_epoch(Instant::now());
                let text = group_send_frame(&shared.room, &shared.run_id, k as u64, at_ns, &shared.payload);
                if sink.send(WsMessage::text(text)).await.is_err() {
                    *result.errors.entry("connection_lost".to_owned()).or_default() += 1;
                    break;
                }
                result.sent[k] = true;
                sent_at[k] = at_ns;
                k += 1;
                if k < n {
                    let next = first_at + interval.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX));
                    sleep.as_mut().reset(next);
                } else {
                    shared.host_done.store(true, Ordering::Relaxed);
                }
            }
            frame = stream.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => {
                    let now = Instant::now();
                    let Some(ack) = parse_ack(text.as_str()) else { continue };
                    let Some(slot) = usize::try_from(ack.k).ok().filter(|&i| i < k) else { continue };
                    match ack.error {
                        None => {
                            result.acks[slot] = shared.latency_slot(sent_at[slot], now);
                            shared.acked[slot].store(ACKED, Ordering::Relaxed);
                        }
                        Some(code) => {
                            *result.errors.entry(code.clone()).or_default() += 1;
                            result.refused[slot] = Some(code);
                            shared.acked[slot].store(REFUSED, Ordering::Relaxed);
                        }
                    }
                }
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => {
                    *result.errors.entry("connection_lost".to_owned()).or_default() += 1;
                    connected = false;
                }
                Some(Ok(_)) => {}
            },
            _ = stop.changed() => break,
        }
    }
    // A host that stops early sends nothing more.
    shared.host_done.store(true, Ordering::Relaxed);
    if connected {
        let _ = sink.send(WsMessage::Close(None)).await;
    }
    result
}
