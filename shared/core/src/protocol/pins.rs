//! `conv.pin`, `conv.unpin`, `conv.pins` and the `conv.pinned` / `conv.unpinned` events.

use crate::ids::{ConversationId, UserId};
use crate::message::Message;
use serde::{Deserialize, Serialize};

/// `conv.pin` and `conv.unpin` request: which message, by conversation and seq.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PinRequest {
    /// The conversation, from the caller's side.
    pub conversation_id: String,
    /// The message's seq.
    pub seq: u64,
}

/// `conv.pins` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PinsRequest {
    /// The conversation, from the caller's side.
    pub conversation_id: String,
}

/// A pinned message as a client sees it: the pin, and the message as it is now (`None` once
/// its roaming ended or the viewer may no longer read it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinView<'a> {
    /// The conversation, from the viewer's side.
    pub conversation_id: ConversationId,
    /// The pinned message's seq.
    pub seq: u64,
    /// Who pinned it.
    pub pinned_by: &'a UserId,
    /// When, ms since the epoch.
    pub pinned_at: i64,
    /// The message itself.
    pub message: Option<Message<'a>>,
}

/// `conv.pins` reply.
#[derive(Debug, Serialize)]
pub struct PinsReply<'a> {
    /// Newest pin first.
    pub pins: Vec<PinView<'a>>,
}

/// `conv.unpin` reply and the `conv.unpinned` event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unpinned<'a> {
    /// The conversation, from the receiver's side.
    pub conversation_id: ConversationId,
    /// The seq that is no longer pinned.
    pub seq: u64,
    /// Who unpinned it.
    pub unpinned_by: &'a UserId,
    /// When, ms since the epoch.
    pub time: i64,
}
