//! Pinned messages (`conv.pin`, `conv.unpin`, `conv.pins`): in a one-to-one conversation either
//! user pins; in a group its owner and admins do (as Tencent's group pinned messages), and the
//! app administrator anywhere. Everyone who reads the conversation sees the pins, and each
//! change reaches every connection of the conversation as `conv.pinned` / `conv.unpinned`.

use super::*;
use crate::pins::{MAX_PINS, Pin, Pinning};
use crate::protocol::pins::{PinRequest, PinView, PinsRequest, Unpinned};

/// A pin with the message it names, as `conv.pin` answers and `conv.pins` lists.
#[derive(Debug, Clone)]
pub struct PinnedMessage {
    /// The conversation, from the caller's side.
    pub conversation_id: ConversationId,
    /// The pin.
    pub pin: Pin,
    /// The message, unless its roaming ended.
    pub message: Option<StoredMessage>,
}

impl PinnedMessage {
    /// The wire form as `viewer` sees it, `caller` being the user whose side
    /// `conversation_id` is from.
    pub fn view(&self, caller: &UserId, viewer: &UserId) -> PinView<'_> {
        PinView {
            conversation_id: side_of(&self.conversation_id, caller, viewer),
            seq: self.pin.seq,
            pinned_by: &self.pin.pinned_by,
            pinned_at: self.pin.pinned_at,
            message: self.message.as_ref().map(|message| message.view(viewer)),
        }
    }
}

/// `conversation`, which is from `caller`'s side, from `viewer`'s: the other user of a
/// one-to-one conversation sees it under the caller's id.
fn side_of(conversation: &ConversationId, caller: &UserId, viewer: &UserId) -> ConversationId {
    match conversation {
        ConversationId::C2c(_) if viewer != caller => ConversationId::C2c(caller.clone()),
        other => other.clone(),
    }
}

impl MessageService {
    /// Pins a message of one of the caller's conversations. Pinning a pinned message answers
    /// with the pin as it stands and tells no one; a recalled message cannot be pinned.
    pub async fn pin(&self, caller: &Caller, request: PinRequest) -> Result<PinnedMessage> {
        let access = self.pin_access(caller, &request.conversation_id).await?;
        let now = self.ports.clock.now_ms();
        let message = self.pinnable(&access, request.seq, now).await?;
        let pin = Pin {
            seq: request.seq,
            pinned_by: caller.user.clone(),
            pinned_at: now,
        };
        let pinned = match self.ports.pins.pin(&access.stream, &pin, MAX_PINS).await? {
            Pinning::Added(pin) => {
                let pinned = PinnedMessage {
                    conversation_id: access.conversation_id.clone(),
                    pin,
                    message: Some(message),
                };
                self.announce_pin(caller, &access, now, |viewer| {
                    event(events::CONV_PINNED, &pinned.view(&caller.user, viewer))
                })
                .await;
                pinned
            }
            Pinning::Already(pin) => PinnedMessage {
                conversation_id: access.conversation_id.clone(),
                pin,
                message: Some(message),
            },
            Pinning::Full => return Err(Error::PinsFull { max: MAX_PINS }),
        };
        Ok(pinned)
    }

    /// Unpins a message; returns when it was unpinned, or `None` if it was not pinned (then no
    /// one is told).
    pub async fn unpin(&self, caller: &Caller, request: PinRequest) -> Result<Option<i64>> {
        let access = self.pin_access(caller, &request.conversation_id).await?;
        if request.seq == 0 || request.seq <= access.floor {
            return Err(Error::NotFound("message"));
        }
        if !self.ports.pins.unpin(&access.stream, request.seq).await? {
            return Ok(None);
        }
        let now = self.ports.clock.now_ms();
        self.announce_pin(caller, &access, now, |viewer| {
            event(
                events::CONV_UNPINNED,
                &Unpinned {
                    conversation_id: side_of(&access.conversation_id, &caller.user, viewer),
                    seq: request.seq,
                    unpinned_by: &caller.user,
                    time: now,
                },
            )
        })
        .await;
        Ok(Some(now))
    }

    /// The conversation's pins, newest first, each with its message as the caller may read it
    /// (a group member who joined later does not see pins of messages before they joined).
    pub async fn pins(&self, caller: &Caller, request: PinsRequest) -> Result<Vec<PinnedMessage>> {
        let access = self.access(&caller.user, &request.conversation_id).await?;
        let now = self.ports.clock.now_ms();
        let pins = self.ports.pins.pins(&access.stream).await?;
        let visible = pins.into_iter().filter(|pin| pin.seq > access.floor);
        let reads = visible.map(|pin| async {
            let message = self
                .ports
                .messages
                .get_message(&access.stream, pin.seq, now)
                .await?;
            Ok::<_, Error>(PinnedMessage {
                conversation_id: access.conversation_id.clone(),
                pin,
                message,
            })
        });
        join_all(reads).await.into_iter().collect()
    }

    /// What the caller may pin in: any one-to-one conversation of theirs; a group they manage
    /// (owner or admin), or any as the app administrator.
    async fn pin_access(&self, caller: &Caller, raw: &str) -> Result<Access> {
        let access = self.access(&caller.user, raw).await?;
        if let ConversationId::Group(group) = &access.conversation_id
            && caller.user != self.ports.limits.accounts.admin
        {
            let manages = self
                .ports
                .groups
                .get_members(group, std::slice::from_ref(&caller.user))
                .await?
                .first()
                .is_some_and(|member| member.role.manages());
            if !manages {
                return Err(Error::Forbidden(
                    "only the group's owner and admins may pin messages",
                ));
            }
        }
        Ok(access)
    }

    /// The message at `seq`, if it may be pinned.
    async fn pinnable(&self, access: &Access, seq: u64, now: i64) -> Result<StoredMessage> {
        if seq == 0 || seq <= access.floor {
            return Err(Error::NotFound("message"));
        }
        let message = self
            .ports
            .messages
            .get_message(&access.stream, seq, now)
            .await?
            .ok_or(Error::NotFound("message"))?;
        if message.recalled.is_some() {
            return Err(Error::Recalled);
        }
        Ok(message)
    }

    /// Tells every connection of the conversation but the caller's own (`frame` is built per
    /// viewer, since a one-to-one conversation's id differs by side): both users of a one-to-one
    /// conversation, a group's audience.
    async fn announce_pin(
        &self,
        caller: &Caller,
        access: &Access,
        now: i64,
        frame: impl Fn(&UserId) -> String,
    ) {
        let origin = caller.connection.as_ref();
        let mut viewers = vec![&caller.user];
        match &access.conversation_id {
            ConversationId::C2c(peer) if peer != &caller.user => viewers.push(peer),
            ConversationId::C2c(_) => {}
            ConversationId::Group(group) => {
                self.announce_to_group(&caller.user, group, frame(&caller.user), origin, now, "pin")
                    .await;
            }
        }
        let posts = viewers.into_iter().map(|viewer| {
            let frame = Bytes::from(frame(viewer));
            self.ports.delivery.to_user(viewer, frame, origin, now)
        });
        for result in join_all(posts).await {
            if let Err(err) = result {
                tracing::warn!(error = %err, "could not announce a pin; clients see it in conv.pins");
            }
        }
    }
}
