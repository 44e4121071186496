//! [`SubscriptionStore`] for [`SqliteStore`]: presence subscriptions.
//!
//! A subscribe or unsubscribe call is one job on the writer thread, so its targets change together.
//! Reads run on the read pool: a subscriber's list through the `(subscriber, target)` index, a
//! target's subscribers through the primary key, both already in user id order (the text's byte
//! order, SQLite's `BINARY` collation).

use crate::error::{Result, StoreError};
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::UserId;
use cirrus_core::ports::SubscriptionStore;
use rusqlite::{Row, params};

#[async_trait]
impl SubscriptionStore for SqliteStore {
    async fn subscribe(&self, subscriber: &UserId, targets: &[UserId]) -> cirrus_core::Result<()> {
        if targets.is_empty() {
            return Ok(());
        }
        let (subscriber, targets) = (subscriber.clone(), targets.to_vec());
        Ok(self
            .write(move |conn| {
                let mut insert = conn.prepare_cached(
                    "INSERT INTO presence_subscriptions (subscriber, target) VALUES (?1, ?2) \
                     ON CONFLICT (target, subscriber) DO NOTHING",
                )?;
                for target in &targets {
                    insert.execute(params![subscriber.as_str(), target.as_str()])?;
                }
                Ok(())
            })
            .await?)
    }

    async fn unsubscribe(&self, subscriber: &UserId, targets: &[UserId]) -> cirrus_core::Result<()> {
        if targets.is_empty() {
            return Ok(());
        }
        let (subscriber, targets) = (subscriber.clone(), targets.to_vec());
        Ok(self
            .write(move |conn| {
                let mut delete = conn.prepare_cached(
                    "DELETE FROM presence_subscriptions WHERE target = ?2 AND subscriber = ?1",
                )?;
                for target in &targets {
                    delete.execute(params![subscriber.as_str(), target.as_str()])?;
                }
                Ok(())
            })
            .await?)
    }

    async fn subscriptions_of(&self, subscriber: &UserId) -> cirrus_core::Result<Vec<UserId>> {
        let subscriber = subscriber.clone();
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT target FROM presence_subscriptions WHERE subscriber = ?1 ORDER BY target",
                )?
                .query_and_then([subscriber.as_str()], |row| user_from(row, "target"))?
                .collect()
            })
            .await?)
    }

    async fn subscribers_of(&self, target: &UserId, limit: u32) -> cirrus_core::Result<Vec<UserId>> {
        let target = target.clone();
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT subscriber FROM presence_subscriptions WHERE target = ?1 \
                     ORDER BY subscriber LIMIT ?2",
                )?
                .query_and_then(params![target.as_str(), limit], |row| {
                    user_from(row, "subscriber")
                })?
                .collect()
            })
            .await?)
    }
}

/// The user id in the row's only column, `column`.
fn user_from(row: &Row<'_>, column: &'static str) -> Result<UserId> {
    UserId::parse(row.get::<_, String>(0)?).map_err(|_| StoreError::BadValue { column })
}
