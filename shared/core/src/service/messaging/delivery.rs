//! Storing a checked message and delivering it: the before-send callback, the idempotent
//! append, the frames to the sender's other connections, the peer or the group's audience, and
//! the after-send callback.

use super::{MessageService, Outgoing, callbacks};
use crate::error::Result;
use crate::group::Group;
use crate::ids::ConnectionId;
use crate::message::{StoredMessage, Target};
use crate::ports::Appended;
use crate::protocol::event;
use bytes::Bytes;

impl MessageService {
    /// Runs the before-send callback, appends the message (idempotently) and, if it is new,
    /// delivers it and queues the after-send callback.
    pub(super) async fn store_and_deliver(&self, mut outgoing: Outgoing) -> Result<StoredMessage> {
        if outgoing.callbacks {
            callbacks::before_send(
                &self.ports.callbacks,
                &self.ports.limits,
                &mut outgoing.message,
                outgoing.group.as_ref(),
            )
            .await?;
        }
        let now = outgoing.message.time;
        match self.ports.messages.append(outgoing.message).await? {
            Appended::New(message) => {
                tracing::debug!(seq = message.seq, "message stored");
                self.deliver(
                    &message,
                    outgoing.origin.as_ref(),
                    outgoing.event,
                    now,
                    outgoing.group.as_ref(),
                    outgoing.sync_sender,
                )
                .await;
                if outgoing.callbacks {
                    callbacks::after_send(&self.ports.callbacks, &message, outgoing.group.as_ref()).await;
                }
                Ok(message)
            }
            Appended::Duplicate(message) => {
                tracing::debug!(seq = message.seq, "duplicate send answered with the first ack");
                Ok(message)
            }
        }
    }

    /// Pushes the message to the recipient's connections and the sender's other connections;
    /// queues an offline push for a recipient none of whose connections took it.
    async fn deliver(
        &self,
        message: &StoredMessage,
        origin: Option<&ConnectionId>,
        name: &str,
        now: i64,
        group: Option<&Group>,
        sync_sender: bool,
    ) {
        // A group tip's sender is the administrator account, whose connections (an operator's
        // console) would otherwise get every group's tips.
        let tip = message.system && matches!(message.to, Target::Group(_));
        let own = async {
            if tip || !sync_sender {
                Ok(0)
            } else {
                let frame = Bytes::from(event(name, &message.view(&message.from)));
                self.ports
                    .delivery
                    .to_user(&message.from, frame, origin, now)
                    .await
            }
        };
        let peer = async {
            match &message.to {
                Target::C2c(peer) if peer != &message.from => {
                    let frame = Bytes::from(event(name, &message.view(peer)));
                    let delivered = self.ports.delivery.to_user(peer, frame, None, now).await;
                    if matches!(delivered, Ok(0)) {
                        self.push_offline(message, peer).await;
                    }
                    delivered
                }
                _ => Ok(0),
            }
        };
        let members = async {
            match group {
                Some(group) => self.deliver_to_group(message, group, name, origin, now).await,
                None => Ok(0),
            }
        };
        let (own, peer, members) = futures_util::join!(own, peer, members);
        if let Err(err) = members {
            tracing::warn!(error = %err, "group delivery failed; members will sync from history");
        }
        for result in [own, peer] {
            if let Err(err) = result {
                tracing::warn!(error = %err, "delivery lookup failed; recipients will sync from history");
            }
        }
    }

    /// Posts a group message to every member's connections but the sender's (whose other
    /// connections the sender path already covers) and `origin`.
    async fn deliver_to_group(
        &self,
        message: &StoredMessage,
        found: &Group,
        name: &str,
        origin: Option<&ConnectionId>,
        now: i64,
    ) -> Result<usize> {
        let text = event(name, &message.view(&message.from));
        self.ports
            .audience
            .post(found, text, &message.from, origin, now)
            .await
    }
}
