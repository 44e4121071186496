//! [`ConversationStore::list_conversations`](cirrus_core::ports::ConversationStore): order and
//! cursor paging; `hide_conversation` and how a hidden entry comes back; `open_conversation` (a
//! group just joined) and the rule that an entry whose stream has no message yet is not shown.
//!
//! The list order is by the time of each conversation's newest message, newest first; entries
//! with the same time are ordered by conversation id (its wire text), descending, i.e. the order of
//! an `(updated_at, conversationId)` key read backwards. A cursor selects the entries strictly
//! after it in that order.

use crate::fixture::{Fixture, Stores, T0, append_new};
use cirrus_core::conversation::{ConversationCursor, ConversationEntry};
use cirrus_core::ids::{ConversationId, StreamKey, UserId};

async fn list(
    stores: &Stores,
    owner: &UserId,
    after: Option<&ConversationCursor>,
    limit: u32,
) -> Vec<ConversationEntry> {
    stores
        .conversations
        .list_conversations(owner, after, limit)
        .await
        .expect("list_conversations")
}

async fn get(stores: &Stores, owner: &UserId, conversation: &ConversationId) -> Option<ConversationEntry> {
    stores
        .conversations
        .get_conversation(owner, conversation)
        .await
        .expect("get_conversation")
}

async fn hide(stores: &Stores, owner: &UserId, conversation: &ConversationId) -> bool {
    stores
        .conversations
        .hide_conversation(owner, conversation)
        .await
        .expect("hide_conversation")
}

async fn open(
    stores: &Stores,
    owner: &UserId,
    conversation: &ConversationId,
    stream: &StreamKey,
) -> ConversationEntry {
    stores
        .conversations
        .open_conversation(owner, conversation, stream)
        .await
        .expect("open_conversation")
}

fn peers(entries: &[ConversationEntry]) -> Vec<String> {
    entries.iter().map(|e| e.conversation_id.to_string()).collect()
}

fn cursor_after(entry: &ConversationEntry) -> ConversationCursor {
    ConversationCursor {
        updated_at: entry.updated_at,
        conversation_id: entry.conversation_id.to_string(),
    }
}

/// GIVEN alice hears from bob, carol and dave in that order WHEN she lists THEN dave comes first;
/// WHEN she then writes to bob THEN bob moves to the top; equal times order by id, descending.
pub async fn list_orders_by_last_activity(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let (bob, carol, dave) = (fx.user("bob"), fx.user("carol"), fx.user("dave"));
    append_new(&stores, fx.c2c(&bob, &alice, "1", T0 + 10)).await;
    append_new(&stores, fx.c2c(&carol, &alice, "2", T0 + 20)).await;
    let daves = append_new(&stores, fx.c2c(&dave, &alice, "3", T0 + 30)).await;
    let c2c = |user: &UserId| format!("C2C{user}");

    let first = list(&stores, &alice, None, 10).await;
    assert_eq!(
        peers(&first),
        vec![c2c(&dave), c2c(&carol), c2c(&bob)],
        "newest first"
    );
    assert_eq!(first[0].updated_at, T0 + 30);
    assert_eq!(first[0].last_message, Some(daves));

    append_new(&stores, fx.c2c(&alice, &bob, "4", T0 + 40)).await;
    let second = list(&stores, &alice, None, 10).await;
    assert_eq!(
        peers(&second),
        vec![c2c(&bob), c2c(&dave), c2c(&carol)],
        "bob moved to the top"
    );
    assert_eq!((second[0].updated_at, second[0].last_seq), (T0 + 40, 2));

    // Two conversations active at the same instant: the larger id first.
    let (erin, frank) = (fx.user("erin"), fx.user("frank"));
    append_new(&stores, fx.c2c(&frank, &alice, "5", T0 + 50)).await;
    append_new(&stores, fx.c2c(&erin, &alice, "6", T0 + 50)).await;
    let third = list(&stores, &alice, None, 2).await;
    assert_eq!(
        peers(&third),
        vec![c2c(&frank), c2c(&erin)],
        "ties by conversation id, descending"
    );
}

/// GIVEN alice has 7 conversations, some active at the same time WHEN she pages with limit 3 and
/// the cursor of each page's last entry THEN the pages are 3, 3 and 1 long and together are the
/// whole list in order, with no overlap and no gap.
pub async fn list_pages_by_cursor_without_overlap_or_gap(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let times = [10, 20, 20, 30, 40, 40, 40];
    for (i, time) in times.iter().enumerate() {
        let peer = fx.user(&format!("p{i}"));
        append_new(&stores, fx.c2c(&peer, &alice, &format!("x{i}"), T0 + time)).await;
    }
    let whole = list(&stores, &alice, None, 100).await;
    assert_eq!(whole.len(), times.len(), "every conversation is listed");
    for pair in whole.windows(2) {
        let key = |e: &ConversationEntry| (e.updated_at, e.conversation_id.to_string());
        assert!(
            key(&pair[0]) > key(&pair[1]),
            "list order: {:?} then {:?}",
            key(&pair[0]),
            key(&pair[1])
        );
    }

    let mut paged = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor = None;
    loop {
        let page = list(&stores, &alice, cursor.as_ref(), 3).await;
        if page.is_empty() {
            break;
        }
        assert!(sizes.len() < 10, "paging does not terminate");
        sizes.push(page.len());
        cursor = page.last().map(cursor_after);
        paged.extend(page);
    }
    assert_eq!(sizes, vec![3, 3, 1], "page sizes");
    assert_eq!(
        peers(&paged),
        peers(&whole),
        "pages concatenate to the whole list"
    );
}

/// GIVEN a user with no messages WHEN the list is read THEN it is empty.
pub async fn list_of_a_user_without_conversations_is_empty(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    append_new(&stores, fx.c2c(&alice, &bob, "x", T0)).await;
    assert!(list(&stores, &fx.user("carol"), None, 10).await.is_empty());
    let cursor = ConversationCursor {
        updated_at: T0 + 1_000,
        conversation_id: format!("C2C{bob}"),
    };
    assert!(
        list(&stores, &fx.user("carol"), Some(&cursor), 10)
            .await
            .is_empty()
    );
}

/// GIVEN alice talks with bob, carol and dave WHEN she hides carol's conversation THEN the answer
/// is true, carol's entry is gone from her list and from `get_conversation`, a page of 2 still holds
/// the other two, and carol's own entry is untouched.
pub async fn hide_removes_the_entry_from_the_owners_list_only(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let (bob, carol, dave) = (fx.user("bob"), fx.user("carol"), fx.user("dave"));
    append_new(&stores, fx.c2c(&bob, &alice, "1", T0 + 10)).await;
    append_new(&stores, fx.c2c(&alice, &carol, "2", T0 + 20)).await;
    append_new(&stores, fx.c2c(&carol, &alice, "3", T0 + 30)).await;
    append_new(&stores, fx.c2c(&alice, &carol, "4", T0 + 40)).await;
    append_new(&stores, fx.c2c(&dave, &alice, "5", T0 + 50)).await;
    let with_alice = ConversationId::C2c(alice.clone());
    let carols_before = get(&stores, &carol, &with_alice).await;

    let hidden = hide(&stores, &alice, &ConversationId::C2c(carol.clone())).await;

    assert!(hidden, "alice had the conversation");
    let c2c = |user: &UserId| format!("C2C{user}");
    assert_eq!(
        peers(&list(&stores, &alice, None, 10).await),
        vec![c2c(&dave), c2c(&bob)],
        "carol's conversation left the list"
    );
    assert_eq!(
        peers(&list(&stores, &alice, None, 2).await),
        vec![c2c(&dave), c2c(&bob)],
        "a hidden entry takes no place in a page"
    );
    let first = list(&stores, &alice, None, 1).await;
    assert_eq!(
        peers(&list(&stores, &alice, first.last().map(cursor_after).as_ref(), 10).await),
        vec![c2c(&bob)],
        "nor in a page after a cursor"
    );
    assert_eq!(
        get(&stores, &alice, &ConversationId::C2c(carol.clone())).await,
        None,
        "nor can it be read alone"
    );
    let carols = get(&stores, &carol, &with_alice).await;
    assert!(carols.is_some(), "carol keeps her entry");
    assert_eq!(carols, carols_before, "carol's entry is unchanged");
    assert_eq!(
        carols.map(|e| (e.last_seq, e.read_seq, e.unread())),
        Some((3, 2, 1)),
        "carol still has alice's message unread"
    );
}

/// GIVEN alice talks with bob WHEN she hides a conversation she does not have, or nobody hides
/// bob's THEN the answer is false and nothing changes.
pub async fn hiding_an_unknown_conversation_reports_false(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, nobody) = (fx.user("alice"), fx.user("bob"), fx.user("nobody"));
    append_new(&stores, fx.c2c(&bob, &alice, "m", T0)).await;
    let before = list(&stores, &alice, None, 10).await;

    assert!(
        !hide(&stores, &alice, &ConversationId::C2c(nobody.clone())).await,
        "alice has no conversation with nobody"
    );
    assert!(
        !hide(&stores, &alice, &ConversationId::Group(fx.group("none"))).await,
        "nor with a group"
    );
    assert!(
        !hide(&stores, &nobody, &ConversationId::C2c(bob.clone())).await,
        "bob's conversation with alice is not nobody's"
    );

    assert_eq!(
        list(&stores, &alice, None, 10).await,
        before,
        "alice's list is unchanged"
    );
    assert!(
        list(&stores, &nobody, None, 10).await.is_empty(),
        "hiding created nothing"
    );
    assert_eq!(
        get(&stores, &alice, &ConversationId::C2c(nobody.clone())).await,
        None,
        "hiding created nothing"
    );
}

/// GIVEN alice hid her conversation with bob after three messages, one of them hers WHEN bob
/// writes again THEN the entry is back at the top of her list with only the new message unread;
/// WHEN she hides it again and he writes twice more THEN exactly those two are unread.
pub async fn a_hidden_conversation_returns_with_only_newer_messages_unread(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    append_new(&stores, fx.c2c(&bob, &alice, "b1", T0)).await;
    append_new(&stores, fx.c2c(&alice, &bob, "a1", T0 + 1)).await;
    append_new(&stores, fx.c2c(&bob, &alice, "b2", T0 + 2)).await;
    append_new(&stores, fx.c2c(&carol, &alice, "c1", T0 + 3)).await;
    let with_bob = ConversationId::C2c(bob.clone());
    assert!(hide(&stores, &alice, &with_bob).await);

    let news = append_new(&stores, fx.c2c(&bob, &alice, "b3", T0 + 4)).await;

    let back = get(&stores, &alice, &with_bob)
        .await
        .expect("a newer message brings the entry back");
    assert_eq!(
        (back.last_seq, back.read_seq, back.unread()),
        (4, 3, 1),
        "only the newer message is unread"
    );
    assert_eq!(back.last_message, Some(news));
    let listed = list(&stores, &alice, None, 10).await;
    assert_eq!(
        peers(&listed),
        vec![format!("C2C{bob}"), format!("C2C{carol}")],
        "back in the list, by its activity"
    );
    assert_eq!(listed[0], back, "the list and the single read agree");

    assert!(hide(&stores, &alice, &with_bob).await, "hidden again");
    assert_eq!(get(&stores, &alice, &with_bob).await, None);
    append_new(&stores, fx.c2c(&bob, &alice, "b4", T0 + 5)).await;
    append_new(&stores, fx.c2c(&bob, &alice, "b5", T0 + 6)).await;
    let again = get(&stores, &alice, &with_bob).await.expect("back again");
    assert_eq!(
        (again.last_seq, again.read_seq, again.unread()),
        (6, 4, 2),
        "the two messages since the second hide are unread"
    );
}

/// GIVEN alice hid her conversation with bob, who has unread messages WHEN alice writes to bob
/// THEN her entry is back with nothing unread, and bob's counts her new message as well.
pub async fn the_owners_own_message_brings_a_hidden_conversation_back_read(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    append_new(&stores, fx.c2c(&alice, &bob, "a1", T0)).await;
    append_new(&stores, fx.c2c(&bob, &alice, "b1", T0 + 1)).await;
    let with_bob = ConversationId::C2c(bob.clone());
    assert!(hide(&stores, &alice, &with_bob).await);

    let own = append_new(&stores, fx.c2c(&alice, &bob, "a2", T0 + 2)).await;

    let alices = get(&stores, &alice, &with_bob)
        .await
        .expect("her own message brings the entry back");
    assert_eq!(
        (alices.last_seq, alices.read_seq, alices.unread()),
        (3, 3, 0),
        "her read pointer follows her own message"
    );
    assert_eq!(alices.last_message, Some(own));
    let bobs = get(&stores, &bob, &ConversationId::C2c(alice.clone()))
        .await
        .expect("bob's entry");
    assert_eq!(
        (bobs.last_seq, bobs.read_seq, bobs.unread()),
        (3, 2, 1),
        "bob has her new message unread"
    );
}

/// GIVEN a group of alice, bob and carol with two messages WHEN alice hides it THEN only her entry
/// is gone, carol still has both unread; WHEN carol writes THEN alice's entry is back with one
/// unread.
pub async fn hiding_a_group_conversation_is_per_member(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let group = fx.group("team");
    let members = [&alice, &bob, &carol];
    append_new(&stores, fx.group_message(&bob, &group, &members, "g1", T0)).await;
    append_new(&stores, fx.group_message(&bob, &group, &members, "g2", T0 + 1)).await;
    let conversation = ConversationId::Group(group.clone());

    assert!(hide(&stores, &alice, &conversation).await);

    assert_eq!(
        get(&stores, &alice, &conversation).await,
        None,
        "alice's entry is hidden"
    );
    assert!(
        list(&stores, &alice, None, 10).await.is_empty(),
        "and out of her list"
    );
    for (member, read_seq) in [(&bob, 2), (&carol, 0)] {
        let e = get(&stores, member, &conversation)
            .await
            .unwrap_or_else(|| panic!("{member} keeps the entry"));
        assert_eq!((e.last_seq, e.read_seq), (2, read_seq), "{member}'s pointers");
        assert_eq!(
            peers(&list(&stores, member, None, 10).await),
            vec![conversation.to_string()],
            "{member}'s list"
        );
    }

    append_new(&stores, fx.group_message(&carol, &group, &members, "g3", T0 + 2)).await;
    let back = get(&stores, &alice, &conversation)
        .await
        .expect("a newer message brings the entry back");
    assert_eq!(
        (back.last_seq, back.read_seq, back.unread()),
        (3, 2, 1),
        "alice has only carol's message unread"
    );
}

/// GIVEN a group stream with three messages, each touching only its sender's entry WHEN dave
/// opens the group THEN his entry has everything so far read, the last message and its time, and
/// is in his list as `get_conversation` reads it; WHEN two more messages come THEN exactly those
/// two are unread.
pub async fn open_conversation_starts_with_everything_so_far_read(stores: Stores) {
    let fx = Fixture::new();
    let (alice, dave) = (fx.user("alice"), fx.user("dave"));
    let group = fx.group("team");
    let stream = StreamKey::group(&group);
    let conversation = ConversationId::Group(group.clone());
    append_new(&stores, fx.group_message(&alice, &group, &[&alice], "g1", T0)).await;
    append_new(&stores, fx.group_message(&alice, &group, &[&alice], "g2", T0 + 1)).await;
    let third = append_new(&stores, fx.group_message(&alice, &group, &[&alice], "g3", T0 + 2)).await;

    let opened = open(&stores, &dave, &conversation, &stream).await;

    assert_eq!(
        opened,
        ConversationEntry {
            owner: dave.clone(),
            conversation_id: conversation.clone(),
            stream: stream.clone(),
            last_seq: 3,
            read_seq: 3,
            last_message: Some(third),
            updated_at: T0 + 2,
        },
        "read up to the last seq"
    );
    assert_eq!(
        get(&stores, &dave, &conversation).await.as_ref(),
        Some(&opened),
        "read alone, the same entry"
    );
    assert_eq!(
        list(&stores, &dave, None, 10).await,
        vec![opened],
        "listed at once: the stream has messages"
    );

    append_new(&stores, fx.group_message(&alice, &group, &[&alice], "g4", T0 + 3)).await;
    let fifth = append_new(&stores, fx.group_message(&alice, &group, &[&alice], "g5", T0 + 4)).await;
    let after = get(&stores, &dave, &conversation).await.expect("dave's entry");
    assert_eq!(
        (after.last_seq, after.read_seq, after.unread()),
        (5, 3, 2),
        "only the messages since the open are unread"
    );
    assert_eq!(after.last_message, Some(fifth));
}

/// GIVEN bob with two unread group messages and carol who hid the group WHEN each opens it again
/// THEN bob's entry is kept, both still unread, and carol's stays hidden (returned with the
/// stream's last seq, everything read) until a newer message brings it back with one unread.
pub async fn open_conversation_keeps_an_existing_entry(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let group = fx.group("team");
    let stream = StreamKey::group(&group);
    let conversation = ConversationId::Group(group.clone());
    let members = [&alice, &bob, &carol];
    append_new(&stores, fx.group_message(&alice, &group, &members, "g1", T0)).await;
    append_new(&stores, fx.group_message(&alice, &group, &members, "g2", T0 + 1)).await;
    assert!(hide(&stores, &carol, &conversation).await);
    let bobs_before = get(&stores, &bob, &conversation).await.expect("bob's entry");

    let bobs = open(&stores, &bob, &conversation, &stream).await;
    let carols = open(&stores, &carol, &conversation, &stream).await;

    assert_eq!(bobs, bobs_before, "bob's entry as it was");
    assert_eq!(
        (bobs.last_seq, bobs.read_seq, bobs.unread()),
        (2, 0, 2),
        "still unread"
    );
    assert_eq!(get(&stores, &bob, &conversation).await, Some(bobs_before));
    assert_eq!(
        (carols.last_seq, carols.read_seq),
        (2, 2),
        "carol's entry, read up to where she hid it"
    );
    assert_eq!(get(&stores, &carol, &conversation).await, None, "still hidden");
    assert!(
        list(&stores, &carol, None, 10).await.is_empty(),
        "and out of her list"
    );

    append_new(&stores, fx.group_message(&alice, &group, &[&alice], "g3", T0 + 2)).await;
    let back = get(&stores, &carol, &conversation)
        .await
        .expect("back with a newer message");
    assert_eq!((back.last_seq, back.read_seq, back.unread()), (3, 2, 1));
}

/// GIVEN dave talks with bob, and he and alice open a group with no message yet WHEN dave's list
/// is read THEN only bob's conversation is in it, and a page of one holds it: the empty group
/// takes no place; nor does `get_conversation` find the group. WHEN alice sends the first message
/// THEN the group is listed first for dave with that message unread, and for alice read.
pub async fn an_opened_conversation_is_listed_from_its_first_message(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, dave) = (fx.user("alice"), fx.user("bob"), fx.user("dave"));
    let group = fx.group("team");
    let stream = StreamKey::group(&group);
    let conversation = ConversationId::Group(group.clone());
    append_new(&stores, fx.c2c(&bob, &dave, "b1", T0)).await;

    for member in [&alice, &dave] {
        let opened = open(&stores, member, &conversation, &stream).await;
        assert_eq!(
            (opened.last_seq, opened.read_seq, opened.last_message.as_ref()),
            (0, 0, None),
            "{member}'s entry of a stream with no message"
        );
        assert_eq!((&opened.owner, &opened.conversation_id), (member, &conversation));
    }

    let with_bob = vec![format!("C2C{bob}")];
    assert_eq!(
        peers(&list(&stores, &dave, None, 10).await),
        with_bob,
        "the group is not listed yet"
    );
    assert_eq!(
        peers(&list(&stores, &dave, None, 1).await),
        with_bob,
        "and takes no place in a page"
    );
    assert_eq!(get(&stores, &dave, &conversation).await, None, "nor read alone");
    assert!(
        list(&stores, &alice, None, 10).await.is_empty(),
        "alice's list is empty"
    );

    let first = append_new(
        &stores,
        fx.group_message(&alice, &group, &[&alice], "g1", T0 + 10),
    )
    .await;

    let listed = list(&stores, &dave, None, 10).await;
    assert_eq!(
        peers(&listed),
        vec![conversation.to_string(), format!("C2C{bob}")],
        "the group is listed with its first message, newest first"
    );
    assert_eq!(
        (listed[0].last_seq, listed[0].read_seq, listed[0].unread()),
        (1, 0, 1),
        "unread counted from the open"
    );
    assert_eq!(listed[0].last_message.as_ref(), Some(&first));
    assert_eq!(
        get(&stores, &dave, &conversation).await.as_ref(),
        Some(&listed[0])
    );
    let alices = get(&stores, &alice, &conversation).await.expect("alice's entry");
    assert_eq!(
        (alices.last_seq, alices.read_seq),
        (1, 1),
        "the sender has read her own"
    );
}
