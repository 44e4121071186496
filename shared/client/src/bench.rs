//! The open-loop load generator behind `cirrus bench` (DESIGN.md §8).
//!
//! N connections form N/2 sender→receiver pairs of fresh users (`bench<run>-s-<i>` →
//! `bench<run>-r-<i>`). Every sender has a fixed schedule of `rate / pairs` messages per second,
//! staggered so the pairs together send evenly, and never waits for acks: requests are pipelined
//! and a late sender catches up at once. Each message carries its *scheduled* send time, so
//! delivery and ack latency are measured from the schedule and a stalled server cannot hide its
//! stalls (no coordinated omission). Messages scheduled during the warmup are sent but not counted.
//!
//! The hot path stays cheap: frames are formatted straight into a reused buffer, and replies and
//! events are parsed into small borrowed structs holding only the fields the bench reads.

use crate::error::ClientError;
use crate::frame;
use crate::proc_stats::CpuReading;
use bytes::BytesMut;
use cirrus_core::usersig::UserSigKey;
use futures_util::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A bench connection.
pub(crate) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Lifetime of the tokens the bench mints for its users.
const TOKEN_LIFETIME_SECS: i64 = 24 * 3600;
/// Time between the last connection and the first scheduled message.
const START_DELAY: Duration = Duration::from_millis(200);
/// How long receivers keep listening after the senders stop, for deliveries of acked messages.
const DELIVERY_GRACE: Duration = Duration::from_millis(500);

/// CPU times and progress counters at one instant.
struct Checkpoint {
    cpu: CpuReading,
    sent: u64,
    acked: u64,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The WebSocket endpoint, e.g. `ws://127.0.0.1:8080`.
    pub url: String,
    /// Connections to open: half senders, half receivers.
    pub connections: usize,
    /// Target messages per second, over all senders.
    pub rate: f64,
    /// The measured period, after the warmup.
    pub duration: Duration,
    /// Sending before the measured period; excluded from the figures.
    pub warmup: Duration,
    /// How long to wait after the last scheduled message for acks and deliveries.
    pub drain: Duration,
    /// Bytes of text in each message besides the timing element (0 for none).
    pub payload_bytes: usize,
    /// Connections opened at once.
    pub connect_concurrency: usize,
    /// Mints the users' tokens.
    pub key: UserSigKey,
    /// Makes this run's user names unique; see [`new_run_id`].
    pub run_id: String,
    /// Print a progress line to stderr every second.
    pub progress: bool,
    /// A server process whose CPU time to report per message (Linux `/proc`).
    pub server_pid: Option<u32>,
}

/// Why a bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The configuration cannot work.
    #[error("invalid bench configuration: {0}")]
    InvalidConfig(&'static str),
    /// A connection could not be opened.
    #[error("connecting {user} failed: {source}")]
    Connect {
        /// The bench user.
        user: String,
        /// What went wrong.
        source: ClientError,
    },
}

/// A short id unique to this run, used in user names and clientMsgIds.
pub fn new_run_id() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    random.chars().take(8).collect()
}

/// The sending schedule: when each sender sends its `k`-th message, in nanoseconds since the
/// bench start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pairs: usize,
    period_ns: f64,
    warmup_ns: u64,
    end_ns: u64,
}

impl Schedule {
    /// `rate` messages per second over `pairs` senders, sending for `warmup + duration`.
    pub fn new(rate: f64, pairs: usize, warmup: Duration, duration: Duration) -> Self {
        let pairs = pairs.max(1);
        let per_sender = (rate / pairs as f64).max(f64::MIN_POSITIVE);
        Self {
            pairs,
            period_ns: 1e9 / per_sender,
            warmup_ns: duration_ns(warmup),
            end_ns: duration_ns(warmup).saturating_add(duration_ns(duration)),
        }
    }

    /// Nanoseconds between two messages of one sender.
    pub fn period_ns(&self) -> f64 {
        self.period_ns
    }

    /// When `sender` sends its message `k`: senders are offset by `period / pairs` from each other.
    pub fn send_at(&self, sender: usize, k: u64) -> u64 {
        let phase = self.period_ns * (sender % self.pairs) as f64 / self.pairs as f64;
        (phase + k as f64 * self.period_ns).round() as u64
    }

    /// How many messages `sender` sends: those scheduled before the end.
    pub fn messages_for(&self, sender: usize) -> u64 {
        let phase = self.send_at(sender, 0);
        if phase >= self.end_ns {
            return 0;
        }
        let mut n = ((self.end_ns - phase) as f64 / self.period_ns).ceil() as u64;
        while n > 0 && self.send_at(sender, n - 1) >= self.end_ns {
            n -= 1;
        }
        while self.send_at(sender, n) < self.end_ns {
            n += 1;
        }
        n
    }

    /// Whether a message scheduled at `at_ns` counts (after the warmup, before the end).
    pub fn measured(&self, at_ns: u64) -> bool {
        (self.warmup_ns..self.end_ns).contains(&at_ns)
    }

    /// The end of sending, in nanoseconds since the start.
    pub fn end_ns(&self) -> u64 {
        self.end_ns
    }
}

fn duration_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The user name of sender (`'s'`) or receiver (`'r'`) `index` in run `run_id`.
pub fn bench_user(run_id: &str, role: char, index: usize) -> String {
    format!("bench{run_id}-{role}-{index}")
}

/// Formats the `msg.send` frame for message `k` into `out` (the hot path; no JSON tree).
///
/// The reqId is `k` itself, so an ack finds its schedule without a lookup; the custom element's
/// data is `"<k>:<scheduled ns>"`. `to` and `client_msg_prefix` must need no JSON escaping, and
/// `payload` must be a JSON string literal's contents.
pub fn format_send_frame(
    out: &mut BytesMut,
    k: u64,
    at_ns: u64,
    to: &str,
    client_msg_prefix: &str,
    payload: &str,
) {
    // Writing into a BytesMut grows it and cannot fail.
    let _ = write!(
        out,
        r#"{{"action":"msg.send","reqId":"{k}","data":{{"to":{{"type":"c2c","id":"{to}"}},"clientMsgId":"{client_msg_prefix}{k}","body":[{{"type":"custom","data":"{k}:{at_ns}"}}"#
    );
    if !payload.is_empty() {
        let _ = write!(out, r#",{{"type":"text","text":"{payload}"}}"#);
    }
    out.extend_from_slice(b"]}}");
}

#[derive(Deserialize)]
struct ReplyView<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default, rename = "reqId")]
    req_id: Option<Cow<'a, str>>,
    #[serde(default)]
    ok: bool,
    #[serde(borrow, default)]
    error: Option<ErrorView<'a>>,
}

#[derive(Deserialize)]
struct ErrorView<'a> {
    #[serde(borrow)]
    code: Cow<'a, str>,
}

/// What a sender learns from a reply: the message index and the error code, if any.
#[derive(Debug, PartialEq, Eq)]
pub struct AckView {
    /// The message index (the reqId).
    pub k: u64,
    /// `None` for a successful ack.
    pub error: Option<String>,
}

/// Reads a reply to a bench `msg.send`; `None` for events and replies to anything else.
pub fn parse_ack(text: &str) -> Option<AckView> {
    let reply: ReplyView<'_> = serde_json::from_str(text).ok()?;
    if reply.kind != "reply" {
        return None;
    }
    let k = reply.req_id?.parse().ok()?;
    let error = match (reply.ok, reply.error) {
        (true, _) => None,
        (false, Some(error)) => Some(error.code.into_owned()),
        (false, None) => Some("unknown".to_owned()),
    };
    Some(AckView { k, error })
}

#[derive(Deserialize)]
struct EventView<'a> {
    #[serde(borrow, default)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<MessageView<'a>>,
}

#[derive(Deserialize)]
struct MessageView<'a> {
    #[serde(borrow, default)]
    from: Cow<'a, str>,
    #[serde(borrow, default)]
    body: Vec<ElementView<'a>>,
}

#[derive(Deserialize)]
struct ElementView<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<Cow<'a, str>>,
}

/// What a receiver learns from a `msg.new`: who sent it, and the message index and schedule.
#[derive(Debug, PartialEq, Eq)]
pub struct DeliveryView {
    /// The sender's user id.
    pub from: String,
    /// The message index.
    pub k: u64,
    /// Its scheduled send time, ns since the bench start.
    pub at_ns: u64,
}

/// Reads a bench message out of a `msg.new` event; `None` for anything else.
pub fn parse_delivery(text: &str) -> Option<DeliveryView> {
    let event: EventView<'_> = serde_json::from_str(text).ok()?;
    if event.event.as_deref() != Some("msg.new") {
        return None;
    }
    let message = event.data?;
    let timing = message
        .body
        .iter()
        .find(|e| e.kind == "custom")?
        .data
        .as_deref()?;
    let (k, at_ns) = timing.split_once(':')?;
    Some(DeliveryView {
        from: message.from.into_owned(),
        k: k.parse().ok()?,
        at_ns: at_ns.parse().ok()?,
    })
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

impl LatencySummary {
    /// Reads the percentiles off a histogram of microseconds.
    pub fn from_histogram(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BenchReport {
    /// Connections opened.
    pub connections: usize,
    /// Sender→receiver pairs.
    pub pairs: usize,
    /// Time to open every connection.
    pub connect_time: Duration,
    /// Target messages per second.
    pub target_rate: f64,
    /// The measured period.
    pub duration: Duration,
    /// The warmup before it.
    pub warmup: Duration,
    /// Messages scheduled in the measured period.
    pub scheduled: u64,
    /// Of those, sent.
    pub sent: u64,
    /// Sent per second over the measured period (longer if sending fell behind).
    pub send_rate: f64,
    /// Successful acks.
    pub acked: u64,
    /// Messages delivered to their receiver (once each).
    pub delivered: u64,
    /// Delivered per second, over the measured period or until the last delivery if later.
    pub delivery_rate: f64,
    /// Acked but not delivered by the end of the drain.
    pub lost: u64,
    /// Whether every sent message was answered and every acked one delivered before the drain
    /// timed out (if not, `lost` may include deliveries still on their way).
    pub drained: bool,
    /// Sent but neither acked nor answered with an error by the end of the drain.
    pub unanswered: u64,
    /// Deliveries of a message already delivered (at-least-once repeats).
    pub duplicates: u64,
    /// Error replies and connection failures, by code.
    pub errors: BTreeMap<String, u64>,
    /// Scheduled send to `msg.new` at the receiver.
    pub delivery: LatencySummary,
    /// Scheduled send to the ack at the sender.
    pub ack: LatencySummary,
    /// The bench's own CPU time per message sent during the measured period, if measurable.
    pub bench_cpu_us_per_msg: Option<f64>,
    /// The server's CPU time per message it acked during the measured period, if a server pid
    /// was given.
    pub server_cpu_us_per_msg: Option<f64>,
}

/// Microseconds as milliseconds, for the reports.
pub(crate) fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl LatencySummary {
    /// Every percentile in milliseconds, as a report line prints them.
    pub(crate) fn percentiles_ms(&self) -> String {
        format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (n={})",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.p999),
            ms(self.max),
            self.count
        )
    }
}

/// The errors of a report as `code=count, …`, or `none`.
pub(crate) fn errors_list(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "none".to_owned();
    }
    let list: Vec<String> = errors.iter().map(|(code, n)| format!("{code}={n}")).collect();
    list.join(", ")
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "connections   {} ({} sender->receiver pairs), connected in {:.2} s",
            self.connections,
            self.pairs,
            self.connect_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "target        {:.0} msgs/s for {:.1} s after a {:.1} s warmup",
            self.target_rate,
            self.duration.as_secs_f64(),
            self.warmup.as_secs_f64()
        )?;
        writeln!(
            f,
            "sent          {} of {} scheduled ({:.0} msgs/s achieved)",
            self.sent, self.scheduled, self.send_rate
        )?;
        writeln!(
            f,
            "acked         {} ({} unanswered{})",
            self.acked,
            self.unanswered,
            if self.drained { "" } else { "; the drain timed out" }
        )?;
        writeln!(
            f,
            "delivered     {} ({:.0} msgs/s)",
            self.delivered, self.delivery_rate
        )?;
        writeln!(
            f,
            "lost          {} (acked, not delivered); {} duplicate deliveries",
            self.lost, self.duplicates
        )?;
        writeln!(f, "errors        {}", errors_list(&self.errors))?;
        writeln!(f, "delivery ms   {}", self.delivery.percentiles_ms())?;
        let a = &self.ack;
        write!(
            f,
            "ack ms        p50 {:.2}  p99 {:.2}  max {:.2}  (n={})",
            ms(a.p50),
            ms(a.p99),
            ms(a.max),
            a.count
        )?;
        if let Some(cpu) = self.bench_cpu_us_per_msg {
            write!(f, "\nbench cpu     {cpu:.1} us/msg")?;
        }
        if let Some(cpu) = self.server_cpu_us_per_msg {
            write!(f, "\nserver cpu    {cpu:.1} us/msg")?;
        }
        Ok(())
    }
}

/// Counters the tasks bump as they go, read for progress and to end the drain early.
#[derive(Default)]
struct Progress {
    sent: AtomicU64,
    answered: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    senders_done: AtomicU64,
}

struct Shared {
    schedule: Schedule,
    start: Instant,
    run_id: String,
    payload: String,
    progress: Progress,
}

impl Shared {
    fn instant(&self, at_ns: u64) -> Instant {
        self.start + Duration::from_nanos(at_ns)
    }

    /// Microseconds from `at_ns` to `now`, plus one so that zero can mean "none".
    fn latency_slot(&self, at_ns: u64, now: Instant) -> u32 {
        let us = now.saturating_duration_since(self.instant(at_ns)).as_micros();
        u32::try_from(us.saturating_add(1)).unwrap_or(u32::MAX)
    }
}

struct SenderResult {
    /// Per message: ack latency in µs + 1; 0 = no successful ack.
    acks: Vec<u32>,
    sent_measured: u64,
    last_measured_send: Option<Instant>,
    unanswered_measured: u64,
    errors: HashMap<String, u64>,
}

struct ReceiverResult {
    /// Per message: delivery latency in µs + 1; 0 = not delivered.
    deliveries: Vec<u32>,
    last_measured_delivery: Option<Instant>,
    duplicates: u64,
    errors: HashMap<String, u64>,
}

/// Opens one connection per user, `concurrency` at once, each with a fresh token: the sockets in
/// the users' order, or the first user that could not connect.
pub(crate) async fn connect_all(
    url: &str,
    key: &UserSigKey,
    users: impl IntoIterator<Item = String>,
    concurrency: usize,
) -> Result<Vec<WsStream>, (String, ClientError)> {
    let issued = now_secs();
    let jobs = users.into_iter().enumerate().map(|(slot, user)| {
        let token = key.mint(&user, issued, TOKEN_LIFETIME_SECS);
        let url = frame::connect_url(url, &token, Some("bench"));
        async move {
            let result = match url {
                Ok(url) => open(url).await,
                Err(reason) => Err(ClientError::InvalidUrl(reason)),
            };
            (slot, user, result)
        }
    });
    let mut connecting = futures_util::stream::iter(jobs).buffer_unordered(concurrency.max(1));
    let mut sockets = Vec::new();
    while let Some((slot, user, result)) = connecting.next().await {
        match result {
            Ok(socket) => sockets.push((slot, socket)),
            Err(source) => return Err((user, source)),
        }
    }
    sockets.sort_unstable_by_key(|&(slot, _)| slot);
    Ok(sockets.into_iter().map(|(_, socket)| socket).collect())
}

async fn open(url: String) -> Result<WsStream, ClientError> {
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let attempt = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
    match tokio::time::timeout(Duration::from_secs(10), attempt).await {
        Err(_) => Err(ClientError::Timeout),
        Ok(Err(error)) => Err(error.into()),
        Ok(Ok((socket, _))) => Ok(socket),
    }
}

async fn run_sender(
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

async fn run_receiver(
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

fn cpu_per_message(before: Option<Duration>, after: Option<Duration>, messages: u64) -> Option<f64> {
    let used = after?.checked_sub(before?)?;
    (messages > 0).then(|| used.as_secs_f64() * 1e6 / messages as f64)
}

/// Seconds since the Unix epoch, for minting tokens.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Runs the bench and returns its figures. Progress goes to stderr when asked for.
pub async fn run(config: &BenchConfig) -> Result<BenchReport, BenchError> {
    if config.connections < 2 || !config.connections.is_multiple_of(2) {
        return Err(BenchError::InvalidConfig(
            "connections must be an even number >= 2",
        ));
    }
    if !(config.rate > 0.0 && config.rate.is_finite()) {
        return Err(BenchError::InvalidConfig("rate must be a positive number"));
    }
    if config.duration.is_zero() {
        return Err(BenchError::InvalidConfig("duration must be positive"));
    }
    let pairs = config.connections / 2;

    // Connect receivers (indexes 0..pairs) and senders (pairs..2*pairs), a bounded number at once.
    let connect_started = Instant::now();
    let users = (0..config.connections).map(|slot| {
        let (role, index) = if slot < pairs {
            ('r', slot)
        } else {
            ('s', slot - pairs)
        };
        bench_user(&config.run_id, role, index)
    });
    let sockets = connect_all(&config.url, &config.key, users, config.connect_concurrency)
        .await
        .map_err(|(user, source)| BenchError::Connect { user, source })?;
    let connect_time = connect_started.elapsed();
    if config.progress {
        eprintln!(
            "connected {} connections in {:.2} s",
            config.connections,
            connect_time.as_secs_f64()
        );
    }

    let schedule = Schedule::new(config.rate, pairs, config.warmup, config.duration);
    let shared = Arc::new(Shared {
        schedule,
        start: Instant::now() + START_DELAY,
        run_id: config.run_id.clone(),
        payload: "x".repeat(config.payload_bytes),
        progress: Progress::default(),
    });
    let (stop_senders, senders_stop) = watch::channel(false);
    let (stop_receivers, receivers_stop) = watch::channel(false);
    let mut receivers = Vec::with_capacity(pairs);
    let mut senders = Vec::with_capacity(pairs);
    for (slot, socket) in sockets.into_iter().enumerate() {
        if slot < pairs {
            let task = run_receiver(shared.clone(), slot, socket, receivers_stop.clone());
            receivers.push(tokio::spawn(task));
        } else {
            let task = run_sender(shared.clone(), slot - pairs, socket, senders_stop.clone());
            senders.push(tokio::spawn(task));
        }
    }

    // Watch the run: CPU readings at the window's edges, progress, and an early end of the drain
    // once every sent message is answered and every acked one delivered.
    let window_start = shared.instant(duration_ns(config.warmup));
    let window_end = shared.instant(schedule.end_ns());
    let drain_deadline = window_end + config.drain;
    let progress = &shared.progress;
    let reading = || Checkpoint {
        cpu: CpuReading::take(config.server_pid),
        sent: progress.sent.load(Ordering::Relaxed),
        acked: progress.acked.load(Ordering::Relaxed),
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let (mut cpu_start, mut cpu_end) = (None, None);
    let mut next_progress = shared.start + Duration::from_secs(1);
    let drained = loop {
        ticker.tick().await;
        let now = Instant::now();
        if cpu_start.is_none() && now >= window_start {
            cpu_start = Some(reading());
        }
        if cpu_end.is_none() && now >= window_end {
            cpu_end = Some(reading());
        }
        let sent = progress.sent.load(Ordering::Relaxed);
        let answered = progress.answered.load(Ordering::Relaxed);
        let acked = progress.acked.load(Ordering::Relaxed);
        let delivered = progress.delivered.load(Ordering::Relaxed);
        let senders_done = progress.senders_done.load(Ordering::Relaxed);
        if config.progress && now >= next_progress {
            next_progress += Duration::from_secs(1);
            eprintln!(
                "t={:>4.1}s sent {sent} acked {acked} delivered {delivered}",
                now.saturating_duration_since(shared.start).as_secs_f64()
            );
        }
        let all_sent = senders_done >= pairs as u64 && now >= window_end;
        if all_sent && answered >= sent && delivered >= acked {
            break true;
        }
        if now >= drain_deadline {
            break false;
        }
    };

    // Stop the senders first, so every ack they counted leaves its delivery a moment to arrive.
    let _ = stop_senders.send(true);
    let mut sender_results = Vec::with_capacity(senders.len());
    for sender in senders {
        sender_results.push(sender.await.ok());
    }
    let grace_end = Instant::now() + DELIVERY_GRACE;
    while Instant::now() < grace_end
        && progress.delivered.load(Ordering::Relaxed) < progress.acked.load(Ordering::Relaxed)
    {
        ticker.tick().await;
    }
    let _ = stop_receivers.send(true);
    let mut receiver_results = Vec::with_capacity(receivers.len());
    for receiver in receivers {
        receiver_results.push(receiver.await.ok());
    }

    let mut report = BenchReport {
        connections: config.connections,
        pairs,
        connect_time,
        target_rate: config.rate,
        duration: config.duration,
        warmup: config.warmup,
        ..BenchReport::default()
    };
    let new_histogram = || Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).ok();
    let (mut delivery_hist, mut ack_hist) = (new_histogram(), new_histogram());
    let mut last_send = None;
    let mut last_delivery = None;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for (index, (sender, receiver)) in sender_results.into_iter().zip(receiver_results).enumerate() {
        let (Some(sender), Some(receiver)) = (sender, receiver) else {
            *errors.entry("bench_task_failed".to_owned()).or_default() += 1;
            continue;
        };
        report.sent += sender.sent_measured;
        report.unanswered += sender.unanswered_measured;
        report.duplicates += receiver.duplicates;
        last_send = last_send.max(sender.last_measured_send);
        last_delivery = last_delivery.max(receiver.last_measured_delivery);
        for (code, n) in sender.errors.into_iter().chain(receiver.errors) {
            *errors.entry(code).or_default() += n;
        }
        for (k, (&ack, &delivery)) in sender.acks.iter().zip(&receiver.deliveries).enumerate() {
            if !schedule.measured(schedule.send_at(index, k as u64)) {
                continue;
            }
            report.scheduled += 1;
            if ack != 0 {
                report.acked += 1;
                if let Some(h) = ack_hist.as_mut() {
                    h.saturating_record(u64::from(ack - 1));
                }
            }
            if delivery != 0 {
                report.delivered += 1;
                if let Some(h) = delivery_hist.as_mut() {
                    h.saturating_record(u64::from(delivery - 1));
                }
            } else if ack != 0 {
                report.lost += 1;
            }
        }
    }
    report.errors = errors;
    let measured_secs = config.duration.as_secs_f64();
    let span = |last: Option<Instant>| {
        last.map_or(measured_secs, |last| {
            last.saturating_duration_since(window_start)
                .as_secs_f64()
                .max(measured_secs)
        })
    };
    report.send_rate = report.sent as f64 / span(last_send);
    report.delivery_rate = report.delivered as f64 / span(last_delivery);
    report.delivery = delivery_hist
        .as_ref()
        .map(LatencySummary::from_histogram)
        .unwrap_or_default();
    report.ack = ack_hist
        .as_ref()
        .map(LatencySummary::from_histogram)
        .unwrap_or_default();
    report.drained = drained;
    if let (Some(start), Some(end)) = (cpu_start, cpu_end) {
        // Per message handled in the window: sent by the bench, acked (stored) by the server.
        let sent = end.sent.saturating_sub(start.sent);
        let acked = end.acked.saturating_sub(start.acked);
        report.bench_cpu_us_per_msg = cpu_per_message(start.cpu.bench, end.cpu.bench, sent);
        report.server_cpu_us_per_msg = cpu_per_message(start.cpu.server, end.cpu.server, acked);
    }
    Ok(report)
}

/// The stand-in servers of the benches' tests.
#[cfg(test)]
pub(crate) mod mock {
    use super::now_secs;
    use cirrus_core::usersig::UserSigKey;
    use futures_util::stream::SplitStream;
    use futures_util::{SinkExt as _, StreamExt as _};
    use std::sync::{Arc, Mutex};
    use tokio::net::TcpStream;
    use tokio::sync::mpsc;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    use tokio_tungstenite::tungstenite::handshake::server::Request;

    /// A bench connection the stand-in server accepted.
    pub(crate) struct Peer {
        /// The user its token names.
        pub(crate) user: String,
        /// Frames to send it, in order.
        pub(crate) outbox: mpsc::UnboundedSender<String>,
        /// What it sends.
        pub(crate) frames: SplitStream<WebSocketStream<TcpStream>>,
    }

    /// Listens on a free port and hands every connection, once its token checks out, to `serve_peer`
    /// on a task of its own; the URL to connect to.
    pub(crate) async fn serve<F, Fut>(key: UserSigKey, serve_peer: F) -> String
    where
        F: Fn(Peer) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let peer = accept(tcp, &key).await;
                tokio::spawn(serve_peer(peer));
            }
        });
        url
    }

    async fn accept(tcp: TcpStream, key: &UserSigKey) -> Peer {
        let query = Arc::new(Mutex::new(String::new()));
        let seen = query.clone();
        #[allow(clippy::result_large_err)] // tungstenite's callback signature
        let callback = move |request: &Request, response| {
            *seen.lock().unwrap() = request.uri().query().unwrap_or_default().to_owned();
            Ok(response)
        };
        let socket = tokio_tungstenite::accept_hdr_async(tcp, callback).await.unwrap();
        let token = query
            .lock()
            .unwrap()
            .trim_start_matches("token=")
            .split('&')
            .next()
            .unwrap()
            .to_owned();
        let user = key.verify(&token, now_secs()).unwrap().identifier;
        let (outbox, mut pending) = mpsc::unbounded_channel::<String>();
        let (mut sink, frames) = socket.split();
        tokio::spawn(async move {
            while let Some(frame) = pending.recv().await {
                if sink.send(WsMessage::text(frame)).await.is_err() {
                    break;
                }
            }
        });
        Peer { user, outbox, frames }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc_stats::process_cpu;

    #[test]
    fn the_schedule_spreads_senders_evenly() {
        // GIVEN 17,500 msgs/s over 500 pairs WHEN scheduled THEN each sender sends every 1/35 s,
        // and sender i starts i/500 of a period after sender 0.
        let schedule = Schedule::new(17_500.0, 500, Duration::from_secs(2), Duration::from_secs(10));
        let period = 1e9 / 35.0;
        assert!((schedule.period_ns() - period).abs() < 1e-6);
        assert_eq!(schedule.send_at(0, 0), 0);
        assert_eq!(schedule.send_at(250, 0), (period / 2.0).round() as u64);
        assert_eq!(schedule.send_at(0, 35), 1_000_000_000);
        // 12 s at 35/s is 420 messages for every sender, 17,500 per second in all.
        for sender in [0, 1, 499] {
            assert_eq!(schedule.messages_for(sender), 420, "sender {sender}");
        }
        let total: u64 = (0..500).map(|s| schedule.messages_for(s)).sum();
        assert_eq!(total, 17_500 * 12);
    }

    #[test]
    fn message_counts_stop_exactly_at_the_end() {
        let schedule = Schedule::new(3.0, 2, Duration::ZERO, Duration::from_millis(1_100));
        // Per sender 1.5/s: sender 0 at 0, 666.7 ms; sender 1 at 333.3 ms, 1000 ms.
        assert_eq!(schedule.messages_for(0), 2);
        assert_eq!(schedule.messages_for(1), 2);
        for sender in 0..2 {
            let n = schedule.messages_for(sender);
            assert!(schedule.send_at(sender, n - 1) < schedule.end_ns());
            assert!(schedule.send_at(sender, n) >= schedule.end_ns());
        }
    }

    #[test]
    fn warmup_messages_are_not_measured() {
        let schedule = Schedule::new(10.0, 1, Duration::from_secs(1), Duration::from_secs(1));
        assert!(!schedule.measured(schedule.send_at(0, 9)));
        assert!(schedule.measured(schedule.send_at(0, 10)));
        assert!(schedule.measured(schedule.send_at(0, 19)));
        assert_eq!(schedule.messages_for(0), 20);
    }

    #[test]
    fn send_frames_are_valid_json_and_round_trip_through_the_parsers() {
        // GIVEN a formatted frame
        let mut buf = BytesMut::new();
        format_send_frame(&mut buf, 7, 123_456, "benchab12-r-3", "ab12-3-", "xxxx");
        let text = std::str::from_utf8(&buf).unwrap();
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        // THEN it is the documented msg.send with the timing element first
        assert_eq!(value["action"], "msg.send");
        assert_eq!(value["reqId"], "7");
        assert_eq!(value["data"]["to"]["id"], "benchab12-r-3");
        assert_eq!(value["data"]["clientMsgId"], "ab12-3-7");
        let body: Vec<cirrus_core::element::Element> =
            serde_json::from_value(value["data"]["body"].clone()).unwrap();
        assert_eq!(body.len(), 2);
        // AND a delivery of that body reads back the index and schedule
        let event = serde_json::json!({"type": "event", "event": "msg.new", "data": {
            "msgId": "m", "seq": 1, "from": "benchab12-s-3", "body": value["data"]["body"]}});
        let delivery = parse_delivery(&event.to_string()).unwrap();
        assert_eq!(
            delivery,
            DeliveryView {
                from: "benchab12-s-3".into(),
                k: 7,
                at_ns: 123_456
            }
        );
        // AND without a payload there is only the timing element
        let mut bare = BytesMut::new();
        format_send_frame(&mut bare, 0, 0, "u", "p", "");
        let value: serde_json::Value = serde_json::from_slice(&bare).unwrap();
        assert_eq!(value["data"]["body"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn acks_are_read_by_req_id() {
        let ok = r#"{"type":"reply","reqId":"42","ok":true,"data":{"msgId":"m","seq":3,"time":1,"conversationId":"C2Cx"}}"#;
        assert_eq!(parse_ack(ok), Some(AckView { k: 42, error: None }));
        let err = r#"{"type":"reply","reqId":"5","ok":false,"error":{"code":"forbidden","message":"no"}}"#;
        assert_eq!(
            parse_ack(err),
            Some(AckView {
                k: 5,
                error: Some("forbidden".into())
            })
        );
        for other in [
            r#"{"type":"event","event":"msg.new","data":{}}"#,
            r#"{"type":"reply","reqId":"p1","ok":true}"#,
            r#"{"type":"reply","ok":false,"error":{"code":"bad_json","message":""}}"#,
            "garbage",
        ] {
            assert_eq!(parse_ack(other), None, "{other}");
        }
        assert_eq!(
            parse_delivery(r#"{"type":"event","event":"conv.updated","data":{}}"#),
            None
        );
    }

    #[test]
    fn reports_print_every_figure() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for us in 1..=1000 {
            histogram.record(us * 10).unwrap();
        }
        let summary = LatencySummary::from_histogram(&histogram);
        assert_eq!(summary.count, 1000);
        assert!((4990..=5010).contains(&summary.p50), "{summary:?}");
        assert!((9980..=10010).contains(&summary.max), "{summary:?}");
        let report = BenchReport {
            connections: 1000,
            pairs: 500,
            target_rate: 17_500.0,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            scheduled: 175_000,
            sent: 175_000,
            send_rate: 17_500.0,
            acked: 174_990,
            delivered: 174_989,
            delivery_rate: 17_498.9,
            lost: 1,
            errors: BTreeMap::from([("internal".to_owned(), 10)]),
            delivery: summary,
            ack: LatencySummary::default(),
            server_cpu_us_per_msg: Some(42.0),
            ..BenchReport::default()
        };
        let text = report.to_string();
        for expected in [
            "connections   1000 (500 sender->receiver pairs)",
            "target        17500 msgs/s for 10.0 s after a 2.0 s warmup",
            "sent          175000 of 175000 scheduled (17500 msgs/s achieved)",
            "delivered     174989 (17499 msgs/s)",
            "lost          1 (acked, not delivered)",
            "acked         174990 (0 unanswered; the drain timed out)",
            "errors        internal=10",
            "delivery ms   p50 5.00",
            "ack ms        p50 0.00  p99 0.00  max 0.00  (n=0)",
            "server cpu    42.0 us/msg",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("bench cpu"));
    }

    #[test]
    fn cpu_figures_need_both_readings_and_messages() {
        let (a, b) = (
            Some(Duration::from_millis(100)),
            Some(Duration::from_millis(1100)),
        );
        assert_eq!(cpu_per_message(a, b, 1000), Some(1000.0));
        assert_eq!(cpu_per_message(None, b, 1000), None);
        assert_eq!(cpu_per_message(a, b, 0), None);
        assert!(process_cpu(None).is_some() || !cfg!(target_os = "linux"));
    }

    #[test]
    fn run_ids_make_valid_user_names() {
        let run = new_run_id();
        assert_eq!(run.len(), 8);
        let longest = bench_user(&run, 's', 99_999);
        assert!(cirrus_core::ids::UserId::parse(longest).is_ok());
        assert_ne!(new_run_id(), run);
    }

    /// A stand-in server: acks every `msg.send` and pushes `msg.new` to the recipient.
    async fn mock_server(key: UserSigKey) -> String {
        use std::sync::Mutex;
        use tokio::sync::mpsc;
        let routes: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<String>>>> = Arc::default();
        mock::serve(key, move |mut peer| {
            let routes = routes.clone();
            async move {
                let (user, tx) = (peer.user, peer.outbox);
                routes.lock().unwrap().insert(user.clone(), tx.clone());
                while let Some(Ok(WsMessage::Text(text))) = peer.frames.next().await {
                    let frame: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                    let data = &frame["data"];
                    let to = data["to"]["id"].as_str().unwrap().to_owned();
                    let event = serde_json::json!({"type": "event", "event": "msg.new",
                        "data": {"from": user, "body": data["body"]}});
                    let ack = serde_json::json!({"type": "reply", "reqId": frame["reqId"], "ok": true,
                        "data": {"msgId": "m", "seq": 1, "time": 1, "conversationId": format!("C2C{to}")}});
                    let recipient = routes.lock().unwrap().get(&to).cloned();
                    if let Some(recipient) = recipient {
                        let _ = recipient.send(event.to_string());
                    }
                    let _ = tx.send(ack.to_string());
                }
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_run_against_a_faithful_server_counts_every_message() {
        // GIVEN a server that acks and delivers everything
        let key = UserSigKey::new(7, "bench-test-secret");
        let url = mock_server(key.clone()).await;
        let config = BenchConfig {
            url,
            connections: 6,
            rate: 300.0,
            duration: Duration::from_millis(600),
            warmup: Duration::from_millis(200),
            drain: Duration::from_secs(3),
            payload_bytes: 8,
            connect_concurrency: 2,
            key,
            run_id: new_run_id(),
            progress: false,
            server_pid: None,
        };
        // WHEN the bench runs
        let report = run(&config).await.unwrap();
        // THEN every measured message is sent, acked and delivered once, and nothing is lost
        assert_eq!(report.pairs, 3);
        assert_eq!(report.scheduled, 180, "{report}");
        assert_eq!(
            (report.sent, report.acked, report.delivered),
            (180, 180, 180),
            "{report}"
        );
        assert_eq!(
            (report.lost, report.duplicates, report.unanswered),
            (0, 0, 0),
            "{report}"
        );
        assert!(report.errors.is_empty() && report.drained, "{report}");
        assert_eq!(report.delivery.count, 180);
        // The rate is over at least the measured period, so it never exceeds the target.
        assert!(
            report.send_rate > 0.0 && report.send_rate <= 300.0 + 1e-6,
            "{report}"
        );
    }

    #[tokio::test]
    async fn invalid_configs_are_refused_before_connecting() {
        let config = BenchConfig {
            url: "ws://127.0.0.1:1".into(),
            connections: 3,
            rate: 10.0,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            drain: Duration::ZERO,
            payload_bytes: 0,
            connect_concurrency: 1,
            key: UserSigKey::new(1, "k"),
            run_id: "t".into(),
            progress: false,
            server_pid: None,
        };
        assert!(matches!(run(&config).await, Err(BenchError::InvalidConfig(_))));
        let refused = BenchConfig {
            connections: 2,
            ..config
        };
        assert!(matches!(run(&refused).await, Err(BenchError::Connect { .. })));
    }
}
