//! [`SubscriptionStore`] for [`DynamoStore`]: one item per subscription in the subscriptions
//! table.
//!
//! A subscription is the item `target = <followed user>, subscriber = <following user>`, keys
//! only. The table's sort key gives `subscribers_of` in user id order; the keys-only index
//! `bySubscriber` (`subscriber` HASH, `target` RANGE) gives `subscriptions_of` in user id order.
//! Writes are `BatchWriteItem`s of at most 25 puts or deletes; the costs are in this crate's
//! `README.md`.

use crate::backoff::UNPROCESSED;
use crate::error::{Result, StoreError};
use crate::item::{Item, get_id, s};
use crate::store::DynamoStore;
use crate::tables::SUBSCRIPTIONS_BY_SUBSCRIBER;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use cirrus_core::ids::UserId;
use cirrus_core::ports::SubscriptionStore;
use std::collections::HashSet;

/// Writes per `BatchWriteItem` (DynamoDB's limit).
const MAX_BATCH_WRITE: usize = 25;

#[async_trait]
impl SubscriptionStore for DynamoStore {
    async fn subscribe(&self, subscriber: &UserId, targets: &[UserId]) -> cirrus_core::Result<()> {
        let puts = distinct(targets)
            .map(|target| {
                let put = PutRequest::builder()
                    .set_item(Some(key(target, subscriber)))
                    .build()?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self.batch_write(&self.config.subscriptions_table, puts).await?)
    }

    async fn unsubscribe(&self, subscriber: &UserId, targets: &[UserId]) -> cirrus_core::Result<()> {
        let deletes = distinct(targets)
            .map(|target| {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key(target, subscriber)))
                    .build()?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self
            .batch_write(&self.config.subscriptions_table, deletes)
            .await?)
    }

    async fn subscriptions_of(&self, subscriber: &UserId) -> cirrus_core::Result<Vec<UserId>> {
        Ok(self.read_subscriptions(subscriber).await?)
    }

    async fn subscribers_of(&self, target: &UserId, limit: u32) -> cirrus_core::Result<Vec<UserId>> {
        Ok(self.read_subscribers(target, limit).await?)
    }
}

impl DynamoStore {
    /// Every page of the `bySubscriber` index under `subscriber` (eventually consistent: an index
    /// cannot be read otherwise), in `target` order.
    async fn read_subscriptions(&self, subscriber: &UserId) -> Result<Vec<UserId>> {
        let mut targets = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.config.subscriptions_table)
                .index_name(SUBSCRIPTIONS_BY_SUBSCRIBER)
                .key_condition_expression("subscriber = :subscriber")
                .expression_attribute_values(":subscriber", s(subscriber.as_str()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            for item in page.items() {
                targets.push(get_id(item, "target", UserId::parse)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(targets);
            }
        }
    }

    /// The first `limit` items under `target` (strongly consistent), in `subscriber` order: pages
    /// of `Limit` = what is still missing, until there are `limit` or no more.
    async fn read_subscribers(&self, target: &UserId, limit: u32) -> Result<Vec<UserId>> {
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut subscribers = Vec::new();
        let mut start = None;
        while subscribers.len() < wanted {
            let missing = i32::try_from(wanted - subscribers.len()).unwrap_or(i32::MAX);
            let page = self
                .client
                .query()
                .table_name(&self.config.subscriptions_table)
                .key_condition_expression("target = :target")
                .expression_attribute_values(":target", s(target.as_str()))
                .consistent_read(true)
                .limit(missing)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            for item in page.items() {
                subscribers.push(get_id(item, "subscriber", UserId::parse)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        subscribers.truncate(wanted);
        Ok(subscribers)
    }

    /// Makes `writes` (puts and deletes of distinct keys) in `BatchWriteItem`s of
    /// [`MAX_BATCH_WRITE`], one batch after the other; whatever a call leaves unprocessed is sent
    /// again with [`UNPROCESSED`]. An error leaves the batches before it written.
    pub(crate) async fn batch_write(&self, table: &str, writes: Vec<WriteRequest>) -> Result<()> {
        let mut writes = writes;
        while !writes.is_empty() {
            let rest = writes.split_off(writes.len().min(MAX_BATCH_WRITE));
            self.write_batch(table, writes).await?;
            writes = rest;
        }
        Ok(())
    }

    /// One batch of at most [`MAX_BATCH_WRITE`] writes, unprocessed ones sent again.
    async fn write_batch(&self, table: &str, batch: Vec<WriteRequest>) -> Result<()> {
        let mut delays = UNPROCESSED.delays();
        let mut pending = batch;
        let mut attempt = 1;
        loop {
            let answer = self
                .client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            pending = answer
                .unprocessed_items
                .and_then(|mut unprocessed| unprocessed.remove(table))
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(());
            }
            let Some(delay) = delays.next() else {
                return Err(StoreError::Unprocessed {
                    left: pending.len(),
                    attempts: attempt,
                });
            };
            tracing::warn!(
                table,
                left = pending.len(),
                attempt,
                ?delay,
                "BatchWriteItem left writes unprocessed, sending them again"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

/// The key (the whole item) of `subscriber`'s subscription to `target`.
fn key(target: &UserId, subscriber: &UserId) -> Item {
    Item::from([
        ("target".to_owned(), s(target.as_str())),
        ("subscriber".to_owned(), s(subscriber.as_str())),
    ])
}

/// `targets` without repeats, first mentions in order (`BatchWriteItem` refuses a key twice).
fn distinct(targets: &[UserId]) -> impl Iterator<Item = &UserId> {
    let mut seen = HashSet::new();
    targets.iter().filter(move |target| seen.insert(target.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(ids: &[&str]) -> Vec<UserId> {
        ids.iter().map(|id| UserId::parse(*id).unwrap()).collect()
    }

    #[test]
    fn repeated_targets_are_written_once_in_first_mention_order() {
        // GIVEN targets with repeats
        let targets = users(&["b", "a", "b", "c", "a"]);
        // WHEN they are made distinct THEN each is kept once, where it was first named
        let kept: Vec<&str> = distinct(&targets).map(UserId::as_str).collect();
        assert_eq!(kept, ["b", "a", "c"]);
    }

    #[test]
    fn a_subscription_item_is_its_two_keys() {
        let [target, subscriber] = <[UserId; 2]>::try_from(users(&["bob", "alice"])).unwrap();
        let item = key(&target, &subscriber);
        assert_eq!(item.len(), 2);
        assert_eq!(get_id(&item, "target", UserId::parse).unwrap(), target);
        assert_eq!(get_id(&item, "subscriber", UserId::parse).unwrap(), subscriber);
    }
}
