//! Telling a user about a relationship change: the event is kept as a system notification (to
//! fetch after being offline, `notify.list`) and pushed to every live connection of theirs.

use crate::clock::{Clock, IdGen};
use crate::ids::UserId;
use crate::ports::NotificationStore;
use crate::protocol::event;
use crate::service::{Delivery, Ports, StoreSource};
use crate::social::Notification;
use bytes::Bytes;
use serde::Serialize;
use std::sync::Arc;

/// Keeps and pushes relationship events.
#[derive(Clone)]
pub struct Notifier {
    notifications: Arc<dyn NotificationStore>,
    delivery: Delivery,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    /// How long a notification is kept.
    ttl_ms: i64,
}

impl Notifier {
    /// A notifier over the process's ports.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            notifications: ports.stores.notifications(),
            delivery: ports.delivery(),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
            ttl_ms: ports.limits.notification_ttl_ms,
        }
    }

    /// Keeps `name` with `data` for `user` and pushes it to their connections; failures are
    /// logged (the change itself is already stored).
    pub async fn tell(&self, user: &UserId, name: &str, data: &impl Serialize) {
        let now = self.clock.now_ms();
        let text = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
        let kept = Notification {
            owner: user.clone(),
            // Version-7 UUIDs order by time: the ids page in the order the events happened.
            id: self.ids.msg_id().to_string(),
            event: name.to_owned(),
            data: text,
            time: now,
        };
        let expires = now + self.ttl_ms;
        if let Err(err) = self.notifications.put_notification(&kept, expires).await {
            tracing::warn!(user = %user, event = name, error = %err, "could not keep a notification");
        }
        let frame = Bytes::from(event(name, data));
        if let Err(err) = self.delivery.to_user(user, frame, None, now).await {
            tracing::warn!(user = %user, event = name, error = %err, "could not tell a relationship change");
        }
    }
}
