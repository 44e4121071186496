//! [`AppConfigStore`] for [`DynamoStore`]: each setting is the users-table item
//! `userId = "app#<name>"` with its JSON document in `value` (`#` never occurs in a user id, so
//! no account shares the key). One consistent `GetItem` per read (0.5 RCU for a document under
//! 4 KB), one `PutItem` or `DeleteItem` per write.

use crate::error::StoreError;
use crate::item::{get_s, s};
use crate::store::DynamoStore;
use async_trait::async_trait;
use cirrus_core::ports::AppConfigStore;

/// The key prefix of app settings in the users table.
const APP_PREFIX: &str = "app#";

fn key(name: &str) -> aws_sdk_dynamodb::types::AttributeValue {
    s(format!("{APP_PREFIX}{name}"))
}

#[async_trait]
impl AppConfigStore for DynamoStore {
    async fn app_config(&self, name: &str) -> cirrus_core::Result<Option<String>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.users_table)
            .key("userId", key(name))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(got
            .item
            .as_ref()
            .map(|item| get_s(item, "value").map(str::to_owned))
            .transpose()?)
    }

    async fn put_app_config(&self, name: &str, value: Option<&str>) -> cirrus_core::Result<()> {
        match value {
            Some(value) => {
                self.client
                    .put_item()
                    .table_name(&self.config.users_table)
                    .item("userId", key(name))
                    .item("value", s(value))
                    .send()
                    .await
                    .map_err(StoreError::sdk)?;
            }
            None => {
                self.client
                    .delete_item()
                    .table_name(&self.config.users_table)
                    .key("userId", key(name))
                    .send()
                    .await
                    .map_err(StoreError::sdk)?;
            }
        }
        Ok(())
    }
}
