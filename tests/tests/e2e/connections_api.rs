//! The `@connections` management API: POST, GET, DELETE, and 410 Gone for unknown ids.

use cirrus_core::ids::UserId;
use cirrus_tests::TestStack;

async fn connection_id_of(stack: &TestStack, user: &str) -> String {
    let user = UserId::parse(user).unwrap();
    let records = stack.stack.connections().connections_of(&user, 0).await.unwrap();
    assert_eq!(records.len(), 1);
    records[0].id.to_string()
}

#[tokio::test]
async fn post_get_and_delete_a_connection() {
    // GIVEN alice online
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let id = connection_id_of(&stack, "alice").await;
    let http = reqwest::Client::new();
    let base = stack.stack.connections_url();

    // WHEN the server posts to her connection (with a stage prefix, as the AWS SDK does)
    let frame = r#"{"type":"event","event":"custom.hello","data":{"n":1}}"#;
    let posted = http
        .post(format!("{base}/local/@connections/{id}"))
        .body(frame)
        .send()
        .await
        .unwrap();
    // THEN it is accepted and she receives exactly that frame
    assert_eq!(posted.status(), 200);
    assert_eq!(alice.event("custom.hello").await, serde_json::json!({"n": 1}));

    // WHEN it asks about the connection
    let info = http
        .get(format!("{base}/@connections/{id}"))
        .send()
        .await
        .unwrap();
    // THEN it gets API Gateway's fields
    assert_eq!(info.status(), 200);
    let info: serde_json::Value = info.json().await.unwrap();
    assert!(info["connectedAt"].as_str().unwrap().ends_with('Z'));
    assert!(info["lastActiveAt"].as_str().is_some());
    assert_eq!(info["identity"]["sourceIp"], "127.0.0.1");

    // WHEN it deletes the connection
    let deleted = http
        .delete(format!("{base}/@connections/{id}"))
        .send()
        .await
        .unwrap();
    // THEN the socket closes and the record goes with it
    assert_eq!(deleted.status(), 204);
    assert_eq!(alice.closed().await, Some(1000));
    let user = UserId::parse("alice").unwrap();
    for _ in 0..50 {
        if stack
            .stack
            .connections()
            .connections_of(&user, 0)
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        stack
            .stack
            .connections()
            .connections_of(&user, 0)
            .await
            .unwrap()
            .is_empty()
    );

    // AND every call on the dead id answers 410 Gone
    for response in [
        http.post(format!("{base}/@connections/{id}"))
            .body("x")
            .send()
            .await
            .unwrap(),
        http.get(format!("{base}/@connections/{id}"))
            .send()
            .await
            .unwrap(),
        http.delete(format!("{base}/@connections/{id}"))
            .send()
            .await
            .unwrap(),
        http.get(format!("{base}/@connections/never-existed"))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), 410);
    }
}

#[tokio::test]
async fn the_public_http_api_has_no_connections_api() {
    // GIVEN alice online
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let id = connection_id_of(&stack, "alice").await;
    // WHEN someone who reaches the HTTP API (REST, logins, media) tries @connections there
    let http = reqwest::Client::new();
    let public = stack.stack.http_url();
    let frame = r#"{"type":"event","event":"msg.new","data":{"forged":true}}"#;
    for path in [
        format!("{public}/@connections/{id}"),
        format!("{public}/local/@connections/{id}"),
    ] {
        let post = http.post(&path).body(frame).send().await.unwrap();
        let delete = http.delete(&path).send().await.unwrap();
        // THEN there is no such route, and alice's socket neither gets the frame nor closes
        assert_eq!(
            (post.status().as_u16(), delete.status().as_u16()),
            (404, 404),
            "{path}"
        );
    }
    alice.ok("sys.ping", serde_json::json!({})).await;
    alice.expect_no_event(std::time::Duration::from_millis(200)).await;
    // AND the @connections listener is on loopback
    assert!(stack.stack.connections_url().starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn health_answers() {
    let stack = TestStack::start(crate::BACKEND).await;
    let body = reqwest::get(format!("{}/health", stack.stack.http_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "ok");
}
