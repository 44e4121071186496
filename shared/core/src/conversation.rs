//! A user's conversation list entries (the roaming recent-contact list).

use crate::ids::{ConversationId, StreamKey, UserId};
use crate::message::StoredMessage;

/// One entry of a user's conversation list, as the store returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationEntry {
    /// Owner of the entry.
    pub owner: UserId,
    /// The conversation from the owner's side.
    pub conversation_id: ConversationId,
    /// The stream behind it.
    pub stream: StreamKey,
    /// Highest seq in the stream.
    pub last_seq: u64,
    /// Highest seq the owner has read.
    pub read_seq: u64,
    /// The newest message, if any is still kept.
    pub last_message: Option<StoredMessage>,
    /// Time of the last activity, ms since the epoch (orders the list).
    pub updated_at: i64,
}

impl ConversationEntry {
    /// Messages after the read pointer.
    pub fn unread(&self) -> u64 {
        self.last_seq.saturating_sub(self.read_seq)
    }
}

/// Position in a conversation list: entries strictly after this one in list order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationCursor {
    /// `updated_at` of the last entry returned.
    pub updated_at: i64,
    /// Its conversation id (tie-breaker).
    pub conversation_id: String,
}

impl ConversationCursor {
    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.updated_at, self.conversation_id)
    }

    /// Parses text produced by [`ConversationCursor::encode`].
    pub fn decode(raw: &str) -> Option<Self> {
        let (time, id) = raw.split_once('.')?;
        ConversationId::parse(id).ok()?;
        Some(Self {
            updated_at: time.parse().ok()?,
            conversation_id: id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = ConversationCursor {
            updated_at: 1_700_000_000_123,
            conversation_id: "C2Ca.b".into(),
        };
        assert_eq!(ConversationCursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "x.C2Cbob", "12", "12.nope"] {
            assert_eq!(ConversationCursor::decode(bad), None, "{bad}");
        }
    }
}
