//! [`NotificationStore`] for [`SqliteStore`]: system notifications, one row per (owner, id), each
//! kept until its `expires_at`.
//!
//! A put is one job on the writer thread that also deletes the owner's rows that had expired by
//! the new notification's time (the service's clock, which is also the `now` its lists pass), found
//! through the `(owner, expires_at)` index, so a user's rows stay bounded by what is live without
//! a sweeper. A list filters expired rows itself, so it never depends on that cleanup: it reads the
//! primary key range after `after`, already in id order (the text's byte order).

use crate::error::Result;
use crate::rows::user_at;
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::UserId;
use cirrus_core::ports::NotificationStore;
use cirrus_core::social::Notification;
use rusqlite::{Row, params};

/// Up to `?4` of `?1`'s notifications unexpired at `?3` whose id compares `$op` `?2`, in id order.
/// The `+` keeps the expiry test off the index, so the planner reads the primary key in order
/// instead of sorting.
macro_rules! notifications_query {
    ($op:literal) => {
        concat!(
            "SELECT owner, id, event, data, time FROM notifications WHERE owner = ?1 AND id ",
            $op,
            " ?2 AND +expires_at > ?3 ORDER BY id LIMIT ?4"
        )
    };
}

/// Deletes `?1`'s notifications that have expired at `?2`.
pub(crate) const SWEEP: &str = "DELETE FROM notifications WHERE owner = ?1 AND expires_at <= ?2";

/// The first page: every id is `>= ''`, the empty one too.
pub(crate) const LIST_FIRST: &str = notifications_query!(">=");

/// The page after an id.
pub(crate) const LIST_AFTER: &str = notifications_query!(">");

#[async_trait]
impl NotificationStore for SqliteStore {
    async fn put_notification(
        &self,
        notification: &Notification,
        expires_at: i64,
    ) -> cirrus_core::Result<()> {
        let notification = notification.clone();
        Ok(self
            .write(move |conn| {
                let swept = conn
                    .prepare_cached(SWEEP)?
                    .execute(params![notification.owner.as_str(), notification.time])?;
                if swept > 0 {
                    tracing::debug!(owner = %notification.owner, swept, "expired notifications deleted");
                }
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO notifications (owner, id, event, data, time, expires_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    notification.owner.as_str(),
                    notification.id,
                    notification.event,
                    notification.data,
                    notification.time,
                    expires_at,
                ])?;
                Ok(())
            })
            .await?)
    }

    async fn list_notifications(
        &self,
        owner: &UserId,
        after: Option<&str>,
        limit: u32,
        now: i64,
    ) -> cirrus_core::Result<Vec<Notification>> {
        let owner = owner.clone();
        let (sql, after) = match after {
            Some(after) => (LIST_AFTER, after.to_owned()),
            None => (LIST_FIRST, String::new()),
        };
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(sql)?
                    .query_and_then(params![owner.as_str(), after, now, limit], notification_from)?
                    .collect()
            })
            .await?)
    }
}

fn notification_from(row: &Row<'_>) -> Result<Notification> {
    Ok(Notification {
        owner: user_at(row, 0, "owner")?,
        id: row.get(1)?,
        event: row.get(2)?,
        data: row.get(3)?,
        time: row.get(4)?,
    })
}
