//! [`MessageStore::edit`](cirrus_core::ports::MessageStore::edit): a message edited in place
//! keeps its seq, msgId, sender and time; each edit is written only over the version it names,
//! never over a recalled message.

use crate::fixture::{Fixture, Stores, T0, append_new};
use crate::messages::rich_body;
use cirrus_core::ids::{ConversationId, StreamKey, UserId};
use cirrus_core::message::{Edit, Recall, StoredMessage};
use cirrus_core::ports::{Edited, MessageEdit, SeqRange};

/// A day after [`T0`], before any fixture message expires.
const NOW: i64 = T0 + 24 * 3600 * 1000;

fn change(by: &UserId, text: &str, data: Option<&str>, version: u32) -> MessageEdit {
    MessageEdit {
        body: Fixture::text(text),
        cloud_custom_data: data.map(str::to_owned),
        edit: Edit {
            by: by.clone(),
            time: T0 + 1000 * i64::from(version),
            version,
        },
    }
}

async fn edit(stores: &Stores, stream: &StreamKey, seq: u64, change: &MessageEdit) -> Edited {
    stores
        .messages
        .edit(stream, seq, change)
        .await
        .unwrap_or_else(|err| panic!("edit {seq} failed: {err:?}"))
}

/// `message` as it reads after `change`.
fn edited(message: &StoredMessage, change: &MessageEdit) -> StoredMessage {
    StoredMessage {
        body: change.body.clone(),
        cloud_custom_data: change.cloud_custom_data.clone(),
        edited: Some(change.edit.clone()),
        ..message.clone()
    }
}

/// GIVEN a rich message with app data WHEN its sender edits it THEN the edit answers, and
/// get_message, history and both conversation entries show, the new body and data with the
/// edit recorded, and every other field as it was.
pub async fn edit_replaces_the_content_in_place(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let mut rich = fx.c2c(&alice, &bob, "draft", T0);
    rich.body = rich_body();
    rich.cloud_custom_data = Some("{\"v\":0}".to_owned());
    let original = append_new(&stores, rich).await;
    assert_eq!(original.edited, None, "a new message is not edited");
    assert_eq!(original.version(), 0);
    let stream = StreamKey::c2c(&alice, &bob);

    let first = change(&alice, "final", Some("{\"v\":1}"), 1);
    let expected = edited(&original, &first);
    assert_eq!(
        edit(&stores, &stream, 1, &first).await,
        Edited::Done(expected.clone())
    );
    let read = stores
        .messages
        .get_message(&stream, 1, NOW)
        .await
        .expect("get_message");
    assert_eq!(read.as_ref(), Some(&expected), "get_message shows the edit");
    let range = SeqRange {
        before: None,
        after: None,
        limit: 10,
        now: NOW,
        keep_last: crate::fixture::KEEP_LAST,
    };
    let history = stores
        .messages
        .history(&stream, range, None)
        .await
        .expect("history");
    assert_eq!(
        history,
        vec![expected.clone()],
        "history shows the edit at the same seq"
    );
    for (owner, peer) in [(&alice, &bob), (&bob, &alice)] {
        let entry = stores
            .conversations
            .get_conversation(owner, &ConversationId::C2c(peer.clone()))
            .await
            .expect("get_conversation")
            .expect("the conversation exists");
        assert_eq!(
            entry.last_message.as_ref(),
            Some(&expected),
            "{owner}'s last message is edited"
        );
    }
}

/// GIVEN a message WHEN edits name versions THEN only the edit of the current version is
/// written; a stale or skipped one is refused with the message as it is, and an edit without
/// app data drops it.
pub async fn edits_are_written_only_over_the_version_they_name(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let mut message = fx.c2c(&alice, &bob, "v0", T0);
    message.cloud_custom_data = Some("data".to_owned());
    let original = append_new(&stores, message).await;
    let stream = StreamKey::c2c(&alice, &bob);

    let one = change(&alice, "one", Some("data"), 1);
    let at_one = edited(&original, &one);
    assert_eq!(
        edit(&stores, &stream, 1, &one).await,
        Edited::Done(at_one.clone())
    );
    let again = change(&bob, "one again", None, 1);
    assert_eq!(
        edit(&stores, &stream, 1, &again).await,
        Edited::Refused(at_one.clone()),
        "a second edit of version 0 is stale"
    );
    let skipped = change(&alice, "three", None, 3);
    assert_eq!(
        edit(&stores, &stream, 1, &skipped).await,
        Edited::Refused(at_one.clone())
    );
    let two = change(&alice, "two", None, 2);
    let at_two = edited(&original, &two);
    assert_eq!(at_two.cloud_custom_data, None);
    assert_eq!(
        edit(&stores, &stream, 1, &two).await,
        Edited::Done(at_two.clone())
    );
    assert_eq!(at_two.version(), 2);
    let read = stores
        .messages
        .get_message(&stream, 1, NOW)
        .await
        .expect("get_message");
    assert_eq!(read, Some(at_two), "the refused edits changed nothing");
}

/// GIVEN a recalled message and a seq with no message WHEN they are edited THEN the tombstone is
/// refused unchanged and the missing one is reported missing.
pub async fn recalled_and_missing_messages_are_not_edited(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    append_new(&stores, fx.c2c(&alice, &bob, "gone", T0)).await;
    let stream = StreamKey::c2c(&alice, &bob);
    let recall = Recall {
        by: alice.clone(),
        time: T0 + 10,
    };
    let tombstone = stores
        .messages
        .recall(&stream, 1, &recall)
        .await
        .expect("recall")
        .expect("the message exists");
    let attempt = change(&alice, "back", None, 1);
    assert_eq!(
        edit(&stores, &stream, 1, &attempt).await,
        Edited::Refused(tombstone.clone())
    );
    assert_eq!(edit(&stores, &stream, 2, &attempt).await, Edited::Missing);
    let other = StreamKey::c2c(&bob, &fx.user("carol"));
    assert_eq!(edit(&stores, &other, 1, &attempt).await, Edited::Missing);
    let read = stores
        .messages
        .get_message(&stream, 1, NOW)
        .await
        .expect("get_message");
    assert_eq!(read, Some(tombstone), "the tombstone stays a tombstone");
}
