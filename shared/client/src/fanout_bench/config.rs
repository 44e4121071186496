//! What a fan-out bench runs: its configuration, errors and room name.

use crate::error::ClientError;
use cirrus_core::usersig::UserSigKey;
use std::time::Duration;

/// The reqId of the host's `group.create` and of each viewer's `group.apply`.
pub(super) const SETUP_REQ_ID: &str = "setup";
/// Longest wait for a reply to `group.create` or `group.apply`.
pub(super) const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Time between the last join and the first message.
pub(super) const START_DELAY: Duration = Duration::from_millis(500);

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
