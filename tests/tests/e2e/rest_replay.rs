//! Tencent's documented request bodies replayed against the REST API, each reply checked field by
//! field: an app server written against Tencent's documentation works unchanged.

use cirrus_tests::TestStack;
use serde_json::{Value, json};

/// `user`'s profile tags as `portrait_get` reports them.
async fn tags_of(stack: &TestStack, user: &str) -> Vec<Value> {
    let got = stack
        .admin("profile/portrait_get", json!({"To_Account": [user]}))
        .await;
    got["UserProfileItem"][0]["ProfileItem"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn multiaccount_import_takes_both_documented_bodies() {
    let stack = TestStack::start(crate::BACKEND).await;
    // WHEN the current body is sent, as documented (one id twice, one malformed)
    let current = stack
        .admin(
            "im_open_login_svc/multiaccount_import",
            json!({"AccountList": [
                {"UserID": "UserID_001", "Nick": "Nick_001", "FaceUrl": "http://www.qq.com"},
                {"UserID": "UserID_002", "Nick": "Nick_002", "FaceUrl": "http://www.qq.com"},
                {"UserID": "UserID_002", "Nick": "Nick_001", "FaceUrl": "http://www.qq.com"},
                {"UserID": "no spaces", "Nick": "Nick_003"},
            ]}),
        )
        .await;
    // THEN the reply is Tencent's, the malformed id in FailAccounts
    assert_eq!(
        current,
        json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "FailAccounts": ["no spaces"]})
    );
    // WHEN the older body is sent
    let older = stack
        .admin(
            "im_open_login_svc/multiaccount_import",
            json!({"Accounts": ["UserID_003", "UserID_004", "bad id"]}),
        )
        .await;
    assert_eq!(older["FailAccounts"], json!(["bad id"]));
    // AND Cirrus's earlier list of bare ids still works
    let bare = stack
        .admin(
            "im_open_login_svc/multiaccount_import",
            json!({"AccountList": ["UserID_005"]}),
        )
        .await;
    assert_eq!(bare["FailAccounts"], json!([]));
    // THEN every well-formed account exists
    let ids = [
        "UserID_001",
        "UserID_002",
        "UserID_003",
        "UserID_004",
        "UserID_005",
    ];
    let items: Vec<Value> = ids.iter().map(|id| json!({"UserID": id})).collect();
    let check = stack
        .admin("im_open_login_svc/account_check", json!({"CheckItem": items}))
        .await;
    let statuses: Vec<&str> = check["ResultItem"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["AccountStatus"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["Imported"; 5]);
    // AND a body with neither list, or both, is refused
    let usersig = stack.token("administrator");
    for body in [
        json!({}),
        json!({"Accounts": ["a"], "AccountList": [{"UserID": "b"}]}),
    ] {
        let answer = stack
            .rest_as(
                "administrator",
                &usersig,
                "im_open_login_svc/multiaccount_import",
                body,
            )
            .await;
        assert_eq!(answer["ErrorCode"], 70402, "{answer}");
    }
}

#[tokio::test]
async fn imported_nicks_and_avatars_reach_the_profile_and_the_messages() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN ann and ben imported in a batch with their nicknames and avatars
    stack
        .admin(
            "im_open_login_svc/multiaccount_import",
            json!({"AccountList": [
                {"UserID": "ann", "Nick": "Ann", "FaceUrl": "http://img.example/ann.png"},
                {"UserID": "ben", "Nick": "Ben"},
            ]}),
        )
        .await;
    // THEN portrait_get reports them
    let tags = tags_of(&stack, "ann").await;
    assert!(
        tags.contains(&json!({"Tag": "Tag_Profile_IM_Nick", "Value": "Ann"})),
        "{tags:?}"
    );
    assert!(
        tags.contains(&json!({"Tag": "Tag_Profile_IM_Image", "Value": "http://img.example/ann.png"})),
        "{tags:?}"
    );
    // WHEN ben is imported again with another nickname (Tencent: an existing account is updated)
    stack
        .admin(
            "im_open_login_svc/account_import",
            json!({"UserID": "ben", "Nick": "Benjamin", "FaceUrl": "http://img.example/ben.png"}),
        )
        .await;
    // THEN a user reading ben's profile sees the new one
    let mut ann = stack.connect("ann").await;
    let profile = ann.ok("profile.get", json!({"userIds": ["ben"]})).await;
    assert_eq!(profile["profiles"][0]["nickname"], "Benjamin");
    assert_eq!(profile["profiles"][0]["faceUrl"], "http://img.example/ben.png");
    // AND ann's messages carry her imported nickname and avatar
    let mut ben = stack.connect("ben").await;
    ann.send_text("ben", "r-1", "hi").await;
    let message = ben.event("msg.new").await;
    assert_eq!(
        message["sender"],
        json!({"nickname": "Ann", "avatar": "http://img.example/ann.png"})
    );
    // AND importing ann again without a nickname leaves hers
    stack
        .admin(
            "im_open_login_svc/multiaccount_import",
            json!({"Accounts": ["ann"]}),
        )
        .await;
    assert!(
        tags_of(&stack, "ann")
            .await
            .contains(&json!({"Tag": "Tag_Profile_IM_Nick", "Value": "Ann"}))
    );
}

/// Imports `owner` and `friends` and puts the friends in `owner`'s list one way.
async fn import_friends(stack: &TestStack, owner: &str, friends: &[&str]) {
    let mut ids = vec![owner];
    ids.extend_from_slice(friends);
    // Cirrus's own list of bare ids: this setup does not depend on the documented bodies.
    stack
        .admin(
            "im_open_login_svc/multiaccount_import",
            json!({"AccountList": ids}),
        )
        .await;
    let items: Vec<Value> = friends
        .iter()
        .map(|id| json!({"To_Account": id, "AddSource": "AddSource_Type_Import"}))
        .collect();
    let imported = stack
        .admin(
            "sns/friend_import",
            json!({"From_Account": owner, "AddFriendItem": items}),
        )
        .await;
    for item in imported["ResultItem"].as_array().unwrap() {
        assert_eq!(item["ResultCode"], 0, "{imported}");
    }
}

#[tokio::test]
async fn friend_get_pages_by_start_index_as_tencent_documents() {
    let stack = TestStack::start(crate::BACKEND).await;
    let friends = ["f1", "f2", "f3", "f4", "f5"];
    import_friends(&stack, "owner", &friends).await;
    // WHEN the documented body is sent
    let first = stack
        .admin(
            "sns/friend_get",
            json!({"From_Account": "owner", "StartIndex": 0, "StandardSequence": 0, "CustomSequence": 0}),
        )
        .await;
    // THEN one page holds all five, with Tencent's counters
    assert_eq!(first["FriendNum"], 5, "{first}");
    assert_eq!(first["NextStartIndex"], 5, "{first}");
    assert_eq!(first["CompleteFlag"], 1, "{first}");
    assert_eq!(first["StandardSequence"], 0, "{first}");
    assert_eq!(first["UserDataItem"].as_array().unwrap().len(), 5);
    // WHEN a Tencent-style loop walks the list two at a time
    let (mut start, mut seen, mut calls) = (0, Vec::new(), 0);
    loop {
        let page = stack
            .admin(
                "sns/friend_get",
                json!({"From_Account": "owner", "StartIndex": start, "Limit": 2}),
            )
            .await;
        calls += 1;
        assert_eq!(page["FriendNum"], 5, "{page}");
        for item in page["UserDataItem"].as_array().unwrap() {
            seen.push(item["To_Account"].as_str().unwrap().to_owned());
        }
        if page["CompleteFlag"] == 1 {
            break;
        }
        start = page["NextStartIndex"].as_u64().unwrap();
        assert!(calls < 10, "the loop does not end: {page}");
    }
    // THEN it sees every friend exactly once, in three calls
    assert_eq!(seen, friends);
    assert_eq!(calls, 3);
    // AND a start past the end is an empty, complete page
    let past = stack
        .admin(
            "sns/friend_get",
            json!({"From_Account": "owner", "StartIndex": 9}),
        )
        .await;
    assert_eq!(past["UserDataItem"], json!([]));
    assert_eq!(past["CompleteFlag"], 1);
}

#[tokio::test]
async fn portrait_get_returns_the_tags_asked_and_fails_unknown_accounts() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN id1 with a nickname, a signature and a custom field, and id2 with a nickname
    for (id, nick) in [("id1", "NickNameTest1"), ("id2", "Two")] {
        stack
            .admin(
                "im_open_login_svc/account_import",
                json!({"UserID": id, "Nick": nick}),
            )
            .await;
    }
    stack
        .admin(
            "profile/portrait_set",
            json!({"From_Account": "id1", "ProfileItem": [
                {"Tag": "Tag_Profile_IM_SelfSignature", "Value": "hello"},
                {"Tag": "Tag_Profile_Custom_Test", "Value": "custom"}]}),
        )
        .await;
    // WHEN one tag of one user is read, as documented
    let one = stack
        .admin(
            "profile/portrait_get",
            json!({"To_Account": ["id1"], "TagList": ["Tag_Profile_IM_Nick"]}),
        )
        .await;
    // THEN the reply is Tencent's, field by field
    assert_eq!(
        one,
        json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "Fail_Account": [],
               "UserProfileItem": [{"To_Account": "id1", "ResultCode": 0, "ResultInfo": "",
                                    "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "NickNameTest1"}]}]})
    );
    // WHEN several tags of several users are read, one of whom has no account
    let many = stack
        .admin(
            "profile/portrait_get",
            json!({"To_Account": ["id1", "id2", "id3"], "TagList": [
                "Tag_Profile_IM_Nick", "Tag_Profile_IM_AllowType",
                "Tag_Profile_IM_SelfSignature", "Tag_Profile_Custom_Test"]}),
        )
        .await;
    // THEN each user has the asked tags they hold, in the order asked, and id3 fails
    let items = many["UserProfileItem"].as_array().unwrap();
    assert_eq!(
        items[0]["ProfileItem"],
        json!([
            {"Tag": "Tag_Profile_IM_Nick", "Value": "NickNameTest1"},
            {"Tag": "Tag_Profile_IM_AllowType", "Value": "AllowType_Type_NeedConfirm"},
            {"Tag": "Tag_Profile_IM_SelfSignature", "Value": "hello"},
            {"Tag": "Tag_Profile_Custom_Test", "Value": "custom"},
        ])
    );
    assert_eq!(
        items[1]["ProfileItem"],
        json!([
            {"Tag": "Tag_Profile_IM_Nick", "Value": "Two"},
            {"Tag": "Tag_Profile_IM_AllowType", "Value": "AllowType_Type_NeedConfirm"},
        ])
    );
    assert_eq!(items[2]["To_Account"], "id3");
    assert_eq!(items[2]["ResultCode"], 40003);
    assert_eq!(many["Fail_Account"], json!(["id3"]));
    assert!(many.get("ErrorList").is_none(), "{many}");
}

#[tokio::test]
async fn query_online_status_names_platforms_as_tencent_does() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN id1 connected from every platform Cirrus maps (Windows and Linux both being PC) and
    // id2 imported but offline
    let mut sockets = Vec::new();
    for platform in ["ios", "ipad", "android", "web", "windows", "linux", "mac"] {
        sockets.push(stack.connect_from("id1", platform).await);
    }
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "id2"}))
        .await;
    // WHEN the documented body with details is sent
    let answer = stack
        .admin(
            "openim/query_online_status",
            json!({"IsNeedDetail": 1, "To_Account": ["id1", "id2", "id4"]}),
        )
        .await;
    // THEN the platforms carry Tencent's names, each once, and the states Tencent's fields
    let online = |platform: &str| json!({"Platform": platform, "Status": "Online"});
    assert_eq!(
        answer["QueryResult"],
        json!([
            {"To_Account": "id1", "State": "Online", "Status": "Online", "Detail": [
                online("Android"), online("Mac"), online("PC"), online("Web"),
                online("iPad"), online("iPhone")]},
            {"To_Account": "id2", "State": "Offline", "Status": "Offline", "Detail": []},
        ])
    );
    assert_eq!(
        answer["ErrorList"],
        json!([{"To_Account": "id4", "ErrorCode": 70107}])
    );
    drop(sockets);
}

/// Tencent's documented `sendmsg` body from `lumotuwe1` to `lumotuwe2` with `text`.
fn sendmsg_body(sync: u8, random: u32, text: &str) -> Value {
    json!({
        "SyncOtherMachine": sync, "From_Account": "lumotuwe1", "To_Account": "lumotuwe2",
        "MsgLifeTime": 60, "MsgSeq": 93847636, "MsgRandom": random,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}],
        "CloudCustomData": "your cloud custom data",
    })
}

#[tokio::test]
async fn sendmsg_with_sync_other_machine_2_spares_the_senders_connections() {
    let stack = TestStack::start(crate::BACKEND).await;
    let mut sender = stack.connect("lumotuwe1").await;
    let mut recipient = stack.connect("lumotuwe2").await;
    // WHEN the app server sends as lumotuwe1 without syncing, then with
    let unsynced = stack
        .admin("openim/sendmsg", sendmsg_body(2, 1287657, "not synced"))
        .await;
    assert!(unsynced["MsgKey"].is_string(), "{unsynced}");
    stack
        .admin("openim/sendmsg", sendmsg_body(1, 1287658, "synced"))
        .await;
    // THEN the recipient gets both, the sender's connection only the synced one
    let first = recipient.event("msg.new").await;
    assert_eq!(first["body"][0]["text"], "not synced");
    assert_eq!(recipient.event("msg.new").await["body"][0]["text"], "synced");
    let own = sender.event("msg.new").await;
    assert_eq!(own["body"][0]["text"], "synced", "{own}");
    // AND a value Tencent does not define is refused
    let usersig = stack.token("administrator");
    let odd = stack
        .rest_as(
            "administrator",
            &usersig,
            "openim/sendmsg",
            sendmsg_body(7, 1, "x"),
        )
        .await;
    assert_eq!(odd["ErrorCode"], 70402, "{odd}");
}

#[tokio::test]
async fn batchsendmsg_keys_each_recipients_message_and_reports_unknown_ones() {
    let stack = TestStack::start(crate::BACKEND).await;
    stack
        .admin(
            "im_open_login_svc/multiaccount_import",
            json!({"AccountList": ["lumotuwe1", "bonnie", "rong"]}),
        )
        .await;
    let mut rong = stack.connect("rong").await;
    // WHEN the documented body goes to two users and one without an account
    let reply = stack
        .admin(
            "openim/batchsendmsg",
            json!({
                "SyncOtherMachine": 2, "From_Account": "lumotuwe1",
                "To_Account": ["bonnie", "rong", "nobody"], "MsgRandom": 19901224,
                "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi, beauty"}}],
                "CloudCustomData": "your cloud custom data",
            }),
        )
        .await;
    // THEN each delivered message has its key, and the unknown user is reported with 70107
    assert_eq!(
        reply["ErrorList"],
        json!([{"To_Account": "nobody", "ErrorCode": 70107}])
    );
    let keys = reply["MsgKeyList"].as_array().unwrap();
    let recipients: Vec<&str> = keys.iter().map(|k| k["To_Account"].as_str().unwrap()).collect();
    assert_eq!(recipients, ["bonnie", "rong"]);
    let seq = rong.event("msg.new").await["seq"].clone();
    // WHEN rong's message is recalled with its key
    let recalled = stack
        .admin(
            "openim/admin_msgwithdraw",
            json!({"From_Account": "lumotuwe1", "To_Account": "rong", "MsgKey": keys[1]["MsgKey"]}),
        )
        .await;
    assert_eq!(recalled["ActionStatus"], "OK");
    // THEN rong's client is told of the recall of that very message
    assert_eq!(rong.event("msg.recalled").await["seq"], seq);
}

#[tokio::test]
async fn friend_import_takes_the_complete_documented_body() {
    let stack = TestStack::start(crate::BACKEND).await;
    stack
        .admin(
            "im_open_login_svc/multiaccount_import",
            json!({"AccountList": ["id", "id1", "id2", "id3"]}),
        )
        .await;
    // WHEN the documented batch form is sent, custom items and all
    let reply = stack
        .admin(
            "sns/friend_import",
            json!({"From_Account": "id", "AddFriendItem": [
                {"To_Account": "id1", "AddSource": "AddSource_Type_XXXXXXXX"},
                {"To_Account": "id2", "Remark": "remark2", "RemarkTime": 1420000001,
                 "GroupName": ["Friends"], "AddSource": "AddSource_Type_XXXXXXXX",
                 "AddWording": "I'm Test2", "AddTime": 1420000001,
                 "CustomItem": [{"Tag": "Tag_SNS_Custom_XXXX", "Value": "Test"},
                                {"Tag": "Tag_SNS_Custom_YYYY", "Value": 0}]},
                {"To_Account": "id3", "Remark": "remark3", "RemarkTime": 1420000001,
                 "GroupName": ["Colleagues", "Friends"], "AddSource": "AddSource_Type_XXXXXXXX",
                 "AddWording": "I'm Test3", "AddTime": 1420000002},
            ]}),
        )
        .await;
    // THEN every friend is imported
    assert_eq!(reply["Fail_Account"], json!([]), "{reply}");
    let codes: Vec<&Value> = reply["ResultItem"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["ResultCode"])
        .collect();
    assert_eq!(codes, [&json!(0), &json!(0), &json!(0)], "{reply}");
    // AND the list holds their remarks, groups and original times
    let list = stack
        .admin("sns/friend_get", json!({"From_Account": "id", "StartIndex": 0}))
        .await;
    let items = list["UserDataItem"].as_array().unwrap();
    let tag = |item: &Value, name: &str| {
        item["ValueItem"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["Tag"] == name)
            .map(|t| t["Value"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(items[1]["To_Account"], "id2");
    assert_eq!(tag(&items[1], "Tag_SNS_IM_Remark"), "remark2");
    assert_eq!(tag(&items[1], "Tag_SNS_IM_Group"), json!(["Friends"]));
    assert_eq!(tag(&items[1], "Tag_SNS_IM_AddTime"), 1420000001);
    assert_eq!(
        tag(&items[2], "Tag_SNS_IM_Group"),
        json!(["Colleagues", "Friends"])
    );
    assert_eq!(tag(&items[2], "Tag_SNS_IM_AddTime"), 1420000002);
    // AND an entry without AddTime began now, one way only
    assert!(tag(&items[0], "Tag_SNS_IM_AddTime").as_i64().unwrap() > 1420000002);
    let reverse = stack
        .admin("sns/friend_get", json!({"From_Account": "id1", "StartIndex": 0}))
        .await;
    assert_eq!(reverse["FriendNum"], 0);
}
