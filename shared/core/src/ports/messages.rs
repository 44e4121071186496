//! The message and conversation ports: streams of messages with their seqs, and each user's
//! conversation list with its read pointers.

use crate::conversation::{ConversationCursor, ConversationEntry};
use crate::element::Element;
use crate::error::Result;
use crate::ids::{ClientMsgId, ConversationId, MsgId, StreamKey, UserId};
use crate::message::{Edit, Recall, SenderProfile, StoredMessage, Target};
use crate::pins::{Pin, Pinning};
use async_trait::async_trait;

/// A message to append to its stream.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// The stream (one per C2C pair or group).
    pub stream: StreamKey,
    /// Server-assigned id.
    pub msg_id: MsgId,
    /// Sender.
    pub from: UserId,
    /// Target as addressed.
    pub to: Target,
    /// Acceptance time, ms.
    pub time: i64,
    /// Idempotency key, unique per sender.
    pub client_msg_id: ClientMsgId,
    /// Content.
    pub body: Vec<Element>,
    /// Opaque app data.
    pub cloud_custom_data: Option<String>,
    /// The sender's profile at send time, if the app keeps it.
    pub sender: Option<SenderProfile>,
    /// Whether the server originated it.
    pub system: bool,
    /// When roaming ends for it, ms since the epoch: reads leave it out from then on and the
    /// store drops it (DynamoDB TTL, the SQLite sweeper).
    pub expires_at: i64,
    /// How many of the newest messages the stream keeps: appending message `seq` may drop
    /// message `seq - keep_last` and older (reads leave them out either way).
    pub keep_last: u64,
    /// Conversation-list entries to create or touch, one per participant who keeps one.
    pub inbox: Vec<InboxUpdate>,
}

/// How appending a message touches one participant's conversation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxUpdate {
    /// The participant.
    pub owner: UserId,
    /// The conversation from their side.
    pub conversation_id: ConversationId,
    /// Whether the new message counts as read for them (the sender's own message does).
    pub mark_read: bool,
}

impl NewMessage {
    /// The message as stored once it has been given `seq`.
    pub fn stored(&self, seq: u64) -> StoredMessage {
        StoredMessage {
            stream: self.stream.clone(),
            seq,
            msg_id: self.msg_id.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            time: self.time,
            client_msg_id: self.client_msg_id.clone(),
            body: self.body.clone(),
            cloud_custom_data: self.cloud_custom_data.clone(),
            sender: self.sender.clone(),
            system: self.system,
            recalled: None,
            edited: None,
        }
    }
}

/// A new version of a message's content (`msg.edit`).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEdit {
    /// The new body (checked like a sent one).
    pub body: Vec<Element>,
    /// The new cloudCustomData; `None` drops it.
    pub cloud_custom_data: Option<String>,
    /// Who edits, when, and the version this makes: written only if the stored message is at
    /// `edit.version - 1` and not recalled.
    pub edit: Edit,
}

/// The outcome of [`MessageStore::edit`].
#[derive(Debug, Clone, PartialEq)]
pub enum Edited {
    /// The message as it is now, at the new version.
    Done(StoredMessage),
    /// Not written: the message is recalled, or at another version than the edit expected. It is
    /// returned as it is.
    Refused(StoredMessage),
    /// No such message.
    Missing,
}

impl InboxUpdate {
    /// The entries a one-to-one message touches: the sender's (read, since they wrote it) and the
    /// recipient's (unread). A note to oneself touches one entry.
    pub fn c2c(from: &UserId, to: &UserId) -> Vec<InboxUpdate> {
        let mut inbox = vec![InboxUpdate {
            owner: from.clone(),
            conversation_id: ConversationId::C2c(to.clone()),
            mark_read: true,
        }];
        if from != to {
            inbox.push(InboxUpdate {
                owner: to.clone(),
                conversation_id: ConversationId::C2c(from.clone()),
                mark_read: false,
            });
        }
        inbox
    }
}

/// The outcome of [`MessageStore::append`].
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// Stored now, with its seq.
    New(StoredMessage),
    /// The sender already sent this clientMsgId: the first message, unchanged.
    Duplicate(StoredMessage),
}

/// Which part of a stream to read, by seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    /// Only seqs strictly below this.
    pub before: Option<u64>,
    /// Only seqs strictly above this.
    pub after: Option<u64>,
    /// At most this many messages.
    pub limit: u32,
    /// Leave out messages whose roaming ended at or before this time (ms since the epoch).
    pub now: i64,
    /// Leave out messages rolled over by the per-conversation cap: only the newest `keep_last`
    /// seqs of the stream (by its last seq) count.
    pub keep_last: u64,
}

/// Message streams: append with seq allocation, and reads by seq.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Atomically: unless (from, clientMsgId) exists, allocate the next seq of the stream, store the
    /// message and apply its inbox updates. The message is durable when this returns.
    async fn append(&self, message: NewMessage) -> Result<Appended>;

    /// Messages of a stream in ascending seq order. With `after` (and no `before`) the page starts
    /// just after it; otherwise it is the newest `limit` messages below `before`. Expired,
    /// rolled-over and (with a `viewer`) that viewer's hidden messages are left out, and the page
    /// is still filled up to `limit` from what remains.
    async fn history(
        &self,
        stream: &StreamKey,
        range: SeqRange,
        viewer: Option<&UserId>,
    ) -> Result<Vec<StoredMessage>>;

    /// One message by seq, unless it is absent or its roaming ended at or before `now`.
    async fn get_message(&self, stream: &StreamKey, seq: u64, now: i64) -> Result<Option<StoredMessage>>;

    /// Turns a message into a tombstone: the body and cloudCustomData are dropped and `recall` is
    /// recorded. Recalling a tombstone changes nothing. Returns the message as it is afterwards,
    /// or `None` if there is no such message.
    async fn recall(&self, stream: &StreamKey, seq: u64, recall: &Recall) -> Result<Option<StoredMessage>>;

    /// Replaces a message's body and cloudCustomData and records `change.edit`, in one
    /// conditional write: only if the message exists, is not recalled, and is at version
    /// `change.edit.version - 1`. The seq, msgId, sender and time stay.
    async fn edit(&self, stream: &StreamKey, seq: u64, change: &MessageEdit) -> Result<Edited>;

    /// Hides these messages from `owner`'s history of the stream (delete for me), until
    /// `expires_at` (ms since the epoch; the messages are gone by then anyway). Hiding one twice,
    /// or a seq with no message, is not an error.
    async fn hide_messages(
        &self,
        owner: &UserId,
        stream: &StreamKey,
        seqs: &[u64],
        expires_at: i64,
    ) -> Result<()>;
}

/// Per-user conversation lists with read pointers.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// One page of `owner`'s conversations, most recently active first.
    async fn list_conversations(
        &self,
        owner: &UserId,
        after: Option<&ConversationCursor>,
        limit: u32,
    ) -> Result<Vec<ConversationEntry>>;

    /// One conversation of `owner`, if they have it.
    async fn get_conversation(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<ConversationEntry>>;

    /// Deletes `owner`'s entry from their list (the messages stay): everything up to the current
    /// last seq counts as read, and the entry is left out of `list_conversations` and
    /// `get_conversation` until a message with a higher seq arrives, when it reappears with only
    /// the newer messages unread. Returns whether the owner had the conversation.
    async fn hide_conversation(&self, owner: &UserId, conversation: &ConversationId) -> Result<bool>;

    /// Gives `owner` an entry for `conversation` (a group they joined) over `stream`, with
    /// everything up to the stream's last seq now counted as read; an existing entry is kept as
    /// it is (a hidden one stays hidden). Returns the entry, with the stream's last seq now.
    /// `list_conversations` and `get_conversation` leave out entries whose stream has no message
    /// yet, so a group appears in the list with its first message.
    async fn open_conversation(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
        stream: &StreamKey,
    ) -> Result<ConversationEntry>;

    /// Moves the read pointer up to `seq` (never down, never past the last seq).
    /// Returns the entry after the change, or `None` if the owner has no such conversation.
    async fn mark_read(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
        seq: u64,
    ) -> Result<Option<ConversationEntry>>;
}

/// Each conversation's pinned messages, kept by stream (both sides of a one-to-one conversation,
/// every member of a group, see one list).
#[async_trait]
pub trait PinStore: Send + Sync {
    /// Pins `pin.seq` in `stream`, unless it is pinned already or `max` are pinned: one
    /// conditional write, so concurrent pins never exceed `max`.
    async fn pin(&self, stream: &StreamKey, pin: &Pin, max: usize) -> Result<Pinning>;

    /// Unpins `seq`; returns whether it was pinned.
    async fn unpin(&self, stream: &StreamKey, seq: u64) -> Result<bool>;

    /// The stream's pins, newest first.
    async fn pins(&self, stream: &StreamKey) -> Result<Vec<Pin>>;
}
