//! Mapping between rows and core types. Stored data is validated on the way out: a bad row is an
//! error, never a panic.

use crate::error::{Result, StoreError};
use cirrus_core::conversation::ConversationEntry;
use cirrus_core::element::Element;
use cirrus_core::ids::{ClientMsgId, ConversationId, GroupId, InvalidId, MsgId, StreamKey, UserId};
use cirrus_core::message::{Edit, Recall, SenderProfile, StoredMessage, Target};
use rusqlite::Row;

/// The message columns, in the order [`message_at`] reads them, for a table aliased `m`.
macro_rules! message_columns {
    () => {
        "m.stream, m.seq, m.msg_id, m.from_user, m.to_kind, m.to_id, m.time, m.client_msg_id, m.body, \
         m.cloud_custom_data, m.sender, m.system, m.recalled_by, m.recalled_at, m.edited_by, m.edited_at, \
         m.edit_version"
    };
}
pub(crate) use message_columns;

/// A query of conversation entries in list order, rows as [`conversation`] reads them.
///
/// `$filter` is the rest of the `WHERE …` (after the visibility condition) and the
/// `ORDER BY … LIMIT …` of `conversations c JOIN streams s`. Entries their owner hid are left out
/// until the stream has a message past the hidden point. The page is chosen first and only its
/// entries' last messages are looked up (a subquery with a `LIMIT` is not flattened), so a long
/// list costs a sort of small rows, not a message read per conversation.
macro_rules! conversation_query {
    ($filter:literal) => {
        concat!(
            "SELECT p.conversation_id, p.stream, p.read_seq, p.last_seq, p.updated_at, ",
            $crate::rows::message_columns!(),
            " FROM (SELECT c.conversation_id, c.stream, c.read_seq, \
             COALESCE(s.last_seq, 0) AS last_seq, COALESCE(s.updated_at, 0) AS updated_at \
             FROM conversations c LEFT JOIN streams s ON s.stream = c.stream \
             WHERE (c.hidden_seq IS NULL OR s.last_seq > c.hidden_seq) AND ",
            $filter,
            ") p LEFT JOIN messages m ON m.stream = p.stream AND m.seq = p.last_seq \
             ORDER BY p.updated_at DESC, p.conversation_id DESC"
        )
    };
}
pub(crate) use conversation_query;

/// Column index after the conversation's own columns, where the last message starts.
const CONVERSATION_MESSAGE_AT: usize = 5;

/// Clamps a seq to SQLite's integer range (seqs never get near it).
pub(crate) fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A text column, borrowed from the row.
fn str_at<'r>(row: &'r Row<'_>, index: usize) -> Result<&'r str> {
    Ok(row.get_ref(index)?.as_str().map_err(rusqlite::Error::from)?)
}

/// A seq column; a negative one is [`StoreError::BadValue`] naming `column`.
pub(crate) fn seq_at(row: &Row<'_>, index: usize, column: &'static str) -> Result<u64> {
    let raw: i64 = row.get(index)?;
    u64::try_from(raw).map_err(|_| StoreError::BadValue { column })
}

fn id_at<T>(
    row: &Row<'_>,
    index: usize,
    column: &'static str,
    parse: fn(String) -> Result<T, InvalidId>,
) -> Result<T> {
    let raw: String = row.get(index)?;
    parse(raw).map_err(|_| StoreError::BadValue { column })
}

/// A user id column; one that does not validate is [`StoreError::BadValue`] naming `column`.
pub(crate) fn user_at(row: &Row<'_>, index: usize, column: &'static str) -> Result<UserId> {
    id_at(row, index, column, UserId::parse)
}

/// The target as stored in `to_kind` / `to_id`.
pub(crate) fn target_columns(target: &Target) -> (&'static str, &str) {
    match target {
        Target::C2c(user) => ("c2c", user.as_str()),
        Target::Group(group) => ("group", group.as_str()),
    }
}

/// Reads a message whose columns ([`message_columns`]) start at `at`; `None` when they are NULL
/// (an outer join found no message).
pub(crate) fn message_at(row: &Row<'_>, at: usize) -> Result<Option<StoredMessage>> {
    let Some(stream) = row.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    let to_id: String = row.get(at + 5)?;
    let to = match str_at(row, at + 4)? {
        "c2c" => Target::C2c(UserId::parse(to_id).map_err(|_| StoreError::BadValue { column: "to_id" })?),
        "group" => {
            Target::Group(GroupId::parse(to_id).map_err(|_| StoreError::BadValue { column: "to_id" })?)
        }
        _ => return Err(StoreError::BadValue { column: "to_kind" }),
    };
    let body: Vec<Element> =
        serde_json::from_str(str_at(row, at + 8)?).map_err(|source| StoreError::BadJson {
            column: "body",
            source,
        })?;
    let sender = match row
        .get_ref(at + 10)?
        .as_str_or_null()
        .map_err(rusqlite::Error::from)?
    {
        Some(json) => {
            Some(
                serde_json::from_str::<SenderProfile>(json).map_err(|source| StoreError::BadJson {
                    column: "sender",
                    source,
                })?,
            )
        }
        None => None,
    };
    let system = match row.get::<_, i64>(at + 11)? {
        0 => false,
        1 => true,
        _ => return Err(StoreError::BadValue { column: "system" }),
    };
    let recalled = match (
        row.get::<_, Option<String>>(at + 12)?,
        row.get::<_, Option<i64>>(at + 13)?,
    ) {
        (Some(by), Some(time)) => Some(Recall {
            by: UserId::parse(by).map_err(|_| StoreError::BadValue {
                column: "recalled_by",
            })?,
            time,
        }),
        (None, None) => None,
        _ => {
            return Err(StoreError::BadValue {
                column: "recalled_at",
            });
        }
    };
    let edited = match (
        row.get::<_, Option<String>>(at + 14)?,
        row.get::<_, Option<i64>>(at + 15)?,
        row.get::<_, i64>(at + 16)?,
    ) {
        (None, None, 0) => None,
        (Some(by), Some(time), version) if version > 0 => Some(Edit {
            by: UserId::parse(by).map_err(|_| StoreError::BadValue { column: "edited_by" })?,
            time,
            version: u32::try_from(version).map_err(|_| StoreError::BadValue {
                column: "edit_version",
            })?,
        }),
        _ => {
            return Err(StoreError::BadValue {
                column: "edit_version",
            });
        }
    };
    Ok(Some(StoredMessage {
        stream: StreamKey::from_stored(stream),
        seq: seq_at(row, at + 1, "seq")?,
        msg_id: id_at(row, at + 2, "msg_id", MsgId::parse)?,
        from: id_at(row, at + 3, "from_user", UserId::parse)?,
        to,
        time: row.get(at + 6)?,
        client_msg_id: id_at(row, at + 7, "client_msg_id", ClientMsgId::parse)?,
        body,
        cloud_custom_data: row.get(at + 9)?,
        sender,
        system,
        recalled,
        edited,
    }))
}

/// Reads a row of [`conversation_query`] for `owner`.
pub(crate) fn conversation(row: &Row<'_>, owner: &UserId) -> Result<ConversationEntry> {
    let conversation_id = ConversationId::parse(str_at(row, 0)?).map_err(|_| StoreError::BadValue {
        column: "conversation_id",
    })?;
    Ok(ConversationEntry {
        owner: owner.clone(),
        conversation_id,
        stream: StreamKey::from_stored(row.get(1)?),
        read_seq: seq_at(row, 2, "read_seq")?,
        last_seq: seq_at(row, 3, "last_seq")?,
        updated_at: row.get(4)?,
        last_message: message_at(row, CONVERSATION_MESSAGE_AT)?,
    })
}

/// The least text greater than every text that starts with `prefix`: the prefix without its
/// trailing `char::MAX`s, its last character raised by one. `None` when there is none (the prefix
/// is empty or all `char::MAX`), so only the lower bound applies. Prefix searches (nicknames, group names) range over
/// `prefix .. prefix_end(prefix)`.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            other => char::from_u32(u32::from(other) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_raises_the_last_character_that_can_be_raised() {
        // GIVEN prefixes ending in an ordinary character, the last one before the surrogate gap,
        // char::MAX, only char::MAX, and nothing
        // WHEN their upper bounds are computed
        // THEN the last raisable character is raised and everything after it dropped
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("ab\u{10FFFF}\u{10FFFF}").as_deref(), Some("ac"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }
}
