//! The data of each server event as the server serializes it, built from the server's own types
//! with every optional field set, so its keys are every field the event can carry.

use cirrus_core::element::Element;
use cirrus_core::ids::{ClientMsgId, ConversationId, GroupId, MsgId, StreamKey, UserId};
use cirrus_core::message::{Edit, Recall, SenderProfile, StoredMessage, Target};
use cirrus_core::protocol::groups::GroupNotice;
use cirrus_core::protocol::messages::{Deleted, Recalled};
use cirrus_core::protocol::pins::{PinView, Unpinned};
use cirrus_core::protocol::social::{FriendRequestView, PeerEvent, ProfileView};
use cirrus_core::protocol::{Kicked, PresenceStatus, ReadReceipt, SignalEvent, UserPresence, events};
use cirrus_core::social::{AllowType, Gender};
use serde_json::Value;
use std::collections::BTreeMap;

/// A user id known to be valid.
pub fn user(raw: &str) -> UserId {
    UserId::parse(raw).expect("a valid user id")
}

/// The JSON the server sends for `value`.
pub fn json(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("the server's types serialize")
}

/// A message with every optional part: app data, the sender's profile, a notice flag, a recall
/// and an edit (no real message has all of them at once; the fields are what counts here).
pub fn stored_message() -> StoredMessage {
    let (alice, bob) = (user("alice"), user("bob"));
    StoredMessage {
        stream: StreamKey::c2c(&alice, &bob),
        seq: 7,
        msg_id: MsgId::parse("0193a6f1c1e47c1a9a3c5b1d2e3f4a5b").expect("a msg id"),
        from: alice.clone(),
        to: Target::C2c(bob.clone()),
        time: 1_764_000_000_123,
        client_msg_id: ClientMsgId::parse("a-42").expect("a client msg id"),
        body: vec![Element::Text {
            text: "hello".to_owned(),
        }],
        cloud_custom_data: Some("{}".to_owned()),
        sender: Some(SenderProfile {
            nickname: Some("Alice".to_owned()),
            avatar: Some("https://example.com/a.png".to_owned()),
        }),
        system: true,
        recalled: Some(Recall {
            by: alice.clone(),
            time: 1_764_000_060_000,
        }),
        edited: Some(Edit {
            by: alice,
            time: 1_764_000_090_000,
            version: 1,
        }),
    }
}

fn message() -> Value {
    json(stored_message().view(&user("bob")))
}

/// A profile with every optional field set.
pub fn profile() -> ProfileView {
    ProfileView {
        user_id: "ben".to_owned(),
        nickname: Some("Ben".to_owned()),
        face_url: Some("https://example.com/b.png".to_owned()),
        gender: Gender::Male,
        birthday: Some(19_900_214),
        signature: Some("hi".to_owned()),
        location: Some("Lisbon".to_owned()),
        allow_type: AllowType::AllowAny,
        custom: BTreeMap::from([("level".to_owned(), "7".to_owned())]),
        updated_at: 1_764_000_000_456,
    }
}

/// The data the server sends with `event`, every optional field set.
pub fn event_data(event: &str) -> Value {
    let (alice, bob) = (user("alice"), user("bob"));
    let conversation = ConversationId::parse("C2Calice").expect("a conversation id");
    let stored = stored_message();
    match event {
        events::MSG_NEW | events::MSG_EDITED | events::MSG_SYSTEM => message(),
        events::MSG_READ => json(ReadReceipt {
            conversation_id: "C2Cbob".to_owned(),
            user_id: "bob",
            read_seq: 2,
        }),
        events::MSG_RECALLED => json(Recalled {
            conversation_id: conversation,
            msg_id: &MsgId::parse("0193a6f1c1e47c1a9a3c5b1d2e3f4a5b").expect("a msg id"),
            seq: 7,
            recalled_by: &alice,
            time: 1_764_000_060_000,
        }),
        events::CONV_PINNED => json(PinView {
            conversation_id: ConversationId::parse("C2Cbob").expect("a conversation id"),
            seq: 7,
            pinned_by: &bob,
            pinned_at: 1_764_000_100_000,
            message: Some(stored.view(&alice)),
        }),
        events::CONV_UNPINNED => json(Unpinned {
            conversation_id: ConversationId::parse("C2Cbob").expect("a conversation id"),
            seq: 7,
            unpinned_by: &bob,
            time: 1_764_000_300_000,
        }),
        events::MSG_DELETED => json(Deleted {
            conversation_id: &conversation,
            seqs: &[2, 5],
        }),
        events::MSG_SIGNAL => json(SignalEvent {
            from: alice,
            conversation_id: conversation,
            kind: "typing".to_owned(),
            data: Some("x".to_owned()),
            time: 1_764_000_000_456,
        }),
        events::SESSION_KICKED => json(Kicked {
            reason: "login_elsewhere",
            by_platform: Some("ios"),
        }),
        events::PRESENCE_CHANGED => json(UserPresence {
            user_id: "bob".to_owned(),
            online: true,
            status: PresenceStatus::Online,
            platforms: vec!["ios".to_owned()],
        }),
        events::FRIEND_REQUEST => json(FriendRequestView {
            from: "ann".to_owned(),
            to: "ben".to_owned(),
            reason: Some("hi".to_owned()),
            created_at: 1_764_000_000_123,
        }),
        events::FRIEND_REQUEST_ACCEPTED
        | events::FRIEND_REQUEST_REJECTED
        | events::FRIEND_REQUEST_DELETED
        | events::FRIEND_ADDED
        | events::FRIEND_DELETED => json(PeerEvent { user_id: "ben" }),
        events::PROFILE_CHANGED => json(profile()),
        events::GROUP_SYSTEM => json(GroupNotice {
            r#type: "kicked",
            group_id: &GroupId::parse("g-team").expect("a group id"),
            by: &bob,
            user_id: Some(&alice),
            reason: Some("spam"),
        }),
        other => panic!("no sample of the `{other}` event: add one to tests/asyncapi/samples.rs"),
    }
}
