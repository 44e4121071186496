//! [`MessageStore`] for [`DynamoStore`]: append with unique seqs and idempotency, and history.
//!
//! An append is three single-item writes, no transaction (a transactional write costs double):
//! claim the idempotency item on the condition that it is absent, take the next seq with an atomic
//! `ADD`-style update of the stream head (which also moves the sender's read pointer in a
//! one-to-one stream), then put the message at that seq. Inbox rows that do not exist yet are
//! created between the claim and the seq, so a conversation never has messages its participants
//! cannot list.
//! A claim that is already taken is a duplicate: the first message is found in its stream, near
//! the top, by (sender, clientMsgId).

use crate::error::{Result, StoreError, written};
use crate::item::{Item, get_id, get_n, get_s, n, opt_s, s};
use crate::store::DynamoStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use cirrus_core::ids::{ClientMsgId, GroupId, MsgId, StreamKey, UserId};
use cirrus_core::message::{StoredMessage, Target};
use cirrus_core::ports::{Appended, MessageStore, NewMessage, SeqRange};
use std::collections::HashSet;
use std::time::Duration;

/// The seq of a stream's head item (the counter); messages start at 1.
pub(crate) const HEAD_SEQ: u64 = 0;
/// DynamoDB's limit on keys per BatchGetItem.
const MAX_BATCH_GET: usize = 100;
/// Prefix of the head attributes holding a participant's read pointer in a one-to-one stream.
const READ_PREFIX: &str = "read:";
/// How long a claim without its message belongs to the writer that made it. Longer than any
/// function's timeout, so a claim older than this was left by a writer that died mid-append.
const CLAIM_LEASE_MS: i64 = 30_000;
/// How far before its claim a duplicate's first message may be stamped (clock skew between
/// writers): the search down the stream stops below that.
const CLOCK_SKEW_MS: i64 = 10_000;
/// Messages read per page while looking for a duplicate's first message.
const SEARCH_PAGE: i32 = 50;
/// How many times an append takes over abandoned claims before giving up.
const MAX_TAKEOVERS: u32 = 3;

/// The partition key of the idempotency item of (sender, clientMsgId). Stream keys start with
/// `c2c:` or `group:` and user ids hold no `:`, so it cannot collide with a stream.
fn idempotency_key(from: &UserId, client_msg_id: &ClientMsgId) -> String {
    format!("idem:{from}:{client_msg_id}")
}

/// The head attribute holding `user`'s read pointer in a one-to-one stream.
fn read_attribute(user: &UserId) -> String {
    format!("{READ_PREFIX}{user}")
}

/// What an attempt to claim (sender, clientMsgId) found.
enum Claim {
    /// This append owns the claim and must store the message.
    Won,
    /// Someone claimed it first, at `claimed_at`, for `stream`; `seq` once a duplicate has found
    /// the message and noted where it is.
    Taken {
        stream: StreamKey,
        claimed_at: i64,
        seq: Option<u64>,
    },
}

fn claim_from_item(item: &Item) -> Result<Claim> {
    Ok(Claim::Taken {
        stream: StreamKey::from_stored(get_s(item, "msgStream")?.to_owned()),
        claimed_at: get_n(item, "claimedAt")?,
        seq: item
            .contains_key("msgSeq")
            .then(|| get_n(item, "msgSeq"))
            .transpose()?,
    })
}

#[async_trait]
impl MessageStore for DynamoStore {
    async fn append(&self, message: NewMessage) -> cirrus_core::Result<Appended> {
        Ok(self.append_message(&message).await?)
    }

    async fn history(&self, stream: &StreamKey, range: SeqRange) -> cirrus_core::Result<Vec<StoredMessage>> {
        Ok(self.read_history(stream, range).await?)
    }
}

impl DynamoStore {
    async fn append_message(&self, message: &NewMessage) -> Result<Appended> {
        let body = serde_json::to_string(&message.body)?;
        let idem = idempotency_key(&message.from, &message.client_msg_id);
        let lock = self.stream_lock(message.stream.as_str());
        let mut turn = Some(lock.clone().lock_owned().await);
        let mut claim = self.claim(&idem, message).await?;
        let mut takeovers = 0;
        loop {
            match claim {
                Claim::Won => {
                    if turn.is_none() {
                        turn = Some(lock.clone().lock_owned().await);
                    }
                    self.create_missing_entries(message).await?;
                    let seq = self.next_seq(message).await?;
                    self.put_message(message, seq, &body).await?;
                    self.mark_senders_read(message, seq).await?;
                    drop(turn);
                    return Ok(Appended::New(message.stored(seq)));
                }
                Claim::Taken {
                    stream,
                    claimed_at,
                    seq,
                } => {
                    // Waiting for another writer's message must not hold up this stream.
                    turn = None;
                    if let Some(first) = self.await_first(&idem, message, &stream, claimed_at, seq).await? {
                        return Ok(Appended::Duplicate(first));
                    }
                    if takeovers == MAX_TAKEOVERS {
                        return Err(StoreError::Contention(MAX_TAKEOVERS));
                    }
                    takeovers += 1;
                    claim = self.take_over(&idem, message, claimed_at).await?;
                }
            }
        }
    }

    /// Claims (sender, clientMsgId) for this append: a conditional put, 1 WCU.
    async fn claim(&self, idem: &str, message: &NewMessage) -> Result<Claim> {
        let put = self
            .client
            .put_item()
            .table_name(&self.config.messages_table)
            .item("stream", s(idem))
            .item("seq", n(HEAD_SEQ))
            .item("msgStream", s(message.stream.as_str()))
            .item("claimedAt", n(message.time))
            .condition_expression("attribute_not_exists(#stream)")
            .expression_attribute_names("#stream", "stream")
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Won),
            Err(err) => match err.into_service_error() {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
                    failed,
                ) => match failed.item {
                    Some(item) => claim_from_item(&item),
                    // Emulators may not return the item: read it.
                    None => self.read_claim(idem).await,
                },
                other => Err(aws_sdk_dynamodb::Error::from(other).into()),
            },
        }
    }

    async fn read_claim(&self, idem: &str) -> Result<Claim> {
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
        got.item
            .as_ref()
            .map(claim_from_item)
            .ok_or(StoreError::MissingAttribute("claimedAt"))?
    }

    /// Moves an abandoned claim (still at `claimed_at`) to this append; another writer taking it
    /// first is answered with their claim.
    async fn take_over(&self, idem: &str, message: &NewMessage, claimed_at: i64) -> Result<Claim> {
        let moved = self
            .client
            .update_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(idem))
            .key("seq", n(HEAD_SEQ))
            .update_expression("SET claimedAt = :now, msgStream = :stream")
            .condition_expression("claimedAt = :then")
            .expression_attribute_values(":now", n(message.time.max(claimed_at + 1)))
            .expression_attribute_values(":then", n(claimed_at))
            .expression_attribute_values(":stream", s(message.stream.as_str()))
            .send()
            .await;
        if written(moved)? {
            tracing::warn!(stream = %message.stream, "took over an idempotency claim abandoned mid-append");
            Ok(Claim::Won)
        } else {
            self.read_claim(idem).await
        }
    }

    /// The first message of a taken claim, waiting while its writer may still be storing it.
    /// `None` once the claim's lease has run out with no message: its writer died.
    async fn await_first(
        &self,
        idem: &str,
        message: &NewMessage,
        stream: &StreamKey,
        claimed_at: i64,
        seq: Option<u64>,
    ) -> Result<Option<StoredMessage>> {
        if let Some(seq) = seq {
            return self.message(stream, seq).await;
        }
        let lease_left = CLAIM_LEASE_MS.saturating_sub(message.time.saturating_sub(claimed_at));
        let deadline =
            std::time::Instant::now() + Duration::from_millis(u64::try_from(lease_left).unwrap_or(0));
        let mut pause = Duration::from_millis(10);
        loop {
            if let Some(first) = self.find_sent(stream, message, claimed_at).await? {
                self.note_seq(idem, first.seq).await?;
                return Ok(Some(first));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Records on a claim where its message is, so later duplicates read it directly (one write,
    /// on the duplicate path only: a first send never pays for it).
    async fn note_seq(&self, idem: &str, seq: u64) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(idem))
            .key("seq", n(HEAD_SEQ))
            .update_expression("SET msgSeq = :seq")
            .expression_attribute_values(":seq", n(seq))
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(())
    }

    /// Looks for the sender's message with this clientMsgId from the top of `stream` down to
    /// where messages are older than the claim (less the clock skew).
    async fn find_sent(
        &self,
        stream: &StreamKey,
        message: &NewMessage,
        claimed_at: i64,
    ) -> Result<Option<StoredMessage>> {
        let floor = claimed_at.saturating_sub(CLOCK_SKEW_MS);
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.config.messages_table)
                .key_condition_expression("#stream = :stream AND seq > :head")
                .expression_attribute_names("#stream", "stream")
                .expression_attribute_values(":stream", s(stream.as_str()))
                .expression_attribute_values(":head", n(HEAD_SEQ))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(SEARCH_PAGE)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            for item in page.items() {
                let from = get_s(item, "from")?;
                let client_msg_id = get_s(item, "clientMsgId")?;
                if from == message.from.as_str() && client_msg_id == message.client_msg_id.as_str() {
                    return Ok(Some(message_from_item(item)?));
                }
                if get_n::<i64>(item, "time")? < floor {
                    return Ok(None);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(None);
            }
        }
    }

    /// Takes the next seq of the stream: one update of its head, 1 WCU. In a one-to-one stream
    /// the sender's read pointer lives on the head and moves with it, for free.
    async fn next_seq(&self, message: &NewMessage) -> Result<u64> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(message.stream.as_str()))
            .key("seq", n(HEAD_SEQ))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":time", n(message.time))
            .return_values(ReturnValue::UpdatedNew);
        // Every operand of an update reads the item as it was before, so the read pointer gets the
        // same new seq; it comes first so that an evaluator applying actions in order agrees.
        let mut actions = Vec::new();
        if matches!(message.to, Target::C2c(_)) {
            for (i, update_of) in message.inbox.iter().filter(|u| u.mark_read).enumerate() {
                let alias = format!("#r{i}");
                actions.push(format!("{alias} = if_not_exists(lastSeq, :zero) + :one"));
                update = update.expression_attribute_names(alias, read_attribute(&update_of.owner));
            }
        }
        actions.push("lastSeq = if_not_exists(lastSeq, :zero) + :one".to_owned());
        actions.push("updatedAt = :time".to_owned());
        let answer = update
            .update_expression(format!("SET {}", actions.join(", ")))
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let attributes = answer.attributes.unwrap_or_default();
        get_n(&attributes, "lastSeq")
    }

    /// Stores the message at its seq: 1 WCU up to 1 KB.
    async fn put_message(&self, message: &NewMessage, seq: u64, body: &str) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.config.messages_table)
            .set_item(Some(message_item(message, seq, body)))
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(())
    }

    /// Outside one-to-one streams (whose heads carry them) the sender's read pointer is on their
    /// inbox row; it only moves up.
    async fn mark_senders_read(&self, message: &NewMessage, seq: u64) -> Result<()> {
        if matches!(message.to, Target::C2c(_)) {
            return Ok(());
        }
        for update in message.inbox.iter().filter(|update| update.mark_read) {
            self.raise_read_seq(&update.owner, &update.conversation_id, seq)
                .await?;
        }
        Ok(())
    }

    /// Creates the inbox rows of this message that do not exist yet (read pointer 0). Existing
    /// rows are found with one eventually consistent batch read; a row created meanwhile by
    /// someone else makes the conditional put fail harmlessly.
    async fn create_missing_entries(&self, message: &NewMessage) -> Result<()> {
        let mut wanted: Vec<(String, String)> = message
            .inbox
            .iter()
            .map(|update| {
                (
                    update.owner.as_str().to_owned(),
                    update.conversation_id.to_string(),
                )
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let keys = wanted
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
                false,
            )
            .await?
        {
            existing.insert((
                get_s(&found, "owner")?.to_owned(),
                get_s(&found, "conversationId")?.to_owned(),
            ));
        }
        for (owner, conversation) in wanted.into_iter().filter(|key| !existing.contains(key)) {
            let created = self
                .client
                .put_item()
                .table_name(&self.config.conversations_table)
                .item("owner", s(owner))
                .item("conversationId", s(conversation))
                .item("stream", s(message.stream.as_str()))
                .item("readSeq", n(0))
                .condition_expression("attribute_not_exists(#owner)")
                .expression_attribute_names("#owner", "owner")
                .send()
                .await;
            written(created)?;
        }
        Ok(())
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

    /// Items by key from one table, in chunks of 100, retrying unprocessed
    /// keys. The order of the answer is not the order of `keys`.
    pub(crate) async fn batch_get(
        &self,
        table: &str,
        keys: Vec<Item>,
        projection: Option<&str>,
        names: &[(&str, &str)],
        consistent: bool,
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
                    .consistent_read(consistent)
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

/// A stream's head item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// Highest seq.
    pub last_seq: u64,
    /// Time of the message at `last_seq`.
    pub updated_at: i64,
    /// Read pointers kept on the head (one-to-one streams: each side's newest own message).
    reads: Vec<(String, u64)>,
}

impl Head {
    pub(crate) fn from_item(item: &Item) -> Result<Self> {
        let reads = item
            .iter()
            .filter_map(|(name, value)| {
                let user = name.strip_prefix(READ_PREFIX)?;
                let seq = match value {
                    AttributeValue::N(seq) => seq.parse().map_err(|_| StoreError::BadAttribute("read")),
                    _ => Err(StoreError::BadAttribute("read")),
                };
                Some(seq.map(|seq| (user.to_owned(), seq)))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            last_seq: get_n(item, "lastSeq")?,
            updated_at: get_n(item, "updatedAt")?,
            reads,
        })
    }

    /// The read pointer of `user` kept on the head (0 if none).
    pub(crate) fn read_of(&self, user: &UserId) -> u64 {
        self.reads
            .iter()
            .find(|(reader, _)| reader == user.as_str())
            .map_or(0, |(_, seq)| *seq)
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
