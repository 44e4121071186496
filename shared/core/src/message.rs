//! Messages as stored and as delivered to a viewer.

use crate::element::Element;
use crate::ids::{ClientMsgId, ConversationId, GroupId, MsgId, StreamKey, UserId};
use serde::{Deserialize, Serialize};

/// Where a message is sent: a user (C2C) or a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Target {
    /// One-to-one, to this user.
    C2c(UserId),
    /// To this group.
    Group(GroupId),
}

impl Target {
    /// The stream the message goes into when `sender` sends it.
    pub fn stream(&self, sender: &UserId) -> StreamKey {
        match self {
            Self::C2c(peer) => StreamKey::c2c(sender, peer),
            Self::Group(group) => StreamKey::group(group),
        }
    }

    /// The conversation id this message belongs to, from `viewer`'s side.
    pub fn conversation_for(&self, sender: &UserId, viewer: &UserId) -> ConversationId {
        match self {
            Self::C2c(peer) if viewer == sender => ConversationId::C2c(peer.clone()),
            Self::C2c(_) => ConversationId::C2c(sender.clone()),
            Self::Group(group) => ConversationId::Group(group.clone()),
        }
    }
}

/// The sender's nickname and avatar as they were when the message was sent (the message
/// extension), so clients can render a message without looking the sender up.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderProfile {
    /// Nickname at send time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Avatar URL at send time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

impl SenderProfile {
    /// Whether there is nothing to carry.
    pub fn is_empty(&self) -> bool {
        self.nickname.is_none() && self.avatar.is_none()
    }
}

/// Who recalled a message, and when: a recalled message is a tombstone with an empty body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recall {
    /// The sender, or the administrator.
    pub by: UserId,
    /// When, ms since the epoch.
    pub time: i64,
}

/// The latest edit of a message (`msg.edit`): by whom, when, and the version it made (the
/// first edit makes version 1; a message never edited is version 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Edit {
    /// The sender, or the administrator.
    pub by: UserId,
    /// When, ms since the epoch.
    pub time: i64,
    /// The message's version after this edit.
    pub version: u32,
}

/// A message as the store keeps it: one copy per stream, whoever views it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// The stream it belongs to.
    pub stream: StreamKey,
    /// Position in the stream, from 1.
    pub seq: u64,
    /// Server-assigned id.
    pub msg_id: MsgId,
    /// Sender.
    pub from: UserId,
    /// Target as the sender addressed it.
    pub to: Target,
    /// Server time of acceptance, milliseconds since the Unix epoch.
    pub time: i64,
    /// The sender's idempotency key.
    pub client_msg_id: ClientMsgId,
    /// The content.
    pub body: Vec<Element>,
    /// Opaque app data attached by the sender.
    pub cloud_custom_data: Option<String>,
    /// The sender's profile at send time, if the app keeps it.
    pub sender: Option<SenderProfile>,
    /// Whether the server originated it (`msg.system`): an administrator's notice.
    pub system: bool,
    /// Set once the message is recalled (the body is then empty).
    pub recalled: Option<Recall>,
    /// Set once the message is edited: the body and cloudCustomData are the latest version's.
    pub edited: Option<Edit>,
}

impl StoredMessage {
    /// The message's version: 0 until it is first edited.
    pub fn version(&self) -> u32 {
        self.edited.as_ref().map_or(0, |edit| edit.version)
    }
}

impl StoredMessage {
    /// The message as `viewer` sees it (the conversation id is per viewer).
    pub fn view(&self, viewer: &UserId) -> Message<'_> {
        Message {
            msg_id: &self.msg_id,
            seq: self.seq,
            conversation_id: self.to.conversation_for(&self.from, viewer),
            from: &self.from,
            to: &self.to,
            time: self.time,
            client_msg_id: &self.client_msg_id,
            body: &self.body,
            cloud_custom_data: self.cloud_custom_data.as_deref(),
            sender: self.sender.as_ref(),
            system: self.system,
            recalled: self.recalled.as_ref(),
            edited: self.edited.as_ref(),
        }
    }
}

/// The wire form of a message (DESIGN.md §3), borrowed from a [`StoredMessage`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message<'a> {
    /// Server-assigned id.
    pub msg_id: &'a MsgId,
    /// Position in the conversation.
    pub seq: u64,
    /// The conversation, from the viewer's side.
    pub conversation_id: ConversationId,
    /// Sender.
    pub from: &'a UserId,
    /// Target as addressed by the sender.
    pub to: &'a Target,
    /// Server time, ms since the epoch.
    pub time: i64,
    /// The sender's idempotency key.
    pub client_msg_id: &'a ClientMsgId,
    /// Content.
    pub body: &'a [Element],
    /// Opaque app data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_custom_data: Option<&'a str>,
    /// The sender's nickname and avatar at send time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<&'a SenderProfile>,
    /// Present (true) on server-originated notices.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub system: bool,
    /// Present on a recalled message (a tombstone: the body is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recalled: Option<&'a Recall>,
    /// Present on an edited message: the body shown is the latest version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited: Option<&'a Edit>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(raw: &str) -> UserId {
        UserId::parse(raw).unwrap()
    }

    #[test]
    fn conversation_id_depends_on_the_viewer() {
        let target = Target::C2c(user("bob"));
        assert_eq!(
            target
                .conversation_for(&user("alice"), &user("alice"))
                .to_string(),
            "C2Cbob"
        );
        assert_eq!(
            target.conversation_for(&user("alice"), &user("bob")).to_string(),
            "C2Calice"
        );
    }

    #[test]
    fn target_has_the_documented_wire_form() {
        let target: Target = serde_json::from_str(r#"{"type":"c2c","id":"bob"}"#).unwrap();
        assert_eq!(target, Target::C2c(user("bob")));
        assert!(serde_json::from_str::<Target>(r#"{"type":"c2c","id":"b b"}"#).is_err());
        assert!(serde_json::from_str::<Target>(r#"{"type":"fax","id":"bob"}"#).is_err());
    }
}
