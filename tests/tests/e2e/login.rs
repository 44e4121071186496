//! The login endpoints: hosted accounts with passwords, guests, and each mode switched off.

use cirrus_tests::TestStack;
use serde_json::{Value, json};

async fn hosted() -> TestStack {
    TestStack::start_with(crate::BACKEND, |config| config.limits.accounts.hosted = true).await
}

fn user_sig(answer: &Value) -> String {
    answer["userSig"].as_str().expect("a userSig").to_owned()
}

#[tokio::test]
async fn every_mode_is_off_unless_the_app_turns_it_on() {
    let stack = TestStack::start(crate::BACKEND).await;
    for path in [
        "/v1/auth/register",
        "/v1/auth/login",
        "/v1/auth/password",
        "/v1/auth/guest",
        "/v1/auth/oidc",
    ] {
        let (status, answer) = stack
            .post(
                path,
                json!({"userId": "ann", "password": "long enough", "newPassword": "x", "idToken": "x"}),
            )
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (403, Some("mode_disabled")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_registered_user_logs_in_and_chats() {
    let stack = hosted().await;
    // GIVEN ann registers
    let (status, registered) = stack
        .post(
            "/v1/auth/register",
            json!({"userId": "ann", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, 200, "{registered}");
    assert_eq!(registered["userId"], "ann");
    assert!(registered["expiresIn"].as_i64().unwrap() > 0);
    // WHEN she logs in later with the same password
    let (status, session) = stack
        .post(
            "/v1/auth/login",
            json!({"userId": "ann", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, 200, "{session}");
    // THEN the UserSig opens a WebSocket on which she can send
    let mut ann = stack.connect_token(&user_sig(&session)).await;
    let mut bob = stack.connect("bob").await;
    ann.send_text("bob", "m1", "hi").await;
    assert_eq!(bob.event("msg.new").await["from"], "ann");
    // AND her account is a registered one
    let check = stack
        .admin(
            "im_open_login_svc/account_check",
            json!({"CheckItem": [{"UserID": "ann"}]}),
        )
        .await;
    assert_eq!(check["ResultItem"][0]["AccountKind"], "registered");
}

#[tokio::test]
async fn registration_refuses_taken_reserved_and_bad_input() {
    let stack = hosted().await;
    let (status, _) = stack
        .post(
            "/v1/auth/register",
            json!({"userId": "ann", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, 200);
    for (body, expected) in [
        (
            json!({"userId": "ann", "password": "another one"}),
            (409, "user_exists"),
        ),
        (
            json!({"userId": "administrator", "password": "correct horse"}),
            (400, "reserved_user_id"),
        ),
        (
            json!({"userId": "guest_x", "password": "correct horse"}),
            (400, "reserved_user_id"),
        ),
        (
            json!({"userId": "bob", "password": "short"}),
            (400, "weak_password"),
        ),
        (
            json!({"userId": "no spaces", "password": "correct horse"}),
            (400, "invalid_user_id"),
        ),
        (json!({"userId": "bob"}), (400, "missing_field")),
    ] {
        let (status, answer) = stack.post("/v1/auth/register", body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str().unwrap()),
            expected,
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_look_the_same_and_are_throttled() {
    let stack = hosted().await;
    stack
        .post(
            "/v1/auth/register",
            json!({"userId": "ann", "password": "correct horse"}),
        )
        .await;
    // A wrong password and a user who does not exist get the same answer.
    let wrong = stack
        .post(
            "/v1/auth/login",
            json!({"userId": "ann", "password": "battery staple"}),
        )
        .await;
    let unknown = stack
        .post(
            "/v1/auth/login",
            json!({"userId": "nobody", "password": "battery staple"}),
        )
        .await;
    assert_eq!(wrong.0, 401);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.1["error"]["code"], "wrong_password");
    // Four more failures for ann reach the allowance of five: then even the right password waits.
    for _ in 0..4 {
        let (status, _) = stack
            .post(
                "/v1/auth/login",
                json!({"userId": "ann", "password": "battery staple"}),
            )
            .await;
        assert_eq!(status, 401);
    }
    let (status, answer) = stack
        .post(
            "/v1/auth/login",
            json!({"userId": "ann", "password": "correct horse"}),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
}

#[tokio::test]
async fn a_password_change_revokes_earlier_tokens_and_closes_sessions() {
    let stack = hosted().await;
    let (_, registered) = stack
        .post(
            "/v1/auth/register",
            json!({"userId": "ann", "password": "correct horse"}),
        )
        .await;
    let old_token = user_sig(&registered);
    let mut ann = stack.connect_token(&old_token).await;
    // WHEN she changes her password
    let (status, changed) = stack
        .post(
            "/v1/auth/password",
            json!({"userId": "ann", "password": "correct horse", "newPassword": "battery staple"}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    // THEN her session is told and closed, the old token is refused, the new one works
    assert_eq!(ann.event("session.kicked").await["reason"], "password_changed");
    ann.closed().await;
    assert_eq!(
        stack.connect_query(format!("token={old_token}")).await.err(),
        Some(401)
    );
    stack.connect_token(&user_sig(&changed)).await;
    // AND only the new password logs in
    let (status, _) = stack
        .post(
            "/v1/auth/login",
            json!({"userId": "ann", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = stack
        .post(
            "/v1/auth/login",
            json!({"userId": "ann", "password": "battery staple"}),
        )
        .await;
    assert_eq!(status, 200);
    // AND a change with the wrong current password changes nothing
    let (status, answer) = stack
        .post(
            "/v1/auth/password",
            json!({"userId": "ann", "password": "wrong wrong", "newPassword": "third password"}),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (401, Some("wrong_password"))
    );
}

#[tokio::test]
async fn guests_ping_but_may_not_chat_or_look_up_presence() {
    let stack = TestStack::start_with(crate::BACKEND, |config| config.limits.accounts.guests = true).await;
    let (status, guest) = stack.post("/v1/auth/guest", json!({})).await;
    assert_eq!(status, 200, "{guest}");
    let id = guest["userId"].as_str().unwrap();
    assert!(id.starts_with("guest_"), "{id}");
    let mut socket = stack.connect_token(&user_sig(&guest)).await;
    socket.ok("sys.ping", json!({})).await;
    for (action, data) in [
        (
            "msg.send",
            json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "g1", "body": [{"type": "text", "text": "hi"}]}),
        ),
        ("presence.get", json!({"userIds": ["bob"]})),
        ("conv.list", json!({})),
    ] {
        assert_eq!(socket.err(action, data).await, "guest_not_allowed", "{action}");
    }
    // A guest has no account.
    let check = stack
        .admin(
            "im_open_login_svc/account_check",
            json!({"CheckItem": [{"UserID": id}]}),
        )
        .await;
    assert_eq!(check["ResultItem"][0]["AccountStatus"], "NotImported");
}

#[tokio::test]
async fn guests_chat_one_to_one_where_the_app_allows_it() {
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.accounts.guests = true;
        config.limits.accounts.guest_c2c = true;
    })
    .await;
    let (_, guest) = stack.post("/v1/auth/guest", json!({})).await;
    let mut socket = stack.connect_token(&user_sig(&guest)).await;
    let mut bob = stack.connect("bob").await;
    socket.send_text("bob", "g1", "hello from a guest").await;
    assert_eq!(bob.event("msg.new").await["from"], guest["userId"]);
}

#[tokio::test]
async fn guest_tokens_are_refused_once_guest_mode_is_off() {
    // A guest token minted while guests were on (same key) does not connect to a stack with them off.
    let on = TestStack::start_with(crate::BACKEND, |config| config.limits.accounts.guests = true).await;
    let (_, guest) = on.post("/v1/auth/guest", json!({})).await;
    let off = TestStack::start(crate::BACKEND).await;
    let refused = off.connect_query(format!("token={}", user_sig(&guest))).await;
    assert_eq!(refused.err(), Some(403));
}

mod oidc {
    //! Third-party accounts: ID tokens from a trusted issuer, signed by a test RSA key whose JWKS
    //! a small HTTP server on 127.0.0.1 serves, as an issuer's `jwks_uri` does.

    use super::user_sig;
    use cirrus_auth::testing::{TEST_KID, sign_test_id_token, test_jwks_json};
    use cirrus_auth::{JwksSource, TrustedIssuer};
    use cirrus_tests::{TestStack, now_secs};
    use serde_json::{Value, json};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test";
    const AUDIENCE: &str = "cirrus-app-client";

    /// Serves the test JWKS over HTTP for as long as the test runs; returns its URL.
    async fn serve_jwks() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0_u8; 4096];
                    let _ = stream.read(&mut request).await;
                    let body = test_jwks_json();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        url
    }

    async fn stack() -> TestStack {
        let jwks = serve_jwks().await;
        TestStack::start_with(crate::BACKEND, |config| {
            config.oidc_issuers = vec![TrustedIssuer {
                alias: "cognito".to_owned(),
                issuer: ISSUER.to_owned(),
                audiences: vec![AUDIENCE.to_owned()],
                jwks: JwksSource::Url(jwks),
            }];
            config.limits.accounts.hosted = true;
        })
        .await
    }

    fn claims(sub: &str) -> Value {
        let now = now_secs();
        json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600})
    }

    #[tokio::test]
    async fn an_id_token_from_a_trusted_issuer_logs_its_subject_in() {
        let stack = stack().await;
        let token = sign_test_id_token(&claims("wechat-4711"), TEST_KID);
        let (status, session) = stack.post("/v1/auth/oidc", json!({"idToken": token})).await;
        assert_eq!(status, 200, "{session}");
        assert_eq!(session["userId"], "cognito_wechat-4711");
        // The UserSig opens a WebSocket, and the account is a federated one.
        let mut socket = stack.connect_token(&user_sig(&session)).await;
        socket.ok("sys.ping", json!({})).await;
        let check = stack
            .admin(
                "im_open_login_svc/account_check",
                json!({"CheckItem": [{"UserID": "cognito_wechat-4711"}]}),
            )
            .await;
        assert_eq!(check["ResultItem"][0]["AccountKind"], "federated");
        // The same subject logs in again as the same user.
        let again = sign_test_id_token(&claims("wechat-4711"), TEST_KID);
        let (status, session) = stack.post("/v1/auth/oidc", json!({"idToken": again})).await;
        assert_eq!(
            (status, session["userId"].as_str()),
            (200, Some("cognito_wechat-4711"))
        );
    }

    #[tokio::test]
    async fn forged_foreign_stale_and_misaddressed_id_tokens_are_refused() {
        let stack = stack().await;
        // A genuine token whose payload was swapped for another subject's keeps the old signature.
        let genuine = sign_test_id_token(&claims("alice"), TEST_KID);
        let other = sign_test_id_token(&claims("mallory"), TEST_KID);
        let parts: Vec<&str> = genuine.split('.').collect();
        let other_payload = other.split('.').nth(1).unwrap();
        let forged = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
        let now = now_secs();
        let cases = [
            (forged, "bad_signature"),
            (
                sign_test_id_token(
                    &json!({"iss": ISSUER, "aud": "another-app", "sub": "a", "exp": now + 600}),
                    TEST_KID,
                ),
                "wrong_audience",
            ),
            (
                sign_test_id_token(
                    &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "a", "exp": now - 3600}),
                    TEST_KID,
                ),
                "token_expired",
            ),
            (
                sign_test_id_token(
                    &json!({"iss": "https://evil.example", "aud": AUDIENCE, "sub": "a", "exp": now + 600}),
                    TEST_KID,
                ),
                "unknown_issuer",
            ),
            (sign_test_id_token(&claims("a"), "no-such-key"), "unknown_key"),
            ("not a token".to_owned(), "bad_id_token"),
        ];
        for (token, code) in cases {
            let (status, answer) = stack.post("/v1/auth/oidc", json!({"idToken": token})).await;
            assert_eq!((status, answer["error"]["code"].as_str()), (401, Some(code)));
        }
    }

    #[tokio::test]
    async fn nobody_registers_a_password_account_in_the_issuers_id_space() {
        let stack = stack().await;
        let (status, answer) = stack
            .post(
                "/v1/auth/register",
                json!({"userId": "cognito_alice", "password": "correct horse"}),
            )
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("reserved_user_id"))
        );
    }
}

#[tokio::test]
async fn a_password_change_logs_the_user_out_for_presence_and_online_status() {
    let stack = hosted().await;
    let (_, registered) = stack
        .post(
            "/v1/auth/register",
            json!({"userId": "ann", "password": "correct horse"}),
        )
        .await;
    // GIVEN ann connected, and bob watching her presence
    let _ann = stack.connect_token(&user_sig(&registered)).await;
    let mut bob = stack.connect("bob").await;
    bob.ok("presence.subscribe", json!({"userIds": ["ann"]})).await;
    // WHEN she changes her password
    let (status, changed) = stack
        .post(
            "/v1/auth/password",
            json!({"userId": "ann", "password": "correct horse", "newPassword": "battery staple"}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    // THEN bob hears she logged out, not merely went offline
    let told = bob.event("presence.changed").await;
    assert_eq!(
        (told["online"].as_bool(), told["status"].as_str()),
        (Some(false), Some("logged_out")),
        "{told}"
    );
    // AND the app server sees her offline, not push-online
    let status = stack
        .admin("openim/query_online_status", json!({"To_Account": ["ann"]}))
        .await;
    assert_eq!(status["QueryResult"][0]["Status"], "Offline", "{status}");
}
