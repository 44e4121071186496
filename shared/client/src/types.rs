//! Owned forms of the server's replies and events, as the client reads them.

use cirrus_core::element::Element;
use cirrus_core::ids::{ClientMsgId, ConversationId, ConversationKind, MsgId, UserId};
use cirrus_core::message::{Edit, Target};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// A message as delivered by `msg.new` or listed by `msg.history` (DESIGN.md §3).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedMessage {
    /// Server-assigned id; de-duplicate deliveries by it.
    pub msg_id: MsgId,
    /// Position in the conversation, from 1.
    pub seq: u64,
    /// The conversation from this user's side (`C2C<peer>` or `GROUP<id>`).
    pub conversation_id: ConversationId,
    /// Sender.
    pub from: UserId,
    /// Target as the sender addressed it.
    pub to: Target,
    /// Server time of acceptance, ms since the Unix epoch.
    pub time: i64,
    /// The sender's idempotency key.
    pub client_msg_id: ClientMsgId,
    /// Content.
    pub body: Vec<Element>,
    /// Opaque app data.
    #[serde(default)]
    pub cloud_custom_data: Option<String>,
    /// The latest edit, if the message was edited (the body is that version's).
    #[serde(default)]
    pub edited: Option<Edit>,
}

impl ReceivedMessage {
    /// The message's version, for [`crate::Client::edit`]: 0 until it is first edited.
    pub fn version(&self) -> u32 {
        self.edited.as_ref().map_or(0, |edit| edit.version)
    }

    /// A one-line rendering of the body: text as is, other elements as short tags like `[image]`.
    pub fn summary(&self) -> String {
        body_summary(&self.body)
    }
}

/// A one-line rendering of a message body: text as is, other elements as short tags.
pub fn body_summary(body: &[Element]) -> String {
    let mut out = String::new();
    for element in body {
        if !out.is_empty() {
            out.push(' ');
        }
        // Writing into a String cannot fail.
        let _ = match element {
            Element::Text { text } => write!(out, "{text}"),
            Element::Image { .. } => write!(out, "[image]"),
            Element::Sound { duration, .. } => write!(out, "[sound {duration}s]"),
            Element::File { name, .. } => write!(out, "[file {name}]"),
            Element::Video { duration, .. } => write!(out, "[video {duration}s]"),
            Element::Location { desc, .. } if desc.is_empty() => write!(out, "[location]"),
            Element::Location { desc, .. } => write!(out, "[location {desc}]"),
            Element::Face { index, .. } => write!(out, "[face {index}]"),
            Element::Custom { desc: Some(desc), .. } => write!(out, "[custom {desc}]"),
            Element::Custom { .. } => write!(out, "[custom]"),
        };
    }
    out
}

/// The acknowledgement of `msg.send`: the message is durable.
pub use cirrus_core::protocol::SendAck;

/// Paging for `msg.history`; all fields optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryQuery {
    /// Only messages with a smaller seq (page backwards).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_seq: Option<u64>,
    /// Only messages with a larger seq (page forwards).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<u64>,
    /// Page size (the server applies a default and a cap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One page of `msg.history`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HistoryPage {
    /// Messages in ascending seq order.
    pub messages: Vec<ReceivedMessage>,
    /// True when nothing more lies in the paging direction.
    pub complete: bool,
}

/// One entry of `conv.list`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// The conversation from this user's side.
    pub conversation_id: ConversationId,
    /// `c2c` or `group`.
    pub r#type: ConversationKind,
    /// Peer user id or group id.
    pub peer: String,
    /// The newest message still kept.
    #[serde(default)]
    pub last_message: Option<ReceivedMessage>,
    /// Highest seq.
    pub last_seq: u64,
    /// This user's read pointer.
    pub read_seq: u64,
    /// `lastSeq - readSeq`.
    pub unread: u64,
    /// Last activity, ms since the epoch.
    pub updated_at: i64,
}

/// One page of `conv.list`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ConversationPage {
    /// Most recent first.
    pub conversations: Vec<Conversation>,
    /// Pass back to get the next page; absent on the last page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message_json() -> serde_json::Value {
        json!({
            "msgId": "m-1", "seq": 3, "conversationId": "C2Calice", "from": "alice",
            "to": {"type": "c2c", "id": "bob"}, "time": 1_700_000_000_000_i64, "clientMsgId": "c1",
            "body": [
                {"type": "text", "text": "hi"},
                {"type": "image", "format": "png", "original": {"mediaId": "i"}},
                {"type": "face", "index": 2},
                {"type": "custom", "data": "x"}
            ]
        })
    }

    #[test]
    fn delivered_messages_parse_and_summarize() {
        // GIVEN a msg.new payload WHEN parsed THEN ids are typed and the summary tags non-text parts.
        let message: ReceivedMessage = serde_json::from_value(message_json()).unwrap();
        assert_eq!(message.conversation_id.to_string(), "C2Calice");
        assert_eq!(message.to, Target::C2c(UserId::parse("bob").unwrap()));
        assert_eq!(message.summary(), "hi [image] [face 2] [custom]");
    }

    #[test]
    fn conversation_pages_parse() {
        let page: ConversationPage = serde_json::from_value(json!({
            "conversations": [{
                "conversationId": "C2Calice", "type": "c2c", "peer": "alice",
                "lastMessage": message_json(), "lastSeq": 3, "readSeq": 1, "unread": 2, "updatedAt": 5
            }]
        }))
        .unwrap();
        assert_eq!(page.cursor, None);
        assert_eq!(page.conversations[0].unread, 2);
        assert_eq!(page.conversations[0].r#type, ConversationKind::C2c);
    }

    #[test]
    fn history_queries_omit_unset_fields() {
        let query = HistoryQuery {
            before_seq: Some(10),
            ..HistoryQuery::default()
        };
        assert_eq!(serde_json::to_value(query).unwrap(), json!({"beforeSeq": 10}));
    }
}

/// A pinned message of a conversation (`conv.pin`'s answer, `conv.pins`' entries, the
/// `conv.pinned` event).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PinnedMessage {
    /// The conversation, from this user's side.
    pub conversation_id: ConversationId,
    /// The pinned message's seq.
    pub seq: u64,
    /// Who pinned it.
    pub pinned_by: UserId,
    /// When, ms since the epoch.
    pub pinned_at: i64,
    /// The message, unless its roaming ended.
    #[serde(default)]
    pub message: Option<ReceivedMessage>,
}
