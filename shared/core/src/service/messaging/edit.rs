//! Editing messages (`msg.edit`, REST `modify_c2c_msg`): a message keeps its seq, msgId, sender
//! and time, and gains a new body and an `edited {by, time, version}`. Each edit names the
//! version it replaces, and the store writes it only if the message is still at that version,
//! so two editors never overwrite each other unseen.

use super::*;
use crate::message::Edit;
use crate::ports::{Edited, MessageEdit};
use crate::protocol::messages::EditRequest;

/// What an edit changes, and who asks.
struct Change<'a> {
    stream: &'a StreamKey,
    seq: u64,
    by: &'a UserId,
    /// The app administrator (REST, or its own connection): any message, any age.
    privileged: bool,
    /// The version the editor saw; `None` (the app server) edits whatever version is stored.
    version: Option<u32>,
    /// The new body; `None` keeps the stored one.
    body: Option<Vec<Element>>,
    /// The new cloudCustomData (`Some(None)` drops it); `None` keeps the stored one.
    cloud_custom_data: Option<Option<String>>,
    origin: Option<&'a crate::ids::ConnectionId>,
}

impl MessageService {
    /// Edits a message of one of the caller's conversations: its sender may, within the edit
    /// window, while still allowed to send there (a member, not muted); the administrator any
    /// time. Every connection of the conversation but the caller's gets `msg.edited`.
    pub async fn edit(&self, caller: &Caller, request: EditRequest) -> Result<StoredMessage> {
        let access = self.access(&caller.user, &request.conversation_id).await?;
        if request.seq == 0 || request.seq <= access.floor {
            return Err(Error::NotFound("message"));
        }
        let privileged = caller.user == self.ports.limits.accounts.admin;
        if let ConversationId::Group(id) = &access.conversation_id
            && !privileged
        {
            let group = self.may_speak_in(id, caller).await?;
            if group.kind.allows(Rule::GuestsReceive) {
                return Err(Error::Forbidden("live-room messages cannot be edited"));
            }
        }
        self.edit_in(Change {
            stream: &access.stream,
            seq: request.seq,
            by: &caller.user,
            privileged,
            version: Some(request.version),
            body: Some(request.body),
            cloud_custom_data: Some(request.cloud_custom_data),
            origin: caller.connection.as_ref(),
        })
        .await
    }

    /// Edits a one-to-one message between `from` and `to` for the app server (REST
    /// `modify_c2c_msg`): as the administrator, whatever its age or version. What is `None`
    /// stays as stored, as Tencent leaves the fields a call does not name.
    pub async fn edit_as_admin(
        &self,
        from: &UserId,
        to: &UserId,
        seq: u64,
        body: Option<Vec<Element>>,
        cloud_custom_data: Option<String>,
    ) -> Result<StoredMessage> {
        let stream = StreamKey::c2c(from, to);
        let admin = self.ports.limits.accounts.admin.clone();
        self.edit_in(Change {
            stream: &stream,
            seq,
            by: &admin,
            privileged: true,
            version: None,
            body,
            cloud_custom_data: cloud_custom_data.map(Some),
            origin: None,
        })
        .await
    }

    async fn edit_in(&self, change: Change<'_>) -> Result<StoredMessage> {
        let body = match change.body {
            Some(body) => Some(self.checked_content(body, None)?),
            None => None,
        };
        if let Some(data) = &change.cloud_custom_data {
            self.check_custom_data(data.as_deref())?;
        }
        let now = self.ports.clock.now_ms();
        let message = self
            .ports
            .messages
            .get_message(change.stream, change.seq, now)
            .await?
            .ok_or(Error::NotFound("message"))?;
        if message.recalled.is_some() {
            return Err(Error::Recalled);
        }
        if message.system {
            return Err(Error::Forbidden("a notice cannot be edited"));
        }
        if !change.privileged {
            if &message.from != change.by {
                return Err(Error::Forbidden("only the sender may edit a message"));
            }
            if now - message.time > self.ports.limits.edit_window_ms {
                return Err(Error::EditExpired);
            }
        }
        let current = message.version();
        let base = change.version.unwrap_or(current);
        if base != current {
            return Err(Error::StaleVersion { current });
        }
        let body = match body {
            Some(body) => {
                verify_media(self.ports.media.as_deref(), &message.from, &body).await?;
                body
            }
            None => message.body.clone(),
        };
        let edit = MessageEdit {
            body,
            cloud_custom_data: change
                .cloud_custom_data
                .unwrap_or_else(|| message.cloud_custom_data.clone()),
            edit: Edit {
                by: change.by.clone(),
                time: now,
                version: current + 1,
            },
        };
        let edited = match self.ports.messages.edit(change.stream, change.seq, &edit).await? {
            Edited::Done(message) => message,
            Edited::Refused(now_stored) if now_stored.recalled.is_some() => return Err(Error::Recalled),
            Edited::Refused(now_stored) => {
                return Err(Error::StaleVersion {
                    current: now_stored.version(),
                });
            }
            Edited::Missing => return Err(Error::NotFound("message")),
        };
        tracing::debug!(seq = edited.seq, version = current + 1, "message edited");
        self.announce_edit(&edited, change.origin, now).await;
        callbacks::after_edit(&self.ports.callbacks, &edited, change.by, now).await;
        Ok(edited)
    }

    /// Tells every connection of the conversation (but `origin`) the message's new version:
    /// both users of a one-to-one conversation; a group's audience, and the sender's own
    /// connections, which the audience leaves out.
    async fn announce_edit(
        &self,
        message: &StoredMessage,
        origin: Option<&crate::ids::ConnectionId>,
        now: i64,
    ) {
        let mut viewers = vec![&message.from];
        match &message.to {
            Target::C2c(peer) if peer != &message.from => viewers.push(peer),
            Target::C2c(_) => {}
            Target::Group(group) => {
                let frame = event(events::MSG_EDITED, &message.view(&message.from));
                self.announce_to_group(&message.from, group, frame, origin, now, "edit")
                    .await;
            }
        }
        let posts = viewers.into_iter().map(|viewer| {
            let frame = Bytes::from(event(events::MSG_EDITED, &message.view(viewer)));
            self.ports.delivery.to_user(viewer, frame, origin, now)
        });
        for result in join_all(posts).await {
            if let Err(err) = result {
                tracing::warn!(error = %err, "could not announce an edit; clients see it in history");
            }
        }
    }
}
