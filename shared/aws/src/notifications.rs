//! [`NotificationStore`] for [`DynamoStore`]: system notifications in the relations table, one
//! item per notification under its owner, `key = NOTE#<id>`, with `event`, `data` (JSON text),
//! `time` (ms), `expiresAtMs` (ms, what reads compare) and `expiresAt` (epoch **seconds**, rounded
//! up: the table's TTL attribute).
//!
//! TTL deletes an expired item only eventually (usually within days), so a listing filters on
//! `expiresAtMs` itself and keeps querying until it has `limit` live ones (`relations.rs`'s
//! `page`). Ids sort in byte order, as the sort key does. The costs are in this crate's
//! `README.md`.

use crate::connections::ttl_seconds;
use crate::error::{Result, StoreError};
use crate::item::{Item, get_n, get_s, n, s};
use crate::relations::{keyed, owner_of};
use crate::store::DynamoStore;
use async_trait::async_trait;
use cirrus_core::ids::UserId;
use cirrus_core::ports::NotificationStore;
use cirrus_core::social::Notification;

/// The sort key prefix of notifications.
const NOTE: &str = "NOTE#";

#[async_trait]
impl NotificationStore for DynamoStore {
    async fn put_notification(
        &self,
        notification: &Notification,
        expires_at: i64,
    ) -> cirrus_core::Result<()> {
        self.client
            .put_item()
            .table_name(&self.config.relations_table)
            .set_item(Some(notification_item(notification, expires_at)))
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(())
    }

    async fn list_notifications(
        &self,
        owner: &UserId,
        after: Option<&str>,
        limit: u32,
        now: i64,
    ) -> cirrus_core::Result<Vec<Notification>> {
        let items = self.page(owner, NOTE, after, Some(now), limit).await?;
        Ok(items.iter().map(notification_from).collect::<Result<_>>()?)
    }
}

fn notification_item(notification: &Notification, expires_at: i64) -> Item {
    let mut item = keyed(&notification.owner, format!("{NOTE}{}", notification.id));
    item.extend([
        ("event".to_owned(), s(&notification.event)),
        ("data".to_owned(), s(&notification.data)),
        ("time".to_owned(), n(notification.time)),
        ("expiresAtMs".to_owned(), n(expires_at)),
        ("expiresAt".to_owned(), n(ttl_seconds(expires_at))),
    ]);
    item
}

fn notification_from(item: &Item) -> Result<Notification> {
    let id = get_s(item, "key")?
        .strip_prefix(NOTE)
        .ok_or(StoreError::BadAttribute("key"))?;
    Ok(Notification {
        owner: owner_of(item)?,
        id: id.to_owned(),
        event: get_s(item, "event")?.to_owned(),
        data: get_s(item, "data")?.to_owned(),
        time: get_n(item, "time")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_round_trips_through_its_item_with_the_ttl_in_seconds_rounded_up() {
        // GIVEN a notification kept until 1.5 s past a whole second
        let notification = Notification {
            owner: UserId::parse("alice").unwrap(),
            id: "0190-abc".to_owned(),
            event: "friend.added".to_owned(),
            data: r#"{"user":"bob"}"#.to_owned(),
            time: 1_700_000_000_000,
        };
        let item = notification_item(&notification, 1_700_000_001_500);
        // THEN the item has the exact expiry and the TTL one the next whole second
        assert_eq!(item["key"], s("NOTE#0190-abc"));
        assert_eq!(item["expiresAtMs"], n(1_700_000_001_500_i64));
        assert_eq!(item["expiresAt"], n(1_700_000_002_i64));
        // AND it reads back as put
        assert_eq!(notification_from(&item).unwrap(), notification);
    }
}
