//! Editing a message in place: one conditional `UpdateItem`.

use super::{HEAD_SEQ, message_from_item};
use crate::error::Result;
use crate::item::{n, s};
use crate::store::DynamoStore;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use cirrus_core::ids::StreamKey;
use cirrus_core::ports::{Edited, MessageEdit};

impl DynamoStore {
    /// Writes an edit with one `UpdateItem` (the new body and cloudCustomData, `editedBy`,
    /// `editedAt`, `editVersion`) on the condition that the message exists, is not recalled and
    /// is at the version before the edit's; `ALL_NEW` returns the message as edited: 1 WCU for a
    /// message up to 1 KB. A failed condition returns the item as it is (`ALL_OLD`), or is
    /// answered by a consistent read when nothing came back.
    pub(super) async fn edit_message(
        &self,
        stream: &StreamKey,
        seq: u64,
        change: &MessageEdit,
    ) -> Result<Edited> {
        if seq == HEAD_SEQ {
            return Ok(Edited::Missing);
        }
        let body = serde_json::to_string(&change.body)?;
        let previous = change.edit.version.saturating_sub(1);
        let version_holds = if previous == 0 {
            "attribute_not_exists(editVersion)"
        } else {
            "editVersion = :previous"
        };
        let (set_data, remove_data) = match &change.cloud_custom_data {
            Some(_) => (", cloudCustomData = :data", ""),
            None => ("", " REMOVE cloudCustomData"),
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.config.messages_table)
            .key("stream", s(stream.as_str()))
            .key("seq", n(seq))
            .update_expression(format!(
                "SET #body = :body, editedBy = :by, editedAt = :at, editVersion = :version{set_data}{remove_data}"
            ))
            .condition_expression(format!(
                "attribute_exists(msgId) AND attribute_not_exists(recalledBy) AND {version_holds}"
            ))
            .expression_attribute_names("#body", "body")
            .expression_attribute_values(":body", s(body))
            .expression_attribute_values(":by", s(change.edit.by.as_str()))
            .expression_attribute_values(":at", n(change.edit.time))
            .expression_attribute_values(":version", n(change.edit.version))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if previous > 0 {
            update = update.expression_attribute_values(":previous", n(previous));
        }
        if let Some(data) = &change.cloud_custom_data {
            update = update.expression_attribute_values(":data", s(data));
        }
        match update.send().await {
            Ok(answer) => match answer.attributes.as_ref() {
                Some(item) => Ok(Edited::Done(message_from_item(item)?)),
                None => Ok(self
                    .message(stream, seq)
                    .await?
                    .map_or(Edited::Missing, Edited::Done)),
            },
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    let current = match failed.item {
                        Some(item) if item.contains_key("msgId") => Some(message_from_item(&item)?),
                        _ => self.message(stream, seq).await?,
                    };
                    Ok(current.map_or(Edited::Missing, Edited::Refused))
                }
                other => Err(aws_sdk_dynamodb::Error::from(other).into()),
            },
        }
    }
}
