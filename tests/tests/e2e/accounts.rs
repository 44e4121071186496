//! The server REST API's account surface (import, check, delete, kick, online status), which only
//! the administrator may call, and token revocation by logout and kick.

use cirrus_tests::{TestStack, now_secs};
use serde_json::json;

#[tokio::test]
async fn imported_accounts_are_checked_and_deleted() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN one account imported alone (with a nickname) and three in a batch with a bad id
    stack
        .admin(
            "im_open_login_svc/account_import",
            json!({"UserID": "ann", "Nick": "Ann", "FaceUrl": "https://example.com/a.png"}),
        )
        .await;
    let batch = stack
        .admin(
            "im_open_login_svc/multiaccount_import",
            json!({"AccountList": ["ben", "cat", "no spaces"]}),
        )
        .await;
    assert_eq!(batch["FailAccounts"], json!(["no spaces"]));
    // AND dan, who logged in once with an app-minted token without being imported
    stack.connect("dan").await.close().await;
    // WHEN the admin checks them and someone never seen
    let check = stack
        .admin(
            "im_open_login_svc/account_check",
            json!({"CheckItem": [{"UserID": "ann"}, {"UserID": "cat"}, {"UserID": "dan"}, {"UserID": "zed"}]}),
        )
        .await;
    // THEN the imported and the first-login accounts exist, the other does not
    let statuses: Vec<(&str, &str)> = check["ResultItem"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["AccountStatus"].as_str().unwrap(),
                item["AccountKind"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("Imported", "imported"),
            ("Imported", "imported"),
            ("Imported", "first_login"),
            ("NotImported", "-")
        ]
    );
    // WHEN ben, online, is deleted along with someone who does not exist
    let mut ben = stack.connect("ben").await;
    let deleted = stack
        .admin(
            "im_open_login_svc/account_delete",
            json!({"DeleteItem": [{"UserID": "ben"}, {"UserID": "zed"}]}),
        )
        .await;
    assert_eq!(
        deleted["ResultItem"][0],
        json!({"UserID": "ben", "ResultCode": 0, "ResultInfo": ""})
    );
    assert_eq!(deleted["ResultItem"][1]["ResultCode"], 70107);
    // THEN ben's connection is told and closed, and his account is gone
    assert_eq!(ben.event("session.kicked").await["reason"], "account_deleted");
    ben.closed().await;
    let check = stack
        .admin(
            "im_open_login_svc/account_check",
            json!({"CheckItem": [{"UserID": "ben"}]}),
        )
        .await;
    assert_eq!(check["ResultItem"][0]["AccountStatus"], "NotImported");
}

#[tokio::test]
async fn only_the_administrators_genuine_token_opens_the_rest_api() {
    let stack = TestStack::start(crate::BACKEND).await;
    let body = json!({"CheckItem": [{"UserID": "ann"}]});
    let command = "im_open_login_svc/account_check";
    let user_token = stack.token("alice");
    let expired = stack.token_issued_at("administrator", now_secs() - 7200);
    let forged = cirrus_core::usersig::UserSigKey::new(cirrus_core::usersig::DEV_APP_ID, "not-the-secret")
        .mint("administrator", now_secs(), 3600);
    let admin_token = stack.token("administrator");
    for (identifier, usersig, code) in [
        ("alice", user_token.as_str(), 70403),
        ("administrator", user_token.as_str(), 70013),
        ("administrator", expired.as_str(), 70001),
        ("administrator", forged.as_str(), 70003),
        ("administrator", "garbage", 70003),
    ] {
        let answer = stack.rest_as(identifier, usersig, command, body.clone()).await;
        assert_eq!(answer["ActionStatus"], "FAIL", "{identifier}: {answer}");
        assert_eq!(answer["ErrorCode"], code, "{identifier}: {answer}");
    }
    // A missing token, an unknown command and a bad body each have their code too.
    let (_, answer) = stack.post(&format!("/v4/{command}"), body.clone()).await;
    assert_eq!(answer["ErrorCode"], 70003);
    let unknown = stack
        .rest_as(
            "administrator",
            &admin_token,
            "im_open_login_svc/nothing",
            json!({}),
        )
        .await;
    assert_eq!(unknown["ErrorCode"], 70404);
    let bad = stack
        .rest_as(
            "administrator",
            &admin_token,
            command,
            json!({"CheckItem": "ann"}),
        )
        .await;
    assert_eq!(bad["ErrorCode"], 70402);
    let too_many: Vec<_> = (0..101).map(|i| json!({"UserID": format!("u{i}")})).collect();
    let bad = stack
        .rest_as(
            "administrator",
            &admin_token,
            command,
            json!({"CheckItem": too_many}),
        )
        .await;
    assert_eq!(bad["ErrorCode"], 70402);
}

#[tokio::test]
async fn a_kick_closes_every_connection_and_revokes_earlier_tokens() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN bob on two devices with the same token
    let token = stack.token("bob");
    let mut phone = stack.connect_token(&token).await;
    let mut web = stack.connect_token(&token).await;
    // WHEN the admin kicks him
    stack
        .admin("im_open_login_svc/kick", json!({"UserID": "bob"}))
        .await;
    // THEN both are told and closed
    for socket in [&mut phone, &mut web] {
        assert_eq!(socket.event("session.kicked").await["reason"], "kicked_by_admin");
        socket.closed().await;
    }
    // AND the old token no longer connects, while one issued later does
    assert_eq!(
        stack.connect_query(format!("token={token}")).await.err(),
        Some(401)
    );
    stack
        .connect_token(&stack.token_issued_at("bob", now_secs() + 1))
        .await;
    // AND kicking someone without an account says so
    let usersig = stack.token("administrator");
    let answer = stack
        .rest_as(
            "administrator",
            &usersig,
            "im_open_login_svc/kick",
            json!({"UserID": "nobody"}),
        )
        .await;
    assert_eq!(answer["ErrorCode"], 70107);
}

#[tokio::test]
async fn a_revoked_administrator_usersig_no_longer_opens_the_rest_api() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN the administrator's account and a UserSig of it in use
    let usersig = stack.token("administrator");
    let import = json!({"UserID": "administrator"});
    let answer = stack
        .rest_as(
            "administrator",
            &usersig,
            "im_open_login_svc/account_import",
            import,
        )
        .await;
    assert_eq!(answer["ErrorCode"], 0, "{answer}");
    // WHEN the administrator is kicked (every UserSig issued so far is revoked)
    let kick = json!({"UserID": "administrator"});
    let answer = stack
        .rest_as("administrator", &usersig, "im_open_login_svc/kick", kick)
        .await;
    assert_eq!(answer["ErrorCode"], 0, "{answer}");
    // THEN that UserSig is refused on /v4, saying it was revoked
    let check = json!({"CheckItem": [{"UserID": "alice"}]});
    let answer = stack
        .rest_as(
            "administrator",
            &usersig,
            "im_open_login_svc/account_check",
            check.clone(),
        )
        .await;
    assert_eq!(answer["ErrorCode"], 70003, "{answer}");
    assert!(
        answer["ErrorInfo"]
            .as_str()
            .is_some_and(|info| info.contains("revoked"))
    );
    // AND one issued after the revocation works
    let fresh = stack.token_issued_at("administrator", now_secs() + 1);
    let answer = stack
        .rest_as("administrator", &fresh, "im_open_login_svc/account_check", check)
        .await;
    assert_eq!(answer["ActionStatus"], "OK", "{answer}");
}

#[tokio::test]
async fn logout_ends_every_session_of_the_user_and_revokes_their_tokens() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN alice on two connections and bob online
    let token = stack.token("alice");
    let mut first = stack.connect_token(&token).await;
    let mut second = stack.connect_token(&token).await;
    let mut bob = stack.connect("bob").await;
    // WHEN the first logs out
    first.ok("auth.logout", json!({})).await;
    // THEN the first is closed after its reply, the second is told why and closed
    first.closed().await;
    assert_eq!(second.event("session.kicked").await["reason"], "logged_out");
    second.closed().await;
    // AND her token is refused from now on, bob is untouched
    assert_eq!(
        stack.connect_query(format!("token={token}")).await.err(),
        Some(401)
    );
    bob.ok("sys.ping", json!({})).await;
}

#[tokio::test]
async fn online_status_tells_online_push_online_and_offline_apart() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN ann online on two platforms, ben logged in but disconnected, cat logged out, and
    // dan imported but never logged in
    let _ann_ios = stack.connect_from("ann", "ios").await;
    let _ann_web = stack.connect_from("ann", "web").await;
    stack.connect("ben").await.close().await;
    let mut cat = stack.connect("cat").await;
    cat.ok("auth.logout", json!({})).await;
    cat.closed().await;
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "dan"}))
        .await;
    // WHEN the admin asks, with details, about them and an unknown and a malformed id
    let mut answer = json!(null);
    for _ in 0..50 {
        answer = stack
            .admin(
                "openim/query_online_status",
                json!({"To_Account": ["ann", "ben", "cat", "dan", "zed", "no spaces"], "IsNeedDetail": 1}),
            )
            .await;
        // ben's $disconnect runs after his close: wait until it has.
        if answer["QueryResult"][1]["Status"] == "PushOnline" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // THEN each known user has their state, with ann's platforms
    assert_eq!(
        answer["QueryResult"],
        json!([
            {"To_Account": "ann", "State": "Online", "Status": "Online",
             "Detail": [{"Platform": "Web", "Status": "Online"}, {"Platform": "iPhone", "Status": "Online"}]},
            {"To_Account": "ben", "State": "PushOnline", "Status": "PushOnline", "Detail": []},
            {"To_Account": "cat", "State": "Offline", "Status": "Offline", "Detail": []},
            {"To_Account": "dan", "State": "Offline", "Status": "Offline", "Detail": []},
        ])
    );
    assert_eq!(
        answer["ErrorList"],
        json!([
            {"To_Account": "no spaces", "ErrorCode": 70402},
            {"To_Account": "zed", "ErrorCode": 70107},
        ])
    );
}

#[tokio::test]
async fn an_imported_nick_and_face_url_are_the_users_profile() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN ann imported with a nickname and an avatar
    stack
        .admin(
            "im_open_login_svc/account_import",
            json!({"UserID": "ann", "Nick": "Ann", "FaceUrl": "https://example.com/ann.png"}),
        )
        .await;
    // WHEN the app server reads her profile THEN both are there
    let got = stack
        .admin("profile/portrait_get", json!({"To_Account": ["ann"]}))
        .await;
    let tags = got["UserProfileItem"][0]["ProfileItem"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        tags.contains(&json!({"Tag": "Tag_Profile_IM_Nick", "Value": "Ann"})),
        "{got}"
    );
    assert!(
        tags.contains(&json!({"Tag": "Tag_Profile_IM_Image", "Value": "https://example.com/ann.png"})),
        "{got}"
    );
    // AND a user reading it over the WebSocket sees them too
    let mut ben = stack.connect("ben").await;
    let profile = ben.ok("profile.get", json!({"userIds": ["ann"]})).await;
    assert_eq!(profile["profiles"][0]["nickname"], "Ann");
    assert_eq!(profile["profiles"][0]["faceUrl"], "https://example.com/ann.png");
    // AND importing her again with another nickname sets it, her avatar left as it was
    stack
        .admin(
            "im_open_login_svc/account_import",
            json!({"UserID": "ann", "Nick": "Other"}),
        )
        .await;
    let profile = ben.ok("profile.get", json!({"userIds": ["ann"]})).await;
    assert_eq!(profile["profiles"][0]["nickname"], "Other");
    assert_eq!(profile["profiles"][0]["faceUrl"], "https://example.com/ann.png");
}

#[tokio::test]
async fn a_deleted_account_leaves_no_profile_relations_or_valid_token_behind() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN alice (with a nickname) friends with bob both ways, in carol's list one way, with a
    // pending request to dan, blocked by erin, and holding a token
    for (id, nick) in [
        ("alice", "Al"),
        ("bob", "Bob"),
        ("carol", "Carol"),
        ("dan", "Dan"),
        ("erin", "Erin"),
    ] {
        stack
            .admin(
                "im_open_login_svc/account_import",
                json!({"UserID": id, "Nick": nick}),
            )
            .await;
    }
    stack
        .admin(
            "sns/friend_add",
            json!({"From_Account": "alice", "AddFriendItem": [{"To_Account": "bob"}]}),
        )
        .await;
    stack
        .admin(
            "sns/friend_import",
            json!({"From_Account": "carol", "AddFriendItem": [{"To_Account": "alice"}]}),
        )
        .await;
    stack
        .admin(
            "sns/black_list_add",
            json!({"From_Account": "erin", "To_Account": ["alice"]}),
        )
        .await;
    let mut dan = stack.connect("dan").await;
    dan.ok("profile.set", json!({"allowType": "need_confirm"})).await;
    let token = stack.token("alice");
    let mut alice = stack.connect_token(&token).await;
    assert_eq!(
        alice.ok("friend.add", json!({"userId": "dan"})).await["result"],
        "pending"
    );
    // WHEN her account is deleted
    let deleted = stack
        .admin(
            "im_open_login_svc/account_delete",
            json!({"DeleteItem": [{"UserID": "alice"}]}),
        )
        .await;
    assert_eq!(deleted["ResultItem"][0]["ResultCode"], 0, "{deleted}");
    assert_eq!(alice.event("session.kicked").await["reason"], "account_deleted");
    // THEN her profile is gone
    let got = stack
        .admin("profile/portrait_get", json!({"To_Account": ["alice"]}))
        .await;
    assert_eq!(got["Fail_Account"], json!(["alice"]), "{got}");
    // AND nobody's list names her, nor does anyone's pending request or blacklist
    for owner in ["bob", "carol"] {
        let list = stack
            .admin("sns/friend_get", json!({"From_Account": owner}))
            .await;
        assert_eq!(list["UserDataItem"], json!([]), "{owner}: {list}");
    }
    let incoming = dan.ok("friend.requests", json!({"direction": "incoming"})).await;
    assert_eq!(incoming["requests"], json!([]), "{incoming}");
    let mut erin = stack.connect("erin").await;
    let blocks = erin.ok("block.list", json!({})).await;
    assert_eq!(blocks["blocked"], json!([]), "{blocks}");
    // AND her old token no longer connects
    assert_eq!(
        stack.connect_query(format!("token={token}")).await.err(),
        Some(401)
    );
    // WHEN the id is imported again THEN it starts with nothing of hers
    stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "alice"}))
        .await;
    let mut fresh = stack
        .connect_token(&stack.token_issued_at("alice", now_secs() + 1))
        .await;
    let own = fresh.ok("profile.get", json!({})).await;
    assert_eq!(own["profiles"][0]["nickname"], serde_json::Value::Null, "{own}");
    let friends = fresh.ok("friend.list", json!({})).await;
    assert_eq!(friends["friends"], json!([]), "{friends}");
    let outgoing = fresh
        .ok("friend.requests", json!({"direction": "outgoing"}))
        .await;
    assert_eq!(outgoing["requests"], json!([]), "{outgoing}");
}

#[tokio::test]
async fn a_body_over_one_mib_is_refused_with_a_coded_error() {
    let stack = TestStack::start(crate::BACKEND).await;
    // GIVEN an import whose JSON body is 1.5 MiB (under axum's own 2 MB default)
    let padding = "x".repeat(cirrus_handlers::api::MAX_BODY_BYTES / 2 * 3);
    let body = json!({"UserID": "ann", "Nick": padding});
    // WHEN the app server sends it THEN 413 with Tencent's shape and 70413
    let (status, answer) = stack
        .post("/v4/im_open_login_svc/account_import", body.clone())
        .await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["ErrorCode"], cirrus_handlers::api::BODY_TOO_LARGE_CODE);
    // AND a login endpoint answers 413 with its stable code
    let (status, answer) = stack.post("/v1/auth/guest", body).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "body_too_large");
}
