//! [`SubscriptionStore`](cirrus_core::ports::SubscriptionStore): who is subscribed to whose
//! presence, read from either side.

use crate::fixture::{Fixture, Stores};
use cirrus_core::ids::UserId;

async fn subscribe(stores: &Stores, subscriber: &UserId, targets: &[&UserId]) {
    let targets: Vec<UserId> = targets.iter().map(|target| (*target).clone()).collect();
    stores
        .subscriptions
        .subscribe(subscriber, &targets)
        .await
        .expect("subscribe");
}

async fn unsubscribe(stores: &Stores, subscriber: &UserId, targets: &[&UserId]) {
    let targets: Vec<UserId> = targets.iter().map(|target| (*target).clone()).collect();
    stores
        .subscriptions
        .unsubscribe(subscriber, &targets)
        .await
        .expect("unsubscribe");
}

async fn subscriptions_of(stores: &Stores, subscriber: &UserId) -> Vec<UserId> {
    stores
        .subscriptions
        .subscriptions_of(subscriber)
        .await
        .expect("subscriptions_of")
}

async fn subscribers_of(stores: &Stores, target: &UserId, limit: u32) -> Vec<UserId> {
    stores
        .subscriptions
        .subscribers_of(target, limit)
        .await
        .expect("subscribers_of")
}

/// `users` cloned and sorted: the order the store lists them in.
fn sorted(users: &[&UserId]) -> Vec<UserId> {
    let mut users: Vec<UserId> = users.iter().map(|user| (*user).clone()).collect();
    users.sort();
    users
}

/// GIVEN no subscriptions WHEN alice subscribes to four users given out of order THEN
/// `subscriptions_of` lists exactly those four, in user id order.
pub async fn subscribe_then_subscriptions_of_lists_them_in_user_id_order(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let (dave, bob, erin, carol) = (fx.user("dave"), fx.user("bob"), fx.user("erin"), fx.user("carol"));

    subscribe(&stores, &alice, &[&dave, &bob, &erin, &carol]).await;

    assert_eq!(
        subscriptions_of(&stores, &alice).await,
        vec![bob, carol, dave, erin],
        "every target, in user id order"
    );
}

/// GIVEN alice is subscribed to bob WHEN she subscribes to bob again, and then to carol, bob and
/// carol once more in one call THEN each subscription is held once, seen from both sides.
pub async fn subscribing_again_keeps_one_subscription(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    subscribe(&stores, &alice, &[&bob]).await;

    subscribe(&stores, &alice, &[&bob]).await;
    assert_eq!(
        subscriptions_of(&stores, &alice).await,
        vec![bob.clone()],
        "subscribing twice keeps one"
    );

    subscribe(&stores, &alice, &[&carol, &bob, &carol]).await;
    assert_eq!(
        subscriptions_of(&stores, &alice).await,
        sorted(&[&bob, &carol]),
        "duplicates within one call keep one"
    );
    assert_eq!(subscribers_of(&stores, &bob, 10).await, vec![alice.clone()]);
    assert_eq!(subscribers_of(&stores, &carol, 10).await, vec![alice]);
}

/// GIVEN alice is subscribed to bob, carol and dave WHEN she unsubscribes from bob, dave, a user
/// she never subscribed to and dave again THEN only carol is left, on both sides; unsubscribing
/// from nothing she holds changes nothing.
pub async fn unsubscribe_removes_only_the_named_targets(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let (bob, carol, dave) = (fx.user("bob"), fx.user("carol"), fx.user("dave"));
    subscribe(&stores, &alice, &[&bob, &carol, &dave]).await;

    unsubscribe(&stores, &alice, &[&bob, &dave, &fx.user("ghost"), &dave]).await;

    assert_eq!(
        subscriptions_of(&stores, &alice).await,
        vec![carol.clone()],
        "only the target not named is left"
    );
    assert!(
        subscribers_of(&stores, &bob, 10).await.is_empty(),
        "bob lost alice"
    );
    assert!(
        subscribers_of(&stores, &dave, 10).await.is_empty(),
        "dave lost alice"
    );
    assert_eq!(subscribers_of(&stores, &carol, 10).await, vec![alice.clone()]);

    unsubscribe(&stores, &alice, &[&fx.user("ghost"), &bob]).await;
    assert_eq!(
        subscriptions_of(&stores, &alice).await,
        vec![carol],
        "unsubscribing from missing subscriptions is ignored"
    );
}

/// GIVEN five users subscribed to zoe, given out of order, and one to someone else WHEN zoe's
/// subscribers are read with various limits THEN they come in user id order, at most `limit` of
/// them, always the first ones.
pub async fn subscribers_of_lists_in_user_id_order_up_to_limit(stores: Stores) {
    let fx = Fixture::new();
    let (zoe, other) = (fx.user("zoe"), fx.user("other"));
    let subscribers = [
        fx.user("erin"),
        fx.user("bob"),
        fx.user("dave"),
        fx.user("alice"),
        fx.user("carol"),
    ];
    for subscriber in &subscribers {
        subscribe(&stores, subscriber, &[&zoe]).await;
    }
    subscribe(&stores, &fx.user("frank"), &[&other]).await;
    let all = sorted(&subscribers.iter().collect::<Vec<_>>());

    assert_eq!(
        subscribers_of(&stores, &zoe, 100).await,
        all,
        "every subscriber of zoe, in user id order, and no one else's"
    );
    assert_eq!(
        subscribers_of(&stores, &zoe, 5).await,
        all,
        "a limit of exactly all"
    );
    assert_eq!(
        subscribers_of(&stores, &zoe, 3).await,
        all[..3].to_vec(),
        "the first three"
    );
    assert_eq!(
        subscribers_of(&stores, &zoe, 1).await,
        all[..1].to_vec(),
        "the first"
    );
    assert!(
        subscribers_of(&stores, &zoe, 0).await.is_empty(),
        "a limit of 0 is no one"
    );
}

/// GIVEN alice and bob subscribed to overlapping targets WHEN alice unsubscribes from the shared
/// one and bob subscribes to another THEN each one's list changes only by their own calls, and
/// the shared target keeps bob.
pub async fn subscriptions_of_different_subscribers_are_independent(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let (shared, only_alice, only_bob, later) = (
        fx.user("shared"),
        fx.user("carol"),
        fx.user("dave"),
        fx.user("erin"),
    );
    subscribe(&stores, &alice, &[&shared, &only_alice]).await;
    subscribe(&stores, &bob, &[&only_bob, &shared]).await;
    assert_eq!(
        subscriptions_of(&stores, &alice).await,
        sorted(&[&shared, &only_alice])
    );
    assert_eq!(
        subscriptions_of(&stores, &bob).await,
        sorted(&[&shared, &only_bob])
    );
    assert_eq!(
        subscribers_of(&stores, &shared, 10).await,
        sorted(&[&alice, &bob])
    );

    unsubscribe(&stores, &alice, &[&shared]).await;
    subscribe(&stores, &bob, &[&later]).await;

    assert_eq!(
        subscriptions_of(&stores, &alice).await,
        vec![only_alice.clone()],
        "alice's unsubscription, not bob's subscription"
    );
    assert_eq!(
        subscriptions_of(&stores, &bob).await,
        sorted(&[&shared, &only_bob, &later]),
        "bob's subscription, not alice's unsubscription"
    );
    assert_eq!(
        subscribers_of(&stores, &shared, 10).await,
        vec![bob.clone()],
        "the shared target keeps bob"
    );
    assert_eq!(subscribers_of(&stores, &only_alice, 10).await, vec![alice]);
    assert_eq!(subscribers_of(&stores, &later, 10).await, vec![bob]);
}

/// GIVEN alice is subscribed to bob and carol WHEN alice, and dave who has no subscriptions,
/// subscribe to and unsubscribe from an empty list THEN nothing fails and nothing changes.
pub async fn an_empty_targets_slice_changes_nothing(stores: Stores) {
    let fx = Fixture::new();
    let (alice, dave) = (fx.user("alice"), fx.user("dave"));
    let (bob, carol) = (fx.user("bob"), fx.user("carol"));
    subscribe(&stores, &alice, &[&bob, &carol]).await;

    for subscriber in [&alice, &dave] {
        subscribe(&stores, subscriber, &[]).await;
        unsubscribe(&stores, subscriber, &[]).await;
    }

    assert_eq!(
        subscriptions_of(&stores, &alice).await,
        sorted(&[&bob, &carol]),
        "alice keeps hers"
    );
    assert!(
        subscriptions_of(&stores, &dave).await.is_empty(),
        "dave gained none"
    );
    assert_eq!(subscribers_of(&stores, &bob, 10).await, vec![alice.clone()]);
    assert_eq!(subscribers_of(&stores, &carol, 10).await, vec![alice]);
}

/// GIVEN bob is subscribed to alice, and alice to no one WHEN alice's subscriptions, and the
/// subscribers of bob and of a stranger, are read THEN each is an empty list.
pub async fn a_subscriber_without_subscriptions_has_an_empty_list(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    subscribe(&stores, &bob, &[&alice]).await;

    assert!(
        subscriptions_of(&stores, &alice).await.is_empty(),
        "being subscribed to is not subscribing"
    );
    assert!(
        subscribers_of(&stores, &bob, 10).await.is_empty(),
        "subscribing is not being subscribed to"
    );
    assert!(subscriptions_of(&stores, &fx.user("stranger")).await.is_empty());
    assert!(subscribers_of(&stores, &fx.user("stranger"), 10).await.is_empty());
    assert_eq!(
        subscriptions_of(&stores, &bob).await,
        vec![alice],
        "bob's is there"
    );
}
