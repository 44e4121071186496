//! [`DeviceStore`] for [`DynamoStore`]: a user's devices are one users-table item,
//! `userId = "devices#<user>"` (`#` never occurs in a user id), holding the list as JSON in
//! `devices` and a `version` for optimistic concurrency. At most ten small entries fit well within
//! 1 KB, so a push reads 0.5 RCU and a registration writes one unit after one read.

use crate::error::StoreError;
use crate::item::s;
use crate::store::DynamoStore;
use crate::versioned::VersionedItem;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use cirrus_core::ids::UserId;
use cirrus_core::ports::DeviceStore;
use cirrus_core::push_devices::{PushDevice, with_registered};
use std::collections::HashMap;

/// The key prefix of a user's devices in the users table.
const DEVICES_PREFIX: &str = "devices#";

fn devices_item<'a>(store: &'a DynamoStore, user: &UserId) -> VersionedItem<'a> {
    VersionedItem {
        table: &store.config.users_table,
        key: HashMap::from([("userId".to_owned(), key(user))]),
        attribute: "devices",
    }
}

fn key(user: &UserId) -> AttributeValue {
    s(format!("{DEVICES_PREFIX}{user}"))
}

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn register_device(
        &self,
        user: &UserId,
        device: &PushDevice,
        max: usize,
    ) -> cirrus_core::Result<()> {
        let item = devices_item(self, user);
        self.update_versioned(&item, |devices| {
            (Some(with_registered(devices, device.clone(), max)), ())
        })
        .await
    }

    async fn unregister_device(&self, user: &UserId, token: &str) -> cirrus_core::Result<bool> {
        let item = devices_item(self, user);
        self.update_versioned(&item, |mut devices: Vec<PushDevice>| {
            let before = devices.len();
            devices.retain(|device| device.token != token);
            let removed = devices.len() < before;
            (removed.then_some(devices), removed)
        })
        .await
    }

    async fn devices_of(&self, user: &UserId) -> cirrus_core::Result<Vec<PushDevice>> {
        Ok(self.read_versioned(&devices_item(self, user)).await?.0)
    }

    async fn clear_devices(&self, user: &UserId) -> cirrus_core::Result<()> {
        self.client
            .delete_item()
            .table_name(&self.config.users_table)
            .key("userId", key(user))
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(())
    }
}
