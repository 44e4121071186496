//! [`RelationStore`](cirrus_core::ports::RelationStore): friend lists (one entry per side) and
//! pending friend requests, and how writing friends settles the requests between them.

use crate::fixture::{Fixture, Stores, T0};
use cirrus_core::ids::UserId;
use cirrus_core::social::{Friend, FriendRequest, RequestDirection};

/// `owner`'s entry for `peer`, with no remark and no groups, added at `added_at`.
fn friend(owner: &UserId, peer: &UserId, added_at: i64) -> Friend {
    Friend {
        owner: owner.clone(),
        peer: peer.clone(),
        remark: None,
        groups: Vec::new(),
        added_at,
    }
}

/// A request from `from` to `to` with a reason, made at `created_at`.
fn request(from: &UserId, to: &UserId, created_at: i64) -> FriendRequest {
    FriendRequest {
        from: from.clone(),
        to: to.clone(),
        reason: Some(format!("{from} would like to be friends")),
        remark: None,
        created_at,
    }
}

async fn put_friends(stores: &Stores, entries: &[Friend]) {
    stores.relations.put_friends(entries).await.expect("put_friends");
}

async fn get_friends(stores: &Stores, owner: &UserId, peers: &[&UserId]) -> Vec<Friend> {
    let peers: Vec<UserId> = peers.iter().map(|peer| (*peer).clone()).collect();
    stores
        .relations
        .get_friends(owner, &peers)
        .await
        .expect("get_friends")
}

async fn list_friends(stores: &Stores, owner: &UserId, after: Option<&UserId>, limit: u32) -> Vec<Friend> {
    stores
        .relations
        .list_friends(owner, after, limit)
        .await
        .expect("list_friends")
}

async fn count_friends(stores: &Stores, owner: &UserId) -> u32 {
    stores
        .relations
        .count_friends(owner)
        .await
        .expect("count_friends")
}

async fn delete_friends(stores: &Stores, pairs: &[(&UserId, &UserId)]) -> Vec<bool> {
    let pairs: Vec<(UserId, UserId)> = pairs
        .iter()
        .map(|(owner, peer)| ((*owner).clone(), (*peer).clone()))
        .collect();
    stores
        .relations
        .delete_friends(&pairs)
        .await
        .expect("delete_friends")
}

async fn put_request(stores: &Stores, request: &FriendRequest) {
    stores.relations.put_request(request).await.expect("put_request");
}

async fn get_request(stores: &Stores, from: &UserId, to: &UserId) -> Option<FriendRequest> {
    stores.relations.get_request(from, to).await.expect("get_request")
}

async fn list_requests(
    stores: &Stores,
    user: &UserId,
    direction: RequestDirection,
    after: Option<&UserId>,
    limit: u32,
) -> Vec<FriendRequest> {
    stores
        .relations
        .list_requests(user, direction, after, limit)
        .await
        .expect("list_requests")
}

/// The peers of friend entries, in order.
fn peers(friends: &[Friend]) -> Vec<UserId> {
    friends.iter().map(|friend| friend.peer.clone()).collect()
}

/// GIVEN alice has bob (with a remark and groups) and carol (with neither) as friends WHEN her
/// entries are read for carol, a stranger and bob THEN the entries come back exactly as put, in
/// the order asked, the stranger left out; bob's own list does not hold alice.
pub async fn friends_round_trip_in_the_asked_order(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let with_bob = Friend {
        remark: Some("Bobby ✨ \"B\"".to_owned()),
        groups: vec!["close friends".to_owned(), "work".to_owned()],
        ..friend(&alice, &bob, T0 + 1)
    };
    let with_carol = friend(&alice, &carol, T0 + 2);
    put_friends(&stores, &[with_bob.clone(), with_carol.clone()]).await;

    assert_eq!(
        get_friends(&stores, &alice, &[&carol, &fx.user("stranger"), &bob]).await,
        vec![with_carol, with_bob.clone()],
        "every field as put, in the order asked"
    );
    assert_eq!(get_friends(&stores, &alice, &[&bob]).await, vec![with_bob]);
    assert!(
        get_friends(&stores, &bob, &[&alice]).await.is_empty(),
        "an entry is one side only"
    );
    assert!(get_friends(&stores, &alice, &[]).await.is_empty());
}

/// GIVEN carol and alice list bob as a friend, and bob lists dave WHEN asked who of several users
/// lists bob THEN exactly carol and alice, in the order asked (the reverse side is per owner).
pub async fn friended_by_reads_the_reverse_side_in_the_asked_order(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol, dave) = (
        fx.user("alice"),
        fx.user("bob"),
        fx.user("carol"),
        fx.user("dave"),
    );
    put_friends(
        &stores,
        &[
            friend(&carol, &bob, T0),
            friend(&alice, &bob, T0),
            friend(&bob, &dave, T0),
        ],
    )
    .await;
    let asked = [dave.clone(), alice.clone(), fx.user("stranger"), carol.clone()];
    assert_eq!(
        stores
            .relations
            .friended_by(&bob, &asked)
            .await
            .expect("friended_by"),
        vec![alice, carol]
    );
    assert!(
        stores
            .relations
            .friended_by(&dave, std::slice::from_ref(&bob))
            .await
            .expect("friended_by")
            .contains(&bob)
    );
    assert!(
        stores
            .relations
            .friended_by(&bob, &[])
            .await
            .expect("friended_by")
            .is_empty()
    );
}

/// GIVEN alice has five friends, put out of order, and bob has one WHEN her list is read in pages
/// of two THEN the pages walk her friends in peer id order without overlap or gap, `after` may be
/// any id, and the count is five.
pub async fn list_friends_pages_in_peer_order(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let names = ["erin", "carol", "frank", "dave", "gina"];
    let entries: Vec<Friend> = names
        .iter()
        .zip(0..)
        .map(|(name, n)| friend(&alice, &fx.user(name), T0 + n))
        .collect();
    put_friends(&stores, &entries).await;
    put_friends(&stores, &[friend(&bob, &fx.user("bea"), T0)]).await;
    let mut all = entries.clone();
    all.sort_by(|a, b| a.peer.cmp(&b.peer));

    assert_eq!(
        list_friends(&stores, &alice, None, 100).await,
        all,
        "every friend of alice, in peer id order, and no one else's"
    );
    let first = list_friends(&stores, &alice, None, 2).await;
    assert_eq!(first, all[..2]);
    let second = list_friends(&stores, &alice, Some(&first[1].peer), 2).await;
    assert_eq!(second, all[2..4], "the page after the first");
    let third = list_friends(&stores, &alice, Some(&second[1].peer), 2).await;
    assert_eq!(third, all[4..], "the last, short page");
    assert!(
        list_friends(&stores, &alice, Some(&third[0].peer), 2)
            .await
            .is_empty(),
        "nothing after the last"
    );
    assert_eq!(
        peers(&list_friends(&stores, &alice, Some(&fx.user("d")), 10).await),
        peers(&all[1..]),
        "after an id that is no friend: from the next one"
    );
    assert!(
        list_friends(&stores, &alice, None, 0).await.is_empty(),
        "a limit of 0"
    );
    assert_eq!(count_friends(&stores, &alice).await, 5);
    assert_eq!(count_friends(&stores, &bob).await, 1);
    assert_eq!(count_friends(&stores, &fx.user("nobody")).await, 0);
    assert!(
        list_friends(&stores, &fx.user("nobody"), None, 10)
            .await
            .is_empty()
    );
}

/// GIVEN alice has bob as a friend with a remark and groups WHEN the entry is put again without a
/// remark and with other groups THEN it is replaced whole, and she still has one friend.
pub async fn put_friends_replaces_the_same_owner_and_peer(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let first = Friend {
        remark: Some("Bobby".to_owned()),
        groups: vec!["a".to_owned(), "b".to_owned()],
        ..friend(&alice, &bob, T0)
    };
    put_friends(&stores, &[first]).await;

    let second = Friend {
        groups: vec!["c".to_owned()],
        ..friend(&alice, &bob, T0 + 5)
    };
    put_friends(&stores, std::slice::from_ref(&second)).await;

    assert_eq!(
        get_friends(&stores, &alice, &[&bob]).await,
        vec![second.clone()],
        "the second entry, every field"
    );
    assert_eq!(list_friends(&stores, &alice, None, 10).await, vec![second]);
    assert_eq!(count_friends(&stores, &alice).await, 1, "still one friend");
}

/// GIVEN alice has bob as a friend but not the other way round WHEN bob adds alice with his own
/// remark, and then alice's entry is deleted THEN each side has its own entry, and deleting one
/// leaves the other.
pub async fn one_way_entries_are_independent_per_owner(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let alices = Friend {
        remark: Some("B".to_owned()),
        ..friend(&alice, &bob, T0)
    };
    put_friends(&stores, std::slice::from_ref(&alices)).await;
    assert!(list_friends(&stores, &bob, None, 10).await.is_empty());
    assert_eq!(count_friends(&stores, &bob).await, 0, "bob has no entry yet");

    let bobs = Friend {
        remark: Some("A".to_owned()),
        ..friend(&bob, &alice, T0 + 1)
    };
    put_friends(&stores, std::slice::from_ref(&bobs)).await;
    assert_eq!(
        get_friends(&stores, &alice, &[&bob]).await,
        vec![alices.clone()],
        "alice's entry is hers"
    );
    assert_eq!(
        get_friends(&stores, &bob, &[&alice]).await,
        vec![bobs.clone()],
        "bob's is his"
    );

    assert_eq!(delete_friends(&stores, &[(&alice, &bob)]).await, vec![true]);
    assert!(get_friends(&stores, &alice, &[&bob]).await.is_empty());
    assert_eq!(
        list_friends(&stores, &bob, None, 10).await,
        vec![bobs],
        "bob keeps his"
    );
}

/// GIVEN alice has bob and carol, and bob has alice WHEN alice-bob, a pair that is no friendship,
/// bob-alice, and alice-bob again are deleted in one call THEN each pair reports whether it
/// existed when its turn came, and only alice-carol is left.
pub async fn delete_friends_reports_each_pair(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let with_carol = friend(&alice, &carol, T0);
    put_friends(
        &stores,
        &[
            friend(&alice, &bob, T0),
            with_carol.clone(),
            friend(&bob, &alice, T0),
        ],
    )
    .await;

    let deleted = delete_friends(
        &stores,
        &[(&alice, &bob), (&carol, &alice), (&bob, &alice), (&alice, &bob)],
    )
    .await;

    assert_eq!(
        deleted,
        vec![true, false, true, false],
        "existing, never was, existing, already deleted"
    );
    assert_eq!(list_friends(&stores, &alice, None, 10).await, vec![with_carol]);
    assert_eq!(count_friends(&stores, &bob).await, 0);
    assert!(
        delete_friends(&stores, &[]).await.is_empty(),
        "no pairs, no answers"
    );
}

/// GIVEN requests alice→bob and bob→alice, and requests of alice, bob and others with third
/// parties WHEN alice and bob become friends (both entries in one call), and carol adds dave one
/// way THEN the requests between alice and bob are gone in both directions, and so are those
/// between carol and dave, whichever way they went; every other request is kept.
pub async fn put_friends_settles_requests_between_the_pair_only(stores: Stores) {
    let fx = Fixture::new();
    let [alice, bob, carol, dave, erin] = ["alice", "bob", "carol", "dave", "erin"].map(|name| fx.user(name));
    let kept = [
        request(&alice, &carol, T0),
        request(&erin, &bob, T0),
        request(&bob, &erin, T0),
        request(&erin, &alice, T0),
        request(&carol, &erin, T0),
    ];
    let settled = [
        request(&alice, &bob, T0),
        request(&bob, &alice, T0),
        request(&dave, &carol, T0),
        request(&carol, &dave, T0),
    ];
    for request in kept.iter().chain(&settled) {
        put_request(&stores, request).await;
    }

    put_friends(
        &stores,
        &[friend(&alice, &bob, T0 + 1), friend(&bob, &alice, T0 + 1)],
    )
    .await;
    put_friends(&stores, &[friend(&carol, &dave, T0 + 2)]).await;

    for request in &settled {
        assert_eq!(
            get_request(&stores, &request.from, &request.to).await,
            None,
            "{} → {} is settled",
            request.from,
            request.to
        );
    }
    for request in &kept {
        assert_eq!(
            get_request(&stores, &request.from, &request.to).await.as_ref(),
            Some(request),
            "{} → {} is kept",
            request.from,
            request.to
        );
    }
    assert_eq!(count_friends(&stores, &alice).await, 1);
    assert_eq!(count_friends(&stores, &carol).await, 1);
    assert_eq!(count_friends(&stores, &dave).await, 0, "one way only");
}

/// GIVEN no requests WHEN alice asks bob, with a reason and a remark THEN the request reads back
/// exactly, only in that direction; asking again replaces it whole.
pub async fn requests_round_trip_and_replace(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let first = FriendRequest {
        reason: Some("we met at the 100% _conference_ ✨".to_owned()),
        remark: Some("Bob from work".to_owned()),
        ..request(&alice, &bob, T0)
    };
    put_request(&stores, &first).await;

    assert_eq!(
        get_request(&stores, &alice, &bob).await,
        Some(first),
        "every field as put"
    );
    assert_eq!(
        get_request(&stores, &bob, &alice).await,
        None,
        "a request has a direction"
    );

    let second = FriendRequest {
        reason: None,
        remark: None,
        ..request(&alice, &bob, T0 + 9)
    };
    put_request(&stores, &second).await;
    assert_eq!(
        get_request(&stores, &alice, &bob).await,
        Some(second.clone()),
        "replaced whole"
    );
    assert_eq!(
        list_requests(&stores, &alice, RequestDirection::Outgoing, None, 10).await,
        vec![second],
        "still one request"
    );
}

/// GIVEN alice→bob and bob→alice WHEN alice→bob is deleted twice and a request that never was
/// once THEN only the first delete reports it existed, and bob→alice is kept.
pub async fn delete_request_reports_whether_it_existed(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let back = request(&bob, &alice, T0);
    put_request(&stores, &request(&alice, &bob, T0)).await;
    put_request(&stores, &back).await;

    let delete = |from: &UserId, to: &UserId| {
        let (stores, from, to) = (stores.clone(), from.clone(), to.clone());
        async move {
            stores
                .relations
                .delete_request(&from, &to)
                .await
                .expect("delete_request")
        }
    };
    assert!(delete(&alice, &bob).await, "it existed");
    assert_eq!(get_request(&stores, &alice, &bob).await, None, "and is gone");
    assert!(!delete(&alice, &bob).await, "deleted already");
    assert!(!delete(&alice, &fx.user("ghost")).await, "never was");
    assert_eq!(
        get_request(&stores, &bob, &alice).await,
        Some(back),
        "the other direction is kept"
    );
}

/// GIVEN zoe has four incoming requests and three outgoing ones, each put out of order, and
/// others have requests among themselves WHEN zoe's requests are listed in each direction, whole
/// and in pages THEN each direction holds only its own, ordered by the other side's user id,
/// pages walk them without overlap or gap, and `limit` caps each page.
pub async fn list_requests_pages_each_direction_in_peer_order(stores: Stores) {
    let fx = Fixture::new();
    let zoe = fx.user("zoe");
    let incoming_from = ["dave", "bob", "erin", "alice"].map(|name| fx.user(name));
    let outgoing_to = ["yan", "carol", "xia"].map(|name| fx.user(name));
    for from in &incoming_from {
        put_request(&stores, &request(from, &zoe, T0)).await;
    }
    for to in &outgoing_to {
        put_request(&stores, &request(&zoe, to, T0 + 1)).await;
    }
    put_request(&stores, &request(&fx.user("bob"), &fx.user("carol"), T0)).await;
    put_request(&stores, &request(&fx.user("alice"), &fx.user("yan"), T0)).await;

    let mut incoming: Vec<FriendRequest> = incoming_from.iter().map(|from| request(from, &zoe, T0)).collect();
    incoming.sort_by(|a, b| a.from.cmp(&b.from));
    let mut outgoing: Vec<FriendRequest> = outgoing_to.iter().map(|to| request(&zoe, to, T0 + 1)).collect();
    outgoing.sort_by(|a, b| a.to.cmp(&b.to));

    let all_in = list_requests(&stores, &zoe, RequestDirection::Incoming, None, 100).await;
    assert_eq!(all_in, incoming, "incoming: by requester id");
    let all_out = list_requests(&stores, &zoe, RequestDirection::Outgoing, None, 100).await;
    assert_eq!(all_out, outgoing, "outgoing: by requested id");

    let first = list_requests(&stores, &zoe, RequestDirection::Incoming, None, 3).await;
    assert_eq!(first, incoming[..3], "limit caps the page");
    let rest = list_requests(&stores, &zoe, RequestDirection::Incoming, Some(&first[2].from), 3).await;
    assert_eq!(rest, incoming[3..], "the page after the first");
    let out_first = list_requests(&stores, &zoe, RequestDirection::Outgoing, None, 1).await;
    assert_eq!(out_first, outgoing[..1]);
    let out_rest = list_requests(
        &stores,
        &zoe,
        RequestDirection::Outgoing,
        Some(&out_first[0].to),
        5,
    )
    .await;
    assert_eq!(out_rest, outgoing[1..], "the page after the first");
    assert!(
        list_requests(
            &stores,
            &zoe,
            RequestDirection::Outgoing,
            Some(&outgoing[2].to),
            5
        )
        .await
        .is_empty(),
        "nothing after the last"
    );
    assert!(
        list_requests(&stores, &zoe, RequestDirection::Incoming, None, 0)
            .await
            .is_empty(),
        "a limit of 0"
    );
    for direction in [RequestDirection::Incoming, RequestDirection::Outgoing] {
        assert!(
            list_requests(&stores, &fx.user("nobody"), direction, None, 10)
                .await
                .is_empty(),
            "{direction:?} of a user without requests"
        );
    }
}

/// GIVEN carol, alice and erin list bob (carol one way, alice both ways), bob lists dave, and a
/// request and a block name bob WHEN the users who list bob are paged THEN exactly alice, carol and
/// erin, in id order, two per page; once erin drops him she is gone from the pages.
pub async fn list_friended_by_pages_the_owners_in_id_order(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol, dave, erin) = (
        fx.user("alice"),
        fx.user("bob"),
        fx.user("carol"),
        fx.user("dave"),
        fx.user("erin"),
    );
    put_friends(
        &stores,
        &[
            friend(&carol, &bob, T0),
            friend(&alice, &bob, T0),
            friend(&bob, &alice, T0),
            friend(&bob, &dave, T0),
            friend(&erin, &bob, T0),
        ],
    )
    .await;
    put_request(&stores, &request(&dave, &bob, T0)).await;
    stores
        .blocks
        .put_blocks(&[cirrus_core::social::Block {
            owner: dave.clone(),
            peer: bob.clone(),
            blocked_at: T0,
        }])
        .await
        .expect("put_blocks");
    let page = |after: Option<UserId>, limit: u32| {
        let (relations, bob) = (stores.relations.clone(), bob.clone());
        async move {
            relations
                .list_friended_by(&bob, after.as_ref(), limit)
                .await
                .expect("list_friended_by")
        }
    };
    assert_eq!(page(None, 2).await, vec![alice.clone(), carol.clone()]);
    assert_eq!(page(Some(carol.clone()), 2).await, vec![erin.clone()]);
    assert_eq!(
        page(None, 10).await,
        vec![alice.clone(), carol.clone(), erin.clone()]
    );
    let of_dave = stores
        .relations
        .list_friended_by(&dave, None, 10)
        .await
        .expect("list_friended_by");
    assert_eq!(of_dave, vec![bob.clone()]);
    delete_friends(&stores, &[(&erin, &bob)]).await;
    assert_eq!(page(None, 10).await, vec![alice, carol]);
    let of_nobody = stores
        .relations
        .list_friended_by(&fx.user("nobody"), None, 10)
        .await
        .expect("list_friended_by");
    assert!(of_nobody.is_empty());
}
