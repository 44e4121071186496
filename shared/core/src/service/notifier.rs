//! Telling a user about a relationship change: the event is kept as a system notification (to
//! fetch after being offline, `notify.list`) and pushed to every live connection of theirs.

use crate::ids::UserId;
use crate::protocol::event;
use crate::service::{Delivery, Ports};
use crate::social::Notification;
use bytes::Bytes;
use serde::Serialize;

/// Keeps and pushes relationship events.
#[derive(Clone)]
pub(crate) struct Notifier {
    ports: Ports,
    delivery: Delivery,
}

impl Notifier {
    /// A notifier over `ports`.
    pub(crate) fn new(ports: Ports) -> Self {
        Self {
            delivery: Delivery::from_ports(&ports),
            ports,
        }
    }

    /// Keeps `name` with `data` for `user` and pushes it to their connections; failures are
    /// logged (the change itself is already stored).
    pub(crate) async fn tell(&self, user: &UserId, name: &str, data: &impl Serialize) {
        let now = self.ports.clock.now_ms();
        let text = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
        let kept = Notification {
            owner: user.clone(),
            // Version-7 UUIDs order by time: the ids page in the order the events happened.
            id: self.ports.ids.msg_id().to_string(),
            event: name.to_owned(),
            data: text,
            time: now,
        };
        let expires = now + self.ports.limits.notification_ttl_ms;
        if let Err(err) = self.ports.notifications.put_notification(&kept, expires).await {
            tracing::warn!(user = %user, event = name, error = %err, "could not keep a notification");
        }
        let frame = Bytes::from(event(name, data));
        if let Err(err) = self.delivery.to_user(user, frame, None, now).await {
            tracing::warn!(user = %user, event = name, error = %err, "could not tell a relationship change");
        }
    }
}
