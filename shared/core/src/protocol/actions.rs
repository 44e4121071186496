//! The actions a client may send, and which function serves each.

/// Every action a client may send; routes are selected on these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `msg.send`: send a message.
    MsgSend,
    /// `msg.history`: read a conversation by seq range.
    MsgHistory,
    /// `msg.recall`: recall a message (the sender within the window; a tombstone stays).
    MsgRecall,
    /// `msg.edit`: replace a message's body (the sender within the edit window); it keeps its seq.
    MsgEdit,
    /// `msg.delete`: delete messages from the caller's own history, on every device.
    MsgDelete,
    /// `msg.sync`: everything since the client's last seq per conversation (gap fill).
    MsgSync,
    /// `msg.signal`: an online-only signal (typing, or the app's own) to live connections, never
    /// stored or pushed.
    MsgSignal,
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
    /// `conv.pin`: pin a message of a conversation for everyone in it.
    ConvPin,
    /// `conv.unpin`: unpin a pinned message.
    ConvUnpin,
    /// `conv.pins`: a conversation's pinned messages, newest pin first.
    ConvPins,
    /// `sys.ping`: keep the connection alive, read server time.
    SysPing,
    /// `presence.get`: whether users are online, and on which platforms.
    PresenceGet,
    /// `auth.logout`: end the user's sessions on every device and revoke their tokens.
    AuthLogout,
    /// `push.register`: remember a device token for offline push (APNs, FCM or the webhook).
    PushRegister,
    /// `push.unregister`: forget a device token.
    PushUnregister,
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
    pub const ALL: [Action; 59] = [
        Self::MsgSend,
        Self::MsgHistory,
        Self::MsgRecall,
        Self::MsgEdit,
        Self::MsgDelete,
        Self::MsgSync,
        Self::MsgSignal,
        Self::MediaUpload,
        Self::MediaDownload,
        Self::ConvList,
        Self::ConvRead,
        Self::ConvDelete,
        Self::ConvPin,
        Self::ConvUnpin,
        Self::ConvPins,
        Self::SysPing,
        Self::PresenceGet,
        Self::AuthLogout,
        Self::PushRegister,
        Self::PushUnregister,
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
            Self::MsgEdit => "msg.edit",
            Self::MsgDelete => "msg.delete",
            Self::MsgSync => "msg.sync",
            Self::MsgSignal => "msg.signal",
            Self::MediaUpload => "media.upload",
            Self::MediaDownload => "media.download",
            Self::ConvList => "conv.list",
            Self::ConvRead => "conv.read",
            Self::ConvDelete => "conv.delete",
            Self::ConvPin => "conv.pin",
            Self::ConvUnpin => "conv.unpin",
            Self::ConvPins => "conv.pins",
            Self::SysPing => "sys.ping",
            Self::PresenceGet => "presence.get",
            Self::AuthLogout => "auth.logout",
            Self::PushRegister => "push.register",
            Self::PushUnregister => "push.unregister",
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
            | Self::MsgEdit
            | Self::MsgDelete
            | Self::MsgSync
            | Self::MsgSignal
            | Self::ConvList
            | Self::ConvRead
            | Self::ConvDelete
            | Self::ConvPin
            | Self::ConvUnpin
            | Self::ConvPins => guest_c2c,
            // Guests have no profile and no friends.
            _ => false,
        }
    }

    /// Which rate-limit buckets this action draws on.
    pub fn rate_class(self) -> crate::rates::RateClass {
        match self {
            Self::MsgSend => crate::rates::RateClass::Send,
            Self::SysPing => crate::rates::RateClass::Ping,
            _ => crate::rates::RateClass::Other,
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
    /// `msg.*`, `conv.*`, `media.*`, `presence.*`, `push.*`, `auth.logout`, `sys.ping`.
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
