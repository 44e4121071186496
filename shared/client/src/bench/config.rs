//! What a bench runs: its configuration, errors, user names and sending schedule.

use crate::error::ClientError;
use cirrus_core::usersig::UserSigKey;
use std::time::Duration;

/// Lifetime of the tokens the bench mints for its users.
pub(super) const TOKEN_LIFETIME_SECS: i64 = 24 * 3600;
/// Time between the last connection and the first scheduled message.
pub(super) const START_DELAY: Duration = Duration::from_millis(200);
/// How long receivers keep listening after the senders stop, for deliveries of acked messages.
pub(super) const DELIVERY_GRACE: Duration = Duration::from_millis(500);

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

pub(super) fn duration_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The user name of sender (`'s'`) or receiver (`'r'`) `index` in run `run_id`.
pub fn bench_user(run_id: &str, role: char, index: usize) -> String {
    format!("bench{run_id}-{role}-{index}")
}
