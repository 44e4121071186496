//! [`DeviceStore`] for [`DynamoStore`]: a user's devices are one users-table item,
//! `userId = "devices#<user>"` (`#` never occurs in a user id), holding the list as JSON in
//! `devices` and a `version` for optimistic concurrency. At most ten small entries fit well within
//! 1 KB, so a push reads 0.5 RCU and a registration writes one unit after one read.

use crate::error::{StoreError, applied};
use crate::item::{get_n, get_s, n, s};
use crate::store::DynamoStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use cirrus_core::ids::UserId;
use cirrus_core::ports::DeviceStore;
use cirrus_core::push_devices::{PushDevice, with_registered};

/// The key prefix of a user's devices in the users table.
const DEVICES_PREFIX: &str = "devices#";

/// How often a write re-reads after another writer changed the list in between.
const ATTEMPTS: u32 = 8;

fn key(user: &UserId) -> AttributeValue {
    s(format!("{DEVICES_PREFIX}{user}"))
}

impl DynamoStore {
    /// The user's devices and the version they were read at (0: no item).
    async fn read_devices(&self, user: &UserId) -> cirrus_core::Result<(Vec<PushDevice>, u64)> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.users_table)
            .key("userId", key(user))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let Some(item) = got.item else {
            return Ok((Vec::new(), 0));
        };
        let devices = serde_json::from_str(get_s(&item, "devices")?).map_err(StoreError::BadBody)?;
        Ok((devices, get_n(&item, "version")?))
    }

    /// Rewrites the user's list with `change`, retrying when another writer got there first.
    async fn update_devices(
        &self,
        user: &UserId,
        change: impl Fn(Vec<PushDevice>) -> Vec<PushDevice> + Send,
    ) -> cirrus_core::Result<()> {
        for _ in 0..ATTEMPTS {
            let (devices, version) = self.read_devices(user).await?;
            let devices = change(devices);
            let json = serde_json::to_string(&devices).map_err(StoreError::BadBody)?;
            let put = self
                .client
                .put_item()
                .table_name(&self.config.users_table)
                .item("userId", key(user))
                .item("devices", s(json))
                .item("version", n(version + 1))
                .condition_expression("attribute_not_exists(userId) OR version = :read")
                .expression_attribute_values(":read", n(version))
                .send()
                .await;
            if applied(put)?.is_some() {
                return Ok(());
            }
        }
        Err(StoreError::Contention(ATTEMPTS).into())
    }
}

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn register_device(
        &self,
        user: &UserId,
        device: &PushDevice,
        max: usize,
    ) -> cirrus_core::Result<()> {
        self.update_devices(user, |devices| with_registered(devices, device.clone(), max))
            .await
    }

    async fn unregister_device(&self, user: &UserId, token: &str) -> cirrus_core::Result<bool> {
        let (devices, _) = self.read_devices(user).await?;
        if !devices.iter().any(|device| device.token == token) {
            return Ok(false);
        }
        self.update_devices(user, |mut devices| {
            devices.retain(|device| device.token != token);
            devices
        })
        .await?;
        Ok(true)
    }

    async fn devices_of(&self, user: &UserId) -> cirrus_core::Result<Vec<PushDevice>> {
        Ok(self.read_devices(user).await?.0)
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
