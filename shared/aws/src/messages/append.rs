//! Appending a message: claiming (sender, clientMsgId), finding a duplicate's first message, taking
//! the next seq, putting the message and creating missing inbox rows.
//!
//! The SDK retries a call whose answer was lost (a 5xx or a timeout after DynamoDB made the
//! write), so every write here must mean the same when it is made twice: the claim carries the
//! append's token (its msgId), by which a retry that finds it recognises its own; the stream head
//! records the claim that took its last seq, so taking the seq again for the same claim gives the
//! same seq instead of skipping one. An append that fails after its claim releases it, so that the
//! client's resend proceeds at once and, the head still naming the claim, fills the same seq.

use super::items::message_item;
use super::{
    CLAIM_LEASE_MS, CLOCK_SKEW_MS, HEAD_SEQ, MAX_TAKEOVERS, SEARCH_PAGE, idempotency_key, message_from_item,
    read_attribute,
};
use crate::connections::ttl_seconds;
use crate::error::{Result, StoreError, written};
use crate::item::{Item, get_n, get_s, n, opt_s, s};
use crate::store::DynamoStore;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use cirrus_core::ids::StreamKey;
use cirrus_core::message::{StoredMessage, Target};
use cirrus_core::ports::{Appended, NewMessage};
use std::collections::HashSet;
use std::time::Duration;

/// What an attempt to claim (sender, clientMsgId) found.
pub(super) enum Claim {
    /// This append owns the claim and must store the message.
    Won,
    /// Someone claimed it first, at `claimed_at`, for `stream`; `seq` once a duplicate has found
    /// the message and noted where it is; `released` if its writer failed and gave it up.
    Taken {
        stream: StreamKey,
        claimed_at: i64,
        seq: Option<u64>,
        released: bool,
    },
}

/// The claim `item` holds, as `message`'s append sees it: its own (a retried write that had
/// been made) is won.
pub(super) fn claim_from_item(item: &Item, message: &NewMessage) -> Result<Claim> {
    if opt_s(item, "claimToken")? == Some(message.msg_id.as_str()) {
        return Ok(Claim::Won);
    }
    Ok(Claim::Taken {
        stream: StreamKey::from_stored(get_s(item, "msgStream")?.to_owned()),
        claimed_at: get_n(item, "claimedAt")?,
        seq: item
            .contains_key("msgSeq")
            .then(|| get_n(item, "msgSeq"))
            .transpose()?,
        released: item.contains_key("releasedAt"),
    })
}

impl DynamoStore {
    pub(super) async fn append_message(&self, message: &NewMessage) -> Result<Appended> {
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
                    let stored = self.store_claimed(&idem, message, &body).await;
                    drop(turn);
                    return match stored {
                        Ok(seq) => Ok(Appended::New(message.stored(seq))),
                        Err(err) => {
                            self.release(&idem, message).await;
                            Err(err)
                        }
                    };
                }
                Claim::Taken {
                    stream,
                    claimed_at,
                    seq,
                    released,
                } => {
                    // Waiting for another writer's message must not hold up this stream.
                    turn = None;
                    let first = self
                        .await_first(&idem, message, &stream, (claimed_at, released), seq)
                        .await?;
                    if let Some(first) = first {
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

    /// The writes of an append that holds its claim: inbox rows, the seq, the message and the
    /// sender's read pointer. Returns the seq.
    async fn store_claimed(&self, idem: &str, message: &NewMessage, body: &str) -> Result<u64> {
        self.create_missing_entries(message).await?;
        let seq = self.next_seq(idem, message).await?;
        self.put_message(message, seq, body).await?;
        self.mark_senders_read(message, seq).await?;
        Ok(seq)
    }

    /// Gives up this append's claim after a failure, so that a resend need not wait out the
    /// lease: it looks once for the message (which a write whose answer was lost may have
    /// stored) and otherwise takes the claim over. Best effort: a store that refused the append
    /// may refuse this too, and then the resend waits for the lease as after a crash.
    async fn release(&self, idem: &str, message: &NewMessage) {
        let released = self
            .client
            .update_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(idem))
            .key("seq", n(HEAD_SEQ))
            .update_expression("SET releasedAt = :now")
            .condition_expression("claimToken = :token")
            .expression_attribute_values(":now", n(message.time))
            .expression_attribute_values(":token", s(message.msg_id.as_str()))
            .send()
            .await;
        if let Err(err) = written(released) {
            tracing::warn!(error = %err, "could not release the claim of a failed append");
        }
    }

    /// Claims (sender, clientMsgId) for this append: a conditional put, 1 WCU.
    pub(super) async fn claim(&self, idem: &str, message: &NewMessage) -> Result<Claim> {
        let put = self
            .client
            .put_item()
            .table_name(&self.config.messages_table)
            .item("stream", s(idem))
            .item("seq", n(HEAD_SEQ))
            .item("msgStream", s(message.stream.as_str()))
            .item("claimedAt", n(message.time))
            .item("claimToken", s(message.msg_id.as_str()))
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
                    Some(item) => claim_from_item(&item, message),
                    // Emulators may not return the item: read it.
                    None => self.read_claim(idem, message).await,
                },
                other => Err(aws_sdk_dynamodb::Error::from(other).into()),
            },
        }
    }

    pub(super) async fn read_claim(&self, idem: &str, message: &NewMessage) -> Result<Claim> {
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
            .map(|item| claim_from_item(item, message))
            .ok_or(StoreError::MissingAttribute("claimedAt"))?
    }

    /// Moves an abandoned claim (still at `claimed_at`) to this append; another writer taking it
    /// first is answered with their claim.
    pub(super) async fn take_over(&self, idem: &str, message: &NewMessage, claimed_at: i64) -> Result<Claim> {
        let moved = self
            .client
            .update_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(idem))
            .key("seq", n(HEAD_SEQ))
            .update_expression(
                "SET claimedAt = :now, msgStream = :stream, expiresAt = :ttl, claimToken = :token \
                 REMOVE releasedAt",
            )
            .condition_expression("claimedAt = :then")
            .expression_attribute_values(":now", n(message.time.max(claimed_at + 1)))
            .expression_attribute_values(":token", s(message.msg_id.as_str()))
            .expression_attribute_values(":ttl", n(ttl_seconds(message.expires_at)))
            .expression_attribute_values(":then", n(claimed_at))
            .expression_attribute_values(":stream", s(message.stream.as_str()))
            .send()
            .await;
        if written(moved)? {
            tracing::warn!(stream = %message.stream, "took over an idempotency claim abandoned mid-append");
            Ok(Claim::Won)
        } else {
            self.read_claim(idem, message).await
        }
    }

    /// The first message of a taken claim (claimed at `claimed_at`, released or not), waiting
    /// while its writer may still be storing it. `None` once the claim's lease has run out with
    /// no message (its writer died), or at once if its writer released it.
    pub(super) async fn await_first(
        &self,
        idem: &str,
        message: &NewMessage,
        stream: &StreamKey,
        (claimed_at, released): (i64, bool),
        seq: Option<u64>,
    ) -> Result<Option<StoredMessage>> {
        if let Some(seq) = seq {
            return self.message(stream, seq).await;
        }
        let lease_left = if released {
            0
        } else {
            CLAIM_LEASE_MS.saturating_sub(message.time.saturating_sub(claimed_at))
        };
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
    pub(super) async fn note_seq(&self, idem: &str, seq: u64) -> Result<()> {
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
    pub(super) async fn find_sent(
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

    /// Takes the next seq of the stream for the claim `idem`: one update of its head, 1 WCU. In
    /// a one-to-one stream the sender's read pointer lives on the head and moves with it, for
    /// free. The head names the claim that took its last seq (`lastClaim`) and takes no second
    /// one for it: a retry of this update after a lost answer, or a resend after a failed append
    /// with nothing appended since, gets the same seq.
    pub(super) async fn next_seq(&self, idem: &str, message: &NewMessage) -> Result<u64> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(message.stream.as_str()))
            .key("seq", n(HEAD_SEQ))
            .condition_expression("attribute_not_exists(lastClaim) OR lastClaim <> :claim")
            .expression_attribute_values(":claim", s(idem))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":time", n(message.time))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
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
        actions.push("lastClaim = :claim".to_owned());
        let answer = update
            .update_expression(format!("SET {}", actions.join(", ")))
            .send()
            .await;
        let head = match answer {
            Ok(answer) => answer.attributes.unwrap_or_default(),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => match failed.item {
                    Some(head) => head,
                    // Emulators may not return the item: read it.
                    None => self.read_head(message).await?,
                },
                other => return Err(aws_sdk_dynamodb::Error::from(other).into()),
            },
        };
        get_n(&head, "lastSeq")
    }

    /// The stream head, read consistently.
    async fn read_head(&self, message: &NewMessage) -> Result<Item> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(message.stream.as_str()))
            .key("seq", n(HEAD_SEQ))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        got.item.ok_or(StoreError::MissingAttribute("lastSeq"))
    }

    /// Stores the message at its seq: 1 WCU up to 1 KB.
    pub(super) async fn put_message(&self, message: &NewMessage, seq: u64, body: &str) -> Result<()> {
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
    pub(super) async fn mark_senders_read(&self, message: &NewMessage, seq: u64) -> Result<()> {
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
    pub(super) async fn create_missing_entries(&self, message: &NewMessage) -> Result<()> {
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
}
