//! Time and id sources, injected so tests can control them.

use crate::ids::{ConnectionId, MsgId};

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
}
