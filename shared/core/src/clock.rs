//! Time and id sources, injected so tests can control them.

use crate::ids::{ConnectionId, MsgId};
use std::sync::atomic::{AtomicI64, Ordering};

/// Wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Now.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default()
    }
}

/// A clock that stands still until told to move: tests set the time and advance it, so a rule
/// about time (token revocation, connection expiry) is checked without sleeping.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `now_ms` (ms since the epoch).
    pub fn new(now_ms: i64) -> Self {
        Self {
            now_ms: AtomicI64::new(now_ms),
        }
    }

    /// Moves the clock to `now_ms` (backwards too, for tests of clock skew).
    pub fn set(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the clock on by `by_ms`; returns the new time.
    pub fn advance(&self, by_ms: i64) -> i64 {
        self.now_ms.fetch_add(by_ms, Ordering::SeqCst) + by_ms
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// Source of server-assigned ids.
pub trait IdGen: Send + Sync {
    /// A new, unique, time-ordered message id.
    fn msg_id(&self) -> MsgId;
    /// A new, unique connection id.
    fn connection_id(&self) -> ConnectionId;
}

/// UUID-based ids: v7 (time-ordered) for messages, v4 for connections.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidIds;

impl IdGen for UuidIds {
    fn msg_id(&self) -> MsgId {
        MsgId::parse(uuid::Uuid::now_v7().simple().to_string()).unwrap_or_else(|_| unreachable!())
    }

    fn connection_id(&self) -> ConnectionId {
        // API Gateway ids are 16 base64 characters; the shape does not matter, only uniqueness.
        ConnectionId::parse(uuid::Uuid::new_v4().simple().to_string()).unwrap_or_else(|_| unreachable!())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_unique_and_time_ordered() {
        let ids: Vec<_> = (0..100).map(|_| UuidIds.msg_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        assert!(SystemClock.now_ms() > 1_600_000_000_000);
    }

    #[test]
    fn given_a_manual_clock_when_set_or_advanced_then_it_reads_exactly_that() {
        // GIVEN a clock at t = 1000 ms
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        // WHEN it is advanced THEN it reads the sum, and says so
        assert_eq!(clock.advance(250), 1_250);
        assert_eq!(clock.now_ms(), 1_250);
        // WHEN it is set THEN it reads the new time, even an earlier one
        clock.set(500);
        assert_eq!(clock.now_ms(), 500);
        // AND a clock shared as a port moves for every holder
        let shared: std::sync::Arc<ManualClock> = std::sync::Arc::new(ManualClock::new(0));
        let port: std::sync::Arc<dyn Clock> = shared.clone();
        shared.advance(7);
        assert_eq!(port.now_ms(), 7);
    }
}
