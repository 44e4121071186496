//! [`MessageStore`] for [`DynamoStore`]: append with gapless seqs and idempotency, and history.
//!
//! An append reads the idempotency item and the stream head (strongly consistent), then commits
//! one transaction that moves the head from `n` to `n + 1` on the condition that it still says `n`,
//! claims the idempotency item, writes the message and applies the inbox updates. A lost race
//! cancels the whole transaction, so no seq is ever allocated without its message: the loop reads
//! again and retries. A duplicate changes nothing and answers the first message.

use crate::error::{Result, StoreError};
use crate::item::{Item, get_id, get_n, get_s, n, opt_s, s};
use crate::store::DynamoStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, TransactWriteItem, Update};
use cirrus_core::ids::{ClientMsgId, GroupId, MsgId, StreamKey, UserId};
use cirrus_core::message::{StoredMessage, Target};
use cirrus_core::ports::{Appended, MessageStore, NewMessage, SeqRange};
use std::collections::HashSet;
use std::time::Duration;

/// The seq of a stream's head item (the counter); messages start at 1.
pub(crate) const HEAD_SEQ: u64 = 0;
/// DynamoDB's limit on items per transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// DynamoDB's limit on keys per BatchGetItem.
const MAX_BATCH_GET: usize = 100;
/// How often an append retries after losing the race for a seq.
const MAX_ATTEMPTS: u32 = 64;

/// The partition key of the idempotency item of (sender, clientMsgId). Stream keys start with
/// `c2c:` or `group:` and user ids hold no `:`, so it cannot collide with a stream.
fn idempotency_key(from: &UserId, client_msg_id: &ClientMsgId) -> String {
    format!("idem:{from}:{client_msg_id}")
}

#[async_trait]
impl MessageStore for DynamoStore {
    async fn append(&self, message: NewMessage) -> cirrus_core::Result<Appended> {
        let turn = self.stream_lock(message.stream.as_str());
        let _turn = turn.lock().await;
        Ok(self.append_locked(&message).await?)
    }

    async fn history(&self, stream: &StreamKey, range: SeqRange) -> cirrus_core::Result<Vec<StoredMessage>> {
        Ok(self.read_history(stream, range).await?)
    }
}

impl DynamoStore {
    async fn append_locked(&self, message: &NewMessage) -> Result<Appended> {
        let body = serde_json::to_string(&message.body)?;
        let idem = idempotency_key(&message.from, &message.client_msg_id);
        for attempt in 0..MAX_ATTEMPTS {
            if let Some(first) = self.first_of(&idem).await? {
                return Ok(Appended::Duplicate(first));
            }
            let last = self.head(&message.stream).await?.map_or(0, |head| head.last_seq);
            let seq = last + 1;
            let items = self.append_items(message, &body, &idem, last).await?;
            let (now, later) = split_transaction(items);
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(now))
                .send()
                .await
            {
                Ok(_) => {
                    self.write_overflow(later).await?;
                    return Ok(Appended::New(message.stored(seq)));
                }
                Err(err) => match err.into_service_error() {
                    // Another writer took the seq, claimed the clientMsgId or created an inbox
                    // entry first: read again.
                    // (A conflict with a concurrent transaction cancels too.)
                    TransactWriteItemsError::TransactionCanceledException(_) => {
                        tracing::debug!(stream = %message.stream, attempt, "append lost a race, retrying");
                        tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(10)) * 5)).await;
                    }
                    other => return Err(aws_sdk_dynamodb::Error::from(other).into()),
                },
            }
        }
        Err(StoreError::Contention(MAX_ATTEMPTS))
    }

    /// The message a claimed idempotency item points at.
    async fn first_of(&self, idem: &str) -> Result<Option<StoredMessage>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(idem))
            .key("seq", n(HEAD_SEQ))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let Some(claim) = got.item else {
            return Ok(None);
        };
        let stream = StreamKey::from_stored(get_s(&claim, "msgStream")?.to_owned());
        let seq: u64 = get_n(&claim, "msgSeq")?;
        // Written in the same transaction as the claim, so it exists.
        self.message(&stream, seq)
            .await?
            .ok_or(StoreError::MissingAttribute("msgSeq"))
            .map(Some)
    }

    /// One message by its position.
    pub(crate) async fn message(&self, stream: &StreamKey, seq: u64) -> Result<Option<StoredMessage>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(stream.as_str()))
            .key("seq", n(seq))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        got.item.as_ref().map(message_from_item).transpose()
    }

    /// The head of a stream: its last seq and activity time, if it has any message.
    pub(crate) async fn head(&self, stream: &StreamKey) -> Result<Option<Head>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(stream.as_str()))
            .key("seq", n(HEAD_SEQ))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        got.item.as_ref().map(Head::from_item).transpose()
    }

    /// The transaction of one append at `last + 1`.
    async fn append_items(
        &self,
        message: &NewMessage,
        body: &str,
        idem: &str,
        last: u64,
    ) -> Result<Vec<TransactWriteItem>> {
        let seq = last + 1;
        let stream = message.stream.as_str();
        let messages = &self.config.messages_table;
        let conversations = &self.config.conversations_table;

        let mut head = Update::builder()
            .table_name(messages)
            .key("stream", s(stream))
            .key("seq", n(HEAD_SEQ))
            .update_expression("SET lastSeq = :seq, updatedAt = :time")
            .expression_attribute_values(":seq", n(seq))
            .expression_attribute_values(":time", n(message.time));
        head = if last == 0 {
            head.condition_expression("attribute_not_exists(#stream)")
                .expression_attribute_names("#stream", "stream")
        } else {
            head.condition_expression("lastSeq = :last")
                .expression_attribute_values(":last", n(last))
        };
        let claim = Put::builder()
            .table_name(messages)
            .item("stream", s(idem))
            .item("seq", n(HEAD_SEQ))
            .item("msgStream", s(stream))
            .item("msgSeq", n(seq))
            .condition_expression("attribute_not_exists(#stream)")
            .expression_attribute_names("#stream", "stream");
        let stored = Put::builder()
            .table_name(messages)
            .set_item(Some(message_item(message, seq, body)))
            .condition_expression("attribute_not_exists(#stream)")
            .expression_attribute_names("#stream", "stream");
        let mut items = vec![
            TransactWriteItem::builder().update(head.build()?).build(),
            TransactWriteItem::builder().put(claim.build()?).build(),
            TransactWriteItem::builder().put(stored.build()?).build(),
        ];

        // Readers' entries are created once; senders' read pointers move to the new seq (it is
        // above any pointer, since pointers never pass the last seq).
        for update in message.inbox.iter().filter(|update| update.mark_read) {
            let touch = Update::builder()
                .table_name(conversations)
                .key("owner", s(update.owner.as_str()))
                .key("conversationId", s(update.conversation_id.to_string()))
                .update_expression("SET #stream = :stream, readSeq = :seq")
                .expression_attribute_names("#stream", "stream")
                .expression_attribute_values(":stream", s(stream))
                .expression_attribute_values(":seq", n(seq));
            items.push(TransactWriteItem::builder().update(touch.build()?).build());
        }
        for (owner, conversation) in self.missing_entries(message).await? {
            let create = Put::builder()
                .table_name(conversations)
                .item("owner", s(owner))
                .item("conversationId", s(conversation))
                .item("stream", s(stream))
                .item("readSeq", n(0))
                .condition_expression("attribute_not_exists(#owner)")
                .expression_attribute_names("#owner", "owner");
            items.push(TransactWriteItem::builder().put(create.build()?).build());
        }
        Ok(items)
    }

    /// The inbox entries of readers (not the sender) that do not exist yet, as (owner, id).
    async fn missing_entries(&self, message: &NewMessage) -> Result<Vec<(String, String)>> {
        let mut readers: Vec<(String, String)> = message
            .inbox
            .iter()
            .filter(|update| !update.mark_read)
            .map(|update| {
                (
                    update.owner.as_str().to_owned(),
                    update.conversation_id.to_string(),
                )
            })
            .collect();
        readers.sort_unstable();
        readers.dedup();
        if readers.is_empty() {
            return Ok(readers);
        }
        let keys = readers
            .iter()
            .map(|(owner, conversation)| {
                Item::from([
                    ("owner".to_owned(), s(owner)),
                    ("conversationId".to_owned(), s(conversation)),
                ])
            })
            .collect();
        let mut existing = HashSet::new();
        for found in self
            .batch_get(
                &self.config.conversations_table,
                keys,
                Some("#o, conversationId"),
                &[("#o", "owner")],
            )
            .await?
        {
            existing.insert((
                get_s(&found, "owner")?.to_owned(),
                get_s(&found, "conversationId")?.to_owned(),
            ));
        }
        readers.retain(|key| !existing.contains(key));
        Ok(readers)
    }

    /// Items by key from one table (strongly consistent), in chunks of 100, retrying unprocessed
    /// keys. The order of the answer is not the order of `keys`.
    pub(crate) async fn batch_get(
        &self,
        table: &str,
        keys: Vec<Item>,
        projection: Option<&str>,
        names: &[(&str, &str)],
    ) -> Result<Vec<Item>> {
        let mut found = Vec::with_capacity(keys.len());
        let mut keys = keys;
        while !keys.is_empty() {
            let rest = keys.split_off(keys.len().min(MAX_BATCH_GET));
            let mut pending = Some(keys);
            let mut attempt = 0u64;
            while let Some(chunk) = pending.take().filter(|chunk| !chunk.is_empty()) {
                let mut request = KeysAndAttributes::builder()
                    .set_keys(Some(chunk))
                    .consistent_read(true)
                    .set_projection_expression(projection.map(str::to_owned));
                for (alias, name) in names {
                    request = request.expression_attribute_names(*alias, *name);
                }
                let answer = self
                    .client
                    .batch_get_item()
                    .request_items(table, request.build()?)
                    .send()
                    .await
                    .map_err(StoreError::sdk)?;
                if let Some(mut responses) = answer.responses {
                    found.extend(responses.remove(table).unwrap_or_default());
                }
                pending = answer
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(table))
                    .map(|left| left.keys);
                if pending.as_ref().is_some_and(|left| !left.is_empty()) {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * attempt.min(25))).await;
                }
            }
            keys = rest;
        }
        Ok(found)
    }

    /// Inbox entries that did not fit in the transaction (a group append creating entries for
    /// more than 97 members), created right after it.
    async fn write_overflow(&self, items: Vec<TransactWriteItem>) -> Result<()> {
        for item in items {
            let Some(put) = item.put else { continue };
            let created = self
                .client
                .put_item()
                .table_name(put.table_name)
                .set_item(Some(put.item))
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .send()
                .await;
            match created {
                Ok(_) => {}
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(err) => return Err(StoreError::sdk(err)),
            }
        }
        Ok(())
    }

    async fn read_history(&self, stream: &StreamKey, range: SeqRange) -> Result<Vec<StoredMessage>> {
        if range.limit == 0 {
            return Ok(Vec::new());
        }
        let after = range.after.unwrap_or(HEAD_SEQ);
        let forward = matches!((range.after, range.before), (Some(_), None));
        let below = range.before.unwrap_or(u64::MAX);
        if below <= after.saturating_add(1) {
            return Ok(Vec::new());
        }
        let (low, high) = (after + 1, below - 1);
        let limit = usize::try_from(range.limit).unwrap_or(usize::MAX);
        let mut page = Vec::new();
        let mut start = None;
        loop {
            let remaining = i32::try_from(limit - page.len()).unwrap_or(i32::MAX);
            let answer = self
                .client
                .query()
                .table_name(&self.config.messages_table)
                .key_condition_expression("#stream = :stream AND seq BETWEEN :low AND :high")
                .expression_attribute_names("#stream", "stream")
                .expression_attribute_values(":stream", s(stream.as_str()))
                .expression_attribute_values(":low", n(low))
                .expression_attribute_values(":high", n(high))
                .scan_index_forward(forward)
                .consistent_read(true)
                .limit(remaining)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            for item in answer.items() {
                page.push(message_from_item(item)?);
            }
            start = answer.last_evaluated_key;
            if start.is_none() || page.len() >= limit {
                break;
            }
        }
        page.truncate(limit);
        if !forward {
            page.reverse();
        }
        Ok(page)
    }
}

/// Splits an append's items into what fits in one transaction and the rest. Only readers' new
/// inbox entries ever overflow: the head, claim, message and senders' updates come first.
fn split_transaction(mut items: Vec<TransactWriteItem>) -> (Vec<TransactWriteItem>, Vec<TransactWriteItem>) {
    let later = items.split_off(items.len().min(MAX_TRANSACTION_ITEMS));
    (items, later)
}

/// A stream's head item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// Highest seq.
    pub last_seq: u64,
    /// Time of the message at `last_seq`.
    pub updated_at: i64,
}

impl Head {
    pub(crate) fn from_item(item: &Item) -> Result<Self> {
        Ok(Self {
            last_seq: get_n(item, "lastSeq")?,
            updated_at: get_n(item, "updatedAt")?,
        })
    }
}

fn message_item(message: &NewMessage, seq: u64, body: &str) -> Item {
    let (to_kind, to_id) = match &message.to {
        Target::C2c(user) => ("c2c", user.as_str()),
        Target::Group(group) => ("group", group.as_str()),
    };
    let mut item = Item::from([
        ("stream".to_owned(), s(message.stream.as_str())),
        ("seq".to_owned(), n(seq)),
        ("msgId".to_owned(), s(message.msg_id.as_str())),
        ("from".to_owned(), s(message.from.as_str())),
        ("toKind".to_owned(), s(to_kind)),
        ("toId".to_owned(), s(to_id)),
        ("time".to_owned(), n(message.time)),
        ("clientMsgId".to_owned(), s(message.client_msg_id.as_str())),
        ("body".to_owned(), s(body)),
    ]);
    if let Some(data) = &message.cloud_custom_data {
        item.insert("cloudCustomData".to_owned(), s(data));
    }
    item
}

pub(crate) fn message_from_item(item: &Item) -> Result<StoredMessage> {
    let to = match get_s(item, "toKind")? {
        "c2c" => Target::C2c(get_id(item, "toId", UserId::parse)?),
        "group" => Target::Group(get_id(item, "toId", GroupId::parse)?),
        _ => return Err(StoreError::BadAttribute("toKind")),
    };
    Ok(StoredMessage {
        stream: StreamKey::from_stored(get_s(item, "stream")?.to_owned()),
        seq: get_n(item, "seq")?,
        msg_id: get_id(item, "msgId", MsgId::parse)?,
        from: get_id(item, "from", UserId::parse)?,
        to,
        time: get_n(item, "time")?,
        client_msg_id: get_id(item, "clientMsgId", ClientMsgId::parse)?,
        body: serde_json::from_str(get_s(item, "body")?)?,
        cloud_custom_data: opt_s(item, "cloudCustomData")?.map(str::to_owned),
    })
}
