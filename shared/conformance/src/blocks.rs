//! [`BlockStore`](cirrus_core::ports::BlockStore): blacklists, one entry per (owner, peer), each
//! keeping the time it was first made.

use crate::fixture::{Fixture, Stores, T0};
use cirrus_core::ids::UserId;
use cirrus_core::social::Block;

/// `owner` blocks `peer` at `blocked_at`.
fn block(owner: &UserId, peer: &UserId, blocked_at: i64) -> Block {
    Block {
        owner: owner.clone(),
        peer: peer.clone(),
        blocked_at,
    }
}

async fn put_blocks(stores: &Stores, blocks: &[Block]) {
    stores.blocks.put_blocks(blocks).await.expect("put_blocks");
}

async fn get_blocks(stores: &Stores, owner: &UserId, peers: &[&UserId]) -> Vec<Block> {
    let peers: Vec<UserId> = peers.iter().map(|peer| (*peer).clone()).collect();
    stores.blocks.get_blocks(owner, &peers).await.expect("get_blocks")
}

async fn list_blocks(stores: &Stores, owner: &UserId, after: Option<&UserId>, limit: u32) -> Vec<Block> {
    stores
        .blocks
        .list_blocks(owner, after, limit)
        .await
        .expect("list_blocks")
}

async fn count_blocks(stores: &Stores, owner: &UserId) -> u32 {
    stores.blocks.count_blocks(owner).await.expect("count_blocks")
}

async fn delete_blocks(stores: &Stores, owner: &UserId, peers: &[&UserId]) -> Vec<bool> {
    let peers: Vec<UserId> = peers.iter().map(|peer| (*peer).clone()).collect();
    stores
        .blocks
        .delete_blocks(owner, &peers)
        .await
        .expect("delete_blocks")
}

/// The peers of blocks, in order.
fn peers(blocks: &[Block]) -> Vec<UserId> {
    blocks.iter().map(|block| block.peer.clone()).collect()
}

/// GIVEN alice blocked bob and carol WHEN her blocks are read for carol, a stranger and bob THEN
/// they come back exactly as put, in the order asked, the stranger left out; bob has blocked no
/// one.
pub async fn blocks_round_trip_in_the_asked_order(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let of_bob = block(&alice, &bob, T0 + 1);
    let of_carol = block(&alice, &carol, T0 + 2);
    put_blocks(&stores, &[of_bob.clone(), of_carol.clone()]).await;

    assert_eq!(
        get_blocks(&stores, &alice, &[&carol, &fx.user("stranger"), &bob]).await,
        vec![of_carol, of_bob.clone()],
        "every field as put, in the order asked"
    );
    assert_eq!(get_blocks(&stores, &alice, &[&bob]).await, vec![of_bob]);
    assert!(
        get_blocks(&stores, &bob, &[&alice]).await.is_empty(),
        "a block is one way"
    );
    assert!(
        get_blocks(&stores, &alice, &[]).await.is_empty(),
        "no peers asked"
    );
}

/// GIVEN alice blocked five users, put out of order, and bob one WHEN her blocks are listed in
/// pages of two THEN the pages walk them in peer id order without overlap or gap, `after` may be
/// any id, and the count is five.
pub async fn list_blocks_pages_in_peer_order(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let blocks: Vec<Block> = ["erin", "carol", "frank", "dave", "gina"]
        .iter()
        .zip(0..)
        .map(|(name, n)| block(&alice, &fx.user(name), T0 + n))
        .collect();
    put_blocks(&stores, &blocks).await;
    put_blocks(&stores, &[block(&bob, &fx.user("bea"), T0)]).await;
    let mut all = blocks.clone();
    all.sort_by(|a, b| a.peer.cmp(&b.peer));

    assert_eq!(
        list_blocks(&stores, &alice, None, 100).await,
        all,
        "every block of alice, in peer id order, and no one else's"
    );
    let first = list_blocks(&stores, &alice, None, 2).await;
    assert_eq!(first, all[..2]);
    let second = list_blocks(&stores, &alice, Some(&first[1].peer), 2).await;
    assert_eq!(second, all[2..4], "the page after the first");
    let third = list_blocks(&stores, &alice, Some(&second[1].peer), 2).await;
    assert_eq!(third, all[4..], "the last, short page");
    assert!(
        list_blocks(&stores, &alice, Some(&third[0].peer), 2)
            .await
            .is_empty(),
        "nothing after the last"
    );
    assert_eq!(
        peers(&list_blocks(&stores, &alice, Some(&fx.user("d")), 10).await),
        peers(&all[1..]),
        "after an id that is not blocked: from the next one"
    );
    assert!(
        list_blocks(&stores, &alice, None, 0).await.is_empty(),
        "a limit of 0"
    );
    assert_eq!(count_blocks(&stores, &alice).await, 5);
    assert_eq!(count_blocks(&stores, &bob).await, 1);
    assert_eq!(count_blocks(&stores, &fx.user("nobody")).await, 0);
    assert!(
        list_blocks(&stores, &fx.user("nobody"), None, 10)
            .await
            .is_empty()
    );
}

/// GIVEN alice blocked bob and carol WHEN bob, a user she never blocked, and bob again are
/// unblocked in one call THEN each peer reports whether the block existed when its turn came,
/// and only carol is still blocked.
pub async fn delete_blocks_reports_each_peer(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let of_carol = block(&alice, &carol, T0);
    put_blocks(&stores, &[block(&alice, &bob, T0), of_carol.clone()]).await;

    let deleted = delete_blocks(&stores, &alice, &[&bob, &fx.user("dave"), &bob]).await;

    assert_eq!(
        deleted,
        vec![true, false, false],
        "existing, never was, already deleted"
    );
    assert_eq!(
        get_blocks(&stores, &alice, &[&bob]).await,
        vec![],
        "bob is unblocked"
    );
    assert_eq!(list_blocks(&stores, &alice, None, 10).await, vec![of_carol]);
    assert_eq!(count_blocks(&stores, &alice).await, 1);
    assert!(
        delete_blocks(&stores, &alice, &[]).await.is_empty(),
        "no peers, no answers"
    );
}

/// GIVEN alice blocked bob at T0 WHEN she blocks him again later, alone and in a call that also
/// blocks carol THEN the block keeps its first time, carol's is added, and bob counts once.
pub async fn put_blocks_again_keeps_the_first_time(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let first = block(&alice, &bob, T0);
    put_blocks(&stores, std::slice::from_ref(&first)).await;

    put_blocks(&stores, &[block(&alice, &bob, T0 + 10)]).await;
    let of_carol = block(&alice, &carol, T0 + 20);
    put_blocks(&stores, &[block(&alice, &bob, T0 + 20), of_carol.clone()]).await;

    assert_eq!(
        get_blocks(&stores, &alice, &[&bob, &carol]).await,
        vec![first.clone(), of_carol.clone()],
        "bob's block keeps its first time; carol's is new"
    );
    assert_eq!(
        list_blocks(&stores, &alice, None, 10).await,
        vec![first, of_carol]
    );
    assert_eq!(count_blocks(&stores, &alice).await, 2, "bob counts once");
}

/// GIVEN alice and bob each blocked carol, and bob also blocked alice WHEN alice unblocks carol
/// THEN bob's blocks are as they were, and bob blocking alice did not make alice block bob.
pub async fn blocks_of_different_owners_are_independent(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let bobs = [block(&bob, &alice, T0 + 1), block(&bob, &carol, T0 + 2)];
    put_blocks(&stores, &[block(&alice, &carol, T0)]).await;
    put_blocks(&stores, &bobs).await;
    assert_eq!(count_blocks(&stores, &alice).await, 1);
    assert!(
        get_blocks(&stores, &alice, &[&bob]).await.is_empty(),
        "a block is one way"
    );

    assert_eq!(delete_blocks(&stores, &alice, &[&carol]).await, vec![true]);

    assert_eq!(count_blocks(&stores, &alice).await, 0);
    assert!(list_blocks(&stores, &alice, None, 10).await.is_empty());
    let mut expected = bobs.to_vec();
    expected.sort_by(|a, b| a.peer.cmp(&b.peer));
    assert_eq!(
        list_blocks(&stores, &bob, None, 10).await,
        expected,
        "bob keeps his blocks"
    );
    assert_eq!(
        delete_blocks(&stores, &carol, &[&alice, &bob]).await,
        vec![false, false],
        "carol blocked no one"
    );
    assert_eq!(count_blocks(&stores, &bob).await, 2);
}

/// GIVEN carol, alice and dave blocked bob, and alice has bob as a friend WHEN the users who
/// blocked bob are paged THEN exactly alice, carol and dave, in id order, two per page; an unblock
/// takes one out.
pub async fn list_blocked_by_pages_the_owners_in_id_order(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol, dave) = (
        fx.user("alice"),
        fx.user("bob"),
        fx.user("carol"),
        fx.user("dave"),
    );
    put_blocks(
        &stores,
        &[
            block(&carol, &bob, T0),
            block(&alice, &bob, T0),
            block(&dave, &bob, T0),
            block(&bob, &carol, T0),
        ],
    )
    .await;
    stores
        .relations
        .put_friends(&[cirrus_core::social::Friend {
            owner: alice.clone(),
            peer: dave.clone(),
            remark: None,
            groups: Vec::new(),
            added_at: T0,
        }])
        .await
        .expect("put_friends");
    let page = |peer: UserId, after: Option<UserId>, limit: u32| {
        let blocks = stores.blocks.clone();
        async move {
            blocks
                .list_blocked_by(&peer, after.as_ref(), limit)
                .await
                .expect("list_blocked_by")
        }
    };
    assert_eq!(
        page(bob.clone(), None, 2).await,
        vec![alice.clone(), carol.clone()]
    );
    assert_eq!(
        page(bob.clone(), Some(carol.clone()), 2).await,
        vec![dave.clone()]
    );
    assert_eq!(page(carol.clone(), None, 10).await, vec![bob.clone()]);
    assert!(
        page(dave.clone(), None, 10).await.is_empty(),
        "a friend entry is no block"
    );
    delete_blocks(&stores, &carol, &[&bob]).await;
    assert_eq!(page(bob, None, 10).await, vec![alice, dave]);
}
