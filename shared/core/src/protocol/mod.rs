//! The wire protocol (DESIGN.md §3): client frames, replies, events and each action's data.

mod actions;
pub mod events;
pub mod groups;
pub mod media;
pub mod messages;
pub mod pins;
pub mod social;

use crate::element::Element;
use crate::error::Error;
use crate::ids::{ConversationId, ConversationKind, MsgId, UserId};
use crate::message::{Message, Target};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use actions::{Action, Function};

/// A frame from the client: `{"action": "...", "reqId": "...", "data": {...}}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientFrame<'a> {
    /// The action name.
    #[serde(default, borrow)]
    pub action: Option<std::borrow::Cow<'a, str>>,
    /// Echoed in the reply so the client can match it.
    #[serde(default, borrow)]
    pub req_id: Option<std::borrow::Cow<'a, str>>,
    /// The action's arguments.
    #[serde(default, borrow)]
    pub data: Option<&'a RawValue>,
}

impl<'a> ClientFrame<'a> {
    /// Parses a frame; anything but a JSON object is `bad_json`.
    pub fn parse(text: &'a str) -> Result<Self, Error> {
        // serde reads a struct from an array too (`["sys.ping"]` would be a frame).
        if !text.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{') {
            return Err(Error::BadJson(serde::de::Error::custom(
                "a frame is a JSON object",
            )));
        }
        serde_json::from_str(text).map_err(Error::BadJson)
    }

    /// Deserializes `data` into an action's request type (absent data reads as `{}`).
    pub fn data<T: Deserialize<'a>>(&self) -> Result<T, Error> {
        let raw = self.data.map_or("{}", RawValue::get);
        serde_json::from_str(raw).map_err(Error::from_data)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReplyFrame<'a, T: Serialize> {
    r#type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    req_id: Option<&'a str>,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody>,
}

/// The error object of a failed reply.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable detail.
    pub message: String,
    /// For `rate_limited`: how long to wait before trying again, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "retryAfterMs")]
    pub retry_after_ms: Option<u64>,
}

#[derive(Serialize)]
struct EventFrame<'a, T: Serialize> {
    r#type: &'static str,
    event: &'a str,
    data: T,
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Serializing our own frame types cannot fail: no maps with non-string keys, no failing impls.
    serde_json::to_string(value).unwrap_or_else(|_| String::from(r#"{"type":"reply","ok":false}"#))
}

/// A successful reply frame.
pub fn reply_ok<T: Serialize>(req_id: Option<&str>, data: &T) -> String {
    to_json(&ReplyFrame {
        r#type: "reply",
        req_id,
        ok: true,
        data: Some(data),
        error: None,
    })
}

/// An error reply frame.
pub fn reply_err(req_id: Option<&str>, error: &Error) -> String {
    let error = ErrorBody {
        code: error.code().as_str().to_owned(),
        message: error.client_message(),
        retry_after_ms: error.retry_after_ms(),
    };
    to_json(&ReplyFrame::<()> {
        r#type: "reply",
        req_id,
        ok: false,
        data: None,
        error: Some(error),
    })
}

/// An event frame.
pub fn event<T: Serialize>(name: &str, data: &T) -> String {
    to_json(&EventFrame {
        r#type: "event",
        event: name,
        data,
    })
}

/// A target as the client wrote it; parsed by [`TargetRequest::parse`] so a bad id gets its own code.
#[derive(Debug, Deserialize)]
pub struct TargetRequest {
    /// `c2c` or `group`.
    pub r#type: String,
    /// The user or group id.
    pub id: String,
}

impl TargetRequest {
    /// Validates the target.
    pub fn parse(self) -> Result<Target, Error> {
        match self.r#type.as_str() {
            "c2c" => Ok(Target::C2c(crate::ids::UserId::parse(self.id)?)),
            "group" => Ok(Target::Group(crate::ids::GroupId::parse(self.id)?)),
            _ => Err(Error::InvalidField("to.type must be c2c or group".to_owned())),
        }
    }
}

/// `msg.send` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendRequest {
    /// Target.
    pub to: TargetRequest,
    /// Idempotency key, unique per sender.
    pub client_msg_id: String,
    /// Content.
    pub body: Vec<Element>,
    /// Opaque app data.
    #[serde(default)]
    pub cloud_custom_data: Option<String>,
}

/// Longest `kind` of a `msg.signal`, in bytes.
pub const MAX_SIGNAL_KIND_BYTES: usize = 32;

/// Most bytes of a `msg.signal`'s `data`: a signal is a hint, not a message.
pub const MAX_SIGNAL_DATA_BYTES: usize = 1024;

/// `msg.signal` request: a signal for the live connections of a user or a group's members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignalRequest {
    /// Target.
    pub to: TargetRequest,
    /// What it signals: `typing`, or a name of the app's (letters, digits, `_ - .`, at most
    /// [`MAX_SIGNAL_KIND_BYTES`] bytes).
    pub kind: String,
    /// Opaque app data, at most [`MAX_SIGNAL_DATA_BYTES`] bytes.
    #[serde(default)]
    pub data: Option<String>,
}

/// `msg.signal` event: what a recipient's connections get.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SignalEvent {
    /// Who signals.
    pub from: UserId,
    /// The conversation from the recipient's side (`C2C<from>` or `GROUP<id>`).
    pub conversation_id: ConversationId,
    /// What it signals.
    pub kind: String,
    /// The sender's data, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Server time, ms.
    pub time: i64,
}

/// `msg.send` reply: the message is durable.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SendAck {
    /// Server-assigned id.
    pub msg_id: MsgId,
    /// Position in the conversation.
    pub seq: u64,
    /// Server time, ms.
    pub time: i64,
    /// The conversation, from the sender's side.
    pub conversation_id: ConversationId,
}

/// `msg.history` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRequest {
    /// Which conversation (validated by the service, so a bad id gets its own code).
    pub conversation_id: String,
    /// Only messages with a smaller seq (page backwards).
    #[serde(default)]
    pub before_seq: Option<u64>,
    /// Only messages with a larger seq (page forwards).
    #[serde(default)]
    pub after_seq: Option<u64>,
    /// Page size (default 20, capped by the server).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `msg.history` reply.
#[derive(Debug, Serialize)]
pub struct HistoryReply<'a> {
    /// Messages in ascending seq order.
    pub messages: Vec<Message<'a>>,
    /// True when nothing more lies in the paging direction.
    pub complete: bool,
}

/// `conv.list` request.
#[derive(Debug, Deserialize)]
pub struct ConvListRequest {
    /// Opaque cursor from a previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 20, capped by the server).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One entry of `conv.list`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView<'a> {
    /// The conversation from the caller's side.
    pub conversation_id: &'a ConversationId,
    /// `c2c` or `group`.
    pub r#type: ConversationKind,
    /// Peer user id or group id.
    pub peer: &'a str,
    /// The newest message still kept.
    pub last_message: Option<Message<'a>>,
    /// Highest seq.
    pub last_seq: u64,
    /// The caller's read pointer.
    pub read_seq: u64,
    /// `lastSeq - readSeq`.
    pub unread: u64,
    /// Last activity, ms.
    pub updated_at: i64,
}

/// `conv.list` reply.
#[derive(Debug, Serialize)]
pub struct ConvListReply<'a> {
    /// One page, most recent first.
    pub conversations: Vec<ConversationView<'a>>,
    /// Present when more pages follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `conv.read` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConvReadRequest {
    /// Which conversation (validated by the service, so a bad id gets its own code).
    pub conversation_id: String,
    /// Everything up to and including this seq is read.
    pub seq: u64,
}

/// `conv.delete` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConvDeleteRequest {
    /// Which conversation (validated by the service, so a bad id gets its own code).
    pub conversation_id: String,
}

/// The data of a `msg.read` event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadReceipt<'a> {
    /// The conversation, from the point of view of the connection told.
    pub conversation_id: String,
    /// Who read.
    pub user_id: &'a str,
    /// Everything up to and including this seq is read.
    pub read_seq: u64,
}

/// The data of a `session.kicked` event: why the server is about to close the connection.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kicked<'a> {
    /// `login_elsewhere`, `logged_out`, `kicked_by_admin`, `password_changed` or `account_deleted`.
    pub reason: &'a str,
    /// For `login_elsewhere`: the platform of the login that displaced this connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_platform: Option<&'a str>,
}

/// `sys.ping` reply.
#[derive(Debug, Serialize)]
pub struct PingReply {
    /// Server time, ms.
    pub time: i64,
}

/// `presence.get` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PresenceRequest {
    /// Whom to look up (validated by the service, so a bad id gets its own code).
    pub user_ids: Vec<String>,
}

/// A subscription count in a `presence.subscribe` / `presence.unsubscribe` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeReply {
    /// The presence of the users just subscribed to (empty for an unsubscribe).
    pub users: Vec<UserPresence>,
    /// How many users the caller is subscribed to now.
    pub subscriptions: usize,
}

/// A user's login and online state together, as Tencent IM's user status has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    /// At least one live connection.
    Online,
    /// No live connection, but logged in: not logged out, kicked or deleted since the last login.
    Offline,
    /// Logged out, kicked, deleted, or never logged in.
    LoggedOut,
}

/// One user's presence in a `presence.get` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPresence {
    /// The user.
    pub user_id: String,
    /// Whether any connection of theirs is live.
    pub online: bool,
    /// Online, offline but still logged in (push reaches them), or logged out.
    pub status: PresenceStatus,
    /// The platforms they are connected from, sorted, each once (`unknown` for a client that
    /// gave none).
    pub platforms: Vec<String>,
}

/// `presence.get` reply: one entry per requested user, in request order, without repeats.
#[derive(Debug, Serialize)]
pub struct PresenceReply {
    /// The users' presence.
    pub users: Vec<UserPresence>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn action_names_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
        }
        assert_eq!(Action::from_name("msg.explode"), None);
    }

    #[test]
    fn frames_parse_and_bad_json_is_reported() {
        let frame = ClientFrame::parse(r#"{"action":"conv.list","reqId":"r1","data":{"limit":5}}"#).unwrap();
        assert_eq!(frame.action.as_deref(), Some("conv.list"));
        assert_eq!(frame.req_id.as_deref(), Some("r1"));
        assert_eq!(frame.data::<ConvListRequest>().unwrap().limit, Some(5));
        // `[]` and `["sys.ping"]` were found by the frame fuzz suite: serde read them as frames.
        for bad in ["", "{", "[1]", "\"text\"", "nul", "[]", r#"["sys.ping","r1"]"#] {
            assert_eq!(
                ClientFrame::parse(bad).unwrap_err().code(),
                ErrorCode::BadJson,
                "{bad}"
            );
        }
    }

    #[test]
    fn replies_have_the_documented_shape() {
        let ok: serde_json::Value =
            serde_json::from_str(&reply_ok(Some("r9"), &PingReply { time: 5 })).unwrap();
        assert_eq!(
            ok,
            serde_json::json!({"type":"reply","reqId":"r9","ok":true,"data":{"time":5}})
        );
        let err: serde_json::Value =
            serde_json::from_str(&reply_err(None, &Error::UnknownAction("x.y".into()))).unwrap();
        assert_eq!(err["ok"], false);
        assert_eq!(err["error"]["code"], "unknown_action");
        let ev: serde_json::Value = serde_json::from_str(&event("msg.new", &1)).unwrap();
        assert_eq!(ev, serde_json::json!({"type":"event","event":"msg.new","data":1}));
    }
}
