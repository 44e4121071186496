//! Groups: the permission matrix walked cell by cell through real operations (one test per row,
//! each over the four types), roles, the application and invitation lifecycles with their
//! notifications, mute, limits and history visibility.

use cirrus_tests::{TestSocket, TestStack};
use serde_json::{Value, json};
use std::time::Duration;

const TYPES: [&str; 4] = ["private", "public", "chatroom", "live"];

/// A group of `kind` owned by `owner`'s socket, with `member` in it as an ordinary member
/// (initial member where the type takes them, joining where it does not).
async fn group_with_member(
    owner: &mut TestSocket,
    member: &mut TestSocket,
    member_id: &str,
    kind: &str,
    id: &str,
) {
    let members = if kind == "live" {
        json!([])
    } else {
        json!([member_id])
    };
    let created = owner
        .ok(
            "group.create",
            json!({"type": kind, "groupId": id, "name": format!("{kind} room"), "members": members}),
        )
        .await;
    assert_eq!(created["groupId"], id);
    if kind == "live" {
        let joined = member.ok("group.apply", json!({"groupId": id})).await;
        assert_eq!(joined["result"], "joined");
    }
}

fn group_id(kind: &str) -> String {
    format!("g-{kind}")
}

async fn outcome(socket: &mut TestSocket, action: &str, data: Value) -> Result<Value, String> {
    let reply = socket.call(action, data).await;
    if reply["ok"] == true {
        Ok(reply["data"].clone())
    } else {
        Err(reply["error"]["code"].as_str().unwrap_or_default().to_owned())
    }
}

#[tokio::test]
async fn only_private_groups_let_ordinary_members_edit_the_profile() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    for kind in TYPES {
        let id = group_id(kind);
        group_with_member(&mut owner, &mut bob, "bob", kind, &id).await;
        let edited = outcome(
            &mut bob,
            "group.update",
            json!({"groupId": id, "name": "renamed"}),
        )
        .await;
        if kind == "private" {
            assert_eq!(edited.unwrap()["name"], "renamed");
        } else {
            assert_eq!(edited.unwrap_err(), "forbidden", "{kind}");
            // the owner may, in every type
            owner
                .ok("group.update", json!({"groupId": id, "notice": "hello"}))
                .await;
        }
    }
}

#[tokio::test]
async fn public_groups_and_chat_rooms_can_be_found_by_name() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    for kind in TYPES {
        owner
            .ok(
                "group.create",
                json!({"type": kind, "groupId": group_id(kind), "name": format!("Findable {kind}")}),
            )
            .await;
    }
    let found = owner.ok("group.search", json!({"name": "findable"})).await;
    let mut ids: Vec<&str> = found["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["groupId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["g-chatroom", "g-public"]);
    // by id: the same rule; non-members see no notice
    let by_id = owner.ok("group.search", json!({"groupId": "g-private"})).await;
    assert_eq!(by_id["groups"], json!([]));
    let by_id = owner.ok("group.search", json!({"groupId": "g-public"})).await;
    assert!(by_id["groups"][0].get("notice").is_none());
}

#[tokio::test]
async fn applications_follow_the_type_and_the_join_policy() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut carol = stack.connect("carol").await;
    for kind in TYPES {
        owner
            .ok(
                "group.create",
                json!({"type": kind, "groupId": group_id(kind), "name": kind}),
            )
            .await;
    }
    // private: no applications; public: approval by default; chat room and live: free
    assert_eq!(
        outcome(&mut carol, "group.apply", json!({"groupId": "g-private"}))
            .await
            .unwrap_err(),
        "forbidden"
    );
    let pending = carol
        .ok(
            "group.apply",
            json!({"groupId": "g-public", "reason": "let me in"}),
        )
        .await;
    assert_eq!(pending["result"], "pending");
    for kind in ["chatroom", "live"] {
        let joined = carol.ok("group.apply", json!({"groupId": group_id(kind)})).await;
        assert_eq!(joined["result"], "joined", "{kind}");
    }
    // the owner is told, sees the application and accepts it; carol is told
    let notice = owner.event("group.system").await;
    assert_eq!(notice["type"], "application");
    assert_eq!(notice["userId"], "carol");
    assert_eq!(notice["reason"], "let me in");
    let requests = owner.ok("group.requests", json!({"groupId": "g-public"})).await;
    assert_eq!(requests["requests"][0]["userId"], "carol");
    assert_eq!(requests["requests"][0]["kind"], "application");
    // carol cannot decide her own application
    assert_eq!(
        outcome(
            &mut carol,
            "group.respond",
            json!({"groupId": "g-public", "userId": "carol", "accept": true})
        )
        .await
        .unwrap_err(),
        "forbidden"
    );
    owner
        .ok(
            "group.respond",
            json!({"groupId": "g-public", "userId": "carol", "accept": true}),
        )
        .await;
    let accepted = carol.event("group.system").await;
    assert_eq!(accepted["type"], "application_accepted");
    let joined = carol.ok("group.joined", json!({})).await;
    let ids: Vec<&str> = joined["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["groupId"].as_str().unwrap())
        .collect();
    // a live room is an audience, not a membership: it is not among one's groups
    assert_eq!(ids, vec!["g-chatroom", "g-public"]);
    // a forbidden join policy closes the group
    owner
        .ok(
            "group.update",
            json!({"groupId": "g-chatroom", "joinPolicy": "forbidden"}),
        )
        .await;
    let mut dave = stack.connect("dave").await;
    assert_eq!(
        outcome(&mut dave, "group.apply", json!({"groupId": "g-chatroom"}))
            .await
            .unwrap_err(),
        "forbidden"
    );
    // a rejected application is told, and leaves no member
    dave.ok("group.apply", json!({"groupId": "g-public"})).await;
    owner.event("group.system").await;
    owner
        .ok(
            "group.respond",
            json!({"groupId": "g-public", "userId": "dave", "accept": false, "reason": "full"}),
        )
        .await;
    let rejected = dave.event("group.system").await;
    assert_eq!(rejected["type"], "application_rejected");
    assert_eq!(rejected["reason"], "full");
    assert_eq!(
        outcome(&mut dave, "group.members", json!({"groupId": "g-public"}))
            .await
            .unwrap_err(),
        "forbidden"
    );
}

#[tokio::test]
async fn only_private_group_members_pull_others_in_and_other_invitations_wait_for_consent() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    let mut erin = stack.connect("erin").await;
    for kind in TYPES {
        let id = group_id(kind);
        group_with_member(&mut owner, &mut bob, "bob", kind, &id).await;
        let pulled = outcome(
            &mut bob,
            "group.invite",
            json!({"groupId": id, "userIds": ["erin"]}),
        )
        .await;
        if kind == "private" {
            assert_eq!(pulled.unwrap()["results"][0]["result"], "added");
        } else {
            assert_eq!(pulled.unwrap_err(), "forbidden", "{kind}");
        }
    }
    // the owner of a public group invites; erin is told and accepts
    let invited = owner
        .ok(
            "group.invite",
            json!({"groupId": "g-public", "userIds": ["erin", "bob"]}),
        )
        .await;
    assert_eq!(
        invited["results"],
        json!([{"userId": "erin", "result": "invited"}, {"userId": "bob", "result": "already_member"}])
    );
    let notice = erin.event("group.system").await;
    assert_eq!(notice["type"], "invited");
    assert_eq!(notice["by"], "owner");
    // the owner may not accept for her
    assert_eq!(
        outcome(
            &mut owner,
            "group.respond",
            json!({"groupId": "g-public", "userId": "erin", "accept": true})
        )
        .await
        .unwrap_err(),
        "forbidden"
    );
    erin.ok(
        "group.respond",
        json!({"groupId": "g-public", "userId": "erin", "accept": true}),
    )
    .await;
    let told = owner.event("group.system").await;
    assert_eq!(told["type"], "invitation_accepted");
    let members = owner.ok("group.members", json!({"groupId": "g-public"})).await;
    let ids: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["bob", "erin", "owner"]);
}

#[tokio::test]
async fn only_a_private_groups_owner_may_quit_and_ownership_passes_on() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    for kind in TYPES {
        let id = group_id(kind);
        group_with_member(&mut owner, &mut bob, "bob", kind, &id).await;
        let quit = outcome(&mut owner, "group.quit", json!({"groupId": id})).await;
        if kind == "private" {
            quit.unwrap();
            let info = bob.ok("group.info", json!({"groupIds": [id]})).await;
            assert_eq!(info["groups"][0]["owner"], "bob");
            assert_eq!(info["groups"][0]["role"], "owner");
            assert_eq!(info["groups"][0]["memberCount"], 1);
        } else {
            assert_eq!(quit.unwrap_err(), "forbidden", "{kind}");
            // an ordinary member may always quit
            bob.ok("group.quit", json!({"groupId": id})).await;
        }
    }
    // the last one out of a private group dissolves it
    bob.ok("group.quit", json!({"groupId": "g-private"})).await;
    let info = bob.ok("group.info", json!({"groupIds": ["g-private"]})).await;
    assert_eq!(info["groups"], json!([]));
}

#[tokio::test]
async fn owners_dismiss_public_groups_and_chat_rooms_only() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    for kind in TYPES {
        let id = group_id(kind);
        group_with_member(&mut owner, &mut bob, "bob", kind, &id).await;
        let dismissed = outcome(&mut owner, "group.dismiss", json!({"groupId": id})).await;
        if kind == "public" || kind == "chatroom" {
            dismissed.unwrap();
            let notice = bob.event("group.system").await;
            assert_eq!(notice["type"], "dismissed");
            assert_eq!(notice["groupId"], id);
            // the group leaves his conversation list
            let list = bob.ok("conv.list", json!({})).await;
            assert!(!list.to_string().contains(&format!("GROUP{id}")), "{list}");
            // the id stays taken
            assert_eq!(
                outcome(
                    &mut owner,
                    "group.create",
                    json!({"type": kind, "groupId": id, "name": "again"})
                )
                .await
                .unwrap_err(),
                "invalid_field"
            );
        } else {
            assert_eq!(dismissed.unwrap_err(), "forbidden", "{kind}");
        }
    }
    // the app administrator may dismiss any
    let mut admin = stack.connect("administrator").await;
    admin.ok("group.dismiss", json!({"groupId": "g-live"})).await;
}

#[tokio::test]
async fn admins_exist_in_public_groups_and_chat_rooms_and_may_manage_but_not_other_admins() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    let mut carol = stack.connect("carol").await;
    for kind in TYPES {
        let id = group_id(kind);
        group_with_member(&mut owner, &mut bob, "bob", kind, &id).await;
        let set = outcome(
            &mut owner,
            "group.set_role",
            json!({"groupId": id, "userId": "bob", "role": "admin"}),
        )
        .await;
        if kind == "public" || kind == "chatroom" {
            set.unwrap();
            assert_eq!(bob.event("group.system").await["type"], "role_changed");
        } else {
            assert_eq!(set.unwrap_err(), "forbidden", "{kind}");
        }
    }
    // in the public group, admin bob may add carol (invitation), kick and mute her, not the owner
    owner
        .ok(
            "group.invite",
            json!({"groupId": "g-public", "userIds": ["carol"]}),
        )
        .await;
    carol.event("group.system").await;
    carol
        .ok(
            "group.respond",
            json!({"groupId": "g-public", "userId": "carol", "accept": true}),
        )
        .await;
    let muted = bob
        .ok(
            "group.mute",
            json!({"groupId": "g-public", "userId": "carol", "seconds": 60}),
        )
        .await;
    assert!(muted["mutedUntil"].as_i64().unwrap() > 0);
    assert_eq!(
        outcome(
            &mut bob,
            "group.mute",
            json!({"groupId": "g-public", "userId": "owner", "seconds": 60})
        )
        .await
        .unwrap_err(),
        "forbidden"
    );
    assert_eq!(
        outcome(
            &mut bob,
            "group.kick",
            json!({"groupId": "g-public", "userIds": ["owner"]})
        )
        .await
        .unwrap_err(),
        "forbidden"
    );
    // ordinary members never kick, in any type
    assert_eq!(
        outcome(
            &mut carol,
            "group.kick",
            json!({"groupId": "g-public", "userIds": ["bob"]})
        )
        .await
        .unwrap_err(),
        "forbidden"
    );
    let removed = bob
        .ok(
            "group.kick",
            json!({"groupId": "g-public", "userIds": ["carol"], "reason": "spam"}),
        )
        .await;
    assert_eq!(removed["removed"], json!(["carol"]));
    let notices = drain_system(&mut carol).await;
    assert!(
        notices
            .iter()
            .any(|n| n["type"] == "kicked" && n["reason"] == "spam")
    );
    // only the owner appoints admins
    assert_eq!(
        outcome(
            &mut bob,
            "group.set_role",
            json!({"groupId": "g-public", "userId": "owner", "role": "member"})
        )
        .await
        .unwrap_err(),
        "forbidden"
    );
}

/// `group.system` events until none comes for a moment.
async fn drain_system(socket: &mut TestSocket) -> Vec<Value> {
    let mut seen = Vec::new();
    while let Ok(event) = tokio::time::timeout(Duration::from_millis(300), socket.event("group.system")).await
    {
        seen.push(event);
    }
    seen
}

#[tokio::test]
async fn ordinary_members_never_kick() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    for kind in TYPES {
        let id = group_id(kind);
        group_with_member(&mut owner, &mut bob, "bob", kind, &id).await;
        assert_eq!(
            outcome(
                &mut bob,
                "group.kick",
                json!({"groupId": id, "userIds": ["owner"]})
            )
            .await
            .unwrap_err(),
            "forbidden",
            "{kind}"
        );
        // the owner may, in every type
        let removed = owner
            .ok("group.kick", json!({"groupId": id, "userIds": ["bob"]}))
            .await;
        assert_eq!(removed["removed"], json!(["bob"]), "{kind}");
    }
}

#[tokio::test]
async fn history_before_joining_is_visible_in_chat_rooms_and_live_rooms_only() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut frank = stack.connect("frank").await;
    for kind in TYPES {
        let id = group_id(kind);
        owner
            .ok(
                "group.create",
                json!({"type": kind, "groupId": id, "name": kind, "joinPolicy": if kind == "private" { "forbidden" } else { "free" }}),
            )
            .await;
        owner
            .ok(
                "msg.send",
                json!({"to": {"type": "group", "id": id}, "clientMsgId": format!("before-{kind}"),
                       "body": [{"type": "text", "text": "before you came"}]}),
            )
            .await;
        if kind == "private" {
            owner
                .ok("group.invite", json!({"groupId": id, "userIds": ["frank"]}))
                .await;
        } else {
            frank.ok("group.apply", json!({"groupId": id})).await;
        }
        let history = frank
            .ok("msg.history", json!({"conversationId": format!("GROUP{id}")}))
            .await;
        let texts: Vec<&str> = history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m.get("system").is_none())
            .map(|m| m["body"][0]["text"].as_str().unwrap_or_default())
            .collect();
        if kind == "chatroom" || kind == "live" {
            assert_eq!(texts, vec!["before you came"], "{kind}");
        } else {
            assert!(texts.is_empty(), "{kind}: {texts:?}");
        }
    }
}

#[tokio::test]
async fn member_changes_are_announced_except_in_chat_rooms() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut gina = stack.connect("gina").await;
    for kind in TYPES {
        let id = group_id(kind);
        owner
            .ok(
                "group.create",
                json!({"type": kind, "groupId": id, "name": kind, "joinPolicy": if kind == "private" { "forbidden" } else { "free" }}),
            )
            .await;
        // drain the creation tip, if any
        while tokio::time::timeout(Duration::from_millis(200), owner.event("msg.system"))
            .await
            .is_ok()
        {}
        if kind == "private" {
            owner
                .ok("group.invite", json!({"groupId": id, "userIds": ["gina"]}))
                .await;
        } else {
            gina.ok("group.apply", json!({"groupId": id})).await;
        }
        let tip = tokio::time::timeout(Duration::from_millis(500), owner.event("msg.system")).await;
        if kind == "chatroom" {
            assert!(tip.is_err(), "chat rooms announce no member changes");
        } else {
            let tip = tip.expect("a member tip");
            assert_eq!(tip["conversationId"], format!("GROUP{id}"));
            let data: Value = serde_json::from_str(tip["body"][0]["data"].as_str().unwrap()).unwrap();
            assert!(data["tip"].as_str().unwrap().starts_with("member"), "{data}");
            assert_eq!(data["users"], json!(["gina"]));
        }
    }
}

#[tokio::test]
async fn a_private_group_shows_in_the_list_only_after_its_first_message() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    for kind in TYPES {
        let id = group_id(kind);
        group_with_member(&mut owner, &mut bob, "bob", kind, &id).await;
    }
    let listed = |list: &Value| -> Vec<String> {
        let mut ids: Vec<String> = list["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["conversationId"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let list = bob.ok("conv.list", json!({})).await;
    // live rooms keep no conversation entry for their audience
    assert_eq!(listed(&list), vec!["GROUPg-chatroom", "GROUPg-public"]);
    owner
        .ok(
            "msg.send",
            json!({"to": {"type": "group", "id": "g-private"}, "clientMsgId": "first",
                   "body": [{"type": "text", "text": "now we exist"}]}),
        )
        .await;
    let message = bob.event("msg.new").await;
    assert_eq!(message["conversationId"], "GROUPg-private");
    let list = bob.ok("conv.list", json!({})).await;
    assert!(listed(&list).contains(&"GROUPg-private".to_owned()));
    let private = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["conversationId"] == "GROUPg-private")
        .unwrap()
        .clone();
    assert_eq!(private["unread"], 1);
}

#[tokio::test]
async fn the_member_cap_applies_except_in_live_rooms() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    let mut carol = stack.connect("carol").await;
    for kind in TYPES {
        let id = group_id(kind);
        // a live room has no cap to set (asking for one is refused, see
        // settings_a_group_type_cannot_apply_are_refused_and_change_nothing)
        let max = if kind == "live" { None } else { Some(2) };
        owner
            .ok(
                "group.create",
                json!({"type": kind, "groupId": id, "name": kind, "maxMembers": max,
                       "joinPolicy": if kind == "private" { "forbidden" } else { "free" }}),
            )
            .await;
        if kind == "private" {
            owner
                .ok("group.invite", json!({"groupId": id, "userIds": ["bob"]}))
                .await;
            let third = outcome(
                &mut owner,
                "group.invite",
                json!({"groupId": id, "userIds": ["carol"]}),
            )
            .await;
            assert_eq!(third.unwrap_err(), "limit_exceeded");
            continue;
        }
        outcome(&mut bob, "group.apply", json!({"groupId": id}))
            .await
            .unwrap();
        let third = outcome(&mut carol, "group.apply", json!({"groupId": id})).await;
        if kind == "live" {
            assert_eq!(third.unwrap()["result"], "joined");
        } else {
            assert_eq!(third.unwrap_err(), "limit_exceeded", "{kind}");
        }
    }
}

#[tokio::test]
async fn muted_members_and_muted_groups_refuse_messages_from_ordinary_members() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    group_with_member(&mut owner, &mut bob, "bob", "public", "g-mute").await;
    let send = |n: &str| json!({"to": {"type": "group", "id": "g-mute"}, "clientMsgId": n, "body": [{"type": "text", "text": n}]});
    bob.ok("msg.send", send("ok-1")).await;
    owner
        .ok(
            "group.mute",
            json!({"groupId": "g-mute", "userId": "bob", "seconds": 1}),
        )
        .await;
    assert_eq!(
        outcome(&mut bob, "msg.send", send("no-1")).await.unwrap_err(),
        "muted"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    bob.ok("msg.send", send("ok-2")).await;
    owner
        .ok("group.mute_all", json!({"groupId": "g-mute", "muted": true}))
        .await;
    assert_eq!(
        outcome(&mut bob, "msg.send", send("no-2")).await.unwrap_err(),
        "muted"
    );
    owner.ok("msg.send", send("owner-speaks")).await;
    // non-members cannot send or read
    let mut stranger = stack.connect("stranger").await;
    assert_eq!(
        outcome(&mut stranger, "msg.send", send("x")).await.unwrap_err(),
        "forbidden"
    );
    assert_eq!(
        outcome(
            &mut stranger,
            "msg.history",
            json!({"conversationId": "GROUPg-mute"})
        )
        .await
        .unwrap_err(),
        "forbidden"
    );
}

#[tokio::test]
async fn group_messages_reach_every_member_device_and_count_unread_per_member() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob_phone = stack.connect("bob").await;
    let mut bob_web = stack.connect("bob").await;
    let mut carol = stack.connect("carol").await;
    owner
        .ok(
            "group.create",
            json!({"type": "private", "groupId": "g-chat", "name": "chat", "members": ["bob", "carol"]}),
        )
        .await;
    for i in 1..=3 {
        owner
            .ok(
                "msg.send",
                json!({"to": {"type": "group", "id": "g-chat"}, "clientMsgId": format!("m{i}"),
                       "body": [{"type": "text", "text": format!("m{i}")}]}),
            )
            .await;
    }
    for socket in [&mut bob_phone, &mut bob_web, &mut carol] {
        for i in 1..=3 {
            let message = socket.event("msg.new").await;
            assert_eq!(message["body"][0]["text"], format!("m{i}"));
            assert_eq!(message["conversationId"], "GROUPg-chat");
        }
    }
    bob_phone
        .ok("conv.read", json!({"conversationId": "GROUPg-chat", "seq": 2}))
        .await;
    let unread = |list: &Value| {
        list["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["conversationId"] == "GROUPg-chat")
            .unwrap()["unread"]
            .clone()
    };
    assert_eq!(unread(&bob_web.ok("conv.list", json!({})).await), 1);
    assert_eq!(unread(&carol.ok("conv.list", json!({})).await), 3);
    // a manager recalls a member's message; everyone is told
    carol
        .ok(
            "msg.send",
            json!({"to": {"type": "group", "id": "g-chat"}, "clientMsgId": "c1",
                   "body": [{"type": "text", "text": "oops"}]}),
        )
        .await;
    owner.event("msg.new").await;
    let recalled = owner
        .ok("msg.recall", json!({"conversationId": "GROUPg-chat", "seq": 4}))
        .await;
    assert_eq!(recalled["recalledBy"], "owner");
    assert_eq!(bob_web.event("msg.recalled").await["seq"], 4);
}

#[tokio::test]
async fn bad_group_requests_get_clear_errors_and_change_nothing() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    for (data, code) in [
        (json!({"type": "work", "name": "x"}), "invalid_field"),
        (json!({"type": "public", "name": ""}), "invalid_field"),
        (
            json!({"type": "public", "name": "x", "groupId": "@mine"}),
            "invalid_field",
        ),
        (
            json!({"type": "public", "name": "x", "groupId": "bad id"}),
            "invalid_group_id",
        ),
        (
            json!({"type": "public", "name": "x".repeat(101)}),
            "invalid_field",
        ),
        (
            json!({"type": "live", "name": "x", "members": ["bob"]}),
            "invalid_field",
        ),
        (json!({"name": "x"}), "missing_field"),
    ] {
        assert_eq!(
            outcome(&mut owner, "group.create", data.clone())
                .await
                .unwrap_err(),
            code,
            "{data}"
        );
    }
    assert_eq!(
        outcome(&mut owner, "group.info", json!({"groupIds": []}))
            .await
            .unwrap_err(),
        "invalid_field"
    );
    assert_eq!(
        outcome(&mut owner, "group.apply", json!({"groupId": "nope"}))
            .await
            .unwrap_err(),
        "not_found"
    );
    let joined = owner.ok("group.joined", json!({})).await;
    assert_eq!(joined["groups"], json!([]));
}

#[tokio::test]
async fn a_member_who_leaves_and_comes_back_finds_only_what_came_after_unread() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    owner
        .ok(
            "group.create",
            json!({"type": "public", "groupId": "g-back", "name": "back", "joinPolicy": "free", "members": ["bob"]}),
        )
        .await;
    bob.ok("group.quit", json!({"groupId": "g-back"})).await;
    for i in 1..=3 {
        owner
            .ok(
                "msg.send",
                json!({"to": {"type": "group", "id": "g-back"}, "clientMsgId": format!("away-{i}"),
                       "body": [{"type": "text", "text": "while you were away"}]}),
            )
            .await;
    }
    // gone: no reading
    assert_eq!(
        outcome(&mut bob, "msg.history", json!({"conversationId": "GROUPg-back"}))
            .await
            .unwrap_err(),
        "forbidden"
    );
    bob.ok("group.apply", json!({"groupId": "g-back"})).await;
    let list = bob.ok("conv.list", json!({})).await;
    let entry = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["conversationId"] == "GROUPg-back")
        .unwrap()
        .clone();
    // only the tip of his own return may be unread; none of the three messages
    assert!(entry["unread"].as_u64().unwrap() <= 1, "{entry}");
    let history = bob
        .ok("msg.history", json!({"conversationId": "GROUPg-back"}))
        .await;
    assert!(
        history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["system"] == true),
        "a public group hides what was said before joining: {history}"
    );
}

#[tokio::test]
async fn guests_enter_live_rooms_to_receive_but_not_to_speak_and_nothing_else() {
    let stack = TestStack::start_with(crate::BACKEND, |config| config.limits.accounts.guests = true).await;
    let mut owner = stack.connect("owner").await;
    owner
        .ok(
            "group.create",
            json!({"type": "live", "groupId": "g-show", "name": "show"}),
        )
        .await;
    owner
        .ok(
            "group.create",
            json!({"type": "chatroom", "groupId": "g-room", "name": "room"}),
        )
        .await;
    let (status, guest) = stack.post("/v1/auth/guest", json!({})).await;
    assert_eq!(status, 200, "{guest}");
    let mut viewer = stack.connect_token(guest["userSig"].as_str().unwrap()).await;
    assert_eq!(
        viewer.ok("group.apply", json!({"groupId": "g-show"})).await["result"],
        "joined"
    );
    // only live rooms
    assert_eq!(
        outcome(&mut viewer, "group.apply", json!({"groupId": "g-room"}))
            .await
            .unwrap_err(),
        "guest_not_allowed"
    );
    // it receives
    owner
        .ok(
            "msg.send",
            json!({"to": {"type": "group", "id": "g-show"}, "clientMsgId": "live-1",
                   "body": [{"type": "text", "text": "welcome, everyone"}]}),
        )
        .await;
    let message = viewer.event("msg.new").await;
    assert_eq!(message["body"][0]["text"], "welcome, everyone");
    assert_eq!(message["conversationId"], "GROUPg-show");
    // it may not speak
    let send = json!({"to": {"type": "group", "id": "g-show"}, "clientMsgId": "g-1",
                      "body": [{"type": "text", "text": "hi"}]});
    assert_eq!(
        outcome(&mut viewer, "msg.send", send).await.unwrap_err(),
        "guest_not_allowed"
    );
    // the audience counts it (owner and guest)
    let info = viewer.ok("group.info", json!({"groupIds": ["g-show"]})).await;
    assert_eq!(info["groups"][0]["memberCount"], 2);
    viewer.ok("group.quit", json!({"groupId": "g-show"})).await;
    let info = owner.ok("group.info", json!({"groupIds": ["g-show"]})).await;
    assert_eq!(info["groups"][0]["memberCount"], 1);
}

#[tokio::test]
async fn a_live_room_fans_a_message_out_to_its_whole_audience() {
    // GIVEN a live room with 5,000 connections seated on the embedded backend (200 on moto,
    // whose one Python process answers about a thousand requests a second: each join there is
    // several calls)
    let (audience, at_once) = match crate::BACKEND {
        cirrus_tests::Backend::Sqlite => (5000, 250),
        cirrus_tests::Backend::Aws => (200, 20),
    };
    // (no join tips: this measures one message, not a backlog of tips)
    let stack = TestStack::start_with(crate::BACKEND, |config| config.limits.live_tip_audience = 0).await;
    let mut host = stack.connect("host").await;
    host.ok(
        "group.create",
        json!({"type": "live", "groupId": "g-big", "name": "big"}),
    )
    .await;
    let mut sockets = Vec::with_capacity(audience);
    let stack = &stack;
    for chunk in (0..audience).collect::<Vec<_>>().chunks(at_once) {
        let joins = chunk.iter().map(|i| {
            let token = stack.token(&format!("v{i}"));
            async move {
                let mut socket = stack
                    .connect_query(format!("token={token}"))
                    .await
                    .expect("connected");
                let joined = socket.ok("group.apply", json!({"groupId": "g-big"})).await;
                assert_eq!(joined["result"], "joined");
                socket
            }
        });
        sockets.extend(futures_util::future::join_all(joins).await);
    }
    let info = host.ok("group.info", json!({"groupIds": ["g-big"]})).await;
    assert_eq!(info["groups"][0]["memberCount"], audience + 1);

    // WHEN the host speaks
    let started = std::time::Instant::now();
    host.ok(
        "msg.send",
        json!({"to": {"type": "group", "id": "g-big"}, "clientMsgId": "to-all",
               "body": [{"type": "text", "text": "hello, room"}]}),
    )
    .await;

    // THEN every seated connection receives it, exactly once
    let receives = sockets.iter_mut().map(|socket| async move {
        loop {
            let message = socket.event("msg.new").await;
            if message.get("system").is_none() {
                return message;
            }
        }
    });
    let received = futures_util::future::join_all(receives).await;
    assert!(received.iter().all(|m| m["body"][0]["text"] == "hello, room"));
    println!(
        "live room fan-out: {audience} connections in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn ownership_member_profiles_generated_ids_and_the_groups_per_user_limit() {
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.max_groups_per_user = 2;
    })
    .await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    let mut carol = stack.connect("carol").await;
    // a generated id
    let created = owner
        .ok(
            "group.create",
            json!({"type": "public", "name": "generated", "members": ["bob", "carol"]}),
        )
        .await;
    let id = created["groupId"].as_str().unwrap().to_owned();
    assert!(id.starts_with('@'), "{id}");
    assert_eq!(created["memberCount"], 3);
    assert_eq!(created["role"], "owner");

    // name cards: one's own, and the owner's (or an admin's) for others; not a member's for others
    let card = bob
        .ok(
            "group.member_update",
            json!({"groupId": id, "nameCard": "Bobby", "custom": {"level": "3"}}),
        )
        .await;
    assert_eq!(card["nameCard"], "Bobby");
    assert_eq!(card["custom"], json!({"level": "3"}));
    assert_eq!(
        outcome(
            &mut carol,
            "group.member_update",
            json!({"groupId": id, "userId": "bob", "nameCard": "Bob the builder"})
        )
        .await
        .unwrap_err(),
        "forbidden"
    );
    owner
        .ok(
            "group.member_update",
            json!({"groupId": id, "userId": "carol", "nameCard": "Carol (guest speaker)"}),
        )
        .await;
    let too_long = "x".repeat(51);
    assert_eq!(
        outcome(
            &mut bob,
            "group.member_update",
            json!({"groupId": id, "nameCard": too_long})
        )
        .await
        .unwrap_err(),
        "invalid_field"
    );
    let members = bob.ok("group.members", json!({"groupId": id})).await;
    let cards: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["nameCard"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(cards, vec!["Bobby", "Carol (guest speaker)", ""]);

    // only the owner transfers; the new owner's role changes and the old owner's too
    assert_eq!(
        outcome(
            &mut bob,
            "group.transfer",
            json!({"groupId": id, "userId": "bob"})
        )
        .await
        .unwrap_err(),
        "forbidden"
    );
    owner
        .ok("group.transfer", json!({"groupId": id, "userId": "bob"}))
        .await;
    let info = owner.ok("group.info", json!({"groupIds": [id]})).await;
    assert_eq!(info["groups"][0]["owner"], "bob");
    assert_eq!(info["groups"][0]["role"], "member");
    // the former owner may now quit a public group, the new one may not
    assert_eq!(
        outcome(&mut bob, "group.quit", json!({"groupId": id}))
            .await
            .unwrap_err(),
        "forbidden"
    );
    owner.ok("group.quit", json!({"groupId": id})).await;

    // carol is in one group; she may join one more, not a third
    owner
        .ok(
            "group.create",
            json!({"type": "chatroom", "groupId": "g-2", "name": "two"}),
        )
        .await;
    owner
        .ok(
            "group.create",
            json!({"type": "chatroom", "groupId": "g-3", "name": "three"}),
        )
        .await;
    carol.ok("group.apply", json!({"groupId": "g-2"})).await;
    assert_eq!(
        outcome(&mut carol, "group.apply", json!({"groupId": "g-3"}))
            .await
            .unwrap_err(),
        "limit_exceeded"
    );
}

#[tokio::test]
async fn group_notifications_wait_for_offline_members() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    owner
        .ok(
            "group.create",
            json!({"type": "public", "groupId": "g-away", "name": "away", "members": ["dora"]}),
        )
        .await;
    // dora is offline when she is removed
    owner
        .ok(
            "group.kick",
            json!({"groupId": "g-away", "userIds": ["dora"], "reason": "inactive"}),
        )
        .await;
    let mut dora = stack.connect("dora").await;
    let kept = dora.ok("notify.list", json!({})).await;
    let notice = kept["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["event"] == "group.system")
        .expect("the kick was kept")
        .clone();
    assert_eq!(notice["data"]["type"], "kicked");
    assert_eq!(notice["data"]["groupId"], "g-away");
    assert_eq!(notice["data"]["reason"], "inactive");
}

#[tokio::test]
async fn a_large_groups_messages_fan_out_page_by_page_through_the_queue() {
    // GIVEN pages of 10 members, and a private group of 34 (the owner and 33), all online
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.group_fanout_page = 10;
    })
    .await;
    let mut owner = stack.connect("owner").await;
    let users: Vec<String> = (0..33).map(|i| format!("m{i:02}")).collect();
    owner
        .ok(
            "group.create",
            json!({"type": "private", "groupId": "g-large", "name": "large", "members": users}),
        )
        .await;
    let mut sockets = Vec::new();
    for user in &users {
        sockets.push(stack.connect(user).await);
    }
    // WHEN the owner sends
    owner
        .ok(
            "msg.send",
            json!({"to": {"type": "group", "id": "g-large"}, "clientMsgId": "big-1",
                   "body": [{"type": "text", "text": "to all 33"}]}),
        )
        .await;
    // THEN each member gets it once (four pages of the queue)
    for socket in &mut sockets {
        let message = socket.event("msg.new").await;
        assert_eq!(message["body"][0]["text"], "to all 33");
        socket.expect_no_event(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_live_room_tells_its_audience_of_quits_and_of_its_dismissal() {
    // GIVEN a live room with the owner and two seated viewers
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    let mut carol = stack.connect("carol").await;
    owner
        .ok(
            "group.create",
            json!({"type": "live", "groupId": "g-stage", "name": "stage"}),
        )
        .await;
    bob.ok("group.apply", json!({"groupId": "g-stage"})).await;
    carol.ok("group.apply", json!({"groupId": "g-stage"})).await;
    // WHEN carol quits THEN the audience is told, as the matrix says member changes are in live rooms
    carol.ok("group.quit", json!({"groupId": "g-stage"})).await;
    let quit = loop {
        let tip = bob.event("msg.system").await;
        let data: Value = serde_json::from_str(tip["body"][0]["data"].as_str().unwrap()).unwrap();
        if data["tip"] == "member_quit" {
            break data;
        }
    };
    assert_eq!(quit["users"], json!(["carol"]));
    // WHEN the app administrator dismisses the room THEN every seated viewer is told
    let mut admin = stack.connect("administrator").await;
    admin.ok("group.dismiss", json!({"groupId": "g-stage"})).await;
    let notice = bob.event("group.system").await;
    assert_eq!(notice["type"], "dismissed");
    assert_eq!(notice["groupId"], "g-stage");
    let notice = owner.event("group.system").await;
    assert_eq!(notice["type"], "dismissed");
    // AND the room is gone for everyone
    assert_eq!(
        outcome(
            &mut bob,
            "msg.send",
            json!({"to": {"type": "group", "id": "g-stage"}, "clientMsgId": "late",
                   "body": [{"type": "text", "text": "hello?"}]}),
        )
        .await
        .unwrap_err(),
        "not_found"
    );
}

/// The user ids of a group's pending requests, as the owner lists them.
async fn pending(owner: &mut TestSocket, group: &str) -> Vec<String> {
    let listed = owner.ok("group.requests", json!({"groupId": group})).await;
    listed["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_refused_approval_or_acceptance_into_a_full_group_leaves_the_request_pending() {
    // GIVEN a full public group of two (the owner and bob), carol's application and dave's
    // invitation
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut carol = stack.connect("carol").await;
    let mut dave = stack.connect("dave").await;
    owner
        .ok(
            "group.create",
            json!({"type": "public", "groupId": "g-full", "name": "full", "maxMembers": 2, "members": ["bob"]}),
        )
        .await;
    carol.ok("group.apply", json!({"groupId": "g-full"})).await;
    owner
        .ok("group.invite", json!({"groupId": "g-full", "userIds": ["dave"]}))
        .await;
    // WHEN the owner approves carol and dave accepts THEN both are refused for the cap
    assert_eq!(
        outcome(
            &mut owner,
            "group.respond",
            json!({"groupId": "g-full", "userId": "carol", "accept": true})
        )
        .await
        .unwrap_err(),
        "limit_exceeded"
    );
    assert_eq!(
        outcome(
            &mut dave,
            "group.respond",
            json!({"groupId": "g-full", "userId": "dave", "accept": true})
        )
        .await
        .unwrap_err(),
        "limit_exceeded"
    );
    // AND nothing changed: both requests still wait, nobody joined
    assert_eq!(pending(&mut owner, "g-full").await, vec!["carol", "dave"]);
    let info = owner.ok("group.info", json!({"groupIds": ["g-full"]})).await;
    assert_eq!(info["groups"][0]["memberCount"], 2);
    // WHEN there is room again THEN the same approval goes through and takes the request
    owner
        .ok("group.kick", json!({"groupId": "g-full", "userIds": ["bob"]}))
        .await;
    owner
        .ok(
            "group.respond",
            json!({"groupId": "g-full", "userId": "carol", "accept": true}),
        )
        .await;
    assert_eq!(pending(&mut owner, "g-full").await, vec!["dave"]);
    carol.ok("group.members", json!({"groupId": "g-full"})).await;
}

#[tokio::test]
async fn live_rooms_a_user_owns_do_not_count_towards_the_groups_limit() {
    // GIVEN one group per user, and an owner of two live rooms
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.max_groups_per_user = 1;
    })
    .await;
    let mut owner = stack.connect("owner").await;
    for id in ["g-live-1", "g-live-2"] {
        owner
            .ok("group.create", json!({"type": "live", "groupId": id, "name": id}))
            .await;
    }
    // WHEN they create a public group THEN it is their first group that counts
    owner
        .ok(
            "group.create",
            json!({"type": "public", "groupId": "g-counted", "name": "counted"}),
        )
        .await;
    // AND a second one passes the limit
    assert_eq!(
        outcome(
            &mut owner,
            "group.create",
            json!({"type": "chatroom", "groupId": "g-over", "name": "over"})
        )
        .await
        .unwrap_err(),
        "limit_exceeded"
    );
}

/// The data of the next group tip `socket` gets other than `created`.
async fn next_tip(socket: &mut TestSocket) -> Value {
    loop {
        let tip = socket.event("msg.system").await;
        let data: Value = serde_json::from_str(tip["body"][0]["data"].as_str().unwrap()).unwrap();
        if data["tip"] != "created" {
            assert!(tip["body"][0]["desc"].as_str().is_some_and(|d| !d.is_empty()));
            return data;
        }
    }
}

#[tokio::test]
async fn profile_tips_say_which_fields_changed_and_their_new_values() {
    // GIVEN a public group with bob online
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    owner
        .ok(
            "group.create",
            json!({"type": "public", "groupId": "g-tips", "name": "before", "notice": "old", "members": ["bob"]}),
        )
        .await;
    // WHEN the owner renames it THEN the tip says it was the name, and the new one
    owner
        .ok("group.update", json!({"groupId": "g-tips", "name": "after"}))
        .await;
    let tip = next_tip(&mut bob).await;
    assert_eq!(tip["tip"], "profile_changed");
    assert_eq!(tip["by"], "owner");
    assert_eq!(tip["changes"], json!({"name": "after"}));
    // WHEN several fields change, one is cleared and one is given unchanged THEN the tip names
    // exactly the changed ones with their new values (null: cleared)
    owner
        .ok(
            "group.update",
            json!({"groupId": "g-tips", "name": "after", "notice": null, "introduction": "hi",
                   "avatar": "https://example.com/a.png", "joinPolicy": "free"}),
        )
        .await;
    let tip = next_tip(&mut bob).await;
    assert_eq!(
        tip["changes"],
        json!({"notice": null, "introduction": "hi", "avatar": "https://example.com/a.png", "joinPolicy": "free"})
    );
    // WHEN everyone is muted THEN the tip says so
    owner
        .ok("group.mute_all", json!({"groupId": "g-tips", "muted": true}))
        .await;
    let tip = next_tip(&mut bob).await;
    assert_eq!(tip["tip"], "muted_all");
    assert_eq!(tip["changes"], json!({"muteAll": true}));
    // WHEN an update changes nothing THEN no tip is posted
    owner
        .ok("group.update", json!({"groupId": "g-tips", "name": "after"}))
        .await;
    owner
        .ok("group.mute_all", json!({"groupId": "g-tips", "muted": false}))
        .await;
    let tip = next_tip(&mut bob).await;
    assert_eq!(
        tip["tip"], "unmuted_all",
        "the unchanged update posted nothing before it"
    );
    assert_eq!(tip["changes"], json!({"muteAll": false}));
}

#[tokio::test]
async fn settings_a_group_type_cannot_apply_are_refused_and_change_nothing() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    // GIVEN settings a type cannot apply WHEN a group is created with them THEN it is refused
    for (kind, setting) in [
        ("private", json!({"joinPolicy": "free"})),
        ("private", json!({"joinPolicy": "need_approval"})),
        ("live", json!({"joinPolicy": "need_approval"})),
        ("live", json!({"joinPolicy": "forbidden"})),
        ("live", json!({"maxMembers": 100})),
        ("public", json!({"maxMembers": 20_000})),
    ] {
        let mut data = json!({"type": kind, "groupId": "g-set", "name": "settings"});
        for (key, value) in setting.as_object().unwrap() {
            data[key] = value.clone();
        }
        let refused = outcome(&mut owner, "group.create", data).await;
        assert_eq!(refused.unwrap_err(), "invalid_field", "{kind} {setting}");
    }
    // AND nothing was created: the id is free, and the app's cap is taken as asked
    let made = owner
        .ok(
            "group.create",
            json!({"type": "public", "groupId": "g-set", "name": "settings", "maxMembers": 10_000}),
        )
        .await;
    assert_eq!(made["maxMembers"], 10_000);
    // WHEN an existing group is given a policy its type cannot apply THEN it is refused and kept
    for (kind, policy, kept) in [
        ("private", "free", "forbidden"),
        ("live", "need_approval", "free"),
    ] {
        let id = format!("g-{kind}-policy");
        owner
            .ok("group.create", json!({"type": kind, "groupId": id, "name": kind}))
            .await;
        let refused = outcome(
            &mut owner,
            "group.update",
            json!({"groupId": id, "joinPolicy": policy, "name": "renamed"}),
        )
        .await;
        assert_eq!(refused.unwrap_err(), "invalid_field", "{kind}");
        let info = owner.ok("group.info", json!({"groupIds": [id]})).await;
        assert_eq!(info["groups"][0]["joinPolicy"], kept, "{kind}");
        assert_eq!(info["groups"][0]["name"], kind, "{kind}: nothing else changed");
    }
}

#[tokio::test]
async fn group_info_shows_the_creator_after_a_transfer() {
    // GIVEN a public group created by the owner, handed to bob
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    let created = owner
        .ok(
            "group.create",
            json!({"type": "public", "groupId": "g-heir", "name": "heir", "members": ["bob"]}),
        )
        .await;
    assert_eq!(created["creator"], "owner");
    owner
        .ok("group.transfer", json!({"groupId": "g-heir", "userId": "bob"}))
        .await;
    // WHEN anyone reads it THEN bob owns it and the owner still created it
    for socket in [&mut owner, &mut bob] {
        let info = socket.ok("group.info", json!({"groupIds": ["g-heir"]})).await;
        assert_eq!(info["groups"][0]["owner"], "bob");
        assert_eq!(info["groups"][0]["creator"], "owner");
    }
    let mut stranger = stack.connect("stranger").await;
    let info = stranger.ok("group.info", json!({"groupIds": ["g-heir"]})).await;
    assert_eq!(info["groups"][0]["creator"], "owner", "part of the public view");
}

#[tokio::test]
async fn live_room_viewers_can_be_muted_and_the_mute_outlasts_their_seat() {
    // GIVEN a live room with two seated viewers
    let stack = TestStack::start(crate::BACKEND).await;
    let mut owner = stack.connect("owner").await;
    let mut bob = stack.connect("bob").await;
    let mut carol = stack.connect("carol").await;
    owner
        .ok(
            "group.create",
            json!({"type": "live", "groupId": "g-quiet", "name": "quiet"}),
        )
        .await;
    bob.ok("group.apply", json!({"groupId": "g-quiet"})).await;
    carol.ok("group.apply", json!({"groupId": "g-quiet"})).await;
    let send = |n: &str| json!({"to": {"type": "group", "id": "g-quiet"}, "clientMsgId": n, "body": [{"type": "text", "text": n}]});
    bob.ok("msg.send", send("bob-1")).await;
    // WHEN the owner mutes bob for a minute THEN it is answered with its end, and bob is told
    let before = cirrus_tests::now_secs() * 1000;
    let muted = owner
        .ok(
            "group.mute",
            json!({"groupId": "g-quiet", "userId": "bob", "seconds": 60}),
        )
        .await;
    let until = muted["mutedUntil"].as_i64().unwrap();
    assert!(until >= before + 59_000 && until <= before + 62_000, "{until}");
    let notice = bob.event("group.system").await;
    assert_eq!(notice["type"], "muted");
    // AND bob's messages are refused as a muted member's are; carol still speaks
    assert_eq!(
        outcome(&mut bob, "msg.send", send("bob-2")).await.unwrap_err(),
        "muted"
    );
    carol.ok("msg.send", send("carol-1")).await;
    // WHEN bob leaves and comes back THEN he is still muted
    bob.ok("group.quit", json!({"groupId": "g-quiet"})).await;
    bob.ok("group.apply", json!({"groupId": "g-quiet"})).await;
    assert_eq!(
        outcome(&mut bob, "msg.send", send("bob-3")).await.unwrap_err(),
        "muted"
    );
    // AND a viewer may not mute, nor the owner be muted
    assert_eq!(
        outcome(
            &mut carol,
            "group.mute",
            json!({"groupId": "g-quiet", "userId": "bob", "seconds": 60})
        )
        .await
        .unwrap_err(),
        "forbidden"
    );
    assert_eq!(
        outcome(
            &mut owner,
            "group.mute",
            json!({"groupId": "g-quiet", "userId": "owner", "seconds": 60})
        )
        .await
        .unwrap_err(),
        "forbidden"
    );
    // WHEN the owner lifts the mute THEN bob speaks again
    owner
        .ok(
            "group.mute",
            json!({"groupId": "g-quiet", "userId": "bob", "seconds": 0}),
        )
        .await;
    bob.ok("msg.send", send("bob-4")).await;
    // WHEN carol is muted for a second THEN she is muted, and speaks again once it ends (asked
    // until it has, within a deadline: the mute's end is the condition waited for)
    owner
        .ok(
            "group.mute",
            json!({"groupId": "g-quiet", "userId": "carol", "seconds": 1}),
        )
        .await;
    assert_eq!(
        outcome(&mut carol, "msg.send", send("carol-2"))
            .await
            .unwrap_err(),
        "muted"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match outcome(&mut carol, "msg.send", send(&format!("carol-after-{attempt}"))).await {
            Ok(_) => break,
            Err(code) => {
                assert_eq!(code, "muted");
                assert!(tokio::time::Instant::now() < deadline, "the mute did not end");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
