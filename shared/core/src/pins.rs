//! Pinned messages: a conversation keeps up to [`MAX_PINS`] messages pinned for everyone in it
//! (`conv.pin`, `conv.unpin`, `conv.pins`). Pins belong to the stream, so both users of a
//! one-to-one conversation and every member of a group see the same list.

use crate::ids::UserId;
use serde::{Deserialize, Serialize};

/// Most messages one conversation keeps pinned; pinning one more is refused (`pins_full`) until
/// one is unpinned.
pub const MAX_PINS: usize = 10;

/// One pinned message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pin {
    /// The message's seq in the conversation.
    pub seq: u64,
    /// Who pinned it.
    pub pinned_by: UserId,
    /// When, ms since the epoch.
    pub pinned_at: i64,
}

/// The outcome of pinning a message ([`crate::ports::PinStore::pin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pinning {
    /// Pinned now.
    Added(Pin),
    /// It was pinned already: the pin as it stands, unchanged.
    Already(Pin),
    /// The conversation has its [`MAX_PINS`] already.
    Full,
}

/// `pins` with `pin` added, newest first, unless its seq is pinned already or the list is full:
/// the rule both stores apply.
pub fn with_pin(mut pins: Vec<Pin>, pin: Pin, max: usize) -> (Vec<Pin>, Pinning) {
    if let Some(existing) = pins.iter().find(|existing| existing.seq == pin.seq) {
        let existing = existing.clone();
        return (pins, Pinning::Already(existing));
    }
    if pins.len() >= max {
        return (pins, Pinning::Full);
    }
    pins.insert(0, pin.clone());
    (pins, Pinning::Added(pin))
}

/// Orders pins newest first (ties by seq, newest message first), as `conv.pins` lists them.
pub fn newest_first(pins: &mut [Pin]) {
    pins.sort_by_key(|pin| std::cmp::Reverse((pin.pinned_at, pin.seq)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(seq: u64, at: i64) -> Pin {
        Pin {
            seq,
            pinned_by: UserId::parse("alice").unwrap(),
            pinned_at: at,
        }
    }

    #[test]
    fn given_pins_when_one_more_is_pinned_then_it_comes_first_until_the_list_is_full() {
        let (pins, outcome) = with_pin(vec![pin(1, 10)], pin(5, 20), 2);
        assert_eq!(outcome, Pinning::Added(pin(5, 20)));
        assert_eq!(pins.iter().map(|p| p.seq).collect::<Vec<_>>(), [5, 1]);
        let (pins, outcome) = with_pin(pins, pin(7, 30), 2);
        assert_eq!(outcome, Pinning::Full);
        assert_eq!(pins.len(), 2);
    }

    #[test]
    fn given_a_pinned_seq_when_pinned_again_then_the_first_pin_stands() {
        let (pins, outcome) = with_pin(vec![pin(3, 10)], pin(3, 99), 1);
        assert_eq!(outcome, Pinning::Already(pin(3, 10)));
        assert_eq!(pins, [pin(3, 10)]);
    }

    #[test]
    fn pins_order_newest_first() {
        let mut pins = vec![pin(1, 10), pin(9, 30), pin(4, 30), pin(2, 20)];
        newest_first(&mut pins);
        assert_eq!(pins.iter().map(|p| p.seq).collect::<Vec<_>>(), [9, 4, 2, 1]);
    }
}
