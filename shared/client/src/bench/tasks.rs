//! The sender and receiver tasks and the counters they share.

use super::config::{Schedule, bench_user};
use super::connect::WsStream;
use super::wire::{format_send_frame, parse_ack, parse_delivery};
use bytes::BytesMut;
use futures_util::{SinkExt as _, StreamExt as _};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

/// Counters the tasks bump as they go, read for progress and to end the drain early.
#[derive(Default)]
pub(super) struct Progress {
    pub(super) sent: AtomicU64,
    pub(super) answered: AtomicU64,
    pub(super) acked: AtomicU64,
    pub(super) delivered: AtomicU64,
    pub(super) senders_done: AtomicU64,
}

pub(super) struct Shared {
    pub(super) schedule: Schedule,
    pub(super) start: Instant,
    pub(super) run_id: String,
    pub(super) payload: String,
    pub(super) progress: Progress,
}

impl Shared {
    pub(super) fn instant(&self, at_ns: u64) -> Instant {
        self.start + Duration::from_nanos(at_ns)
    }

    /// Microseconds from `at_ns` to `now`, plus one so that zero can mean "none".
    pub(super) fn latency_slot(&self, at_ns: u64, now: Instant) -> u32 {
        let us = now.saturating_duration_since(self.instant(at_ns)).as_micros();
        u32::try_from(us.saturating_add(1)).unwrap_or(u32::MAX)
    }
}

pub(super) struct SenderResult {
    /// Per message: ack latency in µs + 1; 0 = no successful ack.
    pub(super) acks: Vec<u32>,
    pub(super) sent_measured: u64,
    pub(super) last_measured_send: Option<Instant>,
    pub(super) unanswered_measured: u64,
    pub(super) errors: HashMap<String, u64>,
}

pub(super) struct ReceiverResult {
    /// Per message: delivery latency in µs + 1; 0 = not delivered.
    pub(super) deliveries: Vec<u32>,
    pub(super) last_measured_delivery: Option<Instant>,
    pub(super) duplicates: u64,
    pub(super) errors: HashMap<String, u64>,
}

pub(super) async fn run_sender(
    shared: Arc<Shared>,
    index: usize,
    socket: WsStream,
    mut stop: watch::Receiver<bool>,
) -> SenderResult {
    let schedule = shared.schedule;
    let n = schedule.messages_for(index);
    let mut result = SenderResult {
        acks: vec![0; usize::try_from(n).unwrap_or(0)],
        sent_measured: 0,
        last_measured_send: None,
        unanswered_measured: 0,
        errors: HashMap::new(),
    };
    let mut answered = vec![false; result.acks.len()];
    let to = bench_user(&shared.run_id, 'r', index);
    let client_msg_prefix = format!("{}-{index}-", shared.run_id);
    let frame_len = 160 + to.len() + client_msg_prefix.len() + shared.payload.len();
    let mut buf = BytesMut::with_capacity(frame_len * 64);
    let (mut sink, mut stream) = socket.split();
    let mut k = 0u64;
    let sleep = tokio::time::sleep_until(shared.instant(schedule.send_at(index, 0)));
    tokio::pin!(sleep);
    if n == 0 {
        // A very low rate can leave a sender nothing to send.
        shared.progress.senders_done.fetch_add(1, Ordering::Relaxed);
    }
    let mut connected = true;
    while connected {
        tokio::select! {
            () = &mut sleep, if k < n => {
                let now = Instant::now();
                // Send everything that is due: a late sender catches up instead of slipping.
                while k < n {
                    let at_ns = schedule.send_at(index, k);
                    if shared.instant(at_ns) > now {
                        break;
                    }
                    if buf.capacity() < frame_len {
                        buf.reserve(frame_len * 64);
                    }
                    format_send_frame(&mut buf, k, at_ns, &to, &client_msg_prefix, &shared.payload);
                    let Ok(text) = Utf8Bytes::try_from(buf.split().freeze()) else {
                        *result.errors.entry("bench_frame".to_owned()).or_default() += 1;
                        k += 1;
                        continue;
                    };
                    if sink.feed(WsMessage::Text(text)).await.is_err() {
                        connected = false;
                        break;
                    }
                    k += 1;
                    shared.progress.sent.fetch_add(1, Ordering::Relaxed);
                    if schedule.measured(at_ns) {
                        result.sent_measured += 1;
                        result.last_measured_send = Some(now);
                    }
                }
                if connected && sink.flush().await.is_err() {
                    connected = false;
                }
                if k < n {
                    sleep.as_mut().reset(shared.instant(schedule.send_at(index, k)));
                } else {
                    shared.progress.senders_done.fetch_add(1, Ordering::Relaxed);
                }
            }
            frame = stream.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => {
                    let now = Instant::now();
                    let Some(ack) = parse_ack(text.as_str()) else { continue };
                    let Some(slot) = usize::try_from(ack.k).ok().filter(|&i| i < answered.len()) else {
                        continue;
                    };
                    if answered[slot] {
                        continue;
                    }
                    answered[slot] = true;
                    shared.progress.answered.fetch_add(1, Ordering::Relaxed);
                    let at_ns = schedule.send_at(index, ack.k);
                    match ack.error {
                        None => {
                            result.acks[slot] = shared.latency_slot(at_ns, now);
                            shared.progress.acked.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(code) if schedule.measured(at_ns) => {
                            *result.errors.entry(code).or_default() += 1;
                        }
                        Some(_) => {}
                    }
                }
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => connected = false,
                Some(Ok(_)) => {}
            },
            _ = stop.changed() => break,
        }
    }
    if connected {
        let _ = sink.send(WsMessage::Close(None)).await;
    } else {
        *result.errors.entry("connection_lost".to_owned()).or_default() += 1;
        if k < n {
            // It will never send the rest.
            shared.progress.senders_done.fetch_add(1, Ordering::Relaxed);
        }
    }
    for (i, answered) in answered.iter().enumerate().take(usize::try_from(k).unwrap_or(0)) {
        if !answered && schedule.measured(schedule.send_at(index, i as u64)) {
            result.unanswered_measured += 1;
        }
    }
    result
}

pub(super) async fn run_receiver(
    shared: Arc<Shared>,
    index: usize,
    socket: WsStream,
    mut stop: watch::Receiver<bool>,
) -> ReceiverResult {
    let schedule = shared.schedule;
    let n = usize::try_from(schedule.messages_for(index)).unwrap_or(0);
    let sender = bench_user(&shared.run_id, 's', index);
    let mut result = ReceiverResult {
        deliveries: vec![0; n],
        last_measured_delivery: None,
        duplicates: 0,
        errors: HashMap::new(),
    };
    let (mut sink, mut stream) = socket.split();
    let mut connected = true;
    while connected {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => {
                    let now = Instant::now();
                    let Some(delivery) = parse_delivery(text.as_str()) else { continue };
                    let slot = usize::try_from(delivery.k).ok().filter(|&i| i < n);
                    let (Some(slot), true) = (slot, delivery.from == sender) else {
                        *result.errors.entry("misrouted".to_owned()).or_default() += 1;
                        continue;
                    };
                    if result.deliveries[slot] != 0 {
                        result.duplicates += 1;
                        continue;
                    }
                    result.deliveries[slot] = shared.latency_slot(delivery.at_ns, now);
                    shared.progress.delivered.fetch_add(1, Ordering::Relaxed);
                    if schedule.measured(delivery.at_ns) {
                        result.last_measured_delivery = Some(now);
                    }
                }
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => connected = false,
                Some(Ok(_)) => {}
            },
            _ = stop.changed() => break,
        }
    }
    if connected {
        let _ = sink.send(WsMessage::Close(None)).await;
    } else {
        *result.errors.entry("connection_lost".to_owned()).or_default() += 1;
    }
    result
}
