//! The FCM provider against the fake: the service-account assertion, the cached access token
//! and its refresh, and how each answer maps onto `PushError`.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

use cirrus_core::clock::ManualClock;
use cirrus_core::ports::{PushError, PushProvider};
use cirrus_core::push_devices::{PushDevice, PushService};
use cirrus_push::fcm::{FcmProvider, ServiceAccount};
use cirrus_push::testing::{FcmFake, push_to_bob as push};
use std::sync::Arc;

const NOW_MS: i64 = 1_800_000_000_000;

fn device(token: &str) -> PushDevice {
    cirrus_push::testing::device(PushService::Fcm, token, None)
}

/// A fake issuing tokens for `expires_in` seconds, and a provider on the same manual clock.
async fn setup(expires_in: i64) -> (Arc<ManualClock>, FcmFake, FcmProvider) {
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let fake = FcmFake::start(expires_in, clock.clone()).await;
    let provider = FcmProvider::with_clock(fake.config(), clock.clone()).unwrap();
    (clock, fake, provider)
}

#[tokio::test]
async fn the_access_token_is_cached_then_replaced_shortly_before_it_expires() {
    // GIVEN access tokens that last two minutes
    let (clock, fake, provider) = setup(120).await;
    // WHEN three sends happen within the first minute
    for i in 0..3 {
        provider
            .send(&device("fcm-1"), &push(&format!("m-{i}")))
            .await
            .unwrap();
        clock.advance(20_000);
    }
    // THEN one token served them all
    assert_eq!(fake.tokens_issued(), 1);
    // AND a send a minute before expiry fetches a new one
    clock.advance(5_000);
    provider.send(&device("fcm-1"), &push("m-3")).await.unwrap();
    assert_eq!(fake.tokens_issued(), 2);
    let bearers: Vec<String> = fake.calls().into_iter().map(|call| call.bearer).collect();
    assert_eq!(bearers, ["tok-1", "tok-1", "tok-1", "tok-2"]);
    assert_eq!(fake.unauthorized(), 0);
}

#[tokio::test]
async fn a_401_fetches_a_new_token_once_and_sends_again() {
    let (_, fake, provider) = setup(3600).await;
    provider.send(&device("fcm-1"), &push("m-1")).await.unwrap();
    fake.revoke_all();
    provider.send(&device("fcm-1"), &push("m-2")).await.unwrap();
    assert_eq!(fake.unauthorized(), 1);
    assert_eq!(fake.tokens_issued(), 2);
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].bearer, "tok-2");
}

#[tokio::test]
async fn a_message_has_the_notification_our_ids_and_the_collapse_keys() {
    let (_, fake, provider) = setup(3600).await;
    provider.send(&device("fcm-7"), &push("m-1")).await.unwrap();
    assert_eq!(
        fake.calls()[0].message,
        serde_json::json!({
            "token": "fcm-7",
            "notification": {"title": "Alice", "body": "hi bob"},
            "data": {"msgId": "m-1", "conversationId": "C2Calice", "from": "alice", "seq": "7"},
            "android": {"collapse_key": "m-1", "notification": {"tag": "m-1"}},
            "apns": {"headers": {"apns-collapse-id": "m-1"}},
        })
    );
}

#[tokio::test]
async fn unregistered_tokens_are_dead_and_outages_are_retried() {
    let (_, fake, provider) = setup(3600).await;
    fake.mark_dead("gone");
    fake.set_failing("busy", true);
    let dead = provider.send(&device("gone"), &push("m-1")).await.unwrap_err();
    assert!(matches!(dead, PushError::DeadToken), "{dead:?}");
    let busy = provider.send(&device("busy"), &push("m-1")).await.unwrap_err();
    assert!(
        matches!(&busy, PushError::Refused(text) if text == "HTTP 503 UNAVAILABLE"),
        "{busy:?}"
    );
    fake.set_failing("busy", false);
    provider.send(&device("busy"), &push("m-1")).await.unwrap();
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_gets_no_token() {
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let fake = FcmFake::start(3600, clock.clone()).await;
    let mut config = fake.config();
    // The APNs test key is no RSA key: refused at start.
    config.account.private_key = cirrus_push::KeyMaterial::new(cirrus_push::testing::APNS_TEST_KEY);
    assert!(FcmProvider::with_clock(config.clone(), clock.clone()).is_err());
    // An account of another email is refused by the token endpoint.
    config.account = fake.service_account();
    config.account.client_email = "intruder@example.iam.gserviceaccount.com".to_owned();
    let provider = FcmProvider::with_clock(config, clock).unwrap();
    let err = provider.send(&device("fcm-1"), &push("m-1")).await.unwrap_err();
    assert!(
        matches!(&err, PushError::Refused(text) if text == "OAuth token endpoint: HTTP 400"),
        "{err:?}"
    );
    assert_eq!(fake.tokens_issued(), 0);
    assert!(fake.calls().is_empty());
}

#[test]
fn a_service_account_json_parses_and_its_key_never_shows() {
    let json = serde_json::json!({
        "type": "service_account", "project_id": "p-1", "private_key_id": "k",
        "private_key": cirrus_push::testing::FCM_TEST_KEY,
        "client_email": "a@p-1.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    })
    .to_string();
    let account = ServiceAccount::from_json(&json).unwrap();
    assert_eq!(account.project_id, "p-1");
    assert!(!format!("{account:?}").contains("PRIVATE KEY"));
    assert!(ServiceAccount::from_json("{}").is_err());
}
