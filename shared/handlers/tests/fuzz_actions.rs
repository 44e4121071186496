//! Fuzzes every WebSocket action end to end: frames (arbitrary, and valid ones mutated, for each
//! action of `Action::ALL`) through `route` into the services over a real SQLite store.

mod fuzz_world;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::encodings::Body;
use cirrus_core::fuzzing::{arbitrary_text, config, json_value, mutated};
use cirrus_core::protocol::Action;
use cirrus_handlers::Deps;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Field names of the actions' data (DESIGN.md §3), so mutations add fields the parsers know.
const KEYS: &[&str] = &[
    "action",
    "reqId",
    "data",
    "to",
    "type",
    "id",
    "clientMsgId",
    "body",
    "text",
    "cloudCustomData",
    "conversationId",
    "beforeSeq",
    "afterSeq",
    "limit",
    "seq",
    "seqs",
    "cursors",
    "cursor",
    "userIds",
    "userId",
    "kind",
    "contentType",
    "size",
    "mediaId",
    "rendition",
    "data",
    "nickname",
    "faceUrl",
    "gender",
    "birthday",
    "signature",
    "location",
    "allowType",
    "custom",
    "reason",
    "remark",
    "groups",
    "direction",
    "withProfiles",
    "both",
    "after",
    "groupId",
    "name",
    "introduction",
    "notice",
    "avatar",
    "joinPolicy",
    "maxMembers",
    "members",
    "accept",
    "role",
    "seconds",
    "muted",
    "nameCard",
];

const GROUP: &str = "fuzzgroup";
const MEDIA_ID: &str = "alice/image-0123456789abcdef0123456789abcdef";

/// A valid `data` for each action; the match has no catch-all, so a new action does not build
/// until it has one here.
fn sample(action: Action) -> Value {
    let users = json!({"userIds": ["bob", "carol"]});
    let group = json!({"groupId": GROUP});
    let member = json!({"groupId": GROUP, "userId": "bob"});
    let page = json!({"limit": 5});
    match action {
        Action::MsgSend => json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "m-1",
                                  "body": [{"type": "text", "text": "hi"}], "cloudCustomData": "x"}),
        Action::MsgHistory => json!({"conversationId": "C2Cbob", "beforeSeq": 10, "limit": 5}),
        Action::MsgRecall => json!({"conversationId": "C2Cbob", "seq": 1}),
        Action::MsgEdit => {
            json!({"conversationId": "C2Cbob", "seq": 1, "version": 0, "body": [{"type": "text", "text": "hi"}]})
        }
        Action::ConvPin | Action::ConvUnpin => json!({"conversationId": "C2Cbob", "seq": 1}),
        Action::ConvPins => json!({"conversationId": "C2Cbob"}),
        Action::MsgDelete => json!({"conversationId": "C2Cbob", "seqs": [1, 2]}),
        Action::MsgSync => json!({"cursors": [{"conversationId": "C2Cbob", "seq": 0}], "limit": 5}),
        Action::MsgSignal => json!({"to": {"type": "c2c", "id": "bob"}, "kind": "typing", "data": "x"}),
        Action::MediaUpload => json!({"kind": "image", "contentType": "image/png", "size": 100}),
        Action::MediaDownload => json!({"mediaId": MEDIA_ID, "rendition": "thumbnail"}),
        Action::ConvList => json!({"limit": 5}),
        Action::ConvRead => json!({"conversationId": "C2Cbob", "seq": 1}),
        Action::ConvDelete => json!({"conversationId": "C2Cbob"}),
        Action::SysPing | Action::AuthLogout => json!({}),
        Action::PushRegister => json!({"provider": "fcm", "token": "tok-1", "platform": "android"}),
        Action::PushUnregister => json!({"token": "tok-1"}),
        Action::PresenceGet | Action::PresenceSubscribe | Action::PresenceUnsubscribe => users,
        Action::ProfileGet => users,
        Action::ProfileSet => json!({"nickname": "Al", "gender": "female", "birthday": 20000101,
                                     "allowType": "need_confirm", "custom": {"Tag_Profile_Custom_x": "1"}}),
        Action::UserSearch => json!({"nickname": "b", "limit": 5}),
        Action::FriendAdd => json!({"userId": "bob", "reason": "hi", "remark": "B", "groups": ["g"]}),
        Action::FriendRequests => json!({"direction": "incoming", "limit": 5}),
        Action::FriendAccept => json!({"userId": "bob", "remark": "B"}),
        Action::FriendReject | Action::FriendWithdraw => json!({"userId": "bob"}),
        Action::FriendDelete => json!({"userIds": ["bob"], "both": true}),
        Action::FriendList => json!({"limit": 5, "withProfiles": true}),
        Action::FriendRemark => json!({"userId": "bob", "remark": "B", "groups": ["g"]}),
        Action::FriendCheck
        | Action::FriendDismiss
        | Action::BlockAdd
        | Action::BlockRemove
        | Action::BlockCheck => users,
        Action::FriendRecommendations | Action::BlockList | Action::GroupJoined => page,
        Action::NotifyList => json!({"limit": 5}),
        Action::GroupCreate => {
            json!({"type": "private", "name": "g", "members": ["bob"], "joinPolicy": "need_approval",
                                      "custom": {"k": "v"}})
        }
        Action::GroupDismiss | Action::GroupQuit | Action::GroupApply | Action::GroupRequests => group,
        Action::GroupInfo => json!({"groupIds": [GROUP]}),
        Action::GroupUpdate => json!({"groupId": GROUP, "name": "n", "notice": null, "custom": {}}),
        Action::GroupTransfer | Action::GroupKick | Action::GroupInvite => {
            json!({"groupId": GROUP, "userIds": ["bob"], "userId": "bob"})
        }
        Action::GroupMembers => json!({"groupId": GROUP, "limit": 5}),
        Action::GroupSearch => json!({"name": "g"}),
        Action::GroupRespond => json!({"groupId": GROUP, "userId": "bob", "accept": true}),
        Action::GroupSetRole => json!({"groupId": GROUP, "userId": "bob", "role": "admin"}),
        Action::GroupMute => json!({"groupId": GROUP, "userId": "bob", "seconds": 60}),
        Action::GroupMuteAll => json!({"groupId": GROUP, "muted": true}),
        Action::GroupMemberUpdate => member,
    }
}

/// A `MESSAGE` event from `user` (a guest when `guest`) with `body` as sent.
fn event(user: &str, guest: bool, body: String) -> ApiGatewayWebsocketProxyRequest {
    let mut authorizer = json!({"userId": user, "principalId": user});
    if guest {
        authorizer[cirrus_handlers::context::ROLE_KEY] = json!(cirrus_handlers::context::GUEST_ROLE);
    }
    serde_json::from_value(json!({
        "requestContext": {"routeKey": "$default", "connectionId": format!("{user}-1"), "eventType": "MESSAGE",
                           "connectedAt": 1_764_000_000_000_i64, "requestTimeEpoch": 1_764_000_000_000_i64,
                           "authorizer": authorizer},
        "body": body,
        "isBase64Encoded": false
    }))
    .expect("a valid event")
}

/// Sends `body` and checks the reply: a reply frame that is either `ok` or a coded refusal that
/// is not `internal` (logout answers nothing, its reply is posted).
fn check(runtime: &tokio::runtime::Runtime, deps: &Deps, user: &str, guest: bool, body: String) -> Value {
    let response = runtime.block_on(cirrus_handlers::route(deps, event(user, guest, body.clone())));
    assert_eq!(response.status_code, 200);
    let Some(Body::Text(text)) = response.body else {
        return Value::Null;
    };
    let reply: Value = serde_json::from_str(&text).expect("a reply is JSON");
    assert_eq!(reply["type"], "reply", "{text}");
    match reply["ok"].as_bool() {
        Some(true) => {}
        Some(false) => {
            let code = reply["error"]["code"].as_str().expect("a refusal has a code");
            assert!(
                !code.is_empty() && code != "internal",
                "{code} for {body:.300}: {text:.300}"
            );
        }
        None => panic!("a reply says ok or not: {text:.300}"),
    }
    reply
}

/// One world for all the cases of a property: alice, bob and carol, alice's group.
fn world() -> (tokio::runtime::Runtime, Deps) {
    let runtime = fuzz_world::runtime();
    let deps = Deps::new(&fuzz_world::ports());
    let create = json!({"action": "group.create", "reqId": "setup",
                        "data": {"type": "public", "groupId": GROUP, "name": "fuzz", "members": ["bob", "carol"]}});
    let reply = check(&runtime, &deps, "alice", false, create.to_string());
    assert_eq!(reply["ok"], true, "{reply}");
    (runtime, deps)
}

/// A frame for `action` with its sample data.
fn frame(action: Action) -> Value {
    json!({"action": action.name(), "reqId": "r-1", "data": sample(action)})
}

thread_local! {
    static WORLD: (tokio::runtime::Runtime, Deps) = world();
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn every_actions_valid_frame_gets_a_reply(action in prop::sample::select(Action::ALL.to_vec()), guest in any::<bool>()) {
        WORLD.with(|(runtime, deps)| {
            let user = if guest { "guest_1" } else { "alice" };
            check(runtime, deps, user, guest, frame(action).to_string());
        });
    }

    #[test]
    fn every_actions_mutated_frames_get_coded_replies(
        text in prop::sample::select(Action::ALL.to_vec()).prop_flat_map(|action| mutated(frame(action), KEYS)),
        guest in prop::bool::weighted(0.1),
    ) {
        WORLD.with(|(runtime, deps)| {
            let user = if guest { "guest_1" } else { "alice" };
            check(runtime, deps, user, guest, text);
        });
    }

    #[test]
    fn arbitrary_data_for_every_action_gets_coded_replies(
        action in prop::sample::select(Action::ALL.to_vec()),
        data in json_value(KEYS),
    ) {
        WORLD.with(|(runtime, deps)| {
            let text = json!({"action": action.name(), "reqId": "r", "data": data}).to_string();
            check(runtime, deps, "alice", false, text);
        });
    }

    #[test]
    fn arbitrary_frames_get_coded_replies(text in arbitrary_text(KEYS)) {
        WORLD.with(|(runtime, deps)| {
            check(runtime, deps, "alice", false, text);
        });
    }
}

#[test]
fn samples_of_every_action_reach_past_the_parser() {
    // The samples reach past the JSON parser: none is refused as unknown or as bad JSON.
    WORLD.with(|(runtime, deps)| {
        for action in Action::ALL {
            let reply = check(runtime, deps, "alice", false, frame(action).to_string());
            let code = reply["error"]["code"].as_str().unwrap_or_default();
            assert!(
                !matches!(code, "unknown_action" | "bad_json" | "missing_field"),
                "{}: {reply}",
                action.name()
            );
        }
    });
}
