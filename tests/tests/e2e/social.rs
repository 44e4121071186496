//! Profiles and the relationship chain: profile fields, search, each friend-verification mode,
//! the request lifecycle with its events, deleting, checking, listing and remarks.

use cirrus_tests::{TestSocket, TestStack};
use serde_json::{Value, json};

/// Connects each user once (creating their account) and returns the sockets.
async fn users<const N: usize>(stack: &TestStack, names: [&str; N]) -> [TestSocket; N] {
    let mut sockets = Vec::with_capacity(N);
    for name in names {
        sockets.push(stack.connect(name).await);
    }
    sockets.try_into().unwrap_or_else(|_| unreachable!())
}

async fn allow(socket: &mut TestSocket, allow_type: &str) {
    socket.ok("profile.set", json!({"allowType": allow_type})).await;
}

async fn relation(socket: &mut TestSocket, peer: &str) -> Value {
    let reply = socket.ok("friend.check", json!({"userIds": [peer]})).await;
    reply["relations"][0]["relation"].clone()
}

#[tokio::test]
async fn profiles_are_set_read_in_batches_and_searched_by_nickname() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, mut ben] = users(&stack, ["ann", "ben"]).await;
    // GIVEN ann sets every kind of field
    let set = ann
        .ok(
            "profile.set",
            json!({"nickname": "Annabel", "faceUrl": "https://example.com/a.png", "gender": "female",
                   "birthday": 19900214, "signature": "hi", "location": "Lisbon",
                   "allowType": "allow_any", "custom": {"level": "7", "team": "blue"}}),
        )
        .await;
    assert_eq!(set["nickname"], "Annabel");
    // WHEN she clears one field and one custom key
    ann.ok(
        "profile.set",
        json!({"signature": null, "custom": {"team": null}}),
    )
    .await;
    // THEN ben reads both profiles in one call, with an unknown id listed apart
    let got = ben
        .ok("profile.get", json!({"userIds": ["ann", "ben", "nobody"]}))
        .await;
    let profile = &got["profiles"][0];
    assert_eq!(profile["userId"], "ann");
    assert_eq!(profile["gender"], "female");
    assert_eq!(profile["birthday"], 19900214);
    assert!(profile.get("signature").is_none(), "{profile}");
    assert_eq!(profile["custom"], json!({"level": "7"}));
    assert_eq!(profile["allowType"], "allow_any");
    assert_eq!(got["profiles"][1]["userId"], "ben");
    assert_eq!(got["profiles"][1]["allowType"], "need_confirm");
    assert_eq!(got["notFound"], json!(["nobody"]));
    // AND his own profile is the default
    let own = ben.ok("profile.get", json!({})).await;
    assert_eq!(own["profiles"][0]["userId"], "ben");
    // AND search finds ann by a nickname prefix in any case, and by id, but not by a middle part
    ben.ok("profile.set", json!({"nickname": "Benedict"})).await;
    for prefix in ["ann", "ANNA", "Annabel"] {
        let found = ben.ok("user.search", json!({"nickname": prefix})).await;
        assert_eq!(found["users"].as_array().unwrap().len(), 1, "{prefix}: {found}");
        assert_eq!(found["users"][0]["userId"], "ann");
    }
    let none = ben.ok("user.search", json!({"nickname": "bel"})).await;
    assert_eq!(none["users"], json!([]));
    let by_id = ben.ok("user.search", json!({"userId": "ann"})).await;
    assert_eq!(by_id["users"][0]["nickname"], "Annabel");
    // AND a renamed user is found under the new name only
    ann.ok("profile.set", json!({"nickname": "Zoe"})).await;
    assert_eq!(
        ben.ok("user.search", json!({"nickname": "ann"})).await["users"],
        json!([])
    );
    assert_eq!(
        ben.ok("user.search", json!({"nickname": "zo"})).await["users"][0]["userId"],
        "ann"
    );
}

#[tokio::test]
async fn bad_profile_input_gets_its_code_and_changes_nothing() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann] = users(&stack, ["ann"]).await;
    ann.ok("profile.set", json!({"nickname": "Ann"})).await;
    let too_many: serde_json::Map<String, Value> = (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (data, code) in [
        (json!({"birthday": 19901301}), "invalid_field"),
        (json!({"nickname": "x".repeat(101)}), "invalid_field"),
        (json!({"custom": {"bad key": "v"}}), "invalid_field"),
        (json!({"custom": too_many}), "limit_exceeded"),
        (json!({"gender": "other"}), "invalid_field"),
        (json!({"allowType": "maybe"}), "invalid_field"),
        (json!({"unknownField": 1}), "invalid_field"),
    ] {
        assert_eq!(ann.err("profile.set", data.clone()).await, code, "{data}");
    }
    assert_eq!(
        ann.ok("profile.get", json!({})).await["profiles"][0]["nickname"],
        "Ann"
    );
    for (data, code) in [
        (json!({"nickname": ""}), "invalid_field"),
        (json!({"nickname": "a", "userId": "b"}), "invalid_field"),
        (json!({}), "invalid_field"),
    ] {
        assert_eq!(ann.err("user.search", data.clone()).await, code, "{data}");
    }
}

#[tokio::test]
async fn a_user_who_allows_anyone_is_added_at_once_and_one_who_denies_all_never() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, mut ben, mut cat] = users(&stack, ["ann", "ben", "cat"]).await;
    allow(&mut ben, "allow_any").await;
    allow(&mut cat, "deny_any").await;
    // WHEN ann adds ben, with a remark and a group
    let added = ann
        .ok(
            "friend.add",
            json!({"userId": "ben", "remark": "Benny", "groups": ["work"]}),
        )
        .await;
    // THEN they are friends both ways at once, and both sides are told
    assert_eq!(added["result"], "added");
    assert_eq!(ben.event("friend.added").await, json!({"userId": "ann"}));
    assert_eq!(ann.event("friend.added").await, json!({"userId": "ben"}));
    assert_eq!(relation(&mut ann, "ben").await, "both");
    assert_eq!(relation(&mut ben, "ann").await, "both");
    let list = ann.ok("friend.list", json!({})).await;
    assert_eq!(list["friends"][0]["remark"], "Benny");
    assert_eq!(list["friends"][0]["groups"], json!(["work"]));
    // AND adding him again is refused; cat takes nobody; self, strangers and bad ids have codes
    assert_eq!(
        ann.err("friend.add", json!({"userId": "ben"})).await,
        "already_friends"
    );
    assert_eq!(
        ann.err("friend.add", json!({"userId": "cat"})).await,
        "friend_add_denied"
    );
    assert_eq!(relation(&mut ann, "cat").await, "none");
    assert_eq!(
        ann.err("friend.add", json!({"userId": "ann"})).await,
        "invalid_field"
    );
    assert_eq!(
        ann.err("friend.add", json!({"userId": "nobody"})).await,
        "not_found"
    );
    assert_eq!(
        ann.err("friend.add", json!({"userId": "no spaces"})).await,
        "invalid_user_id"
    );
}

#[tokio::test]
async fn a_request_is_told_listed_and_accepted() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, mut ben] = users(&stack, ["ann", "ben"]).await;
    // WHEN ann asks ben (who confirms by default), with a reason
    let asked = ann
        .ok(
            "friend.add",
            json!({"userId": "ben", "reason": "we met at the conference"}),
        )
        .await;
    assert_eq!(asked["result"], "pending");
    // THEN ben is told live, and the request is listed on both sides
    let told = ben.event("friend.request").await;
    assert_eq!(
        (told["from"].as_str(), told["reason"].as_str()),
        (Some("ann"), Some("we met at the conference"))
    );
    let incoming = ben.ok("friend.requests", json!({"direction": "incoming"})).await;
    assert_eq!(incoming["requests"][0]["from"], "ann");
    let outgoing = ann.ok("friend.requests", json!({"direction": "outgoing"})).await;
    assert_eq!(outgoing["requests"][0]["to"], "ben");
    assert_eq!(relation(&mut ann, "ben").await, "none");
    // WHEN ben accepts with a remark
    ben.ok(
        "friend.accept",
        json!({"userId": "ann", "remark": "Ann from the conference"}),
    )
    .await;
    // THEN ann learns it, both are friends, and the request is gone
    assert_eq!(
        ann.event("friend.request_accepted").await,
        json!({"userId": "ben"})
    );
    assert_eq!(ann.event("friend.added").await, json!({"userId": "ben"}));
    assert_eq!(relation(&mut ben, "ann").await, "both");
    let incoming = ben.ok("friend.requests", json!({"direction": "incoming"})).await;
    assert_eq!(incoming["requests"], json!([]));
    let list = ben.ok("friend.list", json!({})).await;
    assert_eq!(list["friends"][0]["remark"], "Ann from the conference");
    // AND accepting a request that does not exist is not_found
    assert_eq!(
        ben.err("friend.accept", json!({"userId": "ann"})).await,
        "not_found"
    );
}

#[tokio::test]
async fn a_request_made_while_offline_is_fetched_after_reconnecting() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, ben] = users(&stack, ["ann", "ben"]).await;
    ben.close().await;
    ann.ok("friend.add", json!({"userId": "ben", "reason": "hello"}))
        .await;
    let mut ben = stack.connect("ben").await;
    let incoming = ben.ok("friend.requests", json!({"direction": "incoming"})).await;
    assert_eq!(incoming["requests"][0]["from"], "ann");
    assert_eq!(incoming["requests"][0]["reason"], "hello");
}

#[tokio::test]
async fn a_request_can_be_rejected_or_withdrawn_and_a_crossed_request_is_an_acceptance() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, mut ben, mut cat] = users(&stack, ["ann", "ben", "cat"]).await;
    // ben rejects ann's request: ann is told
    ann.ok("friend.add", json!({"userId": "ben"})).await;
    ben.event("friend.request").await;
    ben.ok("friend.reject", json!({"userId": "ann"})).await;
    assert_eq!(
        ann.event("friend.request_rejected").await,
        json!({"userId": "ben"})
    );
    assert_eq!(
        ben.err("friend.reject", json!({"userId": "ann"})).await,
        "not_found"
    );
    // ann withdraws her request to cat: cat is told
    ann.ok("friend.add", json!({"userId": "cat"})).await;
    cat.event("friend.request").await;
    ann.ok("friend.withdraw", json!({"userId": "cat"})).await;
    assert_eq!(
        cat.event("friend.request_deleted").await,
        json!({"userId": "ann"})
    );
    assert_eq!(
        cat.ok("friend.requests", json!({"direction": "incoming"})).await["requests"],
        json!([])
    );
    // cat asks ben, then ben "adds" cat: that accepts the pending request
    cat.ok("friend.add", json!({"userId": "ben"})).await;
    ben.event("friend.request").await;
    let crossed = ben.ok("friend.add", json!({"userId": "cat"})).await;
    assert_eq!(crossed["result"], "added");
    assert_eq!(
        cat.event("friend.request_accepted").await,
        json!({"userId": "ben"})
    );
    assert_eq!(relation(&mut cat, "ben").await, "both");
}

#[tokio::test]
async fn friends_are_deleted_one_way_or_both_and_the_lists_page() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, mut ben, mut cat, mut dan] = users(&stack, ["ann", "ben", "cat", "dan"]).await;
    for peer in [&mut ben, &mut cat, &mut dan] {
        allow(peer, "allow_any").await;
    }
    for peer in ["ben", "cat", "dan"] {
        ann.ok("friend.add", json!({"userId": peer})).await;
    }
    // The list pages by user id, with profiles on request.
    let first = ann
        .ok("friend.list", json!({"limit": 2, "withProfiles": true}))
        .await;
    let ids: Vec<&str> = first["friends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["userId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ben", "cat"]);
    assert_eq!(first["friends"][0]["profile"]["allowType"], "allow_any");
    let second = ann
        .ok("friend.list", json!({"limit": 2, "cursor": first["cursor"]}))
        .await;
    assert_eq!(second["friends"][0]["userId"], "dan");
    assert!(second.get("cursor").is_none(), "{second}");
    // One way: ann drops ben from her list only, and is told; ben still has her.
    let deleted = ann
        .ok("friend.delete", json!({"userIds": ["ben"], "both": false}))
        .await;
    assert_eq!(deleted["results"], json!([{"userId": "ben", "deleted": true}]));
    assert_eq!(relation(&mut ann, "ben").await, "reverse_one_way");
    assert_eq!(relation(&mut ben, "ann").await, "one_way");
    // Both ways (the default): cat is told too.
    ann.ok("friend.delete", json!({"userIds": ["cat", "nobody"]}))
        .await;
    assert_eq!(cat.event("friend.deleted").await, json!({"userId": "ann"}));
    assert_eq!(relation(&mut cat, "ann").await, "none");
}

#[tokio::test]
async fn remarks_and_groups_change_and_profile_changes_reach_friends() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, mut ben, mut cat] = users(&stack, ["ann", "ben", "cat"]).await;
    allow(&mut ben, "allow_any").await;
    ann.ok("friend.add", json!({"userId": "ben"})).await;
    let changed = ann
        .ok(
            "friend.remark",
            json!({"userId": "ben", "remark": "B", "groups": ["family", "family", "gym"]}),
        )
        .await;
    assert_eq!(
        (changed["remark"].as_str(), &changed["groups"]),
        (Some("B"), &json!(["family", "gym"]))
    );
    assert_eq!(
        ann.err("friend.remark", json!({"userId": "cat", "remark": "C"}))
            .await,
        "not_found"
    );
    // ben's new nickname reaches his friend ann, not cat.
    ben.ok("profile.set", json!({"nickname": "Benjamin"})).await;
    let told = ann.event("profile.changed").await;
    assert_eq!(
        (told["userId"].as_str(), told["nickname"].as_str()),
        (Some("ben"), Some("Benjamin"))
    );
    cat.expect_no_event(std::time::Duration::from_millis(300)).await;
}

#[tokio::test]
async fn the_friend_limit_holds_on_both_sides() {
    let stack = TestStack::start_with(crate::BACKEND, |config| config.limits.max_friends = 1).await;
    let [mut ann, mut ben, mut cat] = users(&stack, ["ann", "ben", "cat"]).await;
    allow(&mut ben, "allow_any").await;
    allow(&mut cat, "allow_any").await;
    ann.ok("friend.add", json!({"userId": "ben"})).await;
    assert_eq!(
        ann.err("friend.add", json!({"userId": "cat"})).await,
        "limit_exceeded"
    );
    assert_eq!(
        cat.err("friend.add", json!({"userId": "ben"})).await,
        "limit_exceeded"
    );
    assert_eq!(relation(&mut cat, "ben").await, "none");
}

#[tokio::test]
async fn the_app_server_sets_profiles_and_manages_friends_through_the_rest_api() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, mut ben, _cat] = users(&stack, ["ann", "ben", "cat"]).await;
    // Profiles in Tencent's tags, standard and custom.
    stack
        .admin(
            "profile/portrait_set",
            json!({"From_Account": "ann", "ProfileItem": [
                {"Tag": "Tag_Profile_IM_Nick", "Value": "Annabel"},
                {"Tag": "Tag_Profile_IM_AllowType", "Value": "AllowType_Type_DenyAny"},
                {"Tag": "Tag_Profile_Custom_level", "Value": "7"}]}),
        )
        .await;
    let got = stack
        .admin("profile/portrait_get", json!({"To_Account": ["ann", "nobody"]}))
        .await;
    let tags = &got["UserProfileItem"][0]["ProfileItem"];
    assert!(
        tags.as_array()
            .unwrap()
            .contains(&json!({"Tag": "Tag_Profile_IM_Nick", "Value": "Annabel"})),
        "{got}"
    );
    assert!(
        tags.as_array()
            .unwrap()
            .contains(&json!({"Tag": "Tag_Profile_Custom_level", "Value": "7"})),
        "{got}"
    );
    assert_eq!(got["Fail_Account"], json!(["nobody"]));
    assert_eq!(
        ann.ok("profile.get", json!({})).await["profiles"][0]["allowType"],
        "deny_any"
    );
    let admin = stack.token("administrator");
    let bad = stack
        .rest_as(
            "administrator",
            &admin,
            "profile/portrait_set",
            json!({"From_Account": "ann", "ProfileItem": [{"Tag": "Tag_Unknown", "Value": 1}]}),
        )
        .await;
    assert_eq!(bad["ErrorCode"], 70402);
    // A forced add skips ann's deny-all setting, both ways; each side is told.
    let added = stack
        .admin(
            "sns/friend_add",
            json!({"From_Account": "ben", "AddFriendItem": [
                {"To_Account": "ann", "Remark": "Annie"}, {"To_Account": "nobody"}]}),
        )
        .await;
    assert_eq!(added["ResultItem"][0]["ResultCode"], 0);
    assert_eq!(added["ResultItem"][1]["ResultCode"], 70107);
    assert_eq!(ann.event("friend.added").await, json!({"userId": "ben"}));
    assert_eq!(relation(&mut ben, "ann").await, "both");
    // An import is one way.
    stack
        .admin(
            "sns/friend_import",
            json!({"From_Account": "cat", "AddFriendItem": [{"To_Account": "ann"}]}),
        )
        .await;
    assert_eq!(relation(&mut ann, "cat").await, "reverse_one_way");
    // The list, then a one-way delete.
    let list = stack
        .admin("sns/friend_get", json!({"From_Account": "ben"}))
        .await;
    assert_eq!(list["UserDataItem"][0]["To_Account"], "ann");
    assert_eq!(
        list["UserDataItem"][0]["ValueItem"][0],
        json!({"Tag": "Tag_SNS_IM_Remark", "Value": "Annie"})
    );
    assert_eq!(list["CompleteFlag"], 1);
    let deleted = stack
        .admin(
            "sns/friend_delete",
            json!({"From_Account": "ben", "To_Account": ["ann", "cat"], "DeleteType": "Delete_Type_Single"}),
        )
        .await;
    assert_eq!(
        deleted["ResultItem"],
        json!([{"To_Account": "ann", "ResultCode": 0}, {"To_Account": "cat", "ResultCode": 70107}])
    );
    assert_eq!(relation(&mut ben, "ann").await, "reverse_one_way");
}

#[tokio::test]
async fn blocking_ends_the_friendship_and_keeps_the_blocked_user_out() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, mut ben, mut cat] = users(&stack, ["ann", "ben", "cat"]).await;
    // GIVEN ben is ann's friend and cat has asked to be
    allow(&mut ann, "allow_any").await;
    ben.ok("friend.add", json!({"userId": "ann"})).await;
    allow(&mut ann, "need_confirm").await;
    cat.ok("friend.add", json!({"userId": "ann", "reason": "hello?"}))
        .await;
    // WHEN ann blocks ben and cat
    let blocked = ann.ok("block.add", json!({"userIds": ["ben", "cat"]})).await;
    assert_eq!(blocked["blocked"].as_array().unwrap().len(), 2);
    // THEN the friendship is gone both ways (ben told), and no request is left
    assert_eq!(ben.event("friend.deleted").await, json!({"userId": "ann"}));
    assert_eq!(relation(&mut ben, "ann").await, "none");
    let incoming = ann.ok("friend.requests", json!({"direction": "incoming"})).await;
    assert_eq!(incoming["requests"], json!([]));
    // AND ben can neither message nor befriend ann, and is not told why
    assert_eq!(
        ben.err(
            "msg.send",
            json!({"to": {"type": "c2c", "id": "ann"}, "clientMsgId": "b1",
                                   "body": [{"type": "text", "text": "hi"}]})
        )
        .await,
        "peer_refused"
    );
    assert_eq!(
        ben.err("friend.add", json!({"userId": "ann"})).await,
        "friend_add_denied"
    );
    // AND ann's side says blocked: she may still write to ben, but not befriend him without unblocking
    ann.send_text("ben", "a1", "you are blocked").await;
    assert_eq!(ann.err("friend.add", json!({"userId": "ben"})).await, "blocked");
    let check = ann.ok("block.check", json!({"userIds": ["ben", "dan"]})).await;
    assert_eq!(
        check["results"],
        json!([{"userId": "ben", "blocked": true}, {"userId": "dan", "blocked": false}])
    );
    let list = ann.ok("block.list", json!({"limit": 1})).await;
    assert_eq!(list["blocked"][0]["userId"], "ben");
    assert_eq!(list["cursor"], "ben");
    // AND ben cannot see that he is blocked through block.check (it answers for his own list)
    let his = ben.ok("block.check", json!({"userIds": ["ann"]})).await;
    assert_eq!(his["results"][0]["blocked"], false);
    // WHEN ann unblocks ben, he may message her again
    let removed = ann.ok("block.remove", json!({"userIds": ["ben", "dan"]})).await;
    assert_eq!(
        removed["results"],
        json!([{"userId": "ben", "removed": true}, {"userId": "dan", "removed": false}])
    );
    ben.send_text("ann", "b2", "thanks").await;
    assert_eq!(
        ann.err("block.add", json!({"userIds": ["ann"]})).await,
        "invalid_field"
    );
}

#[tokio::test]
async fn the_blacklist_is_bounded() {
    let stack = TestStack::start_with(crate::BACKEND, |config| config.limits.max_blocks = 2).await;
    let [mut ann] = users(&stack, ["ann"]).await;
    ann.ok("block.add", json!({"userIds": ["u1", "u2"]})).await;
    assert_eq!(
        ann.err("block.add", json!({"userIds": ["u3"]})).await,
        "limit_exceeded"
    );
    ann.ok("block.add", json!({"userIds": ["u1"]})).await; // already blocked: no new entry
}

#[tokio::test]
async fn relationship_events_are_kept_to_fetch_after_being_offline() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, ben] = users(&stack, ["ann", "ben"]).await;
    ben.close().await;
    // WHILE ben is offline: ann asks him, withdraws, asks again
    ann.ok("friend.add", json!({"userId": "ben", "reason": "hi"}))
        .await;
    ann.ok("friend.withdraw", json!({"userId": "ben"})).await;
    ann.ok("friend.add", json!({"userId": "ben", "reason": "hi again"}))
        .await;
    // THEN ben fetches the three events in order when he is back, paging
    let mut ben = stack.connect("ben").await;
    let first = ben.ok("notify.list", json!({"limit": 2})).await;
    let events: Vec<&str> = first["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["friend.request", "friend.request_deleted"]);
    assert_eq!(first["notifications"][0]["data"]["reason"], "hi");
    let rest = ben.ok("notify.list", json!({"after": first["cursor"]})).await;
    assert_eq!(rest["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(rest["notifications"][0]["data"]["reason"], "hi again");
    assert!(rest.get("cursor").is_none(), "{rest}");
}

#[tokio::test]
async fn the_app_server_fills_recommendations_that_the_user_reads_and_dismisses() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, mut ben, _cat, _dan] = users(&stack, ["ann", "ben", "cat", "dan"]).await;
    allow(&mut ben, "allow_any").await;
    let added = stack
        .admin(
            "sns/recommend_add",
            json!({"From_Account": "ann", "RecommendItem": [
                {"To_Account": "ben", "Reason": "same school"}, {"To_Account": "cat"},
                {"To_Account": "dan"}, {"To_Account": "nobody"}]}),
        )
        .await;
    assert_eq!(added["ResultItem"][3]["ResultCode"], 70107);
    let page = ann.ok("friend.recommendations", json!({"limit": 2})).await;
    let ids: Vec<&str> = page["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ben", "cat"]);
    assert_eq!(page["recommendations"][0]["reason"], "same school");
    // Dismissing one, and befriending another, both take them out of the buffer.
    let dismissed = ann.ok("friend.dismiss", json!({"userIds": ["cat", "zed"]})).await;
    assert_eq!(
        dismissed["results"],
        json!([{"userId": "cat", "dismissed": true}, {"userId": "zed", "dismissed": false}])
    );
    ann.ok("friend.add", json!({"userId": "ben"})).await;
    let left = ann.ok("friend.recommendations", json!({})).await;
    let ids: Vec<&str> = left["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dan"]);
}

#[tokio::test]
async fn a_profile_change_is_told_to_those_who_have_the_changer_in_their_list() {
    let stack = TestStack::start(crate::BACKEND).await;
    let [mut ann, mut ben, mut cat] = users(&stack, ["ann", "ben", "cat"]).await;
    // GIVEN cat has ann in her list (a one-way import), ann has ben in hers (a one-way add)
    stack
        .admin(
            "sns/friend_import",
            json!({"From_Account": "cat", "AddFriendItem": [{"To_Account": "ann"}]}),
        )
        .await;
    stack
        .admin(
            "sns/friend_add",
            json!({"From_Account": "ann", "AddFriendItem": [{"To_Account": "ben"}],
                   "AddType": "Add_Type_Single"}),
        )
        .await;
    assert_eq!(relation(&mut ann, "cat").await, "reverse_one_way");
    assert_eq!(relation(&mut ann, "ben").await, "one_way");
    // WHEN ann takes a nickname
    ann.ok("profile.set", json!({"nickname": "Annie"})).await;
    // THEN cat, whose list shows ann, is told
    let changed = cat.event("profile.changed").await;
    assert_eq!(
        (changed["userId"].as_str(), changed["nickname"].as_str()),
        (Some("ann"), Some("Annie"))
    );
    // AND ben, whose list does not show ann, is not: the next thing he hears is ann's message,
    // sent after the change was told
    ann.send_text("ben", "after-the-change", "hi").await;
    ben.event("msg.new").await;
    ben.expect_no_event(std::time::Duration::ZERO).await;
}
