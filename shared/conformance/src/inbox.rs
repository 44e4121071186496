//! [`ConversationStore`](cirrus_core::ports::ConversationStore) entries as appends maintain them,
//! and read pointers.

use crate::fixture::{Fixture, Stores, T0, append_new};
use cirrus_core::conversation::ConversationEntry;
use cirrus_core::ids::{ConversationId, StreamKey, UserId};

async fn entry(stores: &Stores, owner: &UserId, conversation: &ConversationId) -> ConversationEntry {
    stores
        .conversations
        .get_conversation(owner, conversation)
        .await
        .expect("get_conversation")
        .unwrap_or_else(|| panic!("{owner} has no {conversation}"))
}

/// GIVEN no conversation WHEN alice sends bob a message THEN both have an entry on the shared
/// stream with the message as last message; alice's counts as read, bob has one unread.
pub async fn append_creates_an_entry_for_each_side(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let message = append_new(&stores, fx.c2c(&alice, &bob, "hi", T0 + 7)).await;

    let alices = entry(&stores, &alice, &ConversationId::C2c(bob.clone())).await;
    let bobs = entry(&stores, &bob, &ConversationId::C2c(alice.clone())).await;
    for e in [&alices, &bobs] {
        assert_eq!(e.stream, StreamKey::c2c(&alice, &bob), "{}: stream", e.owner);
        assert_eq!(e.last_seq, 1, "{}: last_seq", e.owner);
        assert_eq!(
            e.updated_at,
            T0 + 7,
            "{}: updated_at is the message time",
            e.owner
        );
        assert_eq!(
            e.last_message.as_ref(),
            Some(&message),
            "{}: last message",
            e.owner
        );
    }
    assert_eq!(alices.owner, alice);
    assert_eq!(
        (alices.read_seq, alices.unread()),
        (1, 0),
        "the sender has read her own message"
    );
    assert_eq!(bobs.owner, bob);
    assert_eq!(
        (bobs.read_seq, bobs.unread()),
        (0, 1),
        "the recipient has one unread"
    );
}

/// GIVEN bob sent two messages to alice WHEN alice replies THEN alice's read pointer jumps to her
/// reply and bob has exactly her reply unread.
pub async fn sender_read_pointer_follows_own_messages(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    append_new(&stores, fx.c2c(&bob, &alice, "b1", T0)).await;
    append_new(&stores, fx.c2c(&bob, &alice, "b2", T0 + 1)).await;
    let before = entry(&stores, &alice, &ConversationId::C2c(bob.clone())).await;
    assert_eq!(
        (before.last_seq, before.read_seq, before.unread()),
        (2, 0, 2),
        "alice has two unread"
    );

    let reply = append_new(&stores, fx.c2c(&alice, &bob, "a1", T0 + 2)).await;

    let alices = entry(&stores, &alice, &ConversationId::C2c(bob.clone())).await;
    let bobs = entry(&stores, &bob, &ConversationId::C2c(alice.clone())).await;
    assert_eq!(
        (alices.last_seq, alices.read_seq, alices.unread()),
        (3, 3, 0),
        "alice after replying"
    );
    assert_eq!(
        (bobs.last_seq, bobs.read_seq, bobs.unread()),
        (3, 2, 1),
        "bob after alice's reply"
    );
    assert_eq!(bobs.last_message, Some(reply));
}

/// GIVEN a group stream with three members' entries WHEN members send THEN every member's entry
/// follows the stream, and only each sender's read pointer moves.
pub async fn group_append_updates_every_members_entry(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let group = fx.group("team");
    let members = [&alice, &bob, &carol];
    append_new(&stores, fx.group_message(&alice, &group, &members, "g1", T0)).await;
    let last = append_new(&stores, fx.group_message(&bob, &group, &members, "g2", T0 + 1)).await;

    let conversation = ConversationId::Group(group.clone());
    let expected = [(&alice, 1), (&bob, 2), (&carol, 0)];
    for (member, read_seq) in expected {
        let e = entry(&stores, member, &conversation).await;
        assert_eq!(e.stream, StreamKey::group(&group));
        assert_eq!((e.last_seq, e.read_seq), (2, read_seq), "{member}'s pointers");
        assert_eq!(e.unread(), 2 - read_seq, "{member}'s unread");
        assert_eq!(e.last_message.as_ref(), Some(&last));
    }
}

/// GIVEN five messages to alice WHEN she marks 3, then 2, then far past the end THEN her pointer
/// goes to 3, stays at 3, then stops at the last seq; each call returns the entry as stored.
pub async fn mark_read_never_moves_down_or_past_last_seq(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    for i in 0..5 {
        append_new(&stores, fx.c2c(&bob, &alice, &format!("m{i}"), T0 + i)).await;
    }
    let conversation = ConversationId::C2c(bob.clone());
    let mark = |seq| {
        let (stores, alice, conversation) = (stores.clone(), alice.clone(), conversation.clone());
        async move {
            stores
                .conversations
                .mark_read(&alice, &conversation, seq)
                .await
                .expect("mark_read")
                .expect("the conversation exists")
        }
    };

    let up = mark(3).await;
    assert_eq!((up.read_seq, up.unread()), (3, 2), "moves up to 3");
    assert_eq!(
        up,
        entry(&stores, &alice, &conversation).await,
        "returns the entry as stored"
    );
    let down = mark(2).await;
    assert_eq!(down.read_seq, 3, "never moves down");
    let past = mark(99).await;
    assert_eq!(
        (past.read_seq, past.last_seq, past.unread()),
        (5, 5, 0),
        "stops at the last seq"
    );
    let max = mark(u64::MAX).await;
    assert_eq!(max.read_seq, 5, "even for the largest seq");

    let bobs = entry(&stores, &bob, &ConversationId::C2c(alice.clone())).await;
    assert_eq!(bobs.read_seq, 5, "bob's pointer is his own");
}

/// GIVEN alice has no conversation with nobody WHEN she marks it read THEN the answer is none and
/// no entry appears.
pub async fn mark_read_of_an_unknown_conversation_is_none(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, nobody) = (fx.user("alice"), fx.user("bob"), fx.user("nobody"));
    append_new(&stores, fx.c2c(&bob, &alice, "m", T0)).await;
    let unknown = ConversationId::C2c(nobody.clone());

    let marked = stores
        .conversations
        .mark_read(&alice, &unknown, 1)
        .await
        .expect("mark_read");
    assert_eq!(marked, None, "no such conversation");
    let got = stores
        .conversations
        .get_conversation(&alice, &unknown)
        .await
        .expect("get");
    assert_eq!(got, None, "marking created nothing");
    // Bob's side of alice's conversation is not alice's to mark.
    let not_hers = stores
        .conversations
        .mark_read(&nobody, &ConversationId::C2c(bob.clone()), 1)
        .await
        .expect("mark_read");
    assert_eq!(not_hers, None, "a user without the conversation gets none");
    let list = stores
        .conversations
        .list_conversations(&nobody, None, 10)
        .await
        .expect("list");
    assert!(list.is_empty(), "nobody still has no conversations");
}
