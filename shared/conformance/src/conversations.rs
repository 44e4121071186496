//! [`ConversationStore::list_conversations`](cirrus_core::ports::ConversationStore): order and
//! cursor paging.
//!
//! The list order is by the time of each conversation's newest message, newest first; entries
//! with the same time are ordered by conversation id (its wire text), descending, i.e. the order of
//! an `(updated_at, conversationId)` key read backwards. A cursor selects the entries strictly
//! after it in that order.

use crate::fixture::{Fixture, Stores, T0, append_new};
use cirrus_core::conversation::{ConversationCursor, ConversationEntry};
use cirrus_core::ids::UserId;

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
