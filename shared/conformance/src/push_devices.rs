//! Push devices: bounded per user, the oldest dropped, replaced by token, removed one by one or
//! all at once.

use crate::fixture::{Fixture, Stores, T0};
use cirrus_core::push_devices::{PushDevice, PushService};

fn device(provider: PushService, token: &str, at: i64) -> PushDevice {
    PushDevice {
        provider,
        token: token.to_owned(),
        platform: "ios".to_owned(),
        bundle_id: (provider == PushService::Apns).then(|| "com.example.chat".to_owned()),
        registered_at: at,
    }
}

fn tokens(devices: &[PushDevice]) -> Vec<&str> {
    devices.iter().map(|d| d.token.as_str()).collect()
}

/// GIVEN a user registering four devices under a bound of three THEN the oldest goes, every
/// field round-trips, a re-registration replaces its entry, and other users are untouched.
pub async fn devices_are_bounded_per_user_and_replaced_by_token(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let store = &stores.devices;
    assert!(store.devices_of(&alice).await.expect("read").is_empty());
    for (n, provider) in [
        PushService::Apns,
        PushService::Fcm,
        PushService::Webhook,
        PushService::Fcm,
    ]
    .into_iter()
    .enumerate()
    {
        let at = T0 + i64::try_from(n).expect("small");
        store
            .register_device(&alice, &device(provider, &format!("tok-{n}"), at), 3)
            .await
            .expect("register");
    }
    store
        .register_device(&bob, &device(PushService::Apns, "tok-0", T0), 3)
        .await
        .expect("register bob");
    let devices = store.devices_of(&alice).await.expect("read");
    assert_eq!(tokens(&devices), ["tok-1", "tok-2", "tok-3"]);
    assert_eq!(devices[0], device(PushService::Fcm, "tok-1", T0 + 1));
    // Registering tok-1 again makes it the newest, with its new fields.
    store
        .register_device(&alice, &device(PushService::Apns, "tok-1", T0 + 9), 3)
        .await
        .expect("again");
    let devices = store.devices_of(&alice).await.expect("read");
    assert_eq!(tokens(&devices), ["tok-2", "tok-3", "tok-1"]);
    assert_eq!(devices[2], device(PushService::Apns, "tok-1", T0 + 9));
    assert_eq!(tokens(&store.devices_of(&bob).await.expect("bob")), ["tok-0"]);
}

/// GIVEN registered devices WHEN one is unregistered, then all cleared THEN each goes, the
/// answers say whether there was one, and other users keep theirs.
pub async fn devices_are_unregistered_one_by_one_or_cleared(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let store = &stores.devices;
    for (n, token) in ["a1", "a2"].into_iter().enumerate() {
        let at = T0 + i64::try_from(n).expect("small");
        store
            .register_device(&alice, &device(PushService::Fcm, token, at), 10)
            .await
            .expect("register");
    }
    store
        .register_device(&bob, &device(PushService::Fcm, "a1", T0), 10)
        .await
        .expect("register bob");
    assert!(store.unregister_device(&alice, "a1").await.expect("unregister"));
    assert!(!store.unregister_device(&alice, "a1").await.expect("again"));
    assert!(
        !store
            .unregister_device(&fx.user("nobody"), "a1")
            .await
            .expect("nobody")
    );
    assert_eq!(tokens(&store.devices_of(&alice).await.expect("read")), ["a2"]);
    store.clear_devices(&alice).await.expect("clear");
    store.clear_devices(&alice).await.expect("clear again");
    assert!(store.devices_of(&alice).await.expect("read").is_empty());
    assert_eq!(tokens(&store.devices_of(&bob).await.expect("bob")), ["a1"]);
}
