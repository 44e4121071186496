//! [`DeviceStore`] for [`SqliteStore`]: one row per (user, token); a registration rewrites the
//! user's few rows in one transaction, so the bound holds under concurrent registrations.

use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::UserId;
use cirrus_core::ports::DeviceStore;
use cirrus_core::push_devices::{PushDevice, PushService, with_registered};
use rusqlite::{Connection, params};

fn devices(conn: &Connection, user: &str) -> rusqlite::Result<Vec<PushDevice>> {
    let mut statement = conn.prepare_cached(
        "SELECT provider, token, platform, bundle_id, registered_at FROM push_devices \
         WHERE user_id = ?1 ORDER BY registered_at, token",
    )?;
    let rows = statement.query_map([user], |row| {
        let provider: String = row.get(0)?;
        Ok((provider, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
    })?;
    let mut devices = Vec::new();
    for row in rows {
        let (provider, token, platform, bundle_id, registered_at) = row?;
        // A provider name this build does not know was written by a newer one: skip its device.
        let Some(provider) = PushService::from_name(&provider) else {
            continue;
        };
        devices.push(PushDevice {
            provider,
            token,
            platform,
            bundle_id,
            registered_at,
        });
    }
    Ok(devices)
}

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn register_device(
        &self,
        user: &UserId,
        device: &PushDevice,
        max: usize,
    ) -> cirrus_core::Result<()> {
        let (user, device) = (user.to_string(), device.clone());
        Ok(self
            .write(move |conn| {
                let kept = with_registered(devices(conn, &user)?, device.clone(), max);
                conn.prepare_cached("DELETE FROM push_devices WHERE user_id = ?1")?
                    .execute([user.as_str()])?;
                let mut insert = conn.prepare_cached(
                    "INSERT INTO push_devices (user_id, token, provider, platform, bundle_id, registered_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for device in &kept {
                    insert.execute(params![
                        user,
                        device.token,
                        device.provider.name(),
                        device.platform,
                        device.bundle_id,
                        device.registered_at
                    ])?;
                }
                Ok(())
            })
            .await?)
    }

    async fn unregister_device(&self, user: &UserId, token: &str) -> cirrus_core::Result<bool> {
        let (user, token) = (user.to_string(), token.to_owned());
        Ok(self
            .write(move |conn| {
                let removed = conn
                    .prepare_cached("DELETE FROM push_devices WHERE user_id = ?1 AND token = ?2")?
                    .execute([user.as_str(), token.as_str()])?;
                Ok(removed > 0)
            })
            .await?)
    }

    async fn devices_of(&self, user: &UserId) -> cirrus_core::Result<Vec<PushDevice>> {
        let user = user.to_string();
        Ok(self.read(move |conn| Ok(devices(conn, &user)?)).await?)
    }

    async fn clear_devices(&self, user: &UserId) -> cirrus_core::Result<()> {
        let user = user.to_string();
        Ok(self
            .write(move |conn| {
                conn.prepare_cached("DELETE FROM push_devices WHERE user_id = ?1")?
                    .execute([user.as_str()])?;
                Ok(())
            })
            .await?)
    }
}
