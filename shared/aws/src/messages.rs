//! [`MessageStore`] for [`DynamoStore`]: append with unique seqs and idempotency, history, single
//! messages, recall and delete-for-me.
//!
//! An append is three single-item writes, no transaction (a transactional write costs double):
//! claim the idempotency item on the condition that it is absent, take the next seq with an atomic
//! `ADD`-style update of the stream head (which also moves the sender's read pointer in a
//! one-to-one stream), then put the message at that seq. Inbox rows that do not exist yet are
//! created between the claim and the seq, so a conversation never has messages its participants
//! cannot list.
//! A claim that is already taken is a duplicate: the first message is found in its stream, near
//! the top, by (sender, clientMsgId).
//!
//! Messages and claims carry the roaming end as the table's TTL attribute (`expiresAt`, epoch
//! seconds rounded up) and the exact one (`expiresAtMs`). TTL deletes lazily (up to days late), so
//! `history` and `get_message` compare `expiresAtMs` themselves. The per-conversation cap is
//! applied on read only: `history` reads the stream head (its `lastSeq`) and leaves out every seq
//! at or below `lastSeq - keep_last`; such messages go when their TTL does (an append never
//! deletes). Stream heads have no TTL: a seq is never handed out twice.
//!
//! Delete-for-me entries live in the same table, one small item per hidden message under the
//! owner's partition of the stream, `("hide:<owner>:<stream>", seq)`, with the same two expiry
//! attributes; `history` with a viewer reads that partition over the seqs of each page it read.
//! The costs are in this crate's `README.md`.

use crate::accounts::in_order;
use crate::connections::ttl_seconds;
use crate::error::{Result, StoreError, written};
use crate::item::{Item, get_id, get_n, get_s, n, opt_bool, opt_m, opt_n, opt_s, s};
use crate::store::DynamoStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure,
};
use cirrus_core::ids::{ClientMsgId, GroupId, MsgId, StreamKey, UserId};
use cirrus_core::message::{Recall, SenderProfile, StoredMessage, Target};
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

/// The partition key of `owner`'s delete-for-me entries in `stream`. It starts with `hide:`, which
/// no stream key (`c2c:`, `group:`) nor claim (`idem:`) does, and user ids hold no `:`.
fn hidden_key(owner: &UserId, stream: &StreamKey) -> String {
    format!("hide:{owner}:{stream}")
}

/// Whether an item (a message, a delete-for-me entry) is still live at `now`: its `expiresAtMs`
/// is later (an item written before messages expired has none, and never expires).
fn live_at(item: &Item, now: i64) -> Result<bool> {
    Ok(opt_n::<i64>(item, "expiresAtMs")?.is_none_or(|expires_at| expires_at > now))
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

    async fn history(
        &self,
        stream: &StreamKey,
        range: SeqRange,
        viewer: Option<&UserId>,
    ) -> cirrus_core::Result<Vec<StoredMessage>> {
        Ok(self.read_history(stream, range, viewer).await?)
    }

    async fn get_message(
        &self,
        stream: &StreamKey,
        seq: u64,
        now: i64,
    ) -> cirrus_core::Result<Option<StoredMessage>> {
        Ok(self.live_message(stream, seq, now).await?)
    }

    async fn recall(
        &self,
        stream: &StreamKey,
        seq: u64,
        recall: &Recall,
    ) -> cirrus_core::Result<Option<StoredMessage>> {
        Ok(self.recall_message(stream, seq, recall).await?)
    }

    async fn hide_messages(
        &self,
        owner: &UserId,
        stream: &StreamKey,
        seqs: &[u64],
        expires_at: i64,
    ) -> cirrus_core::Result<()> {
        Ok(self.hide_for(owner, stream, seqs, expires_at).await?)
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
            .item("expiresAt", n(ttl_seconds(message.expires_at)))
            .condition_expression("attribute_not_exists(#stream)")
            .expression_attribute_names("#stream", "stream")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
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
            .update_expression("SET claimedAt = :now, msgStream = :stream, expiresAt = :ttl")
            .condition_expression("claimedAt = :then")
            .expression_attribute_values(":now", n(message.time.max(claimed_at + 1)))
            .expression_attribute_values(":ttl", n(ttl_seconds(message.expires_at)))
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

    /// A page of history (see [`MessageStore::history`]): one consistent read of the head for the
    /// rolled-over floor, then consistent `Query`s of the page's range that leave expired messages
    /// out (a filter: they are still read, and billed) and, with a viewer, a consistent `Query` of
    /// the viewer's delete-for-me entries over the seqs each one returned; more are read until the
    /// page is full or the range is exhausted.
    async fn read_history(
        &self,
        stream: &StreamKey,
        range: SeqRange,
        viewer: Option<&UserId>,
    ) -> Result<Vec<StoredMessage>> {
        if range.limit == 0 || range.keep_last == 0 {
            return Ok(Vec::new());
        }
        let forward = matches!((range.after, range.before), (Some(_), None));
        let mut low = range.after.unwrap_or(HEAD_SEQ).saturating_add(1);
        let mut high = range.before.unwrap_or(u64::MAX).saturating_sub(1);
        if low > high {
            return Ok(Vec::new());
        }
        if range.keep_last < u64::MAX {
            let Some(head) = self.head(stream).await? else {
                return Ok(Vec::new());
            };
            // Only the newest `keep_last` seqs count; nothing is stored above the head's.
            low = low.max(head.last_seq.saturating_sub(range.keep_last).saturating_add(1));
            high = high.min(head.last_seq);
            if low > high {
                return Ok(Vec::new());
            }
        }
        let wanted = usize::try_from(range.limit).unwrap_or(usize::MAX);
        let mut page = Vec::new();
        // Messages read but left out (expired or hidden): later queries read that many more, so a
        // run of them costs a few growing queries rather than one per message.
        let mut skipped: usize = 0;
        let mut start = None;
        loop {
            let read = (wanted - page.len()).saturating_add(skipped);
            let answer = self
                .client
                .query()
                .table_name(&self.config.messages_table)
                .key_condition_expression("#stream = :stream AND seq BETWEEN :low AND :high")
                .filter_expression("attribute_not_exists(expiresAtMs) OR expiresAtMs > :now")
                .expression_attribute_names("#stream", "stream")
                .expression_attribute_values(":stream", s(stream.as_str()))
                .expression_attribute_values(":low", n(low))
                .expression_attribute_values(":high", n(high))
                .expression_attribute_values(":now", n(range.now))
                .scan_index_forward(forward)
                .consistent_read(true)
                .limit(i32::try_from(read).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            let scanned = usize::try_from(answer.scanned_count).unwrap_or(0);
            let kept = usize::try_from(answer.count).unwrap_or(0);
            skipped = skipped.saturating_add(scanned.saturating_sub(kept));
            let mut found = answer
                .items()
                .iter()
                .map(message_from_item)
                .collect::<Result<Vec<_>>>()?;
            if let Some(viewer) = viewer
                && let (Some(first), Some(last)) = (found.first(), found.last())
            {
                let (from, to) = (first.seq.min(last.seq), first.seq.max(last.seq));
                let hidden = self.hidden_seqs(viewer, stream, from, to, range.now).await?;
                let before = found.len();
                found.retain(|message| !hidden.contains(&message.seq));
                skipped = skipped.saturating_add(before - found.len());
            }
            page.extend(found);
            start = answer.last_evaluated_key;
            if start.is_none() || page.len() >= wanted {
                break;
            }
        }
        page.truncate(wanted);
        if !forward {
            page.reverse();
        }
        Ok(page)
    }

    /// The seqs from `from` to `to` that `owner` hid in `stream` and that are still hidden at
    /// `now`: a consistent `Query` of their delete-for-me partition (keys and expiry only).
    async fn hidden_seqs(
        &self,
        owner: &UserId,
        stream: &StreamKey,
        from: u64,
        to: u64,
        now: i64,
    ) -> Result<HashSet<u64>> {
        let mut hidden = HashSet::new();
        let mut start = None;
        loop {
            let answer = self
                .client
                .query()
                .table_name(&self.config.messages_table)
                .key_condition_expression("#stream = :hidden AND seq BETWEEN :from AND :to")
                .projection_expression("seq, expiresAtMs")
                .expression_attribute_names("#stream", "stream")
                .expression_attribute_values(":hidden", s(hidden_key(owner, stream)))
                .expression_attribute_values(":from", n(from))
                .expression_attribute_values(":to", n(to))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            for item in answer.items() {
                if live_at(item, now)? {
                    hidden.insert(get_n(item, "seq")?);
                }
            }
            start = answer.last_evaluated_key;
            if start.is_none() {
                return Ok(hidden);
            }
        }
    }

    /// One message, unless it is absent or expired at `now`: a consistent `GetItem`, 1 RCU.
    async fn live_message(&self, stream: &StreamKey, seq: u64, now: i64) -> Result<Option<StoredMessage>> {
        if seq == HEAD_SEQ {
            return Ok(None);
        }
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
        match got.item {
            Some(item) if live_at(&item, now)? => Ok(Some(message_from_item(&item)?)),
            _ => Ok(None),
        }
    }

    /// Turns a message into a tombstone with one conditional `UpdateItem` (the message exists and
    /// is not recalled yet) that empties the body, drops `cloudCustomData`, records the recall and
    /// returns the item afterwards (`ALL_NEW`): 1 WCU for a message up to 1 KB. A failed condition
    /// (already recalled, or no message) returns the item as it is (`ALL_OLD`), or is answered by
    /// a consistent read when nothing came back (no message, or an emulator that returns nothing).
    async fn recall_message(
        &self,
        stream: &StreamKey,
        seq: u64,
        recall: &Recall,
    ) -> Result<Option<StoredMessage>> {
        if seq == HEAD_SEQ {
            return Ok(None);
        }
        let updated = self
            .client
            .update_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(stream.as_str()))
            .key("seq", n(seq))
            .update_expression(
                "SET #body = :empty, recalledBy = :by, recalledAt = :at REMOVE cloudCustomData",
            )
            .condition_expression("attribute_exists(msgId) AND attribute_not_exists(recalledBy)")
            .expression_attribute_names("#body", "body")
            .expression_attribute_values(":empty", s("[]"))
            .expression_attribute_values(":by", s(recall.by.as_str()))
            .expression_attribute_values(":at", n(recall.time))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match updated {
            Ok(answer) => answer.attributes.as_ref().map(message_from_item).transpose(),
            Err(err) => match err.into_service_error() {
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                    failed,
                ) => match failed.item {
                    Some(item) if item.contains_key("msgId") => Ok(Some(message_from_item(&item)?)),
                    _ => self.message(stream, seq).await,
                },
                other => Err(aws_sdk_dynamodb::Error::from(other).into()),
            },
        }
    }

    /// Records `owner`'s delete-for-me entries: one unconditional `PutItem` per distinct seq (1 WCU
    /// each), at most 16 in flight. Putting an entry again only moves its expiry; a seq with no
    /// message gets an entry that nothing ever matches.
    async fn hide_for(
        &self,
        owner: &UserId,
        stream: &StreamKey,
        seqs: &[u64],
        expires_at: i64,
    ) -> Result<()> {
        let key = hidden_key(owner, stream);
        let mut distinct: Vec<u64> = seqs.iter().copied().filter(|seq| *seq != HEAD_SEQ).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let puts = distinct
            .into_iter()
            .map(|seq| {
                let put = self
                    .client
                    .put_item()
                    .table_name(&self.config.messages_table)
                    .item("stream", s(&key))
                    .item("seq", n(seq))
                    .item("expiresAtMs", n(expires_at))
                    .item("expiresAt", n(ttl_seconds(expires_at)));
                async move {
                    put.send().await.map_err(StoreError::sdk)?;
                    Ok(())
                }
            })
            .collect();
        in_order(puts).await?;
        Ok(())
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
        ("expiresAtMs".to_owned(), n(message.expires_at)),
        ("expiresAt".to_owned(), n(ttl_seconds(message.expires_at))),
    ]);
    if let Some(data) = &message.cloud_custom_data {
        item.insert("cloudCustomData".to_owned(), s(data));
    }
    if let Some(sender) = &message.sender {
        // A map, so that a profile with neither field still reads back as one.
        let mut profile = Item::new();
        if let Some(nickname) = &sender.nickname {
            profile.insert("nickname".to_owned(), s(nickname));
        }
        if let Some(avatar) = &sender.avatar {
            profile.insert("avatar".to_owned(), s(avatar));
        }
        item.insert("sender".to_owned(), AttributeValue::M(profile));
    }
    if message.system {
        item.insert("system".to_owned(), AttributeValue::Bool(true));
    }
    item
}

pub(crate) fn message_from_item(item: &Item) -> Result<StoredMessage> {
    let to = match get_s(item, "toKind")? {
        "c2c" => Target::C2c(get_id(item, "toId", UserId::parse)?),
        "group" => Target::Group(get_id(item, "toId", GroupId::parse)?),
        _ => return Err(StoreError::BadAttribute("toKind")),
    };
    let sender = opt_m(item, "sender")?
        .map(|profile| -> Result<SenderProfile> {
            Ok(SenderProfile {
                nickname: opt_s(profile, "nickname")?.map(str::to_owned),
                avatar: opt_s(profile, "avatar")?.map(str::to_owned),
            })
        })
        .transpose()?;
    let recalled = item
        .contains_key("recalledBy")
        .then(|| -> Result<Recall> {
            Ok(Recall {
                by: get_id(item, "recalledBy", UserId::parse)?,
                time: get_n(item, "recalledAt")?,
            })
        })
        .transpose()?;
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
        sender,
        system: opt_bool(item, "system")?,
        recalled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cirrus_core::element::Element;
    use cirrus_core::ports::InboxUpdate;

    fn user(raw: &str) -> UserId {
        UserId::parse(raw).unwrap()
    }

    fn message() -> NewMessage {
        let (alice, bob) = (user("alice"), user("bob"));
        NewMessage {
            stream: StreamKey::c2c(&alice, &bob),
            msg_id: MsgId::parse("m-1").unwrap(),
            from: alice.clone(),
            to: Target::C2c(bob.clone()),
            time: 1_700_000_000_000,
            client_msg_id: ClientMsgId::parse("c-1").unwrap(),
            body: vec![Element::Text {
                text: "hi".to_owned(),
            }],
            cloud_custom_data: Some("app".to_owned()),
            sender: Some(SenderProfile {
                nickname: Some("Alice".to_owned()),
                avatar: Some("https://example.com/a.png".to_owned()),
            }),
            system: true,
            expires_at: 1_700_604_800_500,
            keep_last: 10_000,
            inbox: InboxUpdate::c2c(&alice, &bob),
        }
    }

    #[test]
    fn a_message_round_trips_through_its_item_with_the_ttl_in_seconds_rounded_up() {
        // GIVEN a message with a sender profile, the system flag and a roaming end 0.5 s past a
        // whole second
        let message = message();
        // WHEN it is turned into an item at seq 7
        let item = message_item(&message, 7, &serde_json::to_string(&message.body).unwrap());
        // THEN the item keeps the exact roaming end and the TTL one at the next whole second
        assert_eq!(item["expiresAtMs"], n(1_700_604_800_500_i64));
        assert_eq!(item["expiresAt"], n(1_700_604_801_i64));
        assert_eq!(item["system"], AttributeValue::Bool(true));
        // AND it reads back as stored
        assert_eq!(message_from_item(&item).unwrap(), message.stored(7));
    }

    #[test]
    fn an_empty_sender_profile_reads_back_as_one_and_a_plain_message_has_no_extras() {
        // GIVEN a message with an empty sender profile, and one with none and no system flag
        let empty = NewMessage {
            sender: Some(SenderProfile::default()),
            ..message()
        };
        let plain = NewMessage {
            sender: None,
            system: false,
            cloud_custom_data: None,
            ..message()
        };
        // THEN the first keeps its (empty) profile
        let item = message_item(&empty, 1, "[]");
        assert_eq!(
            message_from_item(&item).unwrap().sender,
            Some(SenderProfile::default())
        );
        // AND the second's item has neither attribute
        let item = message_item(&plain, 1, "[]");
        assert!(
            !item.contains_key("sender") && !item.contains_key("system"),
            "{item:?}"
        );
        let stored = message_from_item(&item).unwrap();
        assert_eq!(
            (stored.sender, stored.system, stored.recalled),
            (None, false, None)
        );
    }

    #[test]
    fn a_recalled_item_reads_back_as_a_tombstone() {
        // GIVEN a message item as recall leaves it: an empty body, the recall recorded
        let mut item = message_item(&message(), 3, "[]");
        item.remove("cloudCustomData");
        item.insert("recalledBy".to_owned(), s("alice"));
        item.insert("recalledAt".to_owned(), n(1_700_000_060_000_i64));
        // THEN it reads back with no body, no custom data and the recall
        let stored = message_from_item(&item).unwrap();
        assert!(stored.body.is_empty());
        assert_eq!(stored.cloud_custom_data, None);
        assert_eq!(
            stored.recalled,
            Some(Recall {
                by: user("alice"),
                time: 1_700_000_060_000
            })
        );
    }

    #[test]
    fn liveness_compares_the_exact_expiry_and_items_without_one_never_expire() {
        let item = message_item(&message(), 1, "[]");
        assert!(live_at(&item, 1_700_604_800_499).unwrap());
        assert!(!live_at(&item, 1_700_604_800_500).unwrap());
        let mut legacy = item;
        legacy.remove("expiresAtMs");
        assert!(live_at(&legacy, i64::MAX).unwrap());
    }

    #[test]
    fn delete_for_me_partitions_cannot_meet_streams_or_claims() {
        let stream = StreamKey::c2c(&user("alice"), &user("bob"));
        let key = hidden_key(&user("alice"), &stream);
        assert_eq!(key, "hide:alice:c2c:alice:bob");
        assert!(!key.starts_with("c2c:") && !key.starts_with("group:") && !key.starts_with("idem:"));
    }
}
