//! Data of the message lifecycle actions (`msg.recall`, `msg.edit`, `msg.delete`, `msg.sync`)
//! and their events.

use crate::ids::{ConversationId, MsgId, UserId};
use crate::message::Message;
use serde::{Deserialize, Serialize};

/// `msg.edit` request: which message, the version the editor saw, and its new content.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditRequest {
    /// The conversation, from the caller's side.
    pub conversation_id: String,
    /// The message's seq.
    pub seq: u64,
    /// The version the caller edits (0 for a message never edited): an edit of an older version
    /// is refused with `stale_version`, so two editors never overwrite each other unseen.
    #[serde(default)]
    pub version: u32,
    /// The new content.
    pub body: Vec<crate::element::Element>,
    /// The new opaque app data; absent drops it.
    #[serde(default)]
    pub cloud_custom_data: Option<String>,
}

/// `msg.recall` request: which message, by conversation and seq.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecallRequest {
    /// The conversation, from the caller's side.
    pub conversation_id: String,
    /// The message's seq.
    pub seq: u64,
}

/// `msg.recall` reply and the `msg.recalled` event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recalled<'a> {
    /// The conversation, from the receiving user's side.
    pub conversation_id: ConversationId,
    /// The recalled message.
    pub msg_id: &'a MsgId,
    /// Its seq.
    pub seq: u64,
    /// Who recalled it: the sender or the administrator.
    pub recalled_by: &'a UserId,
    /// When, ms since the epoch.
    pub time: i64,
}

/// `msg.delete` request: messages to delete from the caller's own history.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteRequest {
    /// The conversation, from the caller's side.
    pub conversation_id: String,
    /// Seqs of the messages (1 to 100).
    pub seqs: Vec<u64>,
}

/// `msg.delete` reply and the `msg.deleted` event (to the caller's other connections).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deleted<'a> {
    /// The conversation, from the caller's side.
    pub conversation_id: &'a ConversationId,
    /// The seqs now hidden, ascending.
    pub seqs: &'a [u64],
}

/// One conversation the client already knows, and the last seq it holds of it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncCursor {
    /// The conversation, from the caller's side.
    pub conversation_id: String,
    /// The highest seq the client holds.
    pub seq: u64,
}

/// `msg.sync` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncRequest {
    /// What the client holds; conversations it does not name get their newest page.
    #[serde(default)]
    pub cursors: Vec<SyncCursor>,
    /// Messages per conversation (default 20, capped by the server).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One conversation in a `msg.sync` reply.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncedConversation<'a> {
    /// The conversation, from the caller's side.
    pub conversation_id: &'a ConversationId,
    /// Highest seq.
    pub last_seq: u64,
    /// The caller's read pointer.
    pub read_seq: u64,
    /// `lastSeq - readSeq`.
    pub unread: u64,
    /// The missing messages in ascending seq order: just after the client's seq, or the newest
    /// page for a conversation the client did not name.
    pub messages: Vec<Message<'a>>,
    /// False when more messages lie between these and the client's seq (or, for the newest page,
    /// before them): page on with `msg.history`.
    pub complete: bool,
}

/// `msg.sync` reply: only conversations with something the client lacks.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReply<'a> {
    /// Most recently active first.
    pub conversations: Vec<SyncedConversation<'a>>,
}
