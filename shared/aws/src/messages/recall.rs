//! Recalling a message and hiding messages for one viewer (delete-for-me).

use super::{HEAD_SEQ, hidden_key, message_from_item};
use crate::accounts::in_order;
use crate::connections::ttl_seconds;
use crate::error::{Result, StoreError};
use crate::item::{n, s};
use crate::store::DynamoStore;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use cirrus_core::ids::{StreamKey, UserId};
use cirrus_core::message::{Recall, StoredMessage};

impl DynamoStore {
    /// Turns a message into a tombstone with one conditional `UpdateItem` (the message exists and
    /// is not recalled yet) that empties the body, drops `cloudCustomData`, records the recall and
    /// returns the item afterwards (`ALL_NEW`): 1 WCU for a message up to 1 KB. A failed condition
    /// (already recalled, or no message) returns the item as it is (`ALL_OLD`), or is answered by
    /// a consistent read when nothing came back (no message, or an emulator that returns nothing).
    pub(super) async fn recall_message(
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
    pub(super) async fn hide_for(
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
