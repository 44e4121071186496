//! [`RecommendationStore`](cirrus_core::ports::RecommendationStore): per-user friend
//! recommendation buffers, one entry per (owner, peer).

use crate::fixture::{Fixture, Stores, T0};
use cirrus_core::ids::UserId;
use cirrus_core::social::Recommendation;

/// `peer` suggested to `owner`, with a reason, at `added_at`.
fn recommendation(owner: &UserId, peer: &UserId, added_at: i64) -> Recommendation {
    Recommendation {
        owner: owner.clone(),
        peer: peer.clone(),
        reason: Some(format!("you and {peer} both like 100% _chess_ ✨")),
        added_at,
    }
}

async fn put(stores: &Stores, recommendations: &[Recommendation]) {
    stores
        .recommendations
        .put_recommendations(recommendations)
        .await
        .expect("put_recommendations");
}

async fn list(stores: &Stores, owner: &UserId, after: Option<&UserId>, limit: u32) -> Vec<Recommendation> {
    stores
        .recommendations
        .list_recommendations(owner, after, limit)
        .await
        .expect("list_recommendations")
}

async fn delete(stores: &Stores, owner: &UserId, peers: &[&UserId]) -> Vec<bool> {
    let peers: Vec<UserId> = peers.iter().map(|peer| (*peer).clone()).collect();
    stores
        .recommendations
        .delete_recommendations(owner, &peers)
        .await
        .expect("delete_recommendations")
}

/// The peers of recommendations, in order.
fn peers(recommendations: &[Recommendation]) -> Vec<UserId> {
    recommendations.iter().map(|r| r.peer.clone()).collect()
}

/// GIVEN alice has five recommendations, put out of order, one without a reason, and bob has one
/// WHEN her buffer is listed whole and in pages of two THEN every field reads back as put, in peer
/// id order, pages walk it without overlap or gap, `after` may be any id, and bob's is his own.
pub async fn list_recommendations_pages_in_peer_order(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let mut recommendations: Vec<Recommendation> = ["erin", "carol", "frank", "dave", "gina"]
        .iter()
        .zip(0..)
        .map(|(name, n)| recommendation(&alice, &fx.user(name), T0 + n))
        .collect();
    recommendations[3].reason = None;
    put(&stores, &recommendations).await;
    let bobs = recommendation(&bob, &fx.user("bea"), T0);
    put(&stores, std::slice::from_ref(&bobs)).await;
    let mut all = recommendations.clone();
    all.sort_by(|a, b| a.peer.cmp(&b.peer));

    assert_eq!(
        list(&stores, &alice, None, 100).await,
        all,
        "every field as put, in peer id order, and no one else's"
    );
    let first = list(&stores, &alice, None, 2).await;
    assert_eq!(first, all[..2]);
    let second = list(&stores, &alice, Some(&first[1].peer), 2).await;
    assert_eq!(second, all[2..4], "the page after the first");
    let third = list(&stores, &alice, Some(&second[1].peer), 2).await;
    assert_eq!(third, all[4..], "the last, short page");
    assert!(
        list(&stores, &alice, Some(&third[0].peer), 2).await.is_empty(),
        "nothing after the last"
    );
    assert_eq!(
        peers(&list(&stores, &alice, Some(&fx.user("d")), 10).await),
        peers(&all[1..]),
        "after an id that is not recommended: from the next one"
    );
    assert!(list(&stores, &alice, None, 0).await.is_empty(), "a limit of 0");
    assert_eq!(list(&stores, &bob, None, 10).await, vec![bobs], "bob's own");
    assert!(list(&stores, &fx.user("nobody"), None, 10).await.is_empty());
}

/// GIVEN alice has bob recommended with a reason WHEN bob is recommended again without one, later,
/// in a call that also recommends carol THEN bob's entry is replaced whole, carol's added, and bob
/// is listed once.
pub async fn put_recommendations_replaces_the_same_owner_and_peer(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    put(&stores, &[recommendation(&alice, &bob, T0)]).await;

    let again = Recommendation {
        reason: None,
        ..recommendation(&alice, &bob, T0 + 5)
    };
    let of_carol = recommendation(&alice, &carol, T0 + 5);
    put(&stores, &[again.clone(), of_carol.clone()]).await;

    assert_eq!(
        list(&stores, &alice, None, 10).await,
        vec![again, of_carol],
        "bob's entry replaced whole, carol's added, each once"
    );
    assert!(
        list(&stores, &bob, None, 10).await.is_empty(),
        "a recommendation is one way"
    );
}

/// GIVEN alice has bob and carol recommended, and bob has alice WHEN alice's recommendations of
/// bob, a user never recommended, and bob again are deleted in one call THEN each peer reports
/// whether it existed when its turn came, carol is left, and bob's buffer is untouched.
pub async fn delete_recommendations_reports_each_peer(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let of_carol = recommendation(&alice, &carol, T0);
    let bobs = recommendation(&bob, &alice, T0);
    put(
        &stores,
        &[recommendation(&alice, &bob, T0), of_carol.clone(), bobs.clone()],
    )
    .await;

    let deleted = delete(&stores, &alice, &[&bob, &fx.user("dave"), &bob]).await;

    assert_eq!(
        deleted,
        vec![true, false, false],
        "existing, never was, already deleted"
    );
    assert_eq!(list(&stores, &alice, None, 10).await, vec![of_carol]);
    assert_eq!(list(&stores, &bob, None, 10).await, vec![bobs], "bob's is kept");
    assert!(
        delete(&stores, &alice, &[]).await.is_empty(),
        "no peers, no answers"
    );
}
