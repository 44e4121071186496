//! [`MessageStore`] for [`SqliteStore`]: append with seq allocation and idempotency, history,
//! recall and delete-for-me.
//!
//! Reads leave out what the port says is gone, in SQL, so a page's `LIMIT` counts only what is
//! shown: messages whose roaming ended (`expires_at`), those rolled over by the per-conversation
//! cap (seqs not among the newest `keep_last` of the stream), and the viewer's hidden ones. The
//! store also drops those rows physically, off the read path: an append deletes the message its
//! seq rolls over, and [`SqliteStore::sweep`] deletes expired messages and hidden-message rows.

use crate::error::{Result, StoreError};
use crate::rows::{message_at, message_columns, seq_param, target_columns};
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::{StreamKey, UserId};
use cirrus_core::message::{Recall, StoredMessage};
use cirrus_core::ports::{Appended, Edited, MessageEdit, MessageStore, NewMessage, SeqRange};
use rusqlite::{Connection, OptionalExtension, params};

/// The condition on message `m` of stream `?1` that history pages share: seq above `?2` and above
/// the rolled-over part of the stream (only the newest `?3` seqs, by the stream's last seq,
/// count), roaming not ended at `?4`, and not hidden by viewer `?5` (NULL: no viewer, nothing
/// hidden). The seq bound is one constant, so it bounds the index range the page reads.
macro_rules! visible {
    () => {
        "m.stream = ?1 \
         AND m.seq > max(?2, COALESCE((SELECT s.last_seq FROM streams s WHERE s.stream = ?1), 0) - ?3) \
         AND m.expires_at > ?4 \
         AND NOT EXISTS (SELECT 1 FROM hidden_messages h \
             WHERE h.owner = ?5 AND h.stream = ?1 AND h.seq = m.seq)"
    };
}

/// Paging forward: the oldest `?6` visible messages (see `visible!`).
pub(crate) const HISTORY_FORWARD: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m WHERE ",
    visible!(),
    " ORDER BY m.seq ASC LIMIT ?6"
);

/// Paging backward (or the latest page): the newest `?7` visible messages below `?6` (see
/// `visible!`).
pub(crate) const HISTORY_BACKWARD: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m WHERE ",
    visible!(),
    " AND m.seq < ?6 ORDER BY m.seq DESC LIMIT ?7"
);

/// Message `?2` of stream `?1`, unless its roaming ended at `?3`.
const GET: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m WHERE m.stream = ?1 AND m.seq = ?2 AND m.expires_at > ?3"
);

/// Message `?2` of stream `?1`, expired or not.
const GET_ANY: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m WHERE m.stream = ?1 AND m.seq = ?2"
);

/// Turns message `?2` of stream `?1` into a tombstone recalled by `?3` at `?4`, unless it is one.
const RECALL: &str = "UPDATE messages SET body = '[]', cloud_custom_data = NULL, recalled_by = ?3, \
     recalled_at = ?4 WHERE stream = ?1 AND seq = ?2 AND recalled_by IS NULL";

/// Gives message `?2` of stream `?1` body `?3` and cloud_custom_data `?4`, edited by `?5` at `?6`
/// as version `?7`, if it is not recalled and is at version `?7 - 1`.
const EDIT: &str = "UPDATE messages SET body = ?3, cloud_custom_data = ?4, edited_by = ?5, edited_at = ?6, \
     edit_version = ?7 WHERE stream = ?1 AND seq = ?2 AND recalled_by IS NULL AND edit_version = ?7 - 1";

/// Hides message `?3` of stream `?2` from `?1` until `?4`, if the message exists: a seq not
/// allocated yet is not hidden in advance. Hiding again keeps the later expiry.
const HIDE: &str = "INSERT INTO hidden_messages (owner, stream, seq, expires_at) \
     SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM messages WHERE stream = ?2 AND seq = ?3) \
     ON CONFLICT (owner, stream, seq) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)";

#[async_trait]
impl MessageStore for SqliteStore {
    async fn append(&self, message: NewMessage) -> cirrus_core::Result<Appended> {
        // Encode on the caller's task: the writer thread is the one serial resource, so it only
        // binds ready-made values.
        let body = serde_json::to_string(&message.body).map_err(|source| StoreError::BadJson {
            column: "body",
            source,
        })?;
        let sender = message
            .sender
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|source| StoreError::BadJson {
                column: "sender",
                source,
            })?;
        let conversations: Vec<String> = message
            .inbox
            .iter()
            .map(|update| update.conversation_id.to_string())
            .collect();
        let encoded = Encoded {
            body,
            sender,
            conversations,
        };
        Ok(self.write(move |conn| append(conn, &message, &encoded)).await?)
    }

    async fn history(
        &self,
        stream: &StreamKey,
        range: SeqRange,
        viewer: Option<&UserId>,
    ) -> cirrus_core::Result<Vec<StoredMessage>> {
        if range.limit == 0 {
            return Ok(Vec::new());
        }
        let stream = stream.as_str().to_owned();
        let viewer = viewer.map(|user| user.as_str().to_owned());
        Ok(self
            .read(move |conn| history(conn, &stream, range, viewer.as_deref()))
            .await?)
    }

    async fn get_message(
        &self,
        stream: &StreamKey,
        seq: u64,
        now: i64,
    ) -> cirrus_core::Result<Option<StoredMessage>> {
        let stream = stream.as_str().to_owned();
        Ok(self
            .read(move |conn| one(conn, GET, params![stream, seq_param(seq), now]))
            .await?)
    }

    async fn recall(
        &self,
        stream: &StreamKey,
        seq: u64,
        recall: &Recall,
    ) -> cirrus_core::Result<Option<StoredMessage>> {
        let stream = stream.as_str().to_owned();
        let recall = recall.clone();
        Ok(self
            .write(move |conn| {
                conn.prepare_cached(RECALL)?.execute(params![
                    stream,
                    seq_param(seq),
                    recall.by.as_str(),
                    recall.time
                ])?;
                one(conn, GET_ANY, params![stream, seq_param(seq)])
            })
            .await?)
    }

    async fn edit(&self, stream: &StreamKey, seq: u64, change: &MessageEdit) -> cirrus_core::Result<Edited> {
        let stream = stream.as_str().to_owned();
        let body = serde_json::to_string(&change.body).map_err(|source| StoreError::BadJson {
            column: "body",
            source,
        })?;
        let change = change.clone();
        Ok(self
            .write(move |conn| {
                let written = conn.prepare_cached(EDIT)?.execute(params![
                    stream,
                    seq_param(seq),
                    body,
                    change.cloud_custom_data,
                    change.edit.by.as_str(),
                    change.edit.time,
                    i64::from(change.edit.version),
                ])?;
                let message = one(conn, GET_ANY, params![stream, seq_param(seq)])?;
                Ok(match (message, written) {
                    (Some(message), 1) => Edited::Done(message),
                    (Some(message), _) => Edited::Refused(message),
                    (None, _) => Edited::Missing,
                })
            })
            .await?)
    }

    async fn hide_messages(
        &self,
        owner: &UserId,
        stream: &StreamKey,
        seqs: &[u64],
        expires_at: i64,
    ) -> cirrus_core::Result<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        let owner = owner.as_str().to_owned();
        let stream = stream.as_str().to_owned();
        let seqs = seqs.to_vec();
        Ok(self
            .write(move |conn| {
                let mut hide = conn.prepare_cached(HIDE)?;
                for &seq in &seqs {
                    hide.execute(params![owner, stream, seq_param(seq), expires_at])?;
                }
                Ok(())
            })
            .await?)
    }
}

/// What an append binds beyond the message's own fields, encoded before it reaches the writer.
struct Encoded {
    /// The body as JSON text.
    body: String,
    /// The sender profile as JSON text, if any.
    sender: Option<String>,
    /// Each inbox update's conversation id as text, in order.
    conversations: Vec<String>,
}

/// The one message a `GET`-style statement finds with `params`, if any.
fn one(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Option<StoredMessage>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query_and_then(params, |row| message_at(row, 0))?;
    Ok(rows.next().transpose()?.flatten())
}

/// The append job, inside the writer's batch transaction (it may run twice; see `writer`).
///
/// A new C2C message costs one index probe (idempotency), one upsert of the stream row (seq and
/// activity time), one message row with its two index entries, the sender's read pointer, and a
/// probe of the peer's conversation row (written only the first time). Once the stream is longer
/// than `keep_last`, it also deletes the one message this seq rolls over, found by its
/// `(stream, seq)` key; messages rolled over under a larger cap stay until they expire (reads leave
/// them out either way).
fn append(conn: &Connection, message: &NewMessage, encoded: &Encoded) -> Result<Appended> {
    let existing: Option<i64> = conn
        .prepare_cached("SELECT id FROM messages WHERE from_user = ?1 AND client_msg_id = ?2")?
        .query_row(
            params![message.from.as_str(), message.client_msg_id.as_str()],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        let first = conn
            .prepare_cached(concat!(
                "SELECT ",
                message_columns!(),
                " FROM messages m WHERE m.id = ?1"
            ))?
            .query_and_then([id], |row| message_at(row, 0))?
            .next()
            .transpose()?
            .flatten()
            .ok_or(StoreError::BadValue { column: "id" })?;
        return Ok(Appended::Duplicate(first));
    }

    let stream = message.stream.as_str();
    let seq: i64 = conn
        .prepare_cached(
            "INSERT INTO streams (stream, last_seq, updated_at) VALUES (?1, 1, ?2) \
             ON CONFLICT (stream) DO UPDATE SET last_seq = last_seq + 1, updated_at = excluded.updated_at \
             RETURNING last_seq",
        )?
        .query_row(params![stream, message.time], |row| row.get(0))?;
    let (to_kind, to_id) = target_columns(&message.to);
    conn.prepare_cached(
        "INSERT INTO messages (stream, seq, msg_id, from_user, to_kind, to_id, time, client_msg_id, body, \
         cloud_custom_data, sender, system, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        stream,
        seq,
        message.msg_id.as_str(),
        message.from.as_str(),
        to_kind,
        to_id,
        message.time,
        message.client_msg_id.as_str(),
        encoded.body,
        message.cloud_custom_data.as_deref(),
        encoded.sender,
        message.system,
        message.expires_at,
    ])?;
    let keep_last = seq_param(message.keep_last);
    if keep_last > 0 && seq > keep_last {
        conn.prepare_cached("DELETE FROM messages WHERE stream = ?1 AND seq = ?2")?
            .execute(params![stream, seq - keep_last])?;
    }

    let mut touch = conn.prepare_cached(
        "INSERT INTO conversations (owner, conversation_id, stream, read_seq) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (owner, conversation_id) DO UPDATE SET read_seq = excluded.read_seq \
         WHERE excluded.read_seq > read_seq",
    )?;
    for (update, conversation) in message.inbox.iter().zip(&encoded.conversations) {
        let read_seq = if update.mark_read { seq } else { 0 };
        touch.execute(params![update.owner.as_str(), conversation, stream, read_seq])?;
    }

    let seq = u64::try_from(seq).map_err(|_| StoreError::BadValue { column: "last_seq" })?;
    Ok(Appended::New(message.stored(seq)))
}

/// A page of a stream in ascending seq order (see [`MessageStore::history`]).
fn history(
    conn: &Connection,
    stream: &str,
    range: SeqRange,
    viewer: Option<&str>,
) -> Result<Vec<StoredMessage>> {
    let after = range.after.map_or(0, seq_param);
    let keep_last = seq_param(range.keep_last);
    let limit = i64::from(range.limit);
    let read = |row: &rusqlite::Row<'_>| message_at(row, 0)?.ok_or(StoreError::BadValue { column: "stream" });
    if let (Some(_), None) = (range.after, range.before) {
        let mut stmt = conn.prepare_cached(HISTORY_FORWARD)?;
        let rows = stmt.query_and_then(params![stream, after, keep_last, range.now, viewer, limit], read)?;
        rows.collect()
    } else {
        let before = range.before.map_or(i64::MAX, seq_param);
        let mut stmt = conn.prepare_cached(HISTORY_BACKWARD)?;
        let rows = stmt.query_and_then(
            params![stream, after, keep_last, range.now, viewer, before, limit],
            read,
        )?;
        let mut page = rows.collect::<Result<Vec<_>>>()?;
        page.reverse();
        Ok(page)
    }
}
