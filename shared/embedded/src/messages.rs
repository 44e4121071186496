//! [`MessageStore`] for [`SqliteStore`]: append with seq allocation and idempotency, and history.

use crate::error::{Result, StoreError};
use crate::rows::{message_at, message_columns, seq_param, target_columns};
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::StreamKey;
use cirrus_core::message::StoredMessage;
use cirrus_core::ports::{Appended, MessageStore, NewMessage, SeqRange};
use rusqlite::{Connection, OptionalExtension, params};

#[async_trait]
impl MessageStore for SqliteStore {
    async fn append(&self, message: NewMessage) -> cirrus_core::Result<Appended> {
        // Encode on the caller's task: the writer thread is the one serial resource, so it only
        // binds ready-made values.
        let body = serde_json::to_string(&message.body).map_err(|source| StoreError::BadJson {
            column: "body",
            source,
        })?;
        let conversations: Vec<String> = message
            .inbox
            .iter()
            .map(|update| update.conversation_id.to_string())
            .collect();
        Ok(self
            .write(move |conn| append(conn, &message, &body, &conversations))
            .await?)
    }

    async fn history(&self, stream: &StreamKey, range: SeqRange) -> cirrus_core::Result<Vec<StoredMessage>> {
        if range.limit == 0 {
            return Ok(Vec::new());
        }
        let stream = stream.as_str().to_owned();
        Ok(self.read(move |conn| history(conn, &stream, range)).await?)
    }
}

/// The append job, inside the writer's batch transaction (it may run twice; see `writer`).
///
/// A new C2C message costs one index probe (idempotency), one upsert of the stream row (seq and
/// activity time), one message row with its two index entries, the sender's read pointer, and a
/// probe of the peer's conversation row (written only the first time).
fn append(conn: &Connection, message: &NewMessage, body: &str, conversations: &[String]) -> Result<Appended> {
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
         cloud_custom_data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
        body,
        message.cloud_custom_data.as_deref(),
    ])?;

    let mut touch = conn.prepare_cached(
        "INSERT INTO conversations (owner, conversation_id, stream, read_seq) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (owner, conversation_id) DO UPDATE SET read_seq = excluded.read_seq \
         WHERE excluded.read_seq > read_seq",
    )?;
    for (update, conversation) in message.inbox.iter().zip(conversations) {
        let read_seq = if update.mark_read { seq } else { 0 };
        touch.execute(params![update.owner.as_str(), conversation, stream, read_seq])?;
    }

    let seq = u64::try_from(seq).map_err(|_| StoreError::BadValue { column: "last_seq" })?;
    Ok(Appended::New(message.stored(seq)))
}

/// A page of a stream in ascending seq order (see [`MessageStore::history`]).
fn history(conn: &Connection, stream: &str, range: SeqRange) -> Result<Vec<StoredMessage>> {
    let after = range.after.map_or(0, seq_param);
    let limit = i64::from(range.limit);
    let read = |row: &rusqlite::Row<'_>| message_at(row, 0)?.ok_or(StoreError::BadValue { column: "stream" });
    if let (Some(_), None) = (range.after, range.before) {
        // Paging forward: the oldest `limit` just after `after`.
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages m WHERE m.stream = ?1 AND m.seq > ?2 ORDER BY m.seq ASC LIMIT ?3"
        ))?;
        let rows = stmt.query_and_then(params![stream, after, limit], read)?;
        rows.collect()
    } else {
        // Paging backward (or the latest page): the newest `limit` below `before`, above `after`.
        let before = range.before.map_or(i64::MAX, seq_param);
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages m WHERE m.stream = ?1 AND m.seq > ?2 AND m.seq < ?3 ORDER BY m.seq DESC LIMIT ?4"
        ))?;
        let rows = stmt.query_and_then(params![stream, after, before, limit], read)?;
        let mut page = rows.collect::<Result<Vec<_>>>()?;
        page.reverse();
        Ok(page)
    }
}
