//! The data of the ok replies that the server builds from its own types (the others are put
//! together in the handlers), with every optional field set, so their keys are every field such a
//! reply can carry.

use crate::samples::{json, profile, stored_message, user};
use cirrus_core::group::{Group, GroupType, JoinPolicy, Member, Role};
use cirrus_core::ids::{ConversationId, ConversationKind, GroupId, MsgId, UserId};
use cirrus_core::media::{MediaId, MediaKind, Variant};
use cirrus_core::message::StoredMessage;
use cirrus_core::protocol::groups::{GroupView, MemberView};
use cirrus_core::protocol::media::{DownloadReply, SignedRequest, UploadReply};
use cirrus_core::protocol::messages::{Deleted, Recalled, SyncReply, SyncedConversation};
use cirrus_core::protocol::pins::{PinView, PinsReply};
use cirrus_core::protocol::social::{
    AddOutcome, FriendAddReply, FriendListReply, FriendRequestView, FriendRequestsReply, FriendView,
    NotificationView, NotifyListReply, ProfilesReply,
};
use cirrus_core::protocol::{
    Action, ConvListReply, ConversationView, HistoryReply, PingReply, PresenceReply, PresenceStatus, SendAck,
    SubscribeReply, UserPresence,
};
use serde_json::Value;
use std::collections::BTreeMap;

const NOW: i64 = 1_764_000_000_123;

fn pin_view<'a>(stored: &'a StoredMessage, by: &'a UserId) -> PinView<'a> {
    PinView {
        conversation_id: ConversationId::parse("C2Calice").expect("a conversation id"),
        seq: 7,
        pinned_by: by,
        pinned_at: NOW,
        message: Some(stored.view(by)),
    }
}

fn presence() -> UserPresence {
    UserPresence {
        user_id: "bob".to_owned(),
        online: true,
        status: PresenceStatus::Online,
        platforms: vec!["web".to_owned()],
    }
}

fn signed(method: &str) -> SignedRequest {
    SignedRequest {
        url: "http://127.0.0.1:8081/media/x".to_owned(),
        method: method.to_owned(),
        headers: BTreeMap::from([("content-type".to_owned(), "image/png".to_owned())]),
        expires_at: NOW,
    }
}

fn custom() -> BTreeMap<String, String> {
    BTreeMap::from([("topic".to_owned(), "rust".to_owned())])
}

fn group() -> Group {
    Group {
        id: GroupId::parse("g-team").expect("a group id"),
        kind: GroupType::Public,
        name: "Team".to_owned(),
        introduction: Some("intro".to_owned()),
        notice: Some("notice".to_owned()),
        avatar: Some("https://example.com/g.png".to_owned()),
        owner: Some(user("ann")),
        creator: user("ann"),
        created_at: NOW,
        join_policy: JoinPolicy::NeedApproval,
        mute_all: true,
        max_members: 500,
        custom: custom(),
        member_count: 3,
        dismissed: false,
    }
}

fn member() -> Member {
    Member {
        group: GroupId::parse("g-team").expect("a group id"),
        user: user("ann"),
        role: Role::Owner,
        joined_at: NOW,
        joined_seq: 1,
        name_card: Some("Ann".to_owned()),
        muted_until: NOW + 60_000,
        custom: custom(),
    }
}

fn friend() -> FriendView {
    FriendView {
        user_id: "ben".to_owned(),
        remark: Some("B".to_owned()),
        groups: vec!["work".to_owned()],
        added_at: NOW,
        profile: Some(profile()),
    }
}

/// The ok reply data of `action`, where the server builds it from a type of its own.
pub fn reply_data(action: Action) -> Option<Value> {
    let stored = stored_message();
    let bob = user("bob");
    let conversation = ConversationId::parse("C2Calice").expect("a conversation id");
    let msg_id = MsgId::parse("0193a6f1c1e47c1a9a3c5b1d2e3f4a5b").expect("a msg id");
    let media_id = MediaId::generate(&user("alice"), MediaKind::Image);
    let value = match action {
        Action::MsgSend => json(SendAck {
            msg_id,
            seq: 7,
            time: NOW,
            conversation_id: conversation,
        }),
        Action::MsgHistory => json(HistoryReply {
            messages: vec![stored.view(&bob)],
            complete: true,
        }),
        Action::MsgRecall => json(Recalled {
            conversation_id: conversation,
            msg_id: &msg_id,
            seq: 7,
            recalled_by: &bob,
            time: NOW,
        }),
        Action::MsgEdit => json(stored.view(&bob)),
        Action::MsgDelete => json(Deleted {
            conversation_id: &conversation,
            seqs: &[2],
        }),
        Action::MsgSync => json(SyncReply {
            conversations: vec![SyncedConversation {
                conversation_id: &conversation,
                last_seq: 7,
                read_seq: 6,
                unread: 1,
                messages: vec![stored.view(&bob)],
                complete: true,
            }],
        }),
        Action::ConvPin => json(pin_view(&stored, &bob)),
        Action::ConvPins => json(PinsReply {
            pins: vec![pin_view(&stored, &bob)],
        }),
        Action::ConvList => json(ConvListReply {
            conversations: vec![ConversationView {
                conversation_id: &conversation,
                r#type: ConversationKind::C2c,
                peer: "alice",
                last_message: Some(stored.view(&bob)),
                last_seq: 7,
                read_seq: 6,
                unread: 1,
                updated_at: NOW,
            }],
            cursor: Some("next".to_owned()),
        }),
        Action::SysPing => json(PingReply { time: NOW }),
        Action::PresenceGet => json(PresenceReply {
            users: vec![presence()],
        }),
        Action::PresenceSubscribe | Action::PresenceUnsubscribe => json(SubscribeReply {
            users: vec![presence()],
            subscriptions: 1,
        }),
        Action::MediaUpload => json(UploadReply {
            media_id,
            request: signed("PUT"),
        }),
        Action::MediaDownload => json(DownloadReply {
            media_id,
            rendition: Variant::Thumbnail,
            request: signed("GET"),
            content_type: "image/jpeg".to_owned(),
            size: 6120,
            width: Some(198),
            height: Some(149),
        }),
        Action::ProfileGet => json(ProfilesReply {
            profiles: vec![profile()],
            not_found: vec!["nobody".to_owned()],
        }),
        Action::ProfileSet => json(profile()),
        Action::FriendAdd => json(FriendAddReply {
            result: AddOutcome::Pending,
        }),
        Action::FriendRequests => json(FriendRequestsReply {
            requests: vec![FriendRequestView {
                from: "ann".to_owned(),
                to: "ben".to_owned(),
                reason: Some("hi".to_owned()),
                created_at: NOW,
            }],
            cursor: Some("ann".to_owned()),
        }),
        Action::FriendList => json(FriendListReply {
            friends: vec![friend()],
            cursor: Some("ben".to_owned()),
        }),
        Action::FriendRemark => json(friend()),
        Action::NotifyList => json(NotifyListReply {
            notifications: vec![NotificationView {
                id: "n1".to_owned(),
                event: "friend.added".to_owned(),
                data: serde_json::json!({"userId": "ben"}),
                time: NOW,
            }],
            cursor: Some("n1".to_owned()),
        }),
        Action::GroupCreate | Action::GroupUpdate => json(GroupView::of(&group(), Some(Role::Owner), true)),
        Action::GroupMemberUpdate => json(MemberView::of(&member(), NOW)),
        // Put together in the handlers (`json!`), out of this crate's reach.
        _ => return None,
    };
    Some(value)
}
