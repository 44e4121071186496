//! Small lists kept as one JSON attribute with a `version` for optimistic concurrency (a user's
//! push devices, a conversation's pins): read consistently, changed, and written back only if no
//! other writer moved the version in between, retried a few times when one did.

use crate::error::{StoreError, applied};
use crate::item::{get_n, get_s, n, s};
use crate::store::DynamoStore;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// How often a write re-reads after another writer changed the list in between.
const ATTEMPTS: u32 = 8;

/// Where one versioned list lives: its table, its key, and the attribute holding the JSON.
pub(crate) struct VersionedItem<'a> {
    /// The table.
    pub table: &'a str,
    /// The item's whole key.
    pub key: HashMap<String, AttributeValue>,
    /// The attribute holding the list as JSON text.
    pub attribute: &'static str,
}

impl DynamoStore {
    /// The list and the version it was read at (an absent item: empty, version 0).
    pub(crate) async fn read_versioned<T: DeserializeOwned>(
        &self,
        item: &VersionedItem<'_>,
    ) -> cirrus_core::Result<(Vec<T>, u64)> {
        let got = self
            .client
            .get_item()
            .table_name(item.table)
            .set_key(Some(item.key.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let Some(found) = got.item else {
            return Ok((Vec::new(), 0));
        };
        let list = serde_json::from_str(get_s(&found, item.attribute)?).map_err(StoreError::BadBody)?;
        Ok((list, get_n(&found, "version")?))
    }

    /// Rewrites the list with `change`, which also returns what the caller learns; a `None` list
    /// writes nothing. Retried when another writer got there first.
    pub(crate) async fn update_versioned<T, R>(
        &self,
        item: &VersionedItem<'_>,
        change: impl Fn(Vec<T>) -> (Option<Vec<T>>, R) + Send,
    ) -> cirrus_core::Result<R>
    where
        T: Serialize + DeserializeOwned + Send,
    {
        for _ in 0..ATTEMPTS {
            let (list, version) = self.read_versioned(item).await?;
            let (list, outcome) = change(list);
            let Some(list) = list else {
                return Ok(outcome);
            };
            let json = serde_json::to_string(&list).map_err(StoreError::BadBody)?;
            let put = self
                .client
                .put_item()
                .table_name(item.table)
                .set_item(Some(item.key.clone()))
                .item(item.attribute, s(json))
                .item("version", n(version + 1))
                .condition_expression("attribute_not_exists(version) OR version = :read")
                .expression_attribute_values(":read", n(version))
                .send()
                .await;
            if applied(put)?.is_some() {
                return Ok(outcome);
            }
        }
        Err(StoreError::Contention(ATTEMPTS).into())
    }
}
