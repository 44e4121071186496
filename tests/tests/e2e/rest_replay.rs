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
