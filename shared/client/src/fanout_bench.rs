//! The live-room fan-out bench behind `cirrus bench-fanout` (DESIGN.md §8: one group message to
//! 10,000 online members within a second).
//!
//! A host connection (`bench<run>-h-0`) creates a live room (`group.create` with `type: live`),
//! N viewer connections (`bench<run>-v-<i>`) enter it with `group.apply`, and the host then sends
//! K messages to the room (`msg.send` to `{"type": "group"}`) on a fixed schedule, one every
//! `interval`. Each message carries the time it was handed to the host's socket; every viewer
//! notes when each message reached it. Per message the report gives the time from the send until
//! the last viewer had it (the fan-out time), the percentiles of the per-viewer receive times,
//! and how many viewers missed it or got it more than once.
//!
//! The receive times include the bench's own work to read 10,000 frames: on one machine the bench
//! and the server share the cores, so the figures are an upper bound of the server's fan-out.

use crate::bench::{
    LatencySummary, WsStream, bench_user, connect_all, errors_list, ms, parse_ack, parse_delivery,
};
use crate::error::ClientError;
use crate::frame::{self, ServerFrame};
use crate::proc_stats::{CpuReading, process_memory_kib};
use cirrus_core::ids::{GroupId, UserId};
use cirrus_core::usersig::UserSigKey;
use futures_util::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The reqId of the host's `group.create` and of each viewer's `group.apply`.
const SETUP_REQ_ID: &str = "setup";
/// Longest wait for a reply to `group.create` or `group.apply`.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Time between the last join and the first message.
const START_DELAY: Duration = Duration::from_millis(500);

/// What to run.
#[derive(Debug, Clone)]
pub struct FanoutConfig {
    /// The WebSocket endpoint, e.g. `ws://127.0.0.1:8080`.
    pub url: String,
    /// Viewer connections that enter the room (the host's connection comes on top).
    pub viewers: usize,
    /// Messages the host sends to the room.
    pub messages: usize,
    /// Time between two of the host's messages.
    pub interval: Duration,
    /// Longest wait after the last message for every viewer to have every message.
    pub wait: Duration,
    /// Bytes of text in each message besides the timing element (0 for none).
    pub payload_bytes: usize,
    /// Connections opened at once.
    pub connect_concurrency: usize,
    /// `group.apply` requests in flight at once.
    pub join_concurrency: usize,
    /// Mints the users' tokens.
    pub key: UserSigKey,
    /// Makes this run's user names and room id unique; see [`crate::bench::new_run_id`].
    pub run_id: String,
    /// Print progress lines to stderr.
    pub progress: bool,
    /// A server process whose CPU time and resident memory to report (Linux `/proc`).
    pub server_pid: Option<u32>,
}

/// Why a fan-out bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    /// The configuration cannot work.
    #[error("invalid fan-out bench configuration: {0}")]
    InvalidConfig(&'static str),
    /// A connection could not be opened.
    #[error("connecting {user} failed: {source}")]
    Connect {
        /// The bench user.
        user: String,
        /// What went wrong.
        source: ClientError,
    },
    /// The host could not create the live room.
    #[error("creating the live room {room} failed: {source}")]
    CreateRoom {
        /// The room's id.
        room: String,
        /// What went wrong (the server's error reply, a timeout or a lost connection).
        source: ClientError,
    },
}

/// The live room of run `run_id`.
pub fn bench_room(run_id: &str) -> String {
    format!("bench{run_id}-live")
}

/// The `group.create` frame of a live room.
pub fn create_room_frame(room: &str) -> String {
    frame::request_frame(
        "group.create",
        SETUP_REQ_ID,
        &json!({"type": "live", "groupId": room, "name": "cirrus bench-fanout"}),
    )
}

/// The `group.apply` frame that enters a live room.
pub fn apply_frame(room: &str) -> String {
    frame::request_frame("group.apply", SETUP_REQ_ID, &json!({"groupId": room}))
}

/// The host's `msg.send` of message `k` to the room, sent at `at_ns` (ns since the bench's
/// epoch). The reqId is `k` and the custom element's data `"<k>:<at_ns>"`, as in
/// [`crate::bench`], so [`parse_ack`] and [`parse_delivery`] read them back.
pub fn group_send_frame(room: &str, run_id: &str, k: u64, at_ns: u64, payload: &str) -> String {
    let mut body = vec![json!({"type": "custom", "data": format!("{k}:{at_ns}")})];
    if !payload.is_empty() {
        body.push(json!({"type": "text", "text": payload}));
    }
    frame::request_frame(
        "msg.send",
        &k.to_string(),
        &json!({
            "to": {"type": "group", "id": room},
            "clientMsgId": format!("{run_id}-fanout-{k}"),
            "body": body,
        }),
    )
}

/// Resident memory of the server process, in KiB, at the bench's milestones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerMemory {
    /// With every connection open, before the joins.
    pub connected_kib: u64,
    /// With every viewer in the room.
    pub joined_kib: u64,
    /// After the last message.
    pub end_kib: u64,
    /// The process's high-water mark at the end (`VmHWM`).
    pub peak_kib: u64,
}

/// The figures of one message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageFigures {
    /// Its index, from 0.
    pub index: u64,
    /// Whether the host sent it.
    pub sent: bool,
    /// Send to the host's successful ack; `None` if not acked.
    pub ack: Option<Duration>,
    /// The server's error code, if it refused the message.
    pub error: Option<String>,
    /// Viewers that received it (once each).
    pub delivered: u64,
    /// Joined viewers that did not receive an acked message.
    pub lost: u64,
    /// Receipts beyond the first.
    pub duplicates: u64,
    /// Send to receipt, over the viewers that received it; `max` is the fan-out time to the
    /// last viewer.
    pub receive: LatencySummary,
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FanoutReport {
    /// The live room.
    pub room: String,
    /// Viewer connections opened.
    pub viewers: usize,
    /// Time to open the host's and every viewer's connection.
    pub connect_time: Duration,
    /// Viewers whose `group.apply` succeeded.
    pub joined: u64,
    /// From the first `group.apply` to the last reply.
    pub join_time: Duration,
    /// `group.apply` round trips, in microseconds.
    pub join: LatencySummary,
    /// Time between two messages.
    pub interval: Duration,
    /// Per message.
    pub messages: Vec<MessageFigures>,
    /// Receipts expected: joined viewers times acked messages.
    pub expected: u64,
    /// Receipts counted (once per viewer and message).
    pub received: u64,
    /// Expected receipts that never came.
    pub lost: u64,
    /// Receipts of a message a viewer already had.
    pub duplicates: u64,
    /// Whether every viewer had every acked message before the wait ran out.
    pub drained: bool,
    /// Error replies and connection failures, by code.
    pub errors: BTreeMap<String, u64>,
    /// Send to receipt, every viewer and message.
    pub receive: LatencySummary,
    /// The server's resident memory, if a server pid was given.
    pub server_memory: Option<ServerMemory>,
    /// The server's CPU time per receipt, from each send until the bench saw the message's last
    /// receipt (summed over the messages every viewer got), if a server pid was given.
    pub server_cpu_us_per_receipt: Option<f64>,
    /// The bench's own CPU time per receipt over the same windows.
    pub bench_cpu_us_per_receipt: Option<f64>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl fmt::Display for FanoutReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "viewers       {} in live room {}, connected in {:.2} s (with the host)",
            self.viewers,
            self.room,
            self.connect_time.as_secs_f64()
        )?;
        let j = &self.join;
        writeln!(
            f,
            "joined        {} of {} in {:.2} s (group.apply ms p50 {:.2}  p99 {:.2}  max {:.2})",
            self.joined,
            self.viewers,
            self.join_time.as_secs_f64(),
            ms(j.p50),
            ms(j.p99),
            ms(j.max)
        )?;
        writeln!(
            f,
            "messages      {} sent, one every {:.1} s",
            self.messages.iter().filter(|m| m.sent).count(),
            self.interval.as_secs_f64()
        )?;
        for m in &self.messages {
            let ack = match (&m.ack, &m.error) {
                (Some(ack), _) => format!("ack {:.2} ms", ack.as_secs_f64() * 1000.0),
                (None, Some(code)) => format!("refused: {code}"),
                (None, None) if m.sent => "no ack".to_owned(),
                (None, None) => "not sent".to_owned(),
            };
            let r = &m.receive;
            writeln!(
                f,
                "message {:<5} {ack}; to the last viewer {:.2} ms; {}/{} viewers, p50 {:.2}  p99 {:.2}  (lost {}, duplicates {})",
                m.index,
                ms(r.max),
                m.delivered,
                self.joined,
                ms(r.p50),
                ms(r.p99),
                m.lost,
                m.duplicates
            )?;
        }
        writeln!(
            f,
            "received      {} of {} expected{}",
            self.received,
            self.expected,
            if self.drained { "" } else { " (the wait ran out)" }
        )?;
        writeln!(
            f,
            "lost          {} (acked, not received by a joined viewer); {} duplicate receipts",
            self.lost, self.duplicates
        )?;
        writeln!(f, "errors        {}", errors_list(&self.errors))?;
        write!(f, "receive ms    {}", self.receive.percentiles_ms())?;
        if let Some(m) = &self.server_memory {
            write!(
                f,
                "\nserver rss    {:.0} MiB connected, {:.0} MiB joined, {:.0} MiB at the end (peak {:.0} MiB)",
                mib(m.connected_kib),
                mib(m.joined_kib),
                mib(m.end_kib),
                mib(m.peak_kib)
            )?;
        }
        if let Some(cpu) = self.server_cpu_us_per_receipt {
            write!(f, "\nserver cpu    {cpu:.2} us/receipt")?;
        }
        if let Some(cpu) = self.bench_cpu_us_per_receipt {
            write!(f, "\nbench cpu     {cpu:.2} us/receipt")?;
        }
        Ok(())
    }
}

/// The run's clock and the counters its tasks bump.
struct Shared {
    /// The epoch of every `at_ns`.
    epoch: Instant,
    room: String,
    host: String,
    run_id: String,
    payload: String,
    /// Per message: viewers that received it.
    received: Vec<AtomicU64>,
    /// Per message: [`PENDING`], [`ACKED`] or [`REFUSED`].
    acked: Vec<AtomicU8>,
    joined: AtomicU64,
    join_failed: AtomicU64,
    host_done: AtomicBool,
    join_permits: Semaphore,
    server_pid: Option<u32>,
}

const PENDING: u8 = 0;
const ACKED: u8 = 1;
const REFUSED: u8 = 2;

impl Shared {
    fn ns_since_epoch(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Microseconds from `at_ns` to `now`, plus one so that zero can mean "none".
    fn latency_slot(&self, at_ns: u64, now: Instant) -> u32 {
        let at = self.epoch + Duration::from_nanos(at_ns);
        let us = now.saturating_duration_since(at).as_micros();
        u32::try_from(us.saturating_add(1)).unwrap_or(u32::MAX)
    }
}

/// What one viewer saw.
#[derive(Debug, Default)]
struct ViewerResult {
    /// The `group.apply` round trip, if it succeeded.
    join: Option<Duration>,
    /// Per message: receive latency in µs + 1; 0 = not received.
    receipts: Vec<u32>,
    /// Per message: receipts beyond the first.
    duplicates: Vec<u64>,
    errors: HashMap<String, u64>,
}

/// What the host saw.
#[derive(Debug, Default)]
struct HostResult {
    /// Per message: whether it was sent.
    sent: Vec<bool>,
    /// Per message: ack latency in µs + 1; 0 = no successful ack.
    acks: Vec<u32>,
    /// Per message: the server's error code.
    refused: Vec<Option<String>>,
    /// Per message: CPU times right before it was sent.
    cpu_at_send: Vec<Option<CpuReading>>,
    errors: HashMap<String, u64>,
}

/// Waits for the reply to [`SETUP_REQ_ID`], skipping events; the reply's error as a
/// [`ClientError::Server`].
async fn setup_reply(
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

type WsResult = Result<WsMessage, tokio_tungstenite::tungstenite::Error>;

/// The error code a failed setup request counts under.
fn setup_error_code(error: &ClientError) -> String {
    match error {
        ClientError::Server { code, .. } => code.clone(),
        ClientError::Timeout => "join_timeout".to_owned(),
        _ => "connection_lost".to_owned(),
    }
}

async fn run_viewer(shared: Arc<Shared>, socket: WsStream, mut stop: watch::Receiver<bool>) -> ViewerResult {
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

async fn run_host(
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

/// CPU time per receipt (µs) of the bench and of the server, over the windows from each send
/// to its last receipt, for the messages with both readings.
fn fanout_cpu(
    starts: &[Option<CpuReading>],
    ends: &[Option<CpuReading>],
    messages: &[MessageFigures],
) -> (Option<f64>, Option<f64>) {
    let (mut bench, mut server, mut receipts) = (Some(Duration::ZERO), Some(Duration::ZERO), 0u64);
    for ((start, end), message) in starts.iter().zip(ends).zip(messages) {
        let (Some(start), Some(end)) = (start, end) else {
            continue;
        };
        let used = |before: Option<Duration>, after: Option<Duration>| after?.checked_sub(before?);
        bench = bench.zip(used(start.bench, end.bench)).map(|(a, b)| a + b);
        server = server.zip(used(start.server, end.server)).map(|(a, b)| a + b);
        receipts += message.delivered;
    }
    let per_receipt = |total: Option<Duration>| {
        let total = total.filter(|_| receipts > 0)?;
        Some(total.as_secs_f64() * 1e6 / receipts as f64)
    };
    (per_receipt(bench), per_receipt(server))
}

fn new_histogram() -> Option<Histogram<u64>> {
    Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).ok()
}

fn summary(histogram: Option<&Histogram<u64>>) -> LatencySummary {
    histogram.map(LatencySummary::from_histogram).unwrap_or_default()
}

/// Adds up the host's and the viewers' results: per message and over the run.
fn tally(report: &mut FanoutReport, host: &HostResult, viewers: &[ViewerResult]) {
    let n = host.sent.len();
    let mut all = new_histogram();
    let mut joins = new_histogram();
    let joined: Vec<&ViewerResult> = viewers.iter().filter(|v| v.join.is_some()).collect();
    for viewer in &joined {
        if let (Some(h), Some(join)) = (joins.as_mut(), viewer.join) {
            h.saturating_record(u64::try_from(join.as_micros()).unwrap_or(u64::MAX));
        }
    }
    report.join = summary(joins.as_ref());
    report.joined = joined.len() as u64;
    for (code, count) in host.errors.iter().chain(viewers.iter().flat_map(|v| &v.errors)) {
        *report.errors.entry(code.clone()).or_default() += count;
    }
    report.messages = (0..n)
        .map(|k| {
            let mut histogram = new_histogram();
            let acked = host.acks[k] != 0;
            let mut figures = MessageFigures {
                index: k as u64,
                sent: host.sent[k],
                ack: acked.then(|| Duration::from_micros(u64::from(host.acks[k] - 1))),
                error: host.refused[k].clone(),
                ..MessageFigures::default()
            };
            for viewer in viewers {
                figures.duplicates += viewer.duplicates[k];
                let receipt = viewer.receipts[k];
                if receipt != 0 {
                    figures.delivered += 1;
                    for h in [histogram.as_mut(), all.as_mut()].into_iter().flatten() {
                        h.saturating_record(u64::from(receipt - 1));
                    }
                } else if acked && viewer.join.is_some() {
                    figures.lost += 1;
                }
            }
            figures.receive = summary(histogram.as_ref());
            if acked {
                report.expected += report.joined;
            }
            report.received += figures.delivered;
            report.lost += figures.lost;
            report.duplicates += figures.duplicates;
            figures
        })
        .collect();
    report.receive = summary(all.as_ref());
}

/// Runs the bench and returns its figures. Progress goes to stderr when asked for.
pub async fn run(config: &FanoutConfig) -> Result<FanoutReport, FanoutError> {
    if config.viewers == 0 {
        return Err(FanoutError::InvalidConfig("viewers must be at least 1"));
    }
    if config.messages == 0 {
        return Err(FanoutError::InvalidConfig("messages must be at least 1"));
    }
    if config.interval.is_zero() {
        return Err(FanoutError::InvalidConfig("interval must be positive"));
    }
    let room = bench_room(&config.run_id);
    let host = bench_user(&config.run_id, 'h', 0);
    let last_viewer = bench_user(&config.run_id, 'v', config.viewers - 1);
    if GroupId::parse(room.as_str()).is_err()
        || UserId::parse(host.as_str()).is_err()
        || UserId::parse(last_viewer).is_err()
    {
        return Err(FanoutError::InvalidConfig(
            "run id too long or not of letters, digits, _ - . @",
        ));
    }
    let progress = config.progress;

    // Connect the host (slot 0) and the viewers (1..=N), a bounded number at once.
    let connect_started = Instant::now();
    let viewer_users = (0..config.viewers).map(|viewer| bench_user(&config.run_id, 'v', viewer));
    let users = std::iter::once(host.clone()).chain(viewer_users);
    let sockets = connect_all(&config.url, &config.key, users, config.connect_concurrency)
        .await
        .map_err(|(user, source)| FanoutError::Connect { user, source })?;
    let connect_time = connect_started.elapsed();
    if progress {
        eprintln!(
            "connected the host and {} viewers in {:.2} s",
            config.viewers,
            connect_time.as_secs_f64()
        );
    }
    let memory = |field| config.server_pid.and_then(|pid| process_memory_kib(pid, field));
    let connected_kib = memory("VmRSS");

    // The host creates the room.
    let mut sockets = sockets.into_iter();
    let Some(mut host_socket) = sockets.next() else {
        return Err(FanoutError::InvalidConfig("no host connection"));
    };
    let created = match host_socket.send(WsMessage::text(create_room_frame(&room))).await {
        Ok(()) => setup_reply(&mut host_socket).await,
        Err(error) => Err(error.into()),
    };
    if let Err(source) = created {
        return Err(FanoutError::CreateRoom { room, source });
    }

    // The viewers enter it.
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        room: room.clone(),
        host: host.clone(),
        run_id: config.run_id.clone(),
        payload: "x".repeat(config.payload_bytes),
        received: (0..config.messages).map(|_| AtomicU64::new(0)).collect(),
        acked: (0..config.messages).map(|_| AtomicU8::new(PENDING)).collect(),
        joined: AtomicU64::new(0),
        join_failed: AtomicU64::new(0),
        host_done: AtomicBool::new(false),
        join_permits: Semaphore::new(config.join_concurrency.max(1)),
        server_pid: config.server_pid,
    });
    let (stop_all, stopped) = watch::channel(false);
    let join_started = Instant::now();
    let viewers: Vec<_> = sockets
        .map(|socket| tokio::spawn(run_viewer(shared.clone(), socket, stopped.clone())))
        .collect();
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    let mut next_progress = join_started + Duration::from_secs(1);
    let join_time = loop {
        ticker.tick().await;
        let joined = shared.joined.load(Ordering::Relaxed);
        let failed = shared.join_failed.load(Ordering::Relaxed);
        if joined + failed >= config.viewers as u64 {
            break join_started.elapsed();
        }
        if progress && Instant::now() >= next_progress {
            next_progress += Duration::from_secs(1);
            eprintln!("joining: {joined} in, {failed} failed");
        }
    };
    let joined = shared.joined.load(Ordering::Relaxed);
    if progress {
        eprintln!(
            "{joined} of {} viewers joined in {:.2} s",
            config.viewers,
            join_time.as_secs_f64()
        );
    }
    let joined_kib = memory("VmRSS");

    // The host sends; watch until every viewer has every acked message, or the wait runs out.
    let first_at = Instant::now() + START_DELAY;
    let host_task = tokio::spawn(run_host(
        shared.clone(),
        host_socket,
        first_at,
        config.interval,
        stopped.clone(),
    ));
    let mut reported = vec![false; config.messages];
    let mut cpu_at_done = vec![None; config.messages];
    let mut last_sent_at = None;
    let drained = loop {
        ticker.tick().await;
        let now = Instant::now();
        let mut complete = true;
        for (k, done) in reported.iter_mut().enumerate() {
            let state = shared.acked[k].load(Ordering::Relaxed);
            let received = shared.received[k].load(Ordering::Relaxed);
            let finished = state == REFUSED || (state == ACKED && received >= joined);
            if finished && !*done {
                *done = true;
                if state == ACKED {
                    cpu_at_done[k] = Some(CpuReading::take(config.server_pid));
                }
                if progress {
                    eprintln!(
                        "message {k}: {received} of {joined} viewers, t={:.2} s",
                        now.saturating_duration_since(first_at).as_secs_f64()
                    );
                }
            }
            complete &= *done;
        }
        if !shared.host_done.load(Ordering::Relaxed) {
            continue;
        }
        let last_sent = *last_sent_at.get_or_insert(now);
        if complete {
            break true;
        }
        if now >= last_sent + config.wait {
            break false;
        }
    };
    let end_kib = memory("VmRSS");
    let peak_kib = memory("VmHWM");

    let _ = stop_all.send(true);
    let host_result = host_task.await.unwrap_or_default();
    let mut viewer_results = Vec::with_capacity(viewers.len());
    let mut failed_tasks = 0u64;
    for viewer in viewers {
        match viewer.await {
            Ok(result) => viewer_results.push(result),
            Err(_) => failed_tasks += 1,
        }
    }

    let mut report = FanoutReport {
        room,
        viewers: config.viewers,
        connect_time,
        join_time,
        interval: config.interval,
        drained,
        ..FanoutReport::default()
    };
    if host_result.sent.len() == config.messages {
        tally(&mut report, &host_result, &viewer_results);
    } else {
        *report.errors.entry("bench_task_failed".to_owned()).or_default() += 1;
    }
    if failed_tasks > 0 {
        *report.errors.entry("bench_task_failed".to_owned()).or_default() += failed_tasks;
    }
    if let (Some(connected_kib), Some(joined_kib), Some(end_kib), Some(peak_kib)) =
        (connected_kib, joined_kib, end_kib, peak_kib)
    {
        report.server_memory = Some(ServerMemory {
            connected_kib,
            joined_kib,
            end_kib,
            peak_kib,
        });
    }
    (report.bench_cpu_us_per_receipt, report.server_cpu_us_per_receipt) =
        fanout_cpu(&host_result.cpu_at_send, &cpu_at_done, &report.messages);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{mock, new_run_id};

    #[test]
    fn frames_are_the_documented_requests() {
        // GIVEN a run WHEN its frames are built THEN they are the protocol's requests
        let create: serde_json::Value = serde_json::from_str(&create_room_frame("benchx-live")).unwrap();
        assert_eq!(create["action"], "group.create");
        assert_eq!(create["data"]["type"], "live");
        assert_eq!(create["data"]["groupId"], "benchx-live");
        let apply: serde_json::Value = serde_json::from_str(&apply_frame("benchx-live")).unwrap();
        assert_eq!(apply["action"], "group.apply");
        assert_eq!(apply["data"]["groupId"], "benchx-live");
        let send: serde_json::Value =
            serde_json::from_str(&group_send_frame("benchx-live", "x", 3, 42, "yy")).unwrap();
        assert_eq!(send["action"], "msg.send");
        assert_eq!(send["reqId"], "3");
        assert_eq!(send["data"]["to"], json!({"type": "group", "id": "benchx-live"}));
        assert_eq!(send["data"]["clientMsgId"], "x-fanout-3");
        let body: Vec<cirrus_core::element::Element> =
            serde_json::from_value(send["data"]["body"].clone()).unwrap();
        assert_eq!(body.len(), 2);
        // AND a delivery of that body reads back the index and send time
        let event = json!({"type": "event", "event": "msg.new", "data": {
            "from": "benchx-h-0", "body": send["data"]["body"]}});
        let delivery = parse_delivery(&event.to_string()).unwrap();
        assert_eq!((delivery.k, delivery.at_ns), (3, 42));
    }

    #[test]
    fn ids_of_a_generated_run_are_valid() {
        let run = new_run_id();
        assert!(GroupId::parse(bench_room(&run)).is_ok());
        assert!(UserId::parse(bench_user(&run, 'v', 99_999)).is_ok());
        assert!(UserId::parse(bench_user(&run, 'h', 0)).is_ok());
    }

    #[test]
    fn tallies_count_lost_and_duplicated_receipts_per_message() {
        // GIVEN three viewers (one never joined) and two acked messages
        let joined = |receipts: Vec<u32>, duplicates: Vec<u64>| ViewerResult {
            join: Some(Duration::from_millis(2)),
            receipts,
            duplicates,
            errors: HashMap::new(),
        };
        let viewers = vec![
            joined(vec![1_001, 5_001], vec![0, 1]),
            joined(vec![3_001, 0], vec![0, 0]),
            ViewerResult {
                join: None,
                receipts: vec![0, 0],
                duplicates: vec![0, 0],
                errors: HashMap::from([("forbidden".to_owned(), 1)]),
            },
        ];
        let host = HostResult {
            sent: vec![true, true],
            acks: vec![501, 701],
            refused: vec![None, None],
            cpu_at_send: vec![None, None],
            errors: HashMap::new(),
        };
        // WHEN tallied
        let mut report = FanoutReport::default();
        tally(&mut report, &host, &viewers);
        // THEN the unjoined viewer expects nothing, the second message is lost once
        assert_eq!(report.joined, 2);
        assert_eq!((report.expected, report.received, report.lost), (4, 3, 1));
        assert_eq!(report.duplicates, 1);
        assert_eq!(report.errors, BTreeMap::from([("forbidden".to_owned(), 1)]));
        let first = &report.messages[0];
        assert_eq!((first.delivered, first.lost), (2, 0));
        assert_eq!(first.ack, Some(Duration::from_micros(500)));
        // AND the time to the last viewer is the largest receive time
        assert!((2_995..=3_005).contains(&first.receive.max), "{first:?}");
        assert_eq!(report.messages[1].lost, 1);
        assert_eq!(report.messages[1].duplicates, 1);
        assert_eq!(report.receive.count, 3);
    }

    #[test]
    fn cpu_is_counted_over_the_fan_out_windows_only() {
        // GIVEN two messages of 1,000 receipts each, the second never completed
        let reading = |bench_ms, server_ms| {
            Some(CpuReading {
                bench: Some(Duration::from_millis(bench_ms)),
                server: Some(Duration::from_millis(server_ms)),
            })
        };
        let message = MessageFigures {
            delivered: 1000,
            ..MessageFigures::default()
        };
        let starts = [reading(100, 1000), reading(500, 5000)];
        let ends = [reading(110, 1020), None];
        // WHEN the CPU per receipt is worked out THEN only the completed window counts
        let (bench, server) = fanout_cpu(&starts, &ends, &[message.clone(), message.clone()]);
        assert_eq!((bench, server), (Some(10.0), Some(20.0)));
        // AND without a server reading there is no server figure
        let blind = [Some(CpuReading {
            bench: Some(Duration::ZERO),
            server: None,
        })];
        let (bench, server) = fanout_cpu(&blind, &[reading(10, 10)], &[message]);
        assert_eq!((bench, server), (Some(10.0), None));
        assert_eq!(fanout_cpu(&[], &[], &[]), (None, None));
    }

    #[test]
    fn reports_print_every_figure() {
        let report = FanoutReport {
            room: "benchx-live".into(),
            viewers: 10_000,
            connect_time: Duration::from_millis(1_800),
            joined: 10_000,
            join_time: Duration::from_millis(2_500),
            interval: Duration::from_secs(2),
            messages: vec![MessageFigures {
                index: 0,
                sent: true,
                ack: Some(Duration::from_millis(3)),
                delivered: 10_000,
                receive: LatencySummary {
                    count: 10_000,
                    p50: 120_000,
                    p99: 240_000,
                    max: 250_000,
                    ..LatencySummary::default()
                },
                ..MessageFigures::default()
            }],
            expected: 10_000,
            received: 10_000,
            drained: true,
            server_memory: Some(ServerMemory {
                connected_kib: 204_800,
                joined_kib: 215_040,
                end_kib: 215_040,
                peak_kib: 225_280,
            }),
            server_cpu_us_per_receipt: Some(12.5),
            ..FanoutReport::default()
        };
        let text = report.to_string();
        for expected in [
            "viewers       10000 in live room benchx-live, connected in 1.80 s",
            "joined        10000 of 10000 in 2.50 s",
            "messages      1 sent, one every 2.0 s",
            "message 0     ack 3.00 ms; to the last viewer 250.00 ms; 10000/10000 viewers, p50 120.00  p99 240.00",
            "received      10000 of 10000 expected\n",
            "lost          0 (acked, not received by a joined viewer); 0 duplicate receipts",
            "errors        none",
            "server rss    200 MiB connected, 210 MiB joined, 210 MiB at the end (peak 220 MiB)",
            "server cpu    12.50 us/receipt",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("bench cpu"));
    }

    /// A stand-in server: creates rooms, seats the connections that apply, and fans each group
    /// message out to every seated connection but the sender's, after a tip nobody should count.
    async fn mock_server(key: UserSigKey) -> String {
        use std::sync::Mutex;
        use tokio::sync::mpsc;
        type Seats = Arc<Mutex<Vec<mpsc::UnboundedSender<String>>>>;
        let seats: Seats = Arc::default();
        mock::serve(key, move |mut peer| {
            let seats = seats.clone();
            async move {
                let (user, tx) = (peer.user, peer.outbox);
                let mut seat = None;
                while let Some(Ok(WsMessage::Text(text))) = peer.frames.next().await {
                    let frame: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                    let reply = |data: serde_json::Value| {
                        json!({"type": "reply", "reqId": frame["reqId"], "ok": true, "data": data})
                            .to_string()
                    };
                    match frame["action"].as_str().unwrap() {
                        "group.create" | "group.apply" => {
                            let mut seats = seats.lock().unwrap();
                            seat = Some(seats.len());
                            seats.push(tx.clone());
                            let _ = tx.send(reply(json!({"result": "joined"})));
                        }
                        "msg.send" => {
                            let tip = json!({"type": "event", "event": "msg.system", "data": {
                                "from": user, "body": [{"type": "custom", "data": "{}"}]}});
                            let event = json!({"type": "event", "event": "msg.new", "data": {
                                "from": user, "body": frame["data"]["body"]}});
                            let seats = seats.lock().unwrap().clone();
                            for (i, viewer) in seats.iter().enumerate() {
                                if Some(i) != seat {
                                    let _ = viewer.send(tip.to_string());
                                    let _ = viewer.send(event.to_string());
                                }
                            }
                            let _ = tx.send(reply(json!({"msgId": "m", "seq": 1, "time": 1})));
                        }
                        other => panic!("unexpected {other} from {user}"),
                    }
                }
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_run_against_a_faithful_server_counts_every_receipt() {
        // GIVEN a server that seats every viewer and fans every message out once
        let key = UserSigKey::new(7, "fanout-test-secret");
        let url = mock_server(key.clone()).await;
        let config = FanoutConfig {
            url,
            viewers: 20,
            messages: 3,
            interval: Duration::from_millis(100),
            wait: Duration::from_secs(3),
            payload_bytes: 8,
            connect_concurrency: 4,
            join_concurrency: 5,
            key,
            run_id: new_run_id(),
            progress: false,
            server_pid: None,
        };
        // WHEN the bench runs
        let report = run(&config).await.unwrap();
        // THEN every viewer joined and got each of the three messages exactly once
        assert_eq!(report.joined, 20, "{report}");
        assert_eq!(report.messages.len(), 3);
        assert!(
            report.messages.iter().all(|m| m.sent && m.ack.is_some()),
            "{report}"
        );
        assert_eq!((report.expected, report.received), (60, 60), "{report}");
        assert_eq!((report.lost, report.duplicates), (0, 0), "{report}");
        assert!(report.drained && report.errors.is_empty(), "{report}");
        assert_eq!(report.receive.count, 60);
        assert!(report.messages.iter().all(|m| m.delivered == 20));
    }

    #[tokio::test]
    async fn invalid_configs_are_refused_before_connecting() {
        let config = FanoutConfig {
            url: "ws://127.0.0.1:1".into(),
            viewers: 0,
            messages: 1,
            interval: Duration::from_secs(1),
            wait: Duration::ZERO,
            payload_bytes: 0,
            connect_concurrency: 1,
            join_concurrency: 1,
            key: UserSigKey::new(1, "k"),
            run_id: "t".into(),
            progress: false,
            server_pid: None,
        };
        assert!(matches!(run(&config).await, Err(FanoutError::InvalidConfig(_))));
        let long_run_id = FanoutConfig {
            viewers: 1,
            run_id: "x".repeat(40),
            ..config.clone()
        };
        assert!(matches!(
            run(&long_run_id).await,
            Err(FanoutError::InvalidConfig(_))
        ));
        let refused = FanoutConfig { viewers: 1, ..config };
        assert!(matches!(run(&refused).await, Err(FanoutError::Connect { .. })));
    }
}
