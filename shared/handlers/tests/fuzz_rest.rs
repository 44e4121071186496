//! Fuzzes the HTTP API's bodies: every `/v4` REST command and every `/v1/auth` endpoint, called
//! through the router with arbitrary and mutated JSON bodies.

mod fuzz_world;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use cirrus_core::fuzzing::{arbitrary_text, config, json_value, mutated};
use cirrus_core::usersig::{DEV_APP_ID, DEV_SECRET_KEY, UserSigKey};
use cirrus_handlers::{Api, Deps};
use lambda_http::tower::ServiceExt as _;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Tencent's field names the commands read, so generated bodies often get past the first checks.
const KEYS: &[&str] = &[
    "UserID",
    "Nick",
    "FaceUrl",
    "AccountList",
    "AccountType",
    "DeleteItem",
    "CheckItem",
    "To_Account",
    "From_Account",
    "IsNeedDetail",
    "TagList",
    "ProfileItem",
    "Tag",
    "Value",
    "AddFriendItem",
    "Remark",
    "GroupName",
    "AddSource",
    "AddWording",
    "AddType",
    "ForceAddFlags",
    "DeleteType",
    "StartIndex",
    "StandardSequence",
    "CustomSequence",
    "RecommendItem",
    "BlackDataItemList",
    "SyncOtherMachine",
    "MsgRandom",
    "MsgBody",
    "MsgType",
    "MsgContent",
    "Text",
    "MsgSeq",
    "MsgKey",
    "CloudCustomData",
    "MsgLifeTime",
    "SendMsgControl",
    "OfflinePushInfo",
    "userId",
    "password",
    "newPassword",
    "idToken",
    "issuer",
    "platform",
];

/// Every `/v4` command with a valid body, and the login endpoints with theirs.
fn commands() -> Vec<(&'static str, Value)> {
    let text = json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]);
    vec![
        (
            "/v4/im_open_login_svc/account_import",
            json!({"UserID": "bob", "Nick": "Bob", "FaceUrl": "https://x/y"}),
        ),
        (
            "/v4/im_open_login_svc/multiaccount_import",
            json!({"AccountList": ["bob", "carol"]}),
        ),
        (
            "/v4/im_open_login_svc/account_delete",
            json!({"DeleteItem": [{"UserID": "carol"}]}),
        ),
        (
            "/v4/im_open_login_svc/account_check",
            json!({"CheckItem": [{"UserID": "bob"}]}),
        ),
        ("/v4/im_open_login_svc/kick", json!({"UserID": "bob"})),
        (
            "/v4/openim/query_online_status",
            json!({"To_Account": ["bob"], "IsNeedDetail": 1}),
        ),
        (
            "/v4/profile/portrait_get",
            json!({"To_Account": ["bob"], "TagList": ["Tag_Profile_IM_Nick"]}),
        ),
        (
            "/v4/profile/portrait_set",
            json!({"From_Account": "bob",
                                            "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "B"}]}),
        ),
        (
            "/v4/sns/friend_add",
            json!({"From_Account": "bob",
                                      "AddFriendItem": [{"To_Account": "carol", "AddSource": "AddSource_Type_x"}]}),
        ),
        (
            "/v4/sns/friend_import",
            json!({"From_Account": "bob",
                                         "AddFriendItem": [{"To_Account": "carol", "AddSource": "AddSource_Type_x"}]}),
        ),
        (
            "/v4/sns/friend_delete",
            json!({"From_Account": "bob", "To_Account": ["carol"],
                                         "DeleteType": "Delete_Type_Both"}),
        ),
        (
            "/v4/sns/friend_get",
            json!({"From_Account": "bob", "StartIndex": 0}),
        ),
        (
            "/v4/sns/recommend_add",
            json!({"From_Account": "bob", "RecommendItem": [{"To_Account": "carol"}]}),
        ),
        (
            "/v4/sns/black_list_add",
            json!({"From_Account": "bob", "To_Account": ["carol"]}),
        ),
        (
            "/v4/sns/black_list_delete",
            json!({"From_Account": "bob", "To_Account": ["carol"]}),
        ),
        (
            "/v4/openim/sendmsg",
            json!({"From_Account": "bob", "To_Account": "carol", "MsgRandom": 1,
                                      "MsgBody": text}),
        ),
        (
            "/v4/openim/batchsendmsg",
            json!({"From_Account": "bob", "To_Account": ["carol"], "MsgRandom": 2,
                                           "MsgBody": text}),
        ),
        (
            "/v4/openim/admin_msgwithdraw",
            json!({"From_Account": "bob", "To_Account": "carol",
                                                "MsgKey": "1_2_3"}),
        ),
        ("/v4/openim/no_such_command", json!({})),
        (
            "/v1/auth/register",
            json!({"userId": "dave", "password": "correct horse battery"}),
        ),
        (
            "/v1/auth/login",
            json!({"userId": "dave", "password": "correct horse battery"}),
        ),
        (
            "/v1/auth/password",
            json!({"userId": "dave", "password": "a", "newPassword": "b"}),
        ),
        ("/v1/auth/oidc", json!({"idToken": "a.b.c", "issuer": "google"})),
        ("/v1/auth/guest", json!({})),
    ]
}

fn query() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let usersig = UserSigKey::new(DEV_APP_ID, DEV_SECRET_KEY).mint(
        "administrator",
        i64::try_from(now).expect("a current time"),
        86_400,
    );
    format!("sdkappid={DEV_APP_ID}&identifier=administrator&usersig={usersig}&random=1&contenttype=json")
}

struct World {
    runtime: tokio::runtime::Runtime,
    router: Router,
    query: String,
}

/// The HTTP API over a fresh store (hosted accounts off: no password hashing per case).
fn world() -> World {
    let mut ports = fuzz_world::ports();
    ports.limits.accounts.hosted = false;
    let key = UserSigKey::new(DEV_APP_ID, DEV_SECRET_KEY);
    let router = Api::new(Deps::new(&ports), key, Vec::new())
        .expect("no issuers to check")
        .router();
    World {
        runtime: fuzz_world::runtime(),
        router,
        query: query(),
    }
}

/// Posts `body` to `path`: a JSON answer in the path's family's shape, never a server fault.
fn check(world: &World, path: &str, body: String) -> Value {
    let uri = format!("{path}?{}", world.query);
    let request = Request::post(uri)
        .body(Body::from(body.clone()))
        .expect("a valid request");
    let (status, answer) = world.runtime.block_on(async {
        let response = world
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, bytes)
    });
    let answer: Value = serde_json::from_slice(&answer).expect("every answer is JSON");
    assert!(!status.is_server_error(), "{status} for {body:.300}: {answer}");
    if path.starts_with("/v4/") {
        assert_eq!(status, StatusCode::OK, "{answer}");
        let code = answer["ErrorCode"].as_u64().expect("an ErrorCode");
        match answer["ActionStatus"].as_str() {
            Some("OK") => assert_eq!(code, 0, "{answer}"),
            Some("FAIL") => assert!(code != 0 && code != 70500, "{code} for {body:.300}: {answer}"),
            _ => panic!("no ActionStatus: {answer}"),
        }
    } else if !status.is_success() {
        let code = answer["error"]["code"].as_str().expect("a refusal has a code");
        assert!(!code.is_empty() && code != "internal", "{code} for {body:.300}");
    }
    answer
}

thread_local! {
    static WORLD: World = world();
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn every_commands_mutated_bodies_get_coded_answers(
        (path, body) in prop::sample::select(commands())
            .prop_flat_map(|(path, valid)| (Just(path), mutated(valid, KEYS))),
    ) {
        WORLD.with(|world| {
            check(world, path, body);
        });
    }

    #[test]
    fn every_commands_arbitrary_bodies_get_coded_answers(
        path in prop::sample::select(commands().into_iter().map(|(path, _)| path).collect::<Vec<_>>()),
        body in prop_oneof![arbitrary_text(KEYS), json_value(KEYS).prop_map(|v| v.to_string())],
    ) {
        WORLD.with(|world| {
            check(world, path, body);
        });
    }
}

#[test]
fn samples_of_every_command_are_answered() {
    WORLD.with(|world| {
        // The administrator's token is taken, so the cases reach the commands' bodies.
        for (path, body) in commands()
            .into_iter()
            .filter(|(path, _)| path.starts_with("/v4/"))
        {
            let answer = check(world, path, body.to_string());
            let code = answer["ErrorCode"].as_u64();
            assert!(
                !matches!(code, Some(70001 | 70003 | 70013 | 70403)),
                "{path}: {answer}"
            );
        }
        let answer = check(
            world,
            "/v4/im_open_login_svc/account_check",
            r#"{"CheckItem":[{"UserID":"bob"}]}"#.into(),
        );
        assert_eq!(answer["ActionStatus"], "OK", "{answer}");
    });
}
