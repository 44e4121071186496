//! The callback configuration, set and read through the REST API at run time and stored on the
//! backend (so every function instance reads the same).

use cirrus_tests::TestStack;
use serde_json::json;

#[tokio::test]
async fn the_callback_configuration_is_set_read_back_without_its_token_and_turned_off() {
    // GIVEN a stack with no callback configured
    let stack = TestStack::start(crate::BACKEND).await;
    let none = stack.admin("cirrus_callback/get_config", json!({})).await;
    assert_eq!(none["Config"], serde_json::Value::Null);
    // WHEN the administrator sets one
    let config = json!({"Config": {
        "url": "https://app.example/im",
        "token": "s3cr3t-token",
        "commands": {
            "C2C.CallbackBeforeSendMsg": {"timeoutMs": 1500, "fail": "closed"},
            "Group.CallbackAfterSendMsg": {}
        }
    }});
    stack.admin("cirrus_callback/set_config", config).await;
    // THEN it reads back with its defaults filled in, and the token is only said to be there
    let read = stack.admin("cirrus_callback/get_config", json!({})).await;
    let stored = &read["Config"];
    assert_eq!(stored["url"], "https://app.example/im");
    assert_eq!(stored["hasToken"], true);
    assert!(!read.to_string().contains("s3cr3t-token"), "{read}");
    assert_eq!(
        stored["commands"]["C2C.CallbackBeforeSendMsg"],
        json!({"timeoutMs": 1500, "fail": "closed"})
    );
    assert_eq!(
        stored["commands"]["Group.CallbackAfterSendMsg"],
        json!({"timeoutMs": 2000, "fail": "open"})
    );
    // AND turning callbacks off leaves none
    stack
        .admin("cirrus_callback/set_config", json!({"Config": null}))
        .await;
    let off = stack.admin("cirrus_callback/get_config", json!({})).await;
    assert_eq!(off["Config"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_bad_callback_configuration_is_refused_and_changes_nothing() {
    // GIVEN a stored configuration
    let stack = TestStack::start(crate::BACKEND).await;
    let good = json!({"Config": {"url": "http://127.0.0.1:9/cb"}});
    stack.admin("cirrus_callback/set_config", good).await;
    let usersig = stack.token("administrator");
    // WHEN bad ones are sent
    for bad in [
        json!({"Config": {"url": "ftp://app.example/im"}}),
        json!({"Config": {"url": "https://app.example", "commands": {"C2C.NoSuchCommand": {}}}}),
        json!({"Config": {"url": "https://app.example", "commands": {"State.StateChange": {"timeoutMs": 5}}}}),
        json!({"Config": {"url": "https://app.example", "token": ""}}),
        json!({"Settings": {}}),
    ] {
        let answer = stack
            .rest_as(
                "administrator",
                &usersig,
                "cirrus_callback/set_config",
                bad.clone(),
            )
            .await;
        // THEN each is refused with 70402 and a reason
        assert_eq!(answer["ErrorCode"], 70402, "{bad}: {answer}");
        assert!(answer["ErrorInfo"].as_str().is_some_and(|info| !info.is_empty()));
    }
    // AND the stored one is unchanged
    let read = stack.admin("cirrus_callback/get_config", json!({})).await;
    assert_eq!(read["Config"]["url"], "http://127.0.0.1:9/cb");
    // AND only the administrator may read it
    let alice = stack.token("alice");
    let answer = stack
        .rest_as("alice", &alice, "cirrus_callback/get_config", json!({}))
        .await;
    assert_eq!(answer["ErrorCode"], 70403);
}
