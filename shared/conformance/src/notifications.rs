//! [`NotificationStore`](cirrus_core::ports::NotificationStore): system notifications kept per
//! user until they expire, listed in id order.
//!
//! Every case lists at a `now` no earlier than the time of any notification it put (as the
//! service's clock does), so a backend may forget a notification once it has expired at a later
//! notification's time.

use crate::fixture::{Fixture, Stores, T0};
use cirrus_core::ids::UserId;
use cirrus_core::social::Notification;

/// `owner`'s notification `id` of a `friend.added` event at `time`.
fn notification(owner: &UserId, id: &str, time: i64) -> Notification {
    Notification {
        owner: owner.clone(),
        id: id.to_owned(),
        event: "friend.added".to_owned(),
        data: format!(r#"{{"id":"{id}","note":"✨ \"quoted\" 100%"}}"#),
        time,
    }
}

async fn put(stores: &Stores, notification: &Notification, expires_at: i64) {
    stores
        .notifications
        .put_notification(notification, expires_at)
        .await
        .expect("put_notification");
}

async fn list(
    stores: &Stores,
    owner: &UserId,
    after: Option<&str>,
    limit: u32,
    now: i64,
) -> Vec<Notification> {
    stores
        .notifications
        .list_notifications(owner, after, limit, now)
        .await
        .expect("list_notifications")
}

/// The ids of notifications, in order.
fn ids(notifications: &[Notification]) -> Vec<&str> {
    notifications.iter().map(|n| n.id.as_str()).collect()
}

/// GIVEN alice has five notifications, put out of id order, all live WHEN they are listed whole,
/// in pages of two, and after an id that is none of hers THEN every field reads back as put, in
/// id order, the pages walk them without overlap or gap, and `limit` caps each page.
pub async fn notifications_list_in_id_order_after_and_up_to_limit(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let expires_at = T0 + 60_000;
    for (id, time) in [("n-3", 3), ("n-1", 1), ("n-5", 5), ("n-2", 2), ("n-4", 4)] {
        put(&stores, &notification(&alice, id, T0 + time), expires_at).await;
    }
    let all: Vec<Notification> = (1..=5)
        .map(|n| notification(&alice, &format!("n-{n}"), T0 + n))
        .collect();
    let now = T0 + 10;

    assert_eq!(
        list(&stores, &alice, None, 100, now).await,
        all,
        "every field as put, in id order"
    );
    let first = list(&stores, &alice, None, 2, now).await;
    assert_eq!(first, all[..2], "limit caps the page");
    let second = list(&stores, &alice, Some(&first[1].id), 2, now).await;
    assert_eq!(second, all[2..4], "the page after the first");
    let third = list(&stores, &alice, Some(&second[1].id), 2, now).await;
    assert_eq!(third, all[4..], "the last, short page");
    assert!(
        list(&stores, &alice, Some("n-5"), 2, now).await.is_empty(),
        "nothing after the last"
    );
    assert_eq!(
        ids(&list(&stores, &alice, Some("n-2x"), 10, now).await),
        ["n-3", "n-4", "n-5"],
        "after an id that is none of hers: from the next one"
    );
    assert_eq!(
        ids(&list(&stores, &alice, Some(""), 10, now).await),
        ["n-1", "n-2", "n-3", "n-4", "n-5"],
        "after the empty id: all of them"
    );
    assert!(
        list(&stores, &alice, None, 0, now).await.is_empty(),
        "a limit of 0"
    );
    assert!(list(&stores, &fx.user("nobody"), None, 10, now).await.is_empty());
}

/// GIVEN alice has notifications expiring at different times, an expired one between live ones
/// WHEN they are listed at several times THEN a notification is listed until its `expires_at` and
/// not at it or after, and `limit` and `after` count only live ones.
pub async fn expired_notifications_are_not_listed(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let [n1, n2, n3, n4] = [1, 2, 3, 4].map(|n| notification(&alice, &format!("n-{n}"), T0 + n));
    put(&stores, &n1, T0 + 10_000).await;
    put(&stores, &n2, T0 + 100).await;
    put(&stores, &n3, T0 + 10_000).await;
    put(&stores, &n4, T0 + 1_000).await;

    assert_eq!(
        list(&stores, &alice, None, 10, T0 + 99).await,
        vec![n1.clone(), n2.clone(), n3.clone(), n4.clone()],
        "all live just before n-2 expires"
    );
    assert_eq!(
        list(&stores, &alice, None, 10, T0 + 100).await,
        vec![n1.clone(), n3.clone(), n4.clone()],
        "n-2 has expired at its expires_at"
    );
    assert_eq!(
        list(&stores, &alice, None, 2, T0 + 100).await,
        vec![n1.clone(), n3.clone()],
        "the limit counts live notifications only"
    );
    assert_eq!(
        list(&stores, &alice, Some("n-1"), 1, T0 + 100).await,
        vec![n3.clone()],
        "the page after n-1 skips the expired n-2"
    );
    assert_eq!(
        list(&stores, &alice, None, 10, T0 + 5_000).await,
        vec![n1, n3],
        "n-4 has expired too"
    );
    assert!(
        list(&stores, &alice, None, 10, T0 + 10_000).await.is_empty(),
        "all expired"
    );
}

/// GIVEN alice has notification n-1 and n-2 WHEN n-1 is put again with another event, data, time
/// and an earlier expiry THEN it is replaced whole, expiry included, and listed once; n-2 is kept.
pub async fn put_notification_replaces_the_same_id(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let kept = notification(&alice, "n-2", T0);
    put(&stores, &notification(&alice, "n-1", T0), T0 + 10_000).await;
    put(&stores, &kept, T0 + 10_000).await;

    let again = Notification {
        event: "friend.deleted".to_owned(),
        data: "{}".to_owned(),
        ..notification(&alice, "n-1", T0 + 1)
    };
    put(&stores, &again, T0 + 1_000).await;

    assert_eq!(
        list(&stores, &alice, None, 10, T0 + 2).await,
        vec![again, kept.clone()],
        "n-1 replaced whole, each listed once"
    );
    assert_eq!(
        list(&stores, &alice, None, 10, T0 + 1_000).await,
        vec![kept],
        "the replacement's expiry counts"
    );
}

/// GIVEN alice and bob each have a notification n-1, and bob one more that expires soon WHEN
/// alice's n-1 is replaced and she gets another one later THEN each lists only their own live
/// ones, and bob's n-1 is unchanged.
pub async fn notifications_of_different_owners_are_independent(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let bobs = notification(&bob, "n-1", T0);
    put(&stores, &notification(&alice, "n-1", T0), T0 + 10_000).await;
    put(&stores, &bobs, T0 + 10_000).await;
    put(&stores, &notification(&bob, "n-0", T0), T0 + 100).await;

    let replaced = Notification {
        event: "friend.deleted".to_owned(),
        ..notification(&alice, "n-1", T0 + 1)
    };
    put(&stores, &replaced, T0 + 10_000).await;
    let later = notification(&alice, "n-2", T0 + 200);
    put(&stores, &later, T0 + 10_000).await;

    assert_eq!(
        list(&stores, &alice, None, 10, T0 + 200).await,
        vec![replaced, later],
        "alice's own"
    );
    assert_eq!(
        list(&stores, &bob, None, 10, T0 + 200).await,
        vec![bobs],
        "bob's own, unchanged, his expired one not listed"
    );
    assert!(
        list(&stores, &fx.user("carol"), None, 10, T0 + 200)
            .await
            .is_empty()
    );
}
