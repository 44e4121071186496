//! The wire protocol (DESIGN.md §3): client frames, replies, events and each action's data.

pub mod groups;
pub mod media;
pub mod messages;
pub mod social;

use crate::element::Element;
use crate::error::Error;
use crate::ids::{ConversationId, ConversationKind, MsgId};
use crate::message::{Message, Target};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Every action a client may send; routes are selected on these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `msg.send`: send a message.
    MsgSend,
    /// `msg.history`: read a conversation by seq range.
    MsgHistory,
    /// `msg.recall`: recall a message (the sender within the window; a tombstone stays).
    MsgRecall,
    /// `msg.delete`: delete messages from the caller's own history, on every device.
    MsgDelete,
    /// `msg.sync`: everything since the client's last seq per conversation (gap fill).
    MsgSync,
    /// `media.upload`: a presigned URL to upload an image, voice clip, video or file to.
    MediaUpload,
    /// `media.download`: a presigned, expiring URL to download uploaded media (or a rendition).
    MediaDownload,
    /// `conv.list`: the caller's conversation list.
    ConvList,
    /// `conv.read`: move the caller's read pointer.
    ConvRead,
    /// `conv.delete`: remove a conversation from the caller's list (messages stay).
    ConvDelete,
    /// `sys.ping`: keep the connection alive, read server time.
    SysPing,
    /// `presence.get`: whether users are online, and on which platforms.
    PresenceGet,
    /// `auth.logout`: end the user's sessions on every device and revoke their tokens.
    AuthLogout,
    /// `presence.subscribe`: be told (`presence.changed`) when these users come and go.
    PresenceSubscribe,
    /// `presence.unsubscribe`: stop being told about these users.
    PresenceUnsubscribe,
    /// `profile.get`: profiles of users (the caller's own by default).
    ProfileGet,
    /// `profile.set`: change the caller's profile.
    ProfileSet,
    /// `user.search`: find users by id or nickname prefix.
    UserSearch,
    /// `friend.add`: add a friend directly, or ask them.
    FriendAdd,
    /// `friend.requests`: pending requests to or from the caller.
    FriendRequests,
    /// `friend.accept`: accept a request.
    FriendAccept,
    /// `friend.reject`: reject a request.
    FriendReject,
    /// `friend.withdraw`: withdraw the caller's own request.
    FriendWithdraw,
    /// `friend.delete`: remove friends, one way or both.
    FriendDelete,
    /// `friend.list`: the caller's friends, paged.
    FriendList,
    /// `friend.check`: the relation with users.
    FriendCheck,
    /// `friend.remark`: the caller's remark and groups for a friend.
    FriendRemark,
    /// `friend.recommendations`: the caller's recommendation buffer.
    FriendRecommendations,
    /// `friend.dismiss`: remove suggestions from it.
    FriendDismiss,
    /// `block.add`: block users.
    BlockAdd,
    /// `block.remove`: unblock users.
    BlockRemove,
    /// `block.list`: the caller's blacklist.
    BlockList,
    /// `block.check`: whether the caller blocked users.
    BlockCheck,
    /// `notify.list`: kept relationship notifications.
    NotifyList,
    /// `group.create`: create a group (the caller owns it).
    GroupCreate,
    /// `group.dismiss`: dismiss a group.
    GroupDismiss,
    /// `group.info`: profiles of groups.
    GroupInfo,
    /// `group.update`: change a group's profile or join policy.
    GroupUpdate,
    /// `group.transfer`: hand a group to another member.
    GroupTransfer,
    /// `group.members`: a group's members, paged.
    GroupMembers,
    /// `group.joined`: the caller's groups, paged.
    GroupJoined,
    /// `group.search`: find groups by id or name.
    GroupSearch,
    /// `group.invite`: pull users in (private groups) or invite them.
    GroupInvite,
    /// `group.apply`: join or apply to join a group.
    GroupApply,
    /// `group.requests`: a group's pending applications and invitations.
    GroupRequests,
    /// `group.respond`: accept or reject an application or invitation.
    GroupRespond,
    /// `group.quit`: leave a group.
    GroupQuit,
    /// `group.kick`: remove members.
    GroupKick,
    /// `group.set_role`: appoint or remove an admin.
    GroupSetRole,
    /// `group.mute`: mute a member for a while.
    GroupMute,
    /// `group.mute_all`: let only the owner and admins speak.
    GroupMuteAll,
    /// `group.member_update`: a member's name card and custom fields.
    GroupMemberUpdate,
}

impl Action {
    /// Every action, in documentation order.
    pub const ALL: [Action; 52] = [
        Self::MsgSend,
        Self::MsgHistory,
        Self::MsgRecall,
        Self::MsgDelete,
        Self::MsgSync,
        Self::MediaUpload,
        Self::MediaDownload,
        Self::ConvList,
        Self::ConvRead,
        Self::ConvDelete,
        Self::SysPing,
        Self::PresenceGet,
        Self::AuthLogout,
        Self::PresenceSubscribe,
        Self::PresenceUnsubscribe,
        Self::ProfileGet,
        Self::ProfileSet,
        Self::UserSearch,
        Self::FriendAdd,
        Self::FriendRequests,
        Self::FriendAccept,
        Self::FriendReject,
        Self::FriendWithdraw,
        Self::FriendDelete,
        Self::FriendList,
        Self::FriendCheck,
        Self::FriendRemark,
        Self::FriendRecommendations,
        Self::FriendDismiss,
        Self::BlockAdd,
        Self::BlockRemove,
        Self::BlockList,
        Self::BlockCheck,
        Self::NotifyList,
        Self::GroupCreate,
        Self::GroupDismiss,
        Self::GroupInfo,
        Self::GroupUpdate,
        Self::GroupTransfer,
        Self::GroupMembers,
        Self::GroupJoined,
        Self::GroupSearch,
        Self::GroupInvite,
        Self::GroupApply,
        Self::GroupRequests,
        Self::GroupRespond,
        Self::GroupQuit,
        Self::GroupKick,
        Self::GroupSetRole,
        Self::GroupMute,
        Self::GroupMuteAll,
        Self::GroupMemberUpdate,
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::MsgSend => "msg.send",
            Self::MsgHistory => "msg.history",
            Self::MsgRecall => "msg.recall",
            Self::MsgDelete => "msg.delete",
            Self::MsgSync => "msg.sync",
            Self::MediaUpload => "media.upload",
            Self::MediaDownload => "media.download",
            Self::ConvList => "conv.list",
            Self::ConvRead => "conv.read",
            Self::ConvDelete => "conv.delete",
            Self::SysPing => "sys.ping",
            Self::PresenceGet => "presence.get",
            Self::AuthLogout => "auth.logout",
            Self::PresenceSubscribe => "presence.subscribe",
            Self::PresenceUnsubscribe => "presence.unsubscribe",
            Self::ProfileGet => "profile.get",
            Self::ProfileSet => "profile.set",
            Self::UserSearch => "user.search",
            Self::FriendAdd => "friend.add",
            Self::FriendRequests => "friend.requests",
            Self::FriendAccept => "friend.accept",
            Self::FriendReject => "friend.reject",
            Self::FriendWithdraw => "friend.withdraw",
            Self::FriendDelete => "friend.delete",
            Self::FriendList => "friend.list",
            Self::FriendCheck => "friend.check",
            Self::FriendRemark => "friend.remark",
            Self::FriendRecommendations => "friend.recommendations",
            Self::FriendDismiss => "friend.dismiss",
            Self::BlockAdd => "block.add",
            Self::BlockRemove => "block.remove",
            Self::BlockList => "block.list",
            Self::BlockCheck => "block.check",
            Self::NotifyList => "notify.list",
            Self::GroupCreate => "group.create",
            Self::GroupDismiss => "group.dismiss",
            Self::GroupInfo => "group.info",
            Self::GroupUpdate => "group.update",
            Self::GroupTransfer => "group.transfer",
            Self::GroupMembers => "group.members",
            Self::GroupJoined => "group.joined",
            Self::GroupSearch => "group.search",
            Self::GroupInvite => "group.invite",
            Self::GroupApply => "group.apply",
            Self::GroupRequests => "group.requests",
            Self::GroupRespond => "group.respond",
            Self::GroupQuit => "group.quit",
            Self::GroupKick => "group.kick",
            Self::GroupSetRole => "group.set_role",
            Self::GroupMute => "group.mute",
            Self::GroupMuteAll => "group.mute_all",
            Self::GroupMemberUpdate => "group.member_update",
        }
    }

    /// Whether a guest may take this action: the heartbeat and logout always; entering and
    /// leaving live rooms (to receive; the group service refuses guests anything else) and
    /// reading group profiles; one-to-one messaging only where the app allows guests C2C
    /// (`guest_c2c`); nothing social.
    pub fn open_to_guests(self, guest_c2c: bool) -> bool {
        match self {
            Self::SysPing | Self::AuthLogout => true,
            Self::GroupApply | Self::GroupQuit | Self::GroupInfo => true,
            Self::MsgSend
            | Self::MsgHistory
            | Self::MsgRecall
            | Self::MsgDelete
            | Self::MsgSync
            | Self::ConvList
            | Self::ConvRead
            | Self::ConvDelete => guest_c2c,
            // Guests have no profile and no friends.
            _ => false,
        }
    }

    /// Looks an action up by wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.name() == name)
    }

    /// The function of the WebSocket API that serves this action (its route in `template.yaml`).
    pub fn function(self) -> Function {
        match self.name().split_once('.').map_or("", |(area, _)| area) {
            "group" => Function::Group,
            "profile" | "user" | "friend" | "block" | "notify" => Function::Social,
            _ => Function::Message,
        }
    }
}

/// The Lambda functions that serve the WebSocket API's actions, each building only the services
/// its actions use; `$default` goes to the message function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `msg.*`, `conv.*`, `media.*`, `presence.*`, `auth.logout`, `sys.ping`.
    Message,
    /// `profile.*`, `user.search`, `friend.*`, `block.*`, `notify.list`.
    Social,
    /// `group.*`.
    Group,
}

impl Function {
    /// The function's name (its `functions/<name>` crate and binary).
    pub fn name(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Social => "social",
            Self::Group => "group",
        }
    }
}

/// Events the server pushes.
pub mod events {
    /// A new message in one of the user's conversations (also to the sender's other devices).
    pub const MSG_NEW: &str = "msg.new";
    /// A one-to-one conversation was read up to a seq: sent to the peer (a read receipt) and to
    /// the reader's other connections (so their unread counts follow).
    pub const MSG_READ: &str = "msg.read";
    /// A message in one of the user's conversations was recalled: it is a tombstone now.
    pub const MSG_RECALLED: &str = "msg.recalled";
    /// The user deleted messages for themselves on another device.
    pub const MSG_DELETED: &str = "msg.deleted";
    /// A notice from the server (an administrator): stored and synced like any message.
    pub const MSG_SYSTEM: &str = "msg.system";
    /// This connection was displaced by a newer login under the multi-device policy and is about
    /// to be closed.
    pub const SESSION_KICKED: &str = "session.kicked";
    /// A user this connection's user subscribed to came online, went offline, or changed the
    /// platforms they are connected from.
    pub const PRESENCE_CHANGED: &str = "presence.changed";
    /// Someone asked to be the user's friend.
    pub const FRIEND_REQUEST: &str = "friend.request";
    /// A request of the user's was accepted (they are friends now).
    pub const FRIEND_REQUEST_ACCEPTED: &str = "friend.request_accepted";
    /// A request of the user's was rejected.
    pub const FRIEND_REQUEST_REJECTED: &str = "friend.request_rejected";
    /// A request to the user was withdrawn by its sender.
    pub const FRIEND_REQUEST_DELETED: &str = "friend.request_deleted";
    /// Someone was added to the user's friend list.
    pub const FRIEND_ADDED: &str = "friend.added";
    /// Someone was removed from the user's friend list.
    pub const FRIEND_DELETED: &str = "friend.deleted";
    /// A friend's profile changed.
    pub const PROFILE_CHANGED: &str = "profile.changed";
    /// Something happened to the user in a group (invited, kicked, an application decided…).
    pub const GROUP_SYSTEM: &str = "group.system";
}

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
        for bad in ["", "{", "[1]", "\"text\"", "nul"] {
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
