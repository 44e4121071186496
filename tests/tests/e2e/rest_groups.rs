//! The server REST API's group commands (`group_open_http_svc/*`), driven with request bodies
//! as Tencent's documentation gives them, their replies checked field by field and their effect
//! seen by WebSocket clients.

use cirrus_tests::{TestSocket, TestStack};
use serde_json::{Value, json};

/// A group command as the administrator, whatever its outcome.
async fn call(stack: &TestStack, command: &str, body: Value) -> Value {
    let usersig = stack.token("administrator");
    stack
        .rest_as(
            "administrator",
            &usersig,
            &format!("group_open_http_svc/{command}"),
            body,
        )
        .await
}

/// A group command that must succeed.
async fn group_ok(stack: &TestStack, command: &str, body: Value) -> Value {
    stack.admin(&format!("group_open_http_svc/{command}"), body).await
}

/// A group command that must fail: its `ErrorCode`.
async fn group_err(stack: &TestStack, command: &str, body: Value) -> u64 {
    let answer = call(stack, command, body).await;
    assert_eq!(answer["ActionStatus"], "FAIL", "{command} should fail: {answer}");
    answer["ErrorCode"].as_u64().unwrap()
}

async fn import(stack: &TestStack, users: &[&str]) {
    for user in users {
        stack
            .admin("im_open_login_svc/account_import", json!({"UserID": user}))
            .await;
    }
}

async fn role_of(stack: &TestStack, group: &str, user: &str) -> Value {
    let reply = group_ok(
        stack,
        "get_role_in_group",
        json!({"GroupId": group, "User_Account": [user]}),
    )
    .await;
    reply["UserIdList"][0]["Role"].clone()
}

async fn joined_ids(socket: &mut TestSocket) -> Vec<String> {
    let joined = socket.ok("group.joined", json!({})).await;
    joined["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["groupId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn groups_created_by_rest_read_back_in_tencents_shape() {
    let stack = TestStack::start(crate::BACKEND).await;
    import(&stack, &["leckie", "peter", "tommy"]).await;
    // GIVEN a public group created as its owner with an admin, a member and app data
    let created = group_ok(
        &stack,
        "create_group",
        json!({
            "Owner_Account": "leckie", "Type": "Public", "GroupId": "MyFirstGroup",
            "Name": "TestGroup", "Introduction": "This is group Introduction",
            "Notification": "This is group Notification", "FaceUrl": "http://this.is.face.url",
            "MaxMemberCount": 500, "ApplyJoinOption": "FreeAccess",
            "AppDefinedData": [{"Key": "GroupTestData1", "Value": "xxxxx"}],
            "MemberList": [{"Member_Account": "peter", "Role": "Admin"}, {"Member_Account": "tommy"}],
        }),
    )
    .await;
    assert_eq!(created["GroupId"], "MyFirstGroup");
    assert_eq!(created["ErrorCode"], 0);
    // AND an app-owned chat room with a generated id
    let app_owned = group_ok(
        &stack,
        "create_group",
        json!({"Type": "Meeting", "Name": "Lobby"}),
    )
    .await;
    let lobby = app_owned["GroupId"].as_str().unwrap().to_owned();
    assert!(lobby.starts_with('@'), "{lobby}");
    // WHEN both are read with an unknown and a malformed id
    let info = group_ok(
        &stack,
        "get_group_info",
        json!({"GroupIdList": ["MyFirstGroup", lobby, "NoSuchGroup", ""]}),
    )
    .await;
    // THEN each comes back in the order asked, with Tencent's fields
    let first = &info["GroupInfo"][0];
    assert_eq!(first["GroupId"], "MyFirstGroup");
    assert_eq!(first["ErrorCode"], 0);
    assert_eq!(first["Type"], "Public");
    assert_eq!(first["Name"], "TestGroup");
    assert_eq!(first["Introduction"], "This is group Introduction");
    assert_eq!(first["Notification"], "This is group Notification");
    assert_eq!(first["FaceUrl"], "http://this.is.face.url");
    assert_eq!(first["Owner_Account"], "leckie");
    assert!(first["CreateTime"].as_i64().unwrap() > 1_600_000_000, "{first}");
    assert_eq!(first["MemberNum"], 3);
    assert_eq!(first["MaxMemberNum"], 500);
    assert_eq!(first["ApplyJoinOption"], "FreeAccess");
    assert_eq!(first["ShutUpAllMember"], "Off");
    assert_eq!(
        first["AppDefinedData"],
        json!([{"Key": "GroupTestData1", "Value": "xxxxx"}])
    );
    let second = &info["GroupInfo"][1];
    assert_eq!(second["Type"], "ChatRoom");
    assert_eq!(second["Owner_Account"], "");
    assert_eq!(second["MemberNum"], 0);
    assert_eq!(info["GroupInfo"][2]["ErrorCode"], 10010);
    assert_eq!(info["GroupInfo"][2]["GroupId"], "NoSuchGroup");
    assert_eq!(info["GroupInfo"][3]["ErrorCode"], 10015);
    // AND the members page by Limit/Offset and by Next, in user id order
    let members = group_ok(
        &stack,
        "get_group_member_info",
        json!({"GroupId": "MyFirstGroup", "Limit": 2, "Offset": 1}),
    )
    .await;
    assert_eq!(members["MemberNum"], 3);
    let list = members["MemberList"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["Member_Account"], "peter");
    assert_eq!(list[0]["Role"], "Admin");
    assert_eq!(list[0]["NameCard"], "");
    assert_eq!(list[0]["ShutUpUntil"], 0);
    assert_eq!(list[0]["AppMemberDefinedData"], json!([]));
    assert!(list[0]["JoinTime"].as_i64().unwrap() > 1_600_000_000);
    assert_eq!(list[1]["Member_Account"], "tommy");
    assert_eq!(list[1]["Role"], "Member");
    let page = group_ok(
        &stack,
        "get_group_member_info",
        json!({"GroupId": "MyFirstGroup", "Limit": 2, "Next": ""}),
    )
    .await;
    assert_eq!(page["MemberList"][0]["Member_Account"], "leckie");
    assert_eq!(page["MemberList"][0]["Role"], "Owner");
    let next = page["Next"].as_str().unwrap().to_owned();
    assert!(!next.is_empty());
    let last = group_ok(
        &stack,
        "get_group_member_info",
        json!({"GroupId": "MyFirstGroup", "Limit": 2, "Next": next}),
    )
    .await;
    assert_eq!(last["MemberList"].as_array().unwrap().len(), 1);
    assert_eq!(last["MemberList"][0]["Member_Account"], "tommy");
    assert_eq!(last["Next"], "");
    // AND roles and joined groups read as Tencent names them
    let roles = group_ok(
        &stack,
        "get_role_in_group",
        json!({"GroupId": "MyFirstGroup", "User_Account": ["leckie", "peter", "tommy", "nobody"]}),
    )
    .await;
    let roles: Vec<(&str, &str)> = roles["UserIdList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["Member_Account"].as_str().unwrap(), r["Role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        vec![
            ("leckie", "Owner"),
            ("peter", "Admin"),
            ("tommy", "Member"),
            ("nobody", "NotMember")
        ]
    );
    let joined = group_ok(
        &stack,
        "get_joined_group_list",
        json!({"Member_Account": "tommy", "Limit": 10, "Offset": 0}),
    )
    .await;
    assert_eq!(joined["TotalCount"], 1);
    assert_eq!(joined["GroupIdList"][0]["GroupId"], "MyFirstGroup");
    let filtered = group_ok(
        &stack,
        "get_joined_group_list",
        json!({"Member_Account": "tommy", "GroupType": "Private"}),
    )
    .await;
    assert_eq!(filtered["TotalCount"], 0);
}

#[tokio::test]
async fn bad_group_requests_get_tencents_codes_and_change_nothing() {
    let stack = TestStack::start(crate::BACKEND).await;
    import(&stack, &["leckie", "peter"]).await;
    group_ok(
        &stack,
        "create_group",
        json!({"Owner_Account": "leckie", "Type": "Work", "GroupId": "work-1", "Name": "W"}),
    )
    .await;
    // an id in use, a type Cirrus has not, a mistyped field, a missing name
    let taken = json!({"Type": "Public", "GroupId": "work-1", "Name": "again"});
    assert_eq!(group_err(&stack, "create_group", taken).await, 10021);
    let community = json!({"Type": "Community", "Name": "c"});
    assert_eq!(group_err(&stack, "create_group", community).await, 10004);
    let mistyped = json!({"Type": "Public", "Name": "n", "MaxMemberCount": "many"});
    assert_eq!(group_err(&stack, "create_group", mistyped).await, 70402);
    assert_eq!(
        group_err(&stack, "create_group", json!({"Type": "Public"})).await,
        70402
    );
    // a Work group has no admins
    let admin_in_work =
        json!({"Type": "Work", "Name": "w", "MemberList": [{"Member_Account": "peter", "Role": "Admin"}]});
    assert_eq!(group_err(&stack, "create_group", admin_in_work).await, 10004);
    // unknown and malformed groups
    let unknown = json!({"GroupId": "nope", "Limit": 10});
    assert_eq!(group_err(&stack, "get_group_member_info", unknown).await, 10010);
    assert_eq!(
        group_err(&stack, "destroy_group", json!({"GroupId": ""})).await,
        10015
    );
    // an invalid switch refuses the whole change: the name stays
    let bad_mute = json!({"GroupId": "work-1", "Name": "renamed", "ShutUpAllMember": "Maybe"});
    assert_eq!(group_err(&stack, "modify_group_base_info", bad_mute).await, 10004);
    let info = group_ok(&stack, "get_group_info", json!({"GroupIdList": ["work-1"]})).await;
    assert_eq!(info["GroupInfo"][0]["Name"], "W");
    // muting a non-member or the owner mutes nobody
    let stray = json!({"GroupId": "work-1", "Members_Account": ["peter"], "MuteTime": 60});
    assert_eq!(group_err(&stack, "forbid_send_msg", stray).await, 10004);
    let owner = json!({"GroupId": "work-1", "Members_Account": ["leckie"], "MuteTime": 60});
    assert_eq!(group_err(&stack, "forbid_send_msg", owner).await, 10007);
    let muted = group_ok(&stack, "get_group_muted_account", json!({"GroupId": "work-1"})).await;
    assert_eq!(muted["ShuttedUinList"], json!([]));
    // a message flag Cirrus does not keep
    let flag = json!({"GroupId": "work-1", "Member_Account": "leckie", "MsgFlag": "Discard"});
    assert_eq!(group_err(&stack, "modify_group_member_info", flag).await, 10004);
    // a live room takes no added members
    let live = group_ok(
        &stack,
        "create_group",
        json!({"Type": "AVChatRoom", "Name": "live"}),
    )
    .await;
    let add_live = json!({"GroupId": live["GroupId"], "MemberList": [{"Member_Account": "peter"}]});
    assert_eq!(group_err(&stack, "add_group_member", add_live).await, 10007);
    // and an unknown command of the service is still 70404
    assert_eq!(group_err(&stack, "no_such_command", json!({})).await, 70404);
}

#[tokio::test]
async fn members_added_and_muted_by_rest_are_seen_by_their_clients() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut ann = stack.connect("ann").await;
    let mut ben = stack.connect("ben").await;
    group_ok(
        &stack,
        "create_group",
        json!({"Owner_Account": "ann", "Type": "Public", "GroupId": "g-rest", "Name": "G",
               "ApplyJoinOption": "NeedPermission"}),
    )
    .await;
    // WHEN ben, ann (the owner) and an account that does not exist are added
    let added = group_ok(
        &stack,
        "add_group_member",
        json!({"GroupId": "g-rest", "Silence": 0,
               "MemberList": [{"Member_Account": "ben"}, {"Member_Account": "ann"}, {"Member_Account": "ghost"}]}),
    )
    .await;
    // THEN each has Tencent's Result: added, already a member, not added
    assert_eq!(
        added["MemberList"],
        json!([{"Member_Account": "ben", "Result": 1}, {"Member_Account": "ann", "Result": 2},
               {"Member_Account": "ghost", "Result": 0}])
    );
    // AND ben, added directly to a group that needs approval, sees it among his groups
    assert_eq!(joined_ids(&mut ben).await, vec!["g-rest"]);
    let send = |n: &str| json!({"to": {"type": "group", "id": "g-rest"}, "clientMsgId": n, "body": [{"type": "text", "text": n}]});
    ben.ok("msg.send", send("before")).await;
    // WHEN ben is muted for a minute
    group_ok(
        &stack,
        "forbid_send_msg",
        json!({"GroupId": "g-rest", "Members_Account": ["ben"], "MuteTime": 60}),
    )
    .await;
    // THEN he is told, his sends are refused, and both names of the muted list show him
    assert_eq!(ben.event("group.system").await["type"], "muted");
    let refused = ben.call("msg.send", send("during")).await;
    assert_eq!(refused["error"]["code"], "muted", "{refused}");
    for command in ["get_group_muted_account", "get_group_shutted_uin"] {
        let muted = group_ok(&stack, command, json!({"GroupId": "g-rest"})).await;
        let list = muted["ShuttedUinList"].as_array().unwrap();
        assert_eq!(list.len(), 1, "{command}: {muted}");
        assert_eq!(list[0]["Member_Account"], "ben");
        let until = list[0]["ShuttedUntil"].as_i64().unwrap();
        assert!((until - cirrus_tests::now_secs() - 60).abs() <= 2, "{until}");
    }
    // AND a REST send as him is refused with Tencent's muted code
    let as_ben = json!({"GroupId": "g-rest", "From_Account": "ben", "Random": 8912345,
                        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}}]});
    assert_eq!(group_err(&stack, "send_group_msg", as_ben.clone()).await, 10017);
    // AND MuteTime 0 lifts it
    group_ok(
        &stack,
        "forbid_send_msg",
        json!({"GroupId": "g-rest", "Members_Account": ["ben"], "MuteTime": 0}),
    )
    .await;
    assert_eq!(ben.event("group.system").await["type"], "muted");
    ben.ok("msg.send", send("after")).await;
    let muted = group_ok(&stack, "get_group_muted_account", json!({"GroupId": "g-rest"})).await;
    assert_eq!(muted["ShuttedUinList"], json!([]));
    // WHEN the app server sends as ben, and then as itself
    let sent = group_ok(&stack, "send_group_msg", as_ben).await;
    assert!(sent["MsgSeq"].as_u64().unwrap() > 0, "{sent}");
    assert!((sent["MsgTime"].as_i64().unwrap() - cirrus_tests::now_secs()).abs() <= 2);
    // THEN ann receives it as ben's group message
    let message = loop {
        let message = ann.event("msg.new").await;
        if message["body"][0]["text"] == "red packet" {
            break message;
        }
    };
    assert_eq!(message["conversationId"], "GROUPg-rest");
    assert_eq!(message["from"], "ben");
    assert_eq!(message["seq"], sent["MsgSeq"]);
    let notice = json!({"GroupId": "g-rest", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "from the app"}}]});
    group_ok(&stack, "send_group_msg", notice).await;
    let bad_body = json!({"GroupId": "g-rest", "MsgBody": [{"MsgType": "TIMSoundElem", "MsgContent": {}}]});
    assert_eq!(group_err(&stack, "send_group_msg", bad_body).await, 70402);
    let nowhere =
        json!({"GroupId": "nowhere", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}]});
    assert_eq!(group_err(&stack, "send_group_msg", nowhere).await, 10010);
    let stranger = json!({"GroupId": "g-rest", "From_Account": "ghost", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}]});
    assert_eq!(group_err(&stack, "send_group_msg", stranger).await, 10007);
    // WHEN ben is removed with a reason
    group_ok(
        &stack,
        "delete_group_member",
        json!({"GroupId": "g-rest", "Silence": 1, "Reason": "kick reason", "MemberToDel_Account": ["ben"]}),
    )
    .await;
    // THEN he is told and the group leaves his list
    let notice = ben.event("group.system").await;
    assert_eq!(notice["type"], "kicked");
    assert_eq!(notice["reason"], "kick reason");
    assert!(joined_ids(&mut ben).await.is_empty());
    assert_eq!(role_of(&stack, "g-rest", "ben").await, "NotMember");
    // AND ann still has it
    assert_eq!(joined_ids(&mut ann).await, vec!["g-rest"]);
}

#[tokio::test]
async fn profiles_roles_ownership_and_dismissal_change_through_rest() {
    let stack = TestStack::start(crate::BACKEND).await;
    import(&stack, &["ann", "ben", "cat"]).await;
    group_ok(
        &stack,
        "create_group",
        json!({"Owner_Account": "ann", "Type": "Public", "GroupId": "g-edit", "Name": "Before",
               "MemberList": [{"Member_Account": "ben"}, {"Member_Account": "cat"}]}),
    )
    .await;
    // WHEN the profile changes, with every ordinary member muted and app data set
    group_ok(
        &stack,
        "modify_group_base_info",
        json!({"GroupId": "g-edit", "Name": "After", "Introduction": "intro", "Notification": "",
               "FaceUrl": "http://face", "ApplyJoinOption": "DisableApply", "ShutUpAllMember": "On",
               "AppDefinedData": [{"Key": "level", "Value": "3"}]}),
    )
    .await;
    let info = group_ok(&stack, "get_group_info", json!({"GroupIdList": ["g-edit"]})).await;
    let group = &info["GroupInfo"][0];
    assert_eq!(group["Name"], "After");
    assert_eq!(group["Introduction"], "intro");
    assert_eq!(group["FaceUrl"], "http://face");
    assert_eq!(group["ApplyJoinOption"], "DisableApply");
    assert_eq!(group["ShutUpAllMember"], "On");
    assert_eq!(group["AppDefinedData"], json!([{"Key": "level", "Value": "3"}]));
    // WHEN ben becomes an admin with a name card, app data and a mute
    group_ok(
        &stack,
        "modify_group_member_info",
        json!({"GroupId": "g-edit", "Member_Account": "ben", "Role": "Admin", "MsgFlag": "AcceptAndNotify",
               "NameCard": "Benny", "ShutUpTime": 120,
               "AppMemberDefinedData": [{"Key": "MemberDefined2", "Value": "ModifyData2"}]}),
    )
    .await;
    let members = group_ok(&stack, "get_group_member_info", json!({"GroupId": "g-edit"})).await;
    let ben = members["MemberList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Member_Account"] == "ben")
        .unwrap()
        .clone();
    assert_eq!(ben["Role"], "Admin");
    assert_eq!(ben["NameCard"], "Benny");
    assert!(
        ben["ShutUpUntil"].as_i64().unwrap() > cirrus_tests::now_secs() + 100,
        "{ben}"
    );
    assert_eq!(
        ben["AppMemberDefinedData"],
        json!([{"Key": "MemberDefined2", "Value": "ModifyData2"}])
    );
    // AND the owner's role is not changed that way
    let owner_role = json!({"GroupId": "g-edit", "Member_Account": "ann", "Role": "Member"});
    assert_eq!(
        group_err(&stack, "modify_group_member_info", owner_role).await,
        10007
    );
    // WHEN ownership passes to cat
    group_ok(
        &stack,
        "change_group_owner",
        json!({"GroupId": "g-edit", "NewOwner_Account": "cat"}),
    )
    .await;
    assert_eq!(role_of(&stack, "g-edit", "cat").await, "Owner");
    assert_eq!(role_of(&stack, "g-edit", "ann").await, "Member");
    let info = group_ok(&stack, "get_group_info", json!({"GroupIdList": ["g-edit"]})).await;
    assert_eq!(info["GroupInfo"][0]["Owner_Account"], "cat");
    // AND to a non-member it is refused
    let stranger = json!({"GroupId": "g-edit", "NewOwner_Account": "nobody"});
    assert_eq!(group_err(&stack, "change_group_owner", stranger).await, 10004);
    // WHEN the group is destroyed
    let mut cat = stack.connect("cat").await;
    group_ok(&stack, "destroy_group", json!({"GroupId": "g-edit"})).await;
    // THEN its members are told, it reads as dismissed, and its id stays taken
    assert_eq!(cat.event("group.system").await["type"], "dismissed");
    let info = group_ok(&stack, "get_group_info", json!({"GroupIdList": ["g-edit"]})).await;
    assert_eq!(info["GroupInfo"][0]["ErrorCode"], 10010);
    assert_eq!(
        group_err(&stack, "destroy_group", json!({"GroupId": "g-edit"})).await,
        10010
    );
    let again = json!({"Type": "Public", "GroupId": "g-edit", "Name": "again"});
    assert_eq!(group_err(&stack, "create_group", again).await, 10021);
}

#[tokio::test]
async fn added_members_stop_at_the_groups_limit_and_the_member_cap() {
    let stack = TestStack::start_with(crate::BACKEND, |config| config.limits.max_groups_per_user = 2).await;
    import(&stack, &["ben", "cat", "dan"]).await;
    // app-owned groups, so that no owner counts against the limit
    for (id, max) in [("g-one", 10), ("g-two", 2), ("g-three", 10)] {
        group_ok(
            &stack,
            "create_group",
            json!({"Type": "Public", "GroupId": id, "Name": id, "MaxMemberCount": max}),
        )
        .await;
    }
    // GIVEN ben already in two groups, the most the app allows
    for id in ["g-one", "g-two"] {
        let added = group_ok(
            &stack,
            "add_group_member",
            json!({"GroupId": id, "MemberList": [{"Member_Account": "ben"}]}),
        )
        .await;
        assert_eq!(added["MemberList"][0]["Result"], 1);
    }
    // WHEN ben and cat are added to a third
    let added = group_ok(
        &stack,
        "add_group_member",
        json!({"GroupId": "g-three", "MemberList": [{"Member_Account": "ben"}, {"Member_Account": "cat"}]}),
    )
    .await;
    // THEN ben is left out and cat is in
    assert_eq!(
        added["MemberList"],
        json!([{"Member_Account": "ben", "Result": 0}, {"Member_Account": "cat", "Result": 1}])
    );
    assert_eq!(role_of(&stack, "g-three", "ben").await, "NotMember");
    // WHEN two more are added to a group with room for one
    let full =
        json!({"GroupId": "g-two", "MemberList": [{"Member_Account": "cat"}, {"Member_Account": "dan"}]});
    assert_eq!(group_err(&stack, "add_group_member", full).await, 10014);
    // THEN neither is in
    let info = group_ok(&stack, "get_group_info", json!({"GroupIdList": ["g-two"]})).await;
    assert_eq!(info["GroupInfo"][0]["MemberNum"], 1);
    assert_eq!(role_of(&stack, "g-two", "dan").await, "NotMember");
}
