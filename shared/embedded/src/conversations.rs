//! [`ConversationStore`] for [`SqliteStore`]: the per-user conversation list and read pointers.
//!
//! A conversation row holds only the owner's read pointer; the last seq, last message and activity
//! time come from the stream, so the list is ordered by the time of each stream's newest message,
//! newest first, ties broken by conversation id, descending (the order of a
//! `(updated_at, conversation_id)` key read backwards).
//!
//! Hiding a conversation writes only the owner's row: the read pointer and `hidden_seq` go to the
//! stream's last seq, and the reads leave the row out while the stream's last seq is no higher
//! (see [`conversation_query`]). An append already moves the stream's last seq, so a newer
//! message brings the entry back with only the newer messages unread, at no cost to the append.
//!
//! Opening a conversation (a group just joined) writes the owner's row with the read pointer at
//! the stream's last seq, unless they have one. The reads leave out rows whose stream has no
//! message yet (no stream row, or `last_seq` 0), so an opened group shows with its first message.

use crate::error::{Result, StoreError};
use crate::rows::{self, conversation_query, seq_param};
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::conversation::{ConversationCursor, ConversationEntry};
use cirrus_core::ids::{ConversationId, StreamKey, UserId};
use cirrus_core::ports::ConversationStore;
use rusqlite::{Connection, params};

/// The first page of `?1`'s list, at most `?2` entries.
pub(crate) const LIST_FIRST: &str = conversation_query!(
    "s.last_seq > 0 AND c.owner = ?1 ORDER BY updated_at DESC, c.conversation_id DESC LIMIT ?2"
);

/// The page of `?1`'s list after the cursor (`?2` activity time, `?3` conversation id), at most
/// `?4` entries.
pub(crate) const LIST_AFTER: &str = conversation_query!(
    "s.last_seq > 0 AND c.owner = ?1 AND (COALESCE(s.updated_at, 0), c.conversation_id) < (?2, ?3) \
     ORDER BY updated_at DESC, c.conversation_id DESC LIMIT ?4"
);

/// `?1`'s entry for conversation `?2`, unless hidden or its stream has no message yet.
const GET: &str = conversation_query!("s.last_seq > 0 AND c.owner = ?1 AND c.conversation_id = ?2");

/// `?1`'s entry for conversation `?2` whatever its state (hidden, no message yet): the columns of
/// [`conversation_query`], which [`rows::conversation`] reads.
const GET_ANY: &str = concat!(
    "SELECT c.conversation_id, c.stream, c.read_seq, COALESCE(s.last_seq, 0), \
     COALESCE(s.updated_at, 0), ",
    rows::message_columns!(),
    " FROM conversations c LEFT JOIN streams s ON s.stream = c.stream \
     LEFT JOIN messages m ON m.stream = c.stream AND m.seq = s.last_seq \
     WHERE c.owner = ?1 AND c.conversation_id = ?2"
);

/// Gives `?1` an entry for conversation `?2` over stream `?3`, read up to the stream's last seq,
/// unless they have one.
const OPEN: &str = "INSERT INTO conversations (owner, conversation_id, stream, read_seq) \
     VALUES (?1, ?2, ?3, COALESCE((SELECT last_seq FROM streams WHERE stream = ?3), 0)) \
     ON CONFLICT (owner, conversation_id) DO NOTHING";

/// Hides `?1`'s conversation `?2` at the stream's last seq, marking everything up to it read.
const HIDE: &str = "UPDATE conversations SET read_seq = max(read_seq, \
     COALESCE((SELECT last_seq FROM streams WHERE stream = conversations.stream), 0)), \
     hidden_seq = COALESCE((SELECT last_seq FROM streams WHERE stream = conversations.stream), 0) \
     WHERE owner = ?1 AND conversation_id = ?2";

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn list_conversations(
        &self,
        owner: &UserId,
        after: Option<&ConversationCursor>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<ConversationEntry>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let owner = owner.clone();
        let after = after.cloned();
        Ok(self
            .read(move |conn| list(conn, &owner, after.as_ref(), limit))
            .await?)
    }

    async fn get_conversation(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
    ) -> cirrus_core::Result<Option<ConversationEntry>> {
        let owner = owner.clone();
        let conversation = conversation.to_string();
        Ok(self.read(move |conn| get(conn, &owner, &conversation)).await?)
    }

    async fn hide_conversation(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
    ) -> cirrus_core::Result<bool> {
        let owner = owner.clone();
        let conversation = conversation.to_string();
        Ok(self.write(move |conn| hide(conn, &owner, &conversation)).await?)
    }

    async fn open_conversation(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
        stream: &StreamKey,
    ) -> cirrus_core::Result<ConversationEntry> {
        let owner = owner.clone();
        let conversation = conversation.to_string();
        let stream = stream.as_str().to_owned();
        Ok(self
            .write(move |conn| open(conn, &owner, &conversation, &stream))
            .await?)
    }

    async fn mark_read(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
        seq: u64,
    ) -> cirrus_core::Result<Option<ConversationEntry>> {
        let owner = owner.clone();
        let conversation = conversation.to_string();
        Ok(self
            .write(move |conn| mark_read(conn, &owner, &conversation, seq))
            .await?)
    }
}

fn list(
    conn: &Connection,
    owner: &UserId,
    after: Option<&ConversationCursor>,
    limit: u32,
) -> Result<Vec<ConversationEntry>> {
    let read = |row: &rusqlite::Row<'_>| rows::conversation(row, owner);
    let limit = i64::from(limit);
    match after {
        None => {
            let mut stmt = conn.prepare_cached(LIST_FIRST)?;
            let entries = stmt.query_and_then(params![owner.as_str(), limit], read)?;
            entries.collect()
        }
        Some(cursor) => {
            let mut stmt = conn.prepare_cached(LIST_AFTER)?;
            let entries = stmt.query_and_then(
                params![
                    owner.as_str(),
                    cursor.updated_at,
                    cursor.conversation_id.as_str(),
                    limit
                ],
                read,
            )?;
            entries.collect()
        }
    }
}

fn get(conn: &Connection, owner: &UserId, conversation: &str) -> Result<Option<ConversationEntry>> {
    let mut stmt = conn.prepare_cached(GET)?;
    let mut entries = stmt.query_and_then(params![owner.as_str(), conversation], |row| {
        rows::conversation(row, owner)
    })?;
    entries.next().transpose()
}

/// Whether `owner` had the conversation (hidden or not): a row to hide.
fn hide(conn: &Connection, owner: &UserId, conversation: &str) -> Result<bool> {
    let changed = conn
        .prepare_cached(HIDE)?
        .execute(params![owner.as_str(), conversation])?;
    Ok(changed > 0)
}

/// The owner's entry after opening it (the existing one, if they had it).
fn open(conn: &Connection, owner: &UserId, conversation: &str, stream: &str) -> Result<ConversationEntry> {
    conn.prepare_cached(OPEN)?
        .execute(params![owner.as_str(), conversation, stream])?;
    let mut stmt = conn.prepare_cached(GET_ANY)?;
    let mut entries = stmt.query_and_then(params![owner.as_str(), conversation], |row| {
        rows::conversation(row, owner)
    })?;
    entries.next().transpose()?.ok_or(StoreError::BadValue {
        column: "conversation_id",
    })
}

fn mark_read(
    conn: &Connection,
    owner: &UserId,
    conversation: &str,
    seq: u64,
) -> Result<Option<ConversationEntry>> {
    let changed = conn
        .prepare_cached(
            "UPDATE conversations SET read_seq = max(read_seq, min(?3, \
             COALESCE((SELECT last_seq FROM streams WHERE stream = conversations.stream), 0))) \
             WHERE owner = ?1 AND conversation_id = ?2",
        )?
        .execute(params![owner.as_str(), conversation, seq_param(seq)])?;
    if changed == 0 {
        return Ok(None);
    }
    get(conn, owner, conversation)
}
