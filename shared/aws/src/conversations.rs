//! [`ConversationStore`] for [`DynamoStore`]: per-user inbox rows joined with their stream heads.
//!
//! An inbox row (`owner`, `conversationId`) holds only the stream and the owner's read pointer
//! (in a one-to-one stream the head also holds each side's newest own seq; the larger counts);
//! the last seq, activity time and last message come from the stream (its head item and the
//! message at the head's seq), so a group send does not write once per member. The list is
//! ordered in memory by (`updatedAt`, conversation id) descending, as the SQLite store orders it.
//!
//! A deleted (hidden) conversation keeps its row, with `hiddenSeq`: the stream's last seq when it
//! was hidden. The row is left out while the head's last seq is at most `hiddenSeq`, and
//! `hiddenSeq` also counts as read, so a newer message brings it back with only the newer messages
//! unread; a send never touches a hidden row (a send costs the same whether or not it unhides one).
//!
//! A row whose stream has no message yet (no head, or `lastSeq` 0) is left out too: a member's
//! row of a group is opened when they join ([`ConversationStore::open_conversation`], read up to
//! the stream's last seq then), and the group shows in their list with its first message.

use crate::error::{Result, StoreError, written};
use crate::item::{Item, get_n, get_s, n, opt_n, s};
use crate::messages::{HEAD_SEQ, Head, message_from_item};
use crate::store::DynamoStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use cirrus_core::conversation::{ConversationCursor, ConversationEntry};
use cirrus_core::ids::{ConversationId, StreamKey, UserId};
use cirrus_core::ports::ConversationStore;
use std::collections::HashMap;

/// An inbox row as stored.
struct Row {
    conversation_id: ConversationId,
    stream: StreamKey,
    read_seq: u64,
    /// The stream's last seq when the owner hid the conversation, if they did.
    hidden_seq: Option<u64>,
}

impl Row {
    fn from_item(item: &Item) -> Result<Self> {
        Ok(Self {
            conversation_id: ConversationId::parse(get_s(item, "conversationId")?)
                .map_err(|_| StoreError::BadAttribute("conversationId"))?,
            stream: StreamKey::from_stored(get_s(item, "stream")?.to_owned()),
            read_seq: get_n(item, "readSeq")?,
            hidden_seq: opt_n(item, "hiddenSeq")?,
        })
    }

    /// Whether the owner sees this row: its stream has a message, and the row is not hidden or a
    /// message came after they hid it.
    fn visible(&self, head: Option<&Head>) -> bool {
        let last = head.map_or(HEAD_SEQ, |head| head.last_seq);
        last > HEAD_SEQ && self.hidden_seq.is_none_or(|hidden| last > hidden)
    }

    /// The owner's read pointer: the largest of the row's, the head's (one-to-one streams keep
    /// each side's newest own message there) and the seq the conversation was hidden at.
    fn read_seq(&self, owner: &UserId, head: Option<&Head>) -> u64 {
        head.map_or(0, |head| head.read_of(owner))
            .max(self.read_seq)
            .max(self.hidden_seq.unwrap_or(0))
    }
}

#[async_trait]
impl ConversationStore for DynamoStore {
    async fn list_conversations(
        &self,
        owner: &UserId,
        after: Option<&ConversationCursor>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<ConversationEntry>> {
        Ok(self.list(owner, after, limit).await?)
    }

    async fn get_conversation(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
    ) -> cirrus_core::Result<Option<ConversationEntry>> {
        let Some(row) = self.row(owner, conversation).await? else {
            return Ok(None);
        };
        Ok(self.entry(owner, row).await?)
    }

    async fn hide_conversation(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
    ) -> cirrus_core::Result<bool> {
        Ok(self.hide(owner, conversation).await?)
    }

    async fn open_conversation(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
        stream: &StreamKey,
    ) -> cirrus_core::Result<ConversationEntry> {
        Ok(self.open(owner, conversation, stream).await?)
    }

    async fn mark_read(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
        seq: u64,
    ) -> cirrus_core::Result<Option<ConversationEntry>> {
        let Some(row) = self.row(owner, conversation).await? else {
            return Ok(None);
        };
        let head = self.head(&row.stream).await?;
        let last = head.as_ref().map_or(0, |head| head.last_seq);
        let read = row.read_seq(owner, head.as_ref());
        let target = seq.min(last);
        if target > read {
            self.raise_read_seq(owner, conversation, target).await?;
        }
        self.get_conversation(owner, conversation).await
    }
}

impl DynamoStore {
    /// Moves the read pointer on `owner`'s row up to `seq`, never down: a concurrent, larger
    /// pointer wins the condition, and a missing row is left missing.
    pub(crate) async fn raise_read_seq(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
        seq: u64,
    ) -> Result<()> {
        let moved = self
            .client
            .update_item()
            .table_name(&self.config.conversations_table)
            .key("owner", s(owner.as_str()))
            .key("conversationId", s(conversation.to_string()))
            .update_expression("SET readSeq = :seq")
            .condition_expression("attribute_exists(readSeq) AND readSeq < :seq")
            .expression_attribute_values(":seq", n(seq))
            .send()
            .await;
        written(moved)?;
        Ok(())
    }

    /// Hides `owner`'s row up to the stream's last seq: one consistent read of the stream head
    /// (1 RCU) and one conditional update of the row (1 WCU); the head is not written (its read
    /// pointers count through the max in [`Row::read_seq`]). `hiddenSeq` never moves down, so a
    /// concurrent hide that saw a later message wins; a failed condition (no row, or that race)
    /// costs one more read of the row.
    async fn hide(&self, owner: &UserId, conversation: &ConversationId) -> Result<bool> {
        let stream = conversation.stream(owner);
        let last = self.head(&stream).await?.map_or(0, |head| head.last_seq);
        let hidden = self
            .client
            .update_item()
            .table_name(&self.config.conversations_table)
            .key("owner", s(owner.as_str()))
            .key("conversationId", s(conversation.to_string()))
            .update_expression("SET hiddenSeq = :last")
            .condition_expression(
                "attribute_exists(readSeq) AND (attribute_not_exists(hiddenSeq) OR hiddenSeq <= :last)",
            )
            .expression_attribute_values(":last", n(last))
            .send()
            .await;
        if written(hidden)? {
            return Ok(true);
        }
        Ok(self.row(owner, conversation).await?.is_some())
    }

    /// Opens `owner`'s row over `stream` read up to its last seq: one consistent read of the head
    /// (1 RCU), one `PutItem` on condition `attribute_not_exists` (1 WCU; a failed condition
    /// hands back the existing row, which stays as it is, hidden or not), and one consistent read
    /// of the last message when there is one (1 RCU). A message appended between the head read and
    /// the put counts as unread, as it came after the join.
    async fn open(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
        stream: &StreamKey,
    ) -> Result<ConversationEntry> {
        let head = self.head(stream).await?;
        let last = head.as_ref().map_or(HEAD_SEQ, |head| head.last_seq);
        let put = self
            .client
            .put_item()
            .table_name(&self.config.conversations_table)
            .item("owner", s(owner.as_str()))
            .item("conversationId", s(conversation.to_string()))
            .item("stream", s(stream.as_str()))
            .item("readSeq", n(last))
            .condition_expression("attribute_not_exists(#owner)")
            .expression_attribute_names("#owner", "owner")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let row = match put {
            Ok(_) => Row {
                conversation_id: conversation.clone(),
                stream: stream.clone(),
                read_seq: last,
                hidden_seq: None,
            },
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(failed) => match failed.item {
                    Some(item) => Row::from_item(&item)?,
                    // Emulators may not return the item: read it.
                    None => self
                        .row(owner, conversation)
                        .await?
                        .ok_or(StoreError::MissingAttribute("readSeq"))?,
                },
                other => return Err(aws_sdk_dynamodb::Error::from(other).into()),
            },
        };
        let last_message = if last > HEAD_SEQ {
            self.message(stream, last).await?
        } else {
            None
        };
        Ok(assemble(owner, row, head, last_message))
    }

    async fn row(&self, owner: &UserId, conversation: &ConversationId) -> Result<Option<Row>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.conversations_table)
            .key("owner", s(owner.as_str()))
            .key("conversationId", s(conversation.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        got.item.as_ref().map(Row::from_item).transpose()
    }

    /// The entry of a row, or `None` if the row is hidden or its stream has no message yet.
    async fn entry(&self, owner: &UserId, row: Row) -> Result<Option<ConversationEntry>> {
        let head = self.head(&row.stream).await?;
        if !row.visible(head.as_ref()) {
            return Ok(None);
        }
        let last_message = match &head {
            Some(head) if head.last_seq > HEAD_SEQ => self.message(&row.stream, head.last_seq).await?,
            _ => None,
        };
        Ok(Some(assemble(owner, row, head, last_message)))
    }

    async fn list(
        &self,
        owner: &UserId,
        after: Option<&ConversationCursor>,
        limit: u32,
    ) -> Result<Vec<ConversationEntry>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Every row of the owner (a page of a Query is at most 1 MB; follow the key).
        let mut rows = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.config.conversations_table)
                .key_condition_expression("#owner = :owner")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":owner", s(owner.as_str()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            for item in page.items() {
                rows.push(Row::from_item(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }

        let heads = self.heads(rows.iter().map(|row| &row.stream)).await?;
        let mut keyed: Vec<((i64, String), Row)> = rows
            .into_iter()
            .filter(|row| row.visible(heads.get(row.stream.as_str())))
            .map(|row| {
                let updated_at = heads.get(row.stream.as_str()).map_or(0, |head| head.updated_at);
                ((updated_at, row.conversation_id.to_string()), row)
            })
            .filter(|(key, _)| {
                after.is_none_or(|cursor| {
                    (key.0, key.1.as_str()) < (cursor.updated_at, cursor.conversation_id.as_str())
                })
            })
            .collect();
        keyed.sort_unstable_by(|(a, _), (b, _)| b.cmp(a));
        keyed.truncate(usize::try_from(limit).unwrap_or(usize::MAX));

        // One stream per conversation of an owner, so these keys do not repeat.
        let last_keys = keyed
            .iter()
            .filter_map(|(_, row)| {
                let head = heads.get(row.stream.as_str())?;
                Some(Item::from([
                    ("stream".to_owned(), s(row.stream.as_str())),
                    ("seq".to_owned(), n(head.last_seq)),
                ]))
            })
            .collect::<Vec<_>>();
        let mut last_messages = HashMap::new();
        for item in self
            .batch_get(&self.config.messages_table, last_keys, None, &[], true)
            .await?
        {
            let message = message_from_item(&item)?;
            last_messages.insert(message.stream.as_str().to_owned(), message);
        }
        Ok(keyed
            .into_iter()
            .map(|(_, row)| {
                let head = heads.get(row.stream.as_str()).cloned();
                let last = last_messages.get(row.stream.as_str()).cloned();
                assemble(owner, row, head, last)
            })
            .collect())
    }

    /// The heads of several streams, by stream key.
    async fn heads<'a>(&self, streams: impl Iterator<Item = &'a StreamKey>) -> Result<HashMap<String, Head>> {
        // BatchGetItem refuses repeated keys.
        let streams: std::collections::BTreeSet<&str> = streams.map(StreamKey::as_str).collect();
        let keys = streams
            .into_iter()
            .map(|stream| Item::from([("stream".to_owned(), s(stream)), ("seq".to_owned(), n(HEAD_SEQ))]))
            .collect();
        let mut heads = HashMap::new();
        for item in self
            .batch_get(&self.config.messages_table, keys, None, &[], true)
            .await?
        {
            heads.insert(get_s(&item, "stream")?.to_owned(), Head::from_item(&item)?);
        }
        Ok(heads)
    }
}

fn assemble(
    owner: &UserId,
    row: Row,
    head: Option<Head>,
    last_message: Option<cirrus_core::message::StoredMessage>,
) -> ConversationEntry {
    let (last_seq, updated_at) = head
        .as_ref()
        .map_or((0, 0), |head| (head.last_seq, head.updated_at));
    let read_seq = row.read_seq(owner, head.as_ref());
    ConversationEntry {
        owner: owner.clone(),
        conversation_id: row.conversation_id,
        stream: row.stream,
        last_seq,
        read_seq,
        last_message,
        updated_at,
    }
}
