//! The APNs provider against the HTTP/2 fake: provider-token reuse and refresh, the request
//! Apple expects, and how each answer maps onto `PushError`.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

use cirrus_core::clock::ManualClock;
use cirrus_core::ports::{PushError, PushProvider};
use cirrus_core::push_devices::{PushDevice, PushService};
use cirrus_push::apns::{ApnsProvider, apns_id};
use cirrus_push::testing::{ApnsFake, push_to_bob as push};
use std::sync::Arc;

const NOW_MS: i64 = 1_800_000_000_000;
const MINUTE_MS: i64 = 60_000;

/// An iPhone whose token is `token_byte` 64 times.
fn device(token_byte: char, bundle_id: Option<&str>) -> PushDevice {
    cirrus_push::testing::device(PushService::Apns, &token_byte.to_string().repeat(64), bundle_id)
}

async fn setup() -> (Arc<ManualClock>, ApnsFake, ApnsProvider) {
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let fake = ApnsFake::start("com.example.chat", clock.clone()).await;
    let provider = ApnsProvider::with_clock(fake.config(), clock.clone()).unwrap();
    (clock, fake, provider)
}

#[tokio::test]
async fn given_many_pushes_within_50_minutes_then_one_provider_token_signs_them_all() {
    let (clock, fake, provider) = setup().await;
    for (i, minutes) in [0, 10, 25, 49].into_iter().enumerate() {
        clock.set(NOW_MS + minutes * MINUTE_MS);
        provider
            .send(&device('a', None), &push(&format!("m-{i}")))
            .await
            .unwrap();
    }
    let calls = fake.calls();
    assert_eq!(calls.len(), 4);
    assert!(
        calls.iter().all(|call| call.jwt == calls[0].jwt),
        "one JWT for all four"
    );
    // AND past 50 minutes a new one is signed, which the fake accepts too
    clock.set(NOW_MS + 51 * MINUTE_MS);
    provider.send(&device('a', None), &push("m-5")).await.unwrap();
    clock.set(NOW_MS + 70 * MINUTE_MS);
    provider.send(&device('a', None), &push("m-6")).await.unwrap();
    let calls = fake.calls();
    assert_eq!(calls.len(), 6);
    assert_ne!(calls[4].jwt, calls[0].jwt);
    assert_eq!(calls[5].jwt, calls[4].jwt);
    assert_eq!(fake.refused(), 0);
}

#[tokio::test]
async fn a_push_carries_the_alert_our_ids_and_retry_stable_ids() {
    let (_, fake, provider) = setup().await;
    let device = device('b', Some("com.example.chat"));
    provider.send(&device, &push("m-1")).await.unwrap();
    provider.send(&device, &push("m-1")).await.unwrap();
    let calls = fake.calls();
    assert_eq!(calls[0].token, "b".repeat(64));
    assert_eq!(
        calls[0].body,
        serde_json::json!({
            "aps": {"alert": {"title": "Alice", "body": "hi bob"}, "sound": "default"},
            "cirrus": {"msgId": "m-1", "conversationId": "C2Calice", "from": "alice", "seq": 7},
        })
    );
    assert_eq!(calls[0].collapse_id.as_deref(), Some("m-1"));
    let id = calls[0].apns_id.clone().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(id.matches('-').count(), 4);
    assert_eq!(
        calls[1].apns_id.as_deref(),
        Some(id.as_str()),
        "a retry has the same apns-id"
    );
    assert_eq!(id, apns_id(&device, &push("m-1")));
    assert_ne!(id, apns_id(&device, &push("m-2")));
}

#[tokio::test]
async fn dead_tokens_are_dead_outages_are_retried_and_a_wrong_topic_is_rejected() {
    let (_, fake, provider) = setup().await;
    fake.mark_dead(&"d".repeat(64));
    fake.set_failing(&"e".repeat(64), true);
    let dead = provider.send(&device('d', None), &push("m-1")).await.unwrap_err();
    assert!(matches!(dead, PushError::DeadToken), "{dead:?}");
    let outage = provider.send(&device('e', None), &push("m-1")).await.unwrap_err();
    assert!(
        matches!(&outage, PushError::Refused(text) if text.starts_with("HTTP 503")),
        "{outage:?}"
    );
    let topic = provider
        .send(&device('f', Some("com.other.app")), &push("m-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&topic, PushError::Rejected(text) if text == "HTTP 400 DeviceTokenNotForTopic"),
        "{topic:?}"
    );
    // AND a token Apple would call bad never reaches a URL
    let mut odd = device('a', None);
    odd.token = "../../x?y".to_owned();
    assert!(matches!(
        provider.send(&odd, &push("m-1")).await,
        Err(PushError::DeadToken)
    ));
    assert_eq!(fake.refused(), 3);
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn a_key_from_another_team_is_refused_by_the_fake_and_never_shows() {
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let fake = ApnsFake::start("com.example.chat", clock.clone()).await;
    let mut config = fake.config();
    config.team_id = "OTHERTEAM1".to_owned();
    assert!(!format!("{config:?}").contains("PRIVATE KEY"));
    let provider = ApnsProvider::with_clock(config, clock).unwrap();
    assert!(!format!("{provider:?}").contains("PRIVATE KEY"));
    let err = provider.send(&device('a', None), &push("m-1")).await.unwrap_err();
    assert!(
        matches!(&err, PushError::Rejected(text) if text == "HTTP 403 InvalidProviderToken"),
        "{err:?}"
    );
    assert_eq!(fake.refused(), 1);
}

#[tokio::test]
async fn a_key_that_is_not_an_ec_key_is_refused_at_start() {
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let fake = ApnsFake::start("com.example.chat", clock.clone()).await;
    let mut config = fake.config();
    config.key = cirrus_push::KeyMaterial::new(cirrus_push::testing::FCM_TEST_KEY);
    let err = ApnsProvider::with_clock(config, clock).unwrap_err();
    assert!(matches!(err, cirrus_push::ConfigError::BadKey(..)), "{err:?}");
}
