//! Callbacks end to end, on both backends: the app's server (a scripted HTTP receiver on a free
//! loopback port) refuses and rewrites messages through the before-send callbacks, a silent one
//! is failed open or closed as configured, and after-send callbacks are retried through the push
//! queue until the receiver takes them, under one id. The receiver checks Tencent's `Sign` and
//! the body signature on every call. What kept failing dead-letters and is replayed through
//! `cirrus_callback/replay`.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cirrus_local::queue::{PushConfig, QueueOptions};
use cirrus_tests::{Backend, TestStack};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "cb-token-e2e-0123";

/// One answer of the receiver: status, JSON body, and how long it takes.
#[derive(Clone)]
struct Answer {
    status: StatusCode,
    body: Value,
    delay: Duration,
}

fn allow() -> Answer {
    Answer {
        status: StatusCode::OK,
        body: json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}),
        delay: Duration::ZERO,
    }
}

/// One call the receiver got.
#[derive(Debug, Clone)]
struct Call {
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: String,
}

impl Call {
    /// The body, after checking both signatures as an app server would.
    fn verified(&self) -> Value {
        let time = &self.query["RequestTime"];
        let sign = hex::encode(Sha256::digest(format!("{TOKEN}{time}").as_bytes()));
        assert_eq!(self.query["Sign"], sign, "Tencent's Sign verifies");
        assert_eq!(self.headers["x-cirrus-timestamp"].to_str().unwrap(), time);
        let signature = self.headers["x-cirrus-signature"].to_str().unwrap();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(TOKEN.as_bytes()).unwrap();
        mac.update(format!("{time}.{}", self.body).as_bytes());
        assert_eq!(
            signature,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
            "the body signature verifies"
        );
        let body: Value = serde_json::from_str(&self.body).unwrap();
        assert_eq!(
            body["CallbackCommand"].as_str(),
            Some(self.query["CallbackCommand"].as_str())
        );
        assert_eq!(self.query["contenttype"], "json");
        assert_eq!(
            self.query["SdkAppid"],
            cirrus_core::usersig::DEV_APP_ID.to_string()
        );
        body
    }

    fn id(&self) -> String {
        self.headers["x-cirrus-delivery"].to_str().unwrap().to_owned()
    }
}

/// The app's server: answers from a script (then `allow()`), records every call.
struct Receiver {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    async fn start() -> Self {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let script: Arc<Mutex<VecDeque<Answer>>> = Arc::default();
        let (seen, answers) = (calls.clone(), script.clone());
        let app = Router::new().route(
            "/im/callback",
            post(
                move |RawQuery(query): RawQuery, headers: HeaderMap, body: String| async move {
                    let query = url_query(query.as_deref().unwrap_or_default());
                    seen.lock().unwrap().push(Call { query, headers, body });
                    let answer = answers.lock().unwrap().pop_front().unwrap_or_else(allow);
                    tokio::time::sleep(answer.delay).await;
                    (answer.status, answer.body.to_string())
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/im/callback", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, calls, script }
    }

    fn answer(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().unwrap().extend(answers);
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until `count` calls have arrived.
    async fn wait_for(&self, count: usize) -> Vec<Call> {
        let what = format!("{count} callback call(s)");
        cirrus_tests::wait_until(&what, || Some(self.calls()).filter(|calls| calls.len() >= count)).await
    }
}

fn url_query(query: &str) -> HashMap<String, String> {
    let url = reqwest::Url::parse(&format!("http://receiver/?{query}")).unwrap();
    url.query_pairs().into_owned().collect()
}

/// A stack whose push queue retries after 200 ms, with alice, bob and carol imported.
async fn stack(backend: Backend) -> TestStack {
    let stack = TestStack::start_with(backend, |config| {
        config.push = PushConfig {
            queue: QueueOptions {
                visibility_timeout: Duration::from_millis(200),
                ..QueueOptions::default()
            },
            ..PushConfig::default()
        };
    })
    .await;
    for user in ["alice", "bob", "carol"] {
        stack
            .admin("im_open_login_svc/account_import", json!({"UserID": user}))
            .await;
    }
    stack
}

async fn configure(stack: &TestStack, receiver: &Receiver, commands: Value) {
    stack
        .admin(
            "cirrus_callback/set_config",
            json!({"Config": {"url": receiver.url, "token": TOKEN, "commands": commands}}),
        )
        .await;
}

async fn a_before_send_callback_refuses_and_nothing_is_stored(backend: Backend) {
    // GIVEN alice and bob, and no callback configured: a send calls nobody
    let stack = stack(backend).await;
    let receiver = Receiver::start().await;
    let mut alice = stack.connect("alice").await;
    alice.send_text("bob", "c-0", "before any callback").await;
    assert!(receiver.calls().is_empty());
    // AND the app's server refuses one-to-one messages
    configure(&stack, &receiver, json!({"C2C.CallbackBeforeSendMsg": {}})).await;
    receiver.answer([Answer {
        body: json!({"ActionStatus": "FAIL", "ErrorCode": 1, "ErrorInfo": "no spam here"}),
        ..allow()
    }]);

    // WHEN alice sends bob a message
    let reply = alice
        .call(
            "msg.send",
            json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "c-1",
                   "body": [{"type": "text", "text": "buy now"}], "cloudCustomData": "x"}),
        )
        .await;

    // THEN it is refused with the app's reason
    assert_eq!(reply["ok"], false);
    assert_eq!(reply["error"]["code"], "callback_refused");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no spam here")
    );
    // AND the app's server got Tencent's fields, signed
    let calls = receiver.wait_for(1).await;
    let body = calls[0].verified();
    assert_eq!(body["CallbackCommand"], "C2C.CallbackBeforeSendMsg");
    assert_eq!(body["From_Account"], "alice");
    assert_eq!(body["To_Account"], "bob");
    assert_eq!(
        body["MsgBody"],
        json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "buy now"}}])
    );
    assert_eq!(body["CloudCustomData"], "x");
    assert_eq!(body["ClientMsgId"], "c-1");
    assert!(body["MsgTime"].as_i64().unwrap() > 1_700_000_000);
    // AND nothing was stored: bob's history holds the first message only
    let mut bob = stack.connect("bob").await;
    let page = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before any callback"]);
}

async fn a_before_send_callback_rewrites_a_group_message(backend: Backend) {
    // GIVEN a group of alice and bob, and an app server that masks words
    let stack = stack(backend).await;
    let receiver = Receiver::start().await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    alice
        .ok(
            "group.create",
            json!({"type": "private", "groupId": "g-cb", "name": "Callbacks", "members": ["bob"]}),
        )
        .await;
    configure(&stack, &receiver, json!({"Group.CallbackBeforeSendMsg": {}})).await;
    receiver.answer([Answer {
        body: json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
                     "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "*** masked ***"}}],
                     "CloudCustomData": "moderated"}),
        ..allow()
    }]);

    // WHEN alice sends a group message
    let ack = alice
        .ok(
            "msg.send",
            json!({"to": {"type": "group", "id": "g-cb"}, "clientMsgId": "g-1",
                   "body": [{"type": "text", "text": "a rude word"}]}),
        )
        .await;

    // THEN bob receives the app's version, and history holds it
    let delivered = bob.event("msg.new").await;
    assert_eq!(delivered["msgId"], ack["msgId"]);
    assert_eq!(
        delivered["body"],
        json!([{"type": "text", "text": "*** masked ***"}])
    );
    assert_eq!(delivered["cloudCustomData"], "moderated");
    let page = bob
        .ok("msg.history", json!({"conversationId": "GROUPg-cb"}))
        .await;
    let stored = page["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(stored["body"][0]["text"], "*** masked ***");
    // AND the callback named the group with Tencent's type
    let body = receiver.wait_for(1).await[0].verified();
    assert_eq!(body["CallbackCommand"], "Group.CallbackBeforeSendMsg");
    assert_eq!(body["GroupId"], "g-cb");
    assert_eq!(body["Type"], "Private");
    assert_eq!(body["From_Account"], "alice");
}

async fn a_silent_callback_server_fails_open_or_closed(backend: Backend) {
    // GIVEN an app server that takes two seconds, and a 200 ms timeout failing open
    let stack = stack(backend).await;
    let receiver = Receiver::start().await;
    let slow = Answer {
        delay: Duration::from_secs(2),
        ..allow()
    };
    receiver.answer([slow.clone(), slow]);
    configure(
        &stack,
        &receiver,
        json!({"C2C.CallbackBeforeSendMsg": {"timeoutMs": 200}}),
    )
    .await;
    let mut alice = stack.connect("alice").await;

    // WHEN alice sends, the send goes ahead once the timeout passes
    let started = std::time::Instant::now();
    alice.send_text("bob", "t-1", "open").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the send waited for the callback"
    );

    // AND with the command failing closed, the send is refused and nothing stored
    configure(
        &stack,
        &receiver,
        json!({"C2C.CallbackBeforeSendMsg": {"timeoutMs": 200, "fail": "closed"}}),
    )
    .await;
    let code = alice
        .err(
            "msg.send",
            json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "t-2",
                   "body": [{"type": "text", "text": "closed"}]}),
        )
        .await;
    assert_eq!(code, "callback_failed");
    let mut bob = stack.connect("bob").await;
    let page = bob.ok("msg.history", json!({"conversationId": "C2Calice"})).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    assert_eq!(page["messages"][0]["clientMsgId"], "t-1");
}

async fn after_send_callbacks_are_retried_until_taken_under_one_id(backend: Backend) {
    // GIVEN an app server that fails twice, then takes the call
    let stack = stack(backend).await;
    let receiver = Receiver::start().await;
    let failing = Answer {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        ..allow()
    };
    receiver.answer([failing.clone(), failing]);
    configure(&stack, &receiver, json!({"C2C.CallbackAfterSendMsg": {}})).await;
    let mut alice = stack.connect("alice").await;

    // WHEN alice sends bob a message
    let ack = alice.send_text("bob", "a-1", "after").await;

    // THEN the after-callback arrives three times with one id, and the third is taken
    let calls = receiver.wait_for(3).await;
    let ids: Vec<String> = calls.iter().map(Call::id).collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    for call in &calls {
        let body = call.verified();
        assert_eq!(body["CallbackCommand"], "C2C.CallbackAfterSendMsg");
        assert_eq!(body["From_Account"], "alice");
        assert_eq!(body["To_Account"], "bob");
        assert_eq!(body["MsgSeq"], ack["seq"]);
        assert_eq!(body["MsgKey"], ack["msgId"]);
        assert_eq!(body["MsgBody"][0]["MsgContent"]["Text"], "after");
    }
    // AND no fourth call follows once one was taken (the next retry would be due in 200 ms)
    let before = receiver.calls().len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.calls().len(), before);
}

async fn dead_lettered_callbacks_are_replayed_under_their_id(backend: Backend) {
    // GIVEN an app server that fails an after-callback on every one of its receives
    let stack = stack(backend).await;
    let receiver = Receiver::start().await;
    let failing = Answer {
        status: StatusCode::SERVICE_UNAVAILABLE,
        ..allow()
    };
    let receives = cirrus_aws::MAX_RECEIVE_COUNT as usize;
    receiver.answer(vec![failing; receives]);
    configure(&stack, &receiver, json!({"C2C.CallbackAfterSendMsg": {}})).await;
    let mut alice = stack.connect("alice").await;
    let ack = alice.send_text("bob", "d-1", "dead").await;
    let failed = receiver.wait_for(receives).await;

    // WHEN the administrator replays until the job has been dead-lettered and moved back
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let replayed = loop {
        let answer = stack.admin("cirrus_callback/replay", json!({"Limit": 10})).await;
        if answer["Replayed"] != 0 {
            break answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never dead-lettered: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // THEN one was replayed, and the app server gets the call once more, under the same id
    assert_eq!(replayed["Replayed"], 1, "{replayed}");
    assert_eq!(replayed["Complete"], true, "{replayed}");
    let calls = receiver.wait_for(receives + 1).await;
    let last = calls.last().unwrap();
    assert_eq!(last.id(), failed[0].id());
    let body = last.verified();
    assert_eq!(body["CallbackCommand"], "C2C.CallbackAfterSendMsg");
    assert_eq!(body["MsgKey"], ack["msgId"]);
    // AND, taken this time, nothing is left to replay
    let again = stack.admin("cirrus_callback/replay", json!({})).await;
    assert_eq!(
        (again["Replayed"].clone(), again["Complete"].clone()),
        (json!(0), json!(true))
    );
    // AND a limit out of range is refused
    let usersig = stack.token("administrator");
    for limit in [json!(0), json!(1001), json!("ten")] {
        let answer = stack
            .rest_as(
                "administrator",
                &usersig,
                "cirrus_callback/replay",
                json!({"Limit": limit}),
            )
            .await;
        assert_eq!(answer["ErrorCode"], 70402, "{limit}: {answer}");
    }
}

/// The calls of `command` among `calls`, their bodies verified.
fn of_command(calls: &[Call], command: &str) -> Vec<Value> {
    calls
        .iter()
        .filter(|call| call.query["CallbackCommand"] == command)
        .map(Call::verified)
        .collect()
}

async fn state_and_relationship_callbacks_tell_what_happened(backend: Backend) {
    // GIVEN the state and relationship after-callbacks turned on
    let stack = stack(backend).await;
    let receiver = Receiver::start().await;
    configure(
        &stack,
        &receiver,
        json!({"State.StateChange": {}, "Sns.CallbackFriendAdd": {}, "Sns.CallbackFriendDelete": {},
               "Sns.CallbackBlackListAdd": {}, "Sns.CallbackBlackListDelete": {}}),
    )
    .await;

    // WHEN alice logs in, befriends bob, unfriends him, blocks and unblocks carol, and leaves
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let added = alice.ok("friend.add", json!({"userId": "bob"})).await;
    if added["result"] == "pending" {
        bob.ok("friend.accept", json!({"userId": "alice"})).await;
    }
    alice
        .ok("friend.delete", json!({"userIds": ["bob"], "both": true}))
        .await;
    alice.ok("block.add", json!({"userIds": ["carol"]})).await;
    alice.ok("block.remove", json!({"userIds": ["carol"]})).await;
    alice.close().await;

    // THEN each change reaches the app's server with Tencent's fields
    let wanted = [
        "Sns.CallbackFriendAdd",
        "Sns.CallbackFriendDelete",
        "Sns.CallbackBlackListAdd",
        "Sns.CallbackBlackListDelete",
    ];
    let calls = cirrus_tests::wait_until("the state and relationship callbacks", || {
        let calls = receiver.calls();
        let disconnected = of_command(&calls, "State.StateChange")
            .iter()
            .any(|body| body["Info"]["Action"] == "Disconnect" && body["Info"]["To_Account"] == "alice");
        let all = wanted
            .iter()
            .all(|c| calls.iter().any(|call| call.query["CallbackCommand"] == *c));
        (disconnected && all).then_some(calls)
    })
    .await;
    let states = of_command(&calls, "State.StateChange");
    assert!(
        states
            .iter()
            .any(|body| body["Info"]
                == json!({"Action": "Login", "To_Account": "alice", "Reason": "Register"}))
    );
    assert!(
        states.iter().any(|body| body["Info"]
            == json!({"Action": "Disconnect", "To_Account": "alice", "Reason": "LinkClose"}))
    );
    let friend_add = &of_command(&calls, "Sns.CallbackFriendAdd")[0];
    let pairs = friend_add["PairList"].as_array().unwrap();
    assert_eq!(pairs.len(), 2);
    assert!(pairs.iter().all(|pair| pair["Initiator_Account"] == "alice"));
    assert!(
        pairs
            .iter()
            .any(|pair| pair["From_Account"] == "alice" && pair["To_Account"] == "bob")
    );
    assert!(
        pairs
            .iter()
            .any(|pair| pair["From_Account"] == "bob" && pair["To_Account"] == "alice")
    );
    let friend_delete = &of_command(&calls, "Sns.CallbackFriendDelete")[0];
    assert_eq!(friend_delete["ClientCmd"], "friend_delete");
    assert_eq!(friend_delete["PairList"].as_array().unwrap().len(), 2);
    for (command, cmd) in [
        ("Sns.CallbackBlackListAdd", "blacklist_add"),
        ("Sns.CallbackBlackListDelete", "blacklist_delete"),
    ] {
        let body = &of_command(&calls, command)[0];
        assert_eq!(body["ClientCmd"], cmd);
        assert_eq!(
            body["PairList"],
            json!([{"From_Account": "alice", "To_Account": "carol"}])
        );
    }
}

async fn group_lifecycle_callbacks_tell_what_happened(backend: Backend) {
    // GIVEN the group after-callbacks turned on
    let stack = stack(backend).await;
    let receiver = Receiver::start().await;
    configure(
        &stack,
        &receiver,
        json!({"Group.CallbackAfterCreateGroup": {}, "Group.CallbackAfterNewMemberJoin": {},
               "Group.CallbackAfterMemberExit": {}, "Group.CallbackAfterGroupDestroyed": {}}),
    )
    .await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let mut carol = stack.connect("carol").await;

    // WHEN alice creates a public group with bob, carol joins freely, bob quits, alice removes
    // carol and dismisses the group
    alice
        .ok(
            "group.create",
            json!({"type": "public", "groupId": "g-life", "name": "Life", "members": ["bob"],
                   "joinPolicy": "free"}),
        )
        .await;
    carol.ok("group.apply", json!({"groupId": "g-life"})).await;
    bob.ok("group.quit", json!({"groupId": "g-life"})).await;
    alice
        .ok("group.kick", json!({"groupId": "g-life", "userIds": ["carol"]}))
        .await;
    alice.ok("group.dismiss", json!({"groupId": "g-life"})).await;

    // THEN the app's server hears of each step with Tencent's fields
    let calls = cirrus_tests::wait_until("the group callbacks", || {
        let calls = receiver.calls();
        let exits = of_command(&calls, "Group.CallbackAfterMemberExit").len();
        let done = exits == 2
            && !of_command(&calls, "Group.CallbackAfterGroupDestroyed").is_empty()
            && !of_command(&calls, "Group.CallbackAfterNewMemberJoin").is_empty()
            && !of_command(&calls, "Group.CallbackAfterCreateGroup").is_empty();
        done.then_some(calls)
    })
    .await;
    let created = &of_command(&calls, "Group.CallbackAfterCreateGroup")[0];
    assert_eq!(created["GroupId"], "g-life");
    assert_eq!(created["Type"], "Public");
    assert_eq!(created["Owner_Account"], "alice");
    assert_eq!(created["Name"], "Life");
    let founders = created["MemberList"].as_array().unwrap();
    assert_eq!(founders.len(), 2, "{created}");
    let joined = &of_command(&calls, "Group.CallbackAfterNewMemberJoin")[0];
    assert_eq!(joined["JoinType"], "Apply");
    assert_eq!(joined["NewMemberList"], json!([{"Member_Account": "carol"}]));
    let mut exits: Vec<(String, Value)> = of_command(&calls, "Group.CallbackAfterMemberExit")
        .into_iter()
        .map(|body| {
            (
                body["ExitType"].as_str().unwrap().to_owned(),
                body["ExitMemberList"].clone(),
            )
        })
        .collect();
    exits.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        exits,
        [
            ("Kicked".to_owned(), json!([{"Member_Account": "carol"}])),
            ("Quit".to_owned(), json!([{"Member_Account": "bob"}])),
        ]
    );
    let destroyed = &of_command(&calls, "Group.CallbackAfterGroupDestroyed")[0];
    assert_eq!(destroyed["GroupId"], "g-life");
    assert_eq!(destroyed["MemberList"], json!([{"Member_Account": "alice"}]));
}

async fn recall_and_profile_callbacks_tell_what_happened(backend: Backend) {
    // GIVEN the recall and profile after-callbacks turned on, and a group of alice and bob
    let stack = stack(backend).await;
    let receiver = Receiver::start().await;
    let mut alice = stack.connect("alice").await;
    alice
        .ok(
            "group.create",
            json!({"type": "private", "groupId": "g-recall", "name": "Recall", "members": ["bob"]}),
        )
        .await;
    configure(
        &stack,
        &receiver,
        json!({"C2C.CallbackAfterMsgWithDraw": {}, "Group.CallbackAfterRecallMsg": {},
               "Profile.CallbackPortraitSet": {}}),
    )
    .await;

    // WHEN alice recalls a one-to-one and a group message, and sets her nickname
    let c2c = alice.send_text("bob", "r-1", "oops").await;
    alice
        .ok(
            "msg.recall",
            json!({"conversationId": "C2Cbob", "seq": c2c["seq"]}),
        )
        .await;
    let group = alice
        .ok(
            "msg.send",
            json!({"to": {"type": "group", "id": "g-recall"}, "clientMsgId": "r-2",
                   "body": [{"type": "text", "text": "oops too"}]}),
        )
        .await;
    alice
        .ok(
            "msg.recall",
            json!({"conversationId": "GROUPg-recall", "seq": group["seq"]}),
        )
        .await;
    alice.ok("profile.set", json!({"nickname": "Alice"})).await;

    // THEN each reaches the app's server
    let wanted = [
        "C2C.CallbackAfterMsgWithDraw",
        "Group.CallbackAfterRecallMsg",
        "Profile.CallbackPortraitSet",
    ];
    let calls = cirrus_tests::wait_until("the recall and profile callbacks", || {
        let calls = receiver.calls();
        wanted
            .iter()
            .all(|c| !of_command(&calls, c).is_empty())
            .then_some(calls)
    })
    .await;
    let withdraw = &of_command(&calls, "C2C.CallbackAfterMsgWithDraw")[0];
    assert_eq!(withdraw["From_Account"], "alice");
    assert_eq!(withdraw["To_Account"], "bob");
    assert_eq!(withdraw["MsgKey"], c2c["msgId"]);
    let recalled = &of_command(&calls, "Group.CallbackAfterRecallMsg")[0];
    assert_eq!(recalled["GroupId"], "g-recall");
    assert_eq!(recalled["Operator_Account"], "alice");
    assert_eq!(recalled["MsgSeqList"], json!([{"MsgSeq": group["seq"]}]));
    let portrait = &of_command(&calls, "Profile.CallbackPortraitSet")[0];
    assert_eq!(portrait["From_Account"], "alice");
    assert_eq!(
        portrait["ProfileItem"],
        json!([{"Tag": "Tag_Profile_IM_Nick", "Value": "Alice"}])
    );
}

fn refuse(info: &str) -> Answer {
    Answer {
        body: json!({"ActionStatus": "FAIL", "ErrorCode": 1, "ErrorInfo": info}),
        ..allow()
    }
}

async fn before_callbacks_refuse_friendships_groups_and_members(backend: Backend) {
    // GIVEN the relationship and group before-callbacks turned on
    let stack = stack(backend).await;
    let receiver = Receiver::start().await;
    configure(
        &stack,
        &receiver,
        json!({"Sns.CallbackPrevFriendAdd": {}, "Sns.CallbackPrevFriendResponse": {},
               "Group.CallbackBeforeCreateGroup": {},
               "Group.CallbackBeforeInviteJoinGroup": {}, "Group.CallbackBeforeApplyJoinGroup": {}}),
    )
    .await;
    let mut alice = stack.connect("alice").await;
    let mut carol = stack.connect("carol").await;

    // WHEN the app refuses alice's friend request to bob through its ResultItem
    receiver.answer([Answer {
        body: json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
                     "ResultItem": [{"To_Account": "bob", "ResultCode": 30001, "ResultInfo": "bob is busy"}]}),
        ..allow()
    }]);
    let refused = alice.call("friend.add", json!({"userId": "bob"})).await;
    // THEN the add is refused with the app's reason, and nothing is pending
    assert_eq!(refused["error"]["code"], "callback_refused", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bob is busy")
    );
    let pending = alice
        .ok("friend.requests", json!({"direction": "outgoing"}))
        .await;
    assert_eq!(pending["requests"], json!([]));
    let add = &of_command(&receiver.calls(), "Sns.CallbackPrevFriendAdd")[0];
    assert_eq!(add["From_Account"], "alice");
    assert_eq!(add["FriendItem"][0]["To_Account"], "bob");

    // WHEN the app allows the request (bob confirms requests) but refuses bob's acceptance
    let sent = alice.ok("friend.add", json!({"userId": "bob"})).await;
    assert_eq!(sent["result"], "pending");
    let mut bob = stack.connect("bob").await;
    receiver.answer([refuse("not allowed to befriend")]);
    let code = bob.err("friend.accept", json!({"userId": "alice"})).await;
    // THEN the acceptance is refused and the request still waits
    assert_eq!(code, "callback_refused");
    let waiting = bob.ok("friend.requests", json!({"direction": "incoming"})).await;
    assert_eq!(waiting["requests"].as_array().unwrap().len(), 1, "{waiting}");
    let response = &of_command(&receiver.calls(), "Sns.CallbackPrevFriendResponse")[0];
    assert_eq!(response["From_Account"], "bob");
    assert_eq!(
        response["ResponseFriendItem"][0]["ResponseAction"],
        "Response_Action_AgreeAndAdd"
    );

    // WHEN the app refuses a group, THEN it is not made
    receiver.answer([refuse("no more groups")]);
    let code = alice
        .err(
            "group.create",
            json!({"type": "public", "groupId": "g-no", "name": "No", "joinPolicy": "free"}),
        )
        .await;
    assert_eq!(code, "callback_refused");
    let info = alice.ok("group.info", json!({"groupIds": ["g-no"]})).await;
    assert_eq!(info["groups"], json!([]), "{info}");

    // WHEN it lets a private group be made but refuses carol among the invitees
    alice
        .ok(
            "group.create",
            json!({"type": "private", "groupId": "g-inv", "name": "Invites"}),
        )
        .await;
    receiver.answer([Answer {
        body: json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
                     "RefusedMembers_Account": ["carol"]}),
        ..allow()
    }]);
    let invited = alice
        .ok(
            "group.invite",
            json!({"groupId": "g-inv", "userIds": ["bob", "carol"]}),
        )
        .await;
    // THEN bob is in and carol is not
    assert_eq!(
        invited["results"],
        json!([{"userId": "bob", "result": "added"}, {"userId": "carol", "result": "refused"}]),
        "{invited}"
    );
    let invite = &of_command(&receiver.calls(), "Group.CallbackBeforeInviteJoinGroup")[0];
    assert_eq!(
        invite["DestinationMembers"],
        json!([{"Member_Account": "bob"}, {"Member_Account": "carol"}])
    );

    // WHEN carol applies to a public group the app keeps closed, THEN she is refused
    alice
        .ok(
            "group.create",
            json!({"type": "public", "groupId": "g-open", "name": "Open", "joinPolicy": "free"}),
        )
        .await;
    receiver.answer([refuse("members only")]);
    let code = carol.err("group.apply", json!({"groupId": "g-open"})).await;
    assert_eq!(code, "callback_refused");
    let apply = &of_command(&receiver.calls(), "Group.CallbackBeforeApplyJoinGroup")[0];
    assert_eq!(apply["Requestor_Account"], "carol");
    assert_eq!(apply["GroupId"], "g-open");
    // AND once the app allows it, she joins
    let joined = carol.ok("group.apply", json!({"groupId": "g-open"})).await;
    assert_eq!(joined["result"], "joined", "{joined}");
}

async fn read_group_change_and_viewer_callbacks_tell_what_happened(backend: Backend) {
    // GIVEN the remaining after-callbacks turned on
    let stack = stack(backend).await;
    let receiver = Receiver::start().await;
    configure(
        &stack,
        &receiver,
        json!({"C2C.CallbackAfterMsgReport": {}, "Group.CallbackAfterGroupInfoChanged": {},
               "Group.CallbackAfterChangeGroupOwner": {}, "Group.CallbackAfterMemberFieldChanged": {},
               "Group.CallbackAfterGroupFull": {}, "Group.CallbackOnMemberStateChange": {}}),
    )
    .await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let mut carol = stack.connect("carol").await;

    // WHEN bob reads alice's message
    let sent = alice.send_text("bob", "m-1", "read me").await;
    bob.ok(
        "conv.read",
        json!({"conversationId": "C2Calice", "seq": sent["seq"]}),
    )
    .await;
    // AND carol fills a group of three, alice renames it, sets bob's name card and hands it to him
    alice
        .ok(
            "group.create",
            json!({"type": "public", "groupId": "g-more", "name": "More", "members": ["bob"],
                   "joinPolicy": "free", "maxMembers": 3}),
        )
        .await;
    carol.ok("group.apply", json!({"groupId": "g-more"})).await;
    alice
        .ok("group.update", json!({"groupId": "g-more", "name": "More!"}))
        .await;
    alice
        .ok(
            "group.member_update",
            json!({"groupId": "g-more", "userId": "bob", "nameCard": "Bobby"}),
        )
        .await;
    alice
        .ok("group.transfer", json!({"groupId": "g-more", "userId": "bob"}))
        .await;
    // AND carol enters and leaves alice's live room
    alice
        .ok(
            "group.create",
            json!({"type": "live", "groupId": "g-live", "name": "Live"}),
        )
        .await;
    carol.ok("group.apply", json!({"groupId": "g-live"})).await;
    carol.ok("group.quit", json!({"groupId": "g-live"})).await;

    // THEN each reaches the app's server
    let wanted = [
        "C2C.CallbackAfterMsgReport",
        "Group.CallbackAfterGroupInfoChanged",
        "Group.CallbackAfterChangeGroupOwner",
        "Group.CallbackAfterMemberFieldChanged",
        "Group.CallbackAfterGroupFull",
    ];
    let calls = cirrus_tests::wait_until("the remaining callbacks", || {
        let calls = receiver.calls();
        let viewers = of_command(&calls, "Group.CallbackOnMemberStateChange").len();
        (viewers == 2 && wanted.iter().all(|c| !of_command(&calls, c).is_empty())).then_some(calls)
    })
    .await;
    let report = &of_command(&calls, "C2C.CallbackAfterMsgReport")[0];
    assert_eq!(report["Report_Account"], "bob");
    assert_eq!(report["Peer_Account"], "alice");
    assert_eq!(report["UnreadMsgNum"], 0);
    let info = &of_command(&calls, "Group.CallbackAfterGroupInfoChanged")[0];
    assert_eq!(info["Name"], "More!");
    assert_eq!(info["Operator_Account"], "alice");
    let owner = &of_command(&calls, "Group.CallbackAfterChangeGroupOwner")[0];
    assert_eq!(
        (
            owner["OldOwner_Account"].as_str(),
            owner["NewOwner_Account"].as_str()
        ),
        (Some("alice"), Some("bob"))
    );
    let field = &of_command(&calls, "Group.CallbackAfterMemberFieldChanged")[0];
    assert_eq!(field["MemberList"][0]["Member_Account"], "bob");
    assert_eq!(field["MemberList"][0]["NameCard"], "Bobby");
    let full = &of_command(&calls, "Group.CallbackAfterGroupFull")[0];
    assert_eq!(full["GroupId"], "g-more");
    let mut viewers: Vec<String> = of_command(&calls, "Group.CallbackOnMemberStateChange")
        .iter()
        .map(|body| {
            assert_eq!(body["GroupId"], "g-live");
            assert_eq!(body["MemberList"], json!([{"Member_Account": "carol"}]));
            body["EventType"].as_str().unwrap().to_owned()
        })
        .collect();
    viewers.sort();
    assert_eq!(viewers, ["Offline", "Online"]);
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn dead_lettered_callbacks_are_replayed_under_their_id() {
        super::dead_lettered_callbacks_are_replayed_under_their_id(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_before_send_callback_refuses_and_nothing_is_stored() {
        super::a_before_send_callback_refuses_and_nothing_is_stored(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_before_send_callback_rewrites_a_group_message() {
        super::a_before_send_callback_rewrites_a_group_message(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_silent_callback_server_fails_open_or_closed() {
        super::a_silent_callback_server_fails_open_or_closed(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn after_send_callbacks_are_retried_until_taken_under_one_id() {
        super::after_send_callbacks_are_retried_until_taken_under_one_id(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn state_and_relationship_callbacks_tell_what_happened() {
        super::state_and_relationship_callbacks_tell_what_happened(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn group_lifecycle_callbacks_tell_what_happened() {
        super::group_lifecycle_callbacks_tell_what_happened(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn recall_and_profile_callbacks_tell_what_happened() {
        super::recall_and_profile_callbacks_tell_what_happened(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn before_callbacks_refuse_friendships_groups_and_members() {
        super::before_callbacks_refuse_friendships_groups_and_members(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn read_group_change_and_viewer_callbacks_tell_what_happened() {
        super::read_group_change_and_viewer_callbacks_tell_what_happened(Backend::Sqlite).await;
    }
}

mod aws {
    use super::*;

    #[tokio::test]
    async fn dead_lettered_callbacks_are_replayed_under_their_id() {
        super::dead_lettered_callbacks_are_replayed_under_their_id(Backend::Aws).await;
    }

    #[tokio::test]
    async fn a_before_send_callback_refuses_and_nothing_is_stored() {
        super::a_before_send_callback_refuses_and_nothing_is_stored(Backend::Aws).await;
    }

    #[tokio::test]
    async fn a_before_send_callback_rewrites_a_group_message() {
        super::a_before_send_callback_rewrites_a_group_message(Backend::Aws).await;
    }

    #[tokio::test]
    async fn a_silent_callback_server_fails_open_or_closed() {
        super::a_silent_callback_server_fails_open_or_closed(Backend::Aws).await;
    }

    #[tokio::test]
    async fn after_send_callbacks_are_retried_until_taken_under_one_id() {
        super::after_send_callbacks_are_retried_until_taken_under_one_id(Backend::Aws).await;
    }

    #[tokio::test]
    async fn state_and_relationship_callbacks_tell_what_happened() {
        super::state_and_relationship_callbacks_tell_what_happened(Backend::Aws).await;
    }

    #[tokio::test]
    async fn group_lifecycle_callbacks_tell_what_happened() {
        super::group_lifecycle_callbacks_tell_what_happened(Backend::Aws).await;
    }

    #[tokio::test]
    async fn recall_and_profile_callbacks_tell_what_happened() {
        super::recall_and_profile_callbacks_tell_what_happened(Backend::Aws).await;
    }

    #[tokio::test]
    async fn before_callbacks_refuse_friendships_groups_and_members() {
        super::before_callbacks_refuse_friendships_groups_and_members(Backend::Aws).await;
    }

    #[tokio::test]
    async fn read_group_change_and_viewer_callbacks_tell_what_happened() {
        super::read_group_change_and_viewer_callbacks_tell_what_happened(Backend::Aws).await;
    }
}
