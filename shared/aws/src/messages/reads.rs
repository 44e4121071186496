//! Reading messages: one by its position, a stream's head, batched gets, history pages without
//! the hidden, expired or capped seqs.

use super::{HEAD_SEQ, Head, MAX_BATCH_GET, hidden_key, live_at, message_from_item};
use crate::backoff::UNPROCESSED;
use crate::error::{Result, StoreError};
use crate::item::{Item, get_n, n, s};
use crate::store::DynamoStore;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use cirrus_core::ids::{StreamKey, UserId};
use cirrus_core::message::StoredMessage;
use cirrus_core::ports::SeqRange;
use std::collections::HashSet;

impl DynamoStore {
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

    /// Items by key from one table, in chunks of 100, retrying unprocessed keys on the
    /// [`UNPROCESSED`] schedule (then failing). The order of the answer is not the order of `keys`.
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
            let mut delays = UNPROCESSED.delays();
            let mut attempts = 0;
            while let Some(chunk) = pending.take().filter(|chunk| !chunk.is_empty()) {
                attempts += 1;
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
                if let Some(left) = pending.as_ref().filter(|left| !left.is_empty()) {
                    let Some(delay) = delays.next() else {
                        return Err(StoreError::Unprocessed {
                            left: left.len(),
                            attempts,
                        });
                    };
                    tokio::time::sleep(delay).await;
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
    pub(super) async fn read_history(
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
    pub(super) async fn hidden_seqs(
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
    pub(super) async fn live_message(
        &self,
        stream: &StreamKey,
        seq: u64,
        now: i64,
    ) -> Result<Option<StoredMessage>> {
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
}
