//! [`MessageStore`](cirrus_core::ports::MessageStore): seq allocation, idempotency, content,
//! history, single reads, recall, delete-for-me, roaming expiry and the per-conversation cap.
//! Long because it is test code: one case per function, each a short story, and every case of the
//! port in one place so a backend author reads the whole contract.

use crate::fixture::{Fixture, KEEP_LAST, ROAMING_END, Stores, T0, append_new};
use cirrus_core::element::{Element, MediaRef, Rendition};
use cirrus_core::ids::{ConversationId, StreamKey, UserId};
use cirrus_core::message::{Recall, SenderProfile, StoredMessage};
use cirrus_core::ports::{Appended, NewMessage, SeqRange};

/// When the cases read: a day after [`T0`], before any fixture message expires.
const NOW: i64 = T0 + 24 * 3600 * 1000;

fn seqs(messages: &[StoredMessage]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

/// A range read at [`NOW`] with the fixture cap.
fn range(before: Option<u64>, after: Option<u64>, limit: u32) -> SeqRange {
    SeqRange {
        before,
        after,
        limit,
        now: NOW,
        keep_last: KEEP_LAST,
    }
}

/// A page of `stream` as `viewer` (or nobody) reads it.
async fn page(
    stores: &Stores,
    stream: &StreamKey,
    range: SeqRange,
    viewer: Option<&UserId>,
) -> Vec<StoredMessage> {
    stores
        .messages
        .history(stream, range, viewer)
        .await
        .unwrap_or_else(|err| panic!("history {range:?} as {viewer:?} failed: {err:?}"))
}

/// The seqs of a page read at [`NOW`] with the fixture cap and no viewer.
async fn history(
    stores: &Stores,
    stream: &StreamKey,
    before: Option<u64>,
    after: Option<u64>,
    limit: u32,
) -> Vec<u64> {
    seqs(&page(stores, stream, range(before, after, limit), None).await)
}

/// The seqs of a page as `viewer` reads it at [`NOW`] with the fixture cap.
async fn history_of(
    stores: &Stores,
    stream: &StreamKey,
    viewer: &UserId,
    before: Option<u64>,
    after: Option<u64>,
    limit: u32,
) -> Vec<u64> {
    seqs(&page(stores, stream, range(before, after, limit), Some(viewer)).await)
}

async fn get(stores: &Stores, stream: &StreamKey, seq: u64, now: i64) -> Option<StoredMessage> {
    stores
        .messages
        .get_message(stream, seq, now)
        .await
        .unwrap_or_else(|err| panic!("get_message {seq} at {now} failed: {err:?}"))
}

async fn recall(stores: &Stores, stream: &StreamKey, seq: u64, recall: &Recall) -> Option<StoredMessage> {
    stores
        .messages
        .recall(stream, seq, recall)
        .await
        .unwrap_or_else(|err| panic!("recall {seq} failed: {err:?}"))
}

async fn hide(stores: &Stores, owner: &UserId, stream: &StreamKey, seqs: &[u64]) {
    stores
        .messages
        .hide_messages(owner, stream, seqs, ROAMING_END)
        .await
        .unwrap_or_else(|err| panic!("hide_messages {seqs:?} failed: {err:?}"));
}

/// Appends `count` messages from alice to bob (client ids `{prefix}{i}`, one ms apart); returns
/// them as stored.
async fn append_many(
    stores: &Stores,
    fx: &Fixture,
    (alice, bob): (&UserId, &UserId),
    prefix: &str,
    count: i64,
) -> Vec<StoredMessage> {
    let mut stored = Vec::new();
    for i in 0..count {
        stored.push(append_new(stores, fx.c2c(alice, bob, &format!("{prefix}{i}"), T0 + i)).await);
    }
    stored
}

/// `message` as its tombstone after `recall`: the body and cloudCustomData dropped, everything
/// else kept.
fn tombstone(message: &StoredMessage, recall: &Recall) -> StoredMessage {
    StoredMessage {
        body: Vec::new(),
        cloud_custom_data: None,
        recalled: Some(recall.clone()),
        ..message.clone()
    }
}

/// GIVEN two C2C streams WHEN messages are appended to them interleaved THEN each stream's seqs
/// run 1, 2, 3… on their own.
pub async fn seq_starts_at_one_and_increases_per_stream(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));

    let mut to_bob = Vec::new();
    let mut to_carol = Vec::new();
    for i in 0..5 {
        to_bob.push(
            append_new(&stores, fx.c2c(&alice, &bob, &format!("ab{i}"), T0 + i))
                .await
                .seq,
        );
        if i % 2 == 0 {
            to_carol.push(
                append_new(&stores, fx.c2c(&carol, &alice, &format!("ca{i}"), T0 + i))
                    .await
                    .seq,
            );
        }
    }
    // A reply in the other direction shares the stream.
    to_bob.push(append_new(&stores, fx.c2c(&bob, &alice, "ba", T0 + 9)).await.seq);

    assert_eq!(to_bob, vec![1, 2, 3, 4, 5, 6], "alice<->bob seqs");
    assert_eq!(
        to_carol,
        vec![1, 2, 3],
        "carol<->alice seqs start at 1 independently"
    );
}

/// GIVEN one stream WHEN 200 tasks append to it at once THEN the seqs are exactly 1..=200, history
/// holds them all in order, and each side's read pointer is the highest seq it sent.
pub async fn concurrent_appends_get_gapless_unique_seqs(stores: Stores) {
    const TASKS: u64 = 200;
    let fx = std::sync::Arc::new(Fixture::new());
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));

    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let (stores, fx) = (stores.clone(), fx.clone());
        let (from, to) = if i % 2 == 0 {
            (alice.clone(), bob.clone())
        } else {
            (bob.clone(), alice.clone())
        };
        tasks.push(tokio::spawn(async move {
            let message = fx.c2c(&from, &to, &format!("c{i}"), T0 + i as i64);
            (from, append_new(&stores, message).await.seq)
        }));
    }
    let mut sent = Vec::new();
    for task in tasks {
        sent.push(task.await.expect("append task panicked"));
    }

    let mut all: Vec<u64> = sent.iter().map(|(_, seq)| *seq).collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=TASKS).collect::<Vec<_>>(),
        "seqs have no gap and no duplicate"
    );

    let stream = StreamKey::c2c(&alice, &bob);
    let page = history(&stores, &stream, None, None, TASKS as u32 + 10).await;
    assert_eq!(
        page,
        (1..=TASKS).collect::<Vec<_>>(),
        "history holds every message in order"
    );

    for (user, peer) in [(&alice, &bob), (&bob, &alice)] {
        let own_max = sent
            .iter()
            .filter(|(from, _)| from == user)
            .map(|(_, seq)| *seq)
            .max();
        let entry = stores
            .conversations
            .get_conversation(user, &cirrus_core::ids::ConversationId::C2c(peer.clone()))
            .await
            .expect("get_conversation")
            .expect("the conversation exists");
        assert_eq!(entry.last_seq, TASKS, "{user}'s last_seq");
        assert_eq!(
            Some(entry.read_seq),
            own_max,
            "{user}'s read pointer is their newest own message"
        );
    }
}

/// GIVEN a stored message WHEN the sender appends the same clientMsgId again (other body, time and
/// msgId) THEN the first message comes back as a duplicate and nothing changes.
pub async fn duplicate_client_msg_id_returns_the_first_message(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let first = append_new(&stores, fx.c2c(&alice, &bob, "same", T0)).await;
    let bob_view = cirrus_core::ids::ConversationId::C2c(alice.clone());
    let before = stores
        .conversations
        .get_conversation(&bob, &bob_view)
        .await
        .expect("get");

    let mut retry = fx.c2c(&alice, &bob, "same", T0 + 500);
    retry.body = Fixture::text("a different body");
    let outcome = stores.messages.append(retry).await.expect("append retry");

    assert_eq!(
        outcome,
        Appended::Duplicate(first.clone()),
        "the retry answers with the first message"
    );
    let stream = StreamKey::c2c(&alice, &bob);
    assert_eq!(
        history(&stores, &stream, None, None, 10).await,
        vec![1],
        "no second message"
    );
    let after = stores
        .conversations
        .get_conversation(&bob, &bob_view)
        .await
        .expect("get");
    assert_eq!(after, before, "the duplicate touched no inbox");
    let next = append_new(&stores, fx.c2c(&alice, &bob, "next", T0 + 600)).await;
    assert_eq!(next.seq, 2, "the duplicate used no seq");
}

/// GIVEN alice sent clientMsgId X WHEN bob sends X too THEN his is a new message; WHEN alice sends X
/// to someone else THEN it is still her duplicate (idempotency spans the whole store).
pub async fn idempotency_is_per_sender_across_streams(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let first = append_new(&stores, fx.c2c(&alice, &bob, "X", T0)).await;

    let bobs = append_new(&stores, fx.c2c(&bob, &alice, "X", T0 + 1)).await;
    assert_eq!(bobs.seq, 2, "bob's X is a new message in the same stream");
    assert_eq!(bobs.from, bob);

    let elsewhere = stores
        .messages
        .append(fx.c2c(&alice, &carol, "X", T0 + 2))
        .await
        .expect("append");
    assert_eq!(
        elsewhere,
        Appended::Duplicate(first),
        "alice's X is hers wherever she sends it"
    );
    let carol_stream = StreamKey::c2c(&alice, &carol);
    assert!(
        history(&stores, &carol_stream, None, None, 10).await.is_empty(),
        "nothing reached carol"
    );
}

/// GIVEN 20 tasks WHEN they append the same (sender, clientMsgId) at once THEN exactly one is new
/// and every other gets that same message back.
pub async fn concurrent_duplicates_store_one_message(stores: Stores) {
    let fx = std::sync::Arc::new(Fixture::new());
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (stores, fx, alice, bob) = (stores.clone(), fx.clone(), alice.clone(), bob.clone());
        tasks.push(tokio::spawn(async move {
            stores.messages.append(fx.c2c(&alice, &bob, "once", T0 + i)).await
        }));
    }
    let mut new = Vec::new();
    let mut duplicates = Vec::new();
    for task in tasks {
        match task.await.expect("task").expect("append") {
            Appended::New(message) => new.push(message),
            Appended::Duplicate(message) => duplicates.push(message),
        }
    }
    assert_eq!(new.len(), 1, "exactly one append is new");
    assert!(
        duplicates.iter().all(|d| *d == new[0]),
        "every duplicate is the stored message"
    );
    let stream = StreamKey::c2c(&alice, &bob);
    assert_eq!(history(&stores, &stream, None, None, 50).await, vec![1]);
}

/// Every element type, with unicode and characters that trip up encoders.
pub fn rich_body() -> Vec<Element> {
    let media = |id: &str| MediaRef {
        media_id: Some(id.to_owned()),
        url: None,
    };
    vec![
        Element::Text {
            text: "héllo 世界 \u{1F600}\u{200D}\u{1F4BB} مرحبا \"quoted\" 'single' \\back\\slash\n\ttab \
                   <b>&amp;</b> %s {{x}} '; DROP TABLE messages; --"
                .to_owned(),
        },
        Element::Image {
            format: "png".to_owned(),
            original: Rendition {
                media: media("img-original"),
                width: Some(4032),
                height: Some(3024),
                size: Some(3_456_789),
            },
            large: Some(Rendition {
                media: MediaRef {
                    media_id: None,
                    url: Some("https://cdn.example.com/l.png?a=1&b=%20".to_owned()),
                },
                width: Some(720),
                height: Some(540),
                size: None,
            }),
            thumbnail: None,
        },
        Element::Sound {
            media: media("snd"),
            duration: 7,
            size: 12_000,
        },
        Element::File {
            media: MediaRef {
                media_id: Some("file-1".to_owned()),
                url: Some("http://example.com/报告.pdf".to_owned()),
            },
            name: "报告 (final) v2.pdf".to_owned(),
            size: 28 * 1024 * 1024,
        },
        Element::Video {
            media: media("vid"),
            duration: 61,
            size: 9_999_999,
            format: Some("mp4".to_owned()),
            snapshot: Rendition {
                media: media("vid-snap"),
                width: Some(320),
                height: Some(240),
                size: None,
            },
        },
        Element::Location {
            latitude: -33.868_82,
            longitude: 151.209_29,
            desc: "Sydney Opera House — Bennelong Point".to_owned(),
        },
        Element::Location {
            latitude: 90.0,
            longitude: -180.0,
            desc: String::new(),
        },
        Element::Face {
            index: 42,
            data: Some("[smile]".to_owned()),
        },
        Element::Face { index: 0, data: None },
        Element::Custom {
            data: r#"{"card":{"title":"x","n":[1,2.5,null]}}"#.to_owned(),
            desc: Some("名片".to_owned()),
            ext: Some("ext\u{0007}bell".to_owned()),
        },
    ]
}

/// GIVEN a body of every element type and unusual text WHEN it is appended and read back THEN the
/// body and cloudCustomData come back exactly (including an empty cloudCustomData).
pub async fn content_round_trips_exactly(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let mut rich = fx.c2c(&alice, &bob, "rich", T0);
    rich.body = rich_body();
    rich.cloud_custom_data = Some("{\"k\":\"v\\n\",\"emoji\":\"\u{1F680}\"}\r\n\ttrailing ".to_owned());
    let sent = rich.clone();
    let mut empty = fx.c2c(&alice, &bob, "empty-ccd", T0 + 1);
    empty.cloud_custom_data = Some(String::new());
    let none = fx.c2c(&bob, &alice, "no-ccd", T0 + 2);

    let stored = append_new(&stores, rich).await;
    let stored_empty = append_new(&stores, empty).await;
    let stored_none = append_new(&stores, none).await;

    assert_eq!(stored.body, sent.body, "append returns the body as sent");
    let page = page(&stores, &sent.stream, range(None, None, 10), None).await;
    assert_eq!(
        page,
        vec![stored.clone(), stored_empty, stored_none],
        "history returns what append returned"
    );
    let read = &page[0];
    assert_eq!(read.body, sent.body);
    assert_eq!(read.cloud_custom_data, sent.cloud_custom_data);
    assert_eq!(read.msg_id, sent.msg_id);
    assert_eq!(read.client_msg_id, sent.client_msg_id);
    assert_eq!(
        (read.time, &read.from, &read.to),
        (sent.time, &sent.from, &sent.to)
    );
    assert_eq!(
        page[1].cloud_custom_data.as_deref(),
        Some(""),
        "an empty cloudCustomData stays empty"
    );
    assert_eq!(
        page[2].cloud_custom_data, None,
        "an absent cloudCustomData stays absent"
    );
}

/// GIVEN a stream of 10 messages WHEN pages are read by before, after, both or neither THEN each
/// page is ascending and holds the documented seqs.
pub async fn history_pages_by_seq_range(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    for i in 0..10 {
        append_new(&stores, fx.c2c(&alice, &bob, &format!("h{i}"), T0 + i)).await;
    }
    let stream = StreamKey::c2c(&bob, &alice);
    let h = |before, after, limit| history(&stores, &stream, before, after, limit);

    assert_eq!(h(None, None, 3).await, vec![8, 9, 10], "latest page");
    assert_eq!(
        h(None, None, 50).await,
        (1..=10).collect::<Vec<_>>(),
        "everything"
    );
    assert_eq!(h(Some(8), None, 3).await, vec![5, 6, 7], "newest three below 8");
    assert_eq!(h(Some(3), None, 5).await, vec![1, 2], "short page at the start");
    assert_eq!(h(Some(1), None, 5).await, Vec::<u64>::new(), "nothing below 1");
    assert_eq!(h(None, Some(2), 3).await, vec![3, 4, 5], "oldest three above 2");
    assert_eq!(h(None, Some(7), 5).await, vec![8, 9, 10], "short page at the end");
    assert_eq!(
        h(None, Some(10), 5).await,
        Vec::<u64>::new(),
        "nothing above the last"
    );
    assert_eq!(
        h(Some(9), Some(2), 10).await,
        vec![3, 4, 5, 6, 7, 8],
        "everything between"
    );
    assert_eq!(
        h(Some(9), Some(2), 2).await,
        vec![7, 8],
        "between keeps the newest below before"
    );
    assert_eq!(h(Some(100), None, 2).await, vec![9, 10], "before past the end");
    let unknown = StreamKey::c2c(&alice, &fx.user("nobody"));
    assert!(
        history(&stores, &unknown, None, None, 5).await.is_empty(),
        "unknown stream is empty"
    );
}

/// GIVEN a stream of 10 messages WHEN it is paged backwards by `before` and forwards by `after`
/// with limit 3 THEN the pages tile the stream without overlap or gap.
pub async fn history_paging_walks_both_directions(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    for i in 0..10 {
        append_new(&stores, fx.c2c(&bob, &alice, &format!("w{i}"), T0 + i)).await;
    }
    let stream = StreamKey::c2c(&alice, &bob);

    let mut backwards = Vec::new();
    let mut before = None;
    loop {
        let page = history(&stores, &stream, before, None, 3).await;
        let Some(&oldest) = page.first() else { break };
        assert!(page.len() <= 3);
        backwards.splice(0..0, page);
        before = Some(oldest);
    }
    assert_eq!(
        backwards,
        (1..=10).collect::<Vec<_>>(),
        "backward pages tile the stream"
    );

    let mut forwards = Vec::new();
    let mut after = Some(0);
    loop {
        let page = history(&stores, &stream, None, after, 3).await;
        let Some(&newest) = page.last() else { break };
        assert!(page.len() <= 3);
        forwards.extend(page);
        after = Some(newest);
    }
    assert_eq!(
        forwards,
        (1..=10).collect::<Vec<_>>(),
        "forward pages tile the stream"
    );
}

/// GIVEN a stream of 3 messages WHEN one is read by seq THEN it is exactly the message append
/// returned; a seq past the end, seq 0 and a stream nobody wrote to read as `None`.
pub async fn get_message_returns_the_stored_message_or_none(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let sent = append_many(&stores, &fx, (&alice, &bob), "g", 3).await;
    let stream = StreamKey::c2c(&alice, &bob);

    for message in &sent {
        assert_eq!(
            get(&stores, &stream, message.seq, NOW).await.as_ref(),
            Some(message),
            "seq {}",
            message.seq
        );
    }
    assert_eq!(get(&stores, &stream, 4, NOW).await, None, "past the end");
    assert_eq!(get(&stores, &stream, 0, NOW).await, None, "seqs start at 1");
    let unknown = StreamKey::c2c(&alice, &fx.user("nobody"));
    assert_eq!(get(&stores, &unknown, 1, NOW).await, None, "unknown stream");
}

/// GIVEN messages roaming until `T0 + 100`, `T0 + 5_000` and `T0 + 100` WHEN read at `T0 + 100`
/// THEN the two whose roaming ended (at that instant included) are left out of `get_message` and
/// of history, the other stays, and history still fills its page from the live ones.
pub async fn expired_messages_are_left_out_of_history_and_get_message(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let stream = StreamKey::c2c(&alice, &bob);
    let mut sent = Vec::new();
    for (i, expires_at) in [T0 + 100, T0 + 5_000, T0 + 100, ROAMING_END, ROAMING_END]
        .into_iter()
        .enumerate()
    {
        let message = NewMessage {
            expires_at,
            ..fx.c2c(&alice, &bob, &format!("x{i}"), T0 + i as i64)
        };
        sent.push(append_new(&stores, message).await);
    }
    let at = |now: i64, before, after, limit| SeqRange {
        now,
        ..range(before, after, limit)
    };

    assert_eq!(
        get(&stores, &stream, 1, T0 + 99).await.as_ref(),
        Some(&sent[0]),
        "live until its expiry"
    );
    assert_eq!(
        get(&stores, &stream, 1, T0 + 100).await,
        None,
        "gone at its expiry"
    );
    assert_eq!(get(&stores, &stream, 3, T0 + 100).await, None);
    assert_eq!(
        get(&stores, &stream, 2, T0 + 100).await.as_ref(),
        Some(&sent[1]),
        "a later expiry stays"
    );

    let read = |range| page(&stores, &stream, range, None);
    assert_eq!(
        seqs(&read(at(T0 + 99, None, None, 10)).await),
        vec![1, 2, 3, 4, 5],
        "nothing expired yet"
    );
    assert_eq!(
        seqs(&read(at(T0 + 100, None, None, 10)).await),
        vec![2, 4, 5],
        "expired ones left out"
    );
    assert_eq!(
        seqs(&read(at(T0 + 100, Some(5), None, 2)).await),
        vec![2, 4],
        "a backward page skips the expired one and still fills"
    );
    assert_eq!(
        seqs(&read(at(T0 + 100, None, Some(0), 2)).await),
        vec![2, 4],
        "a forward page skips the expired ones and still fills"
    );
    assert_eq!(
        seqs(&read(at(T0 + 5_000, None, None, 10)).await),
        vec![4, 5],
        "later, the next one is gone too"
    );
}

/// GIVEN a stream capped at the newest 3 messages WHEN 5 are appended THEN history, by any range,
/// shows only seqs 3..=5 (whatever the backend still keeps of 1 and 2), and the seqs go on.
/// GIVEN 5 messages appended under a large cap WHEN they are read with a cap of 3 (the cap was
/// lowered) THEN the read alone leaves the older ones out.
pub async fn keep_last_leaves_out_rolled_over_messages(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let stream = StreamKey::c2c(&alice, &bob);
    for i in 0..5 {
        let message = NewMessage {
            keep_last: 3,
            ..fx.c2c(&alice, &bob, &format!("k{i}"), T0 + i)
        };
        append_new(&stores, message).await;
    }
    let capped = |before, after, limit| SeqRange {
        keep_last: 3,
        ..range(before, after, limit)
    };
    let read = |range| page(&stores, &stream, range, None);

    assert_eq!(
        seqs(&read(capped(None, None, 10)).await),
        vec![3, 4, 5],
        "the newest three"
    );
    assert_eq!(
        seqs(&read(capped(Some(5), None, 10)).await),
        vec![3, 4],
        "below 5"
    );
    assert_eq!(
        seqs(&read(capped(None, Some(0), 2)).await),
        vec![3, 4],
        "a forward page from the start begins at the oldest kept"
    );
    assert!(
        read(capped(Some(3), None, 10)).await.is_empty(),
        "nothing kept below 3"
    );

    let next = NewMessage {
        keep_last: 3,
        ..fx.c2c(&bob, &alice, "k5", T0 + 5)
    };
    assert_eq!(append_new(&stores, next).await.seq, 6, "seqs go on");
    assert_eq!(
        seqs(&read(capped(None, None, 10)).await),
        vec![4, 5, 6],
        "the cap follows the last seq"
    );

    let carol = fx.user("carol");
    append_many(&stores, &fx, (&carol, &bob), "l", 5).await;
    let lowered = StreamKey::c2c(&bob, &carol);
    assert_eq!(
        seqs(&page(&stores, &lowered, capped(None, None, 10), None).await),
        vec![3, 4, 5],
        "a lowered cap applies to what was appended under the old one"
    );
    assert_eq!(
        seqs(&page(&stores, &lowered, capped(None, Some(1), 2), Some(&bob)).await),
        vec![3, 4],
        "also after a seq below the cap, and for a viewer"
    );
}

/// GIVEN a message with a sender profile and the system flag, one with a nickname only, and one
/// with neither WHEN they are read back by history and by seq THEN each field comes back exactly.
pub async fn sender_profile_and_system_flag_round_trip(stores: Stores) {
    let fx = Fixture::new();
    let (admin, bob) = (fx.user("admin"), fx.user("bob"));
    let notice = NewMessage {
        sender: Some(SenderProfile {
            nickname: Some("Ädmin \u{1F6E1} \"ops\"".to_owned()),
            avatar: Some("https://cdn.example.com/a.png?s=64&t=%20".to_owned()),
        }),
        system: true,
        ..fx.c2c(&admin, &bob, "notice", T0)
    };
    let nickname_only = NewMessage {
        sender: Some(SenderProfile {
            nickname: Some("Bob".to_owned()),
            avatar: None,
        }),
        ..fx.c2c(&bob, &admin, "reply", T0 + 1)
    };
    let plain = fx.c2c(&admin, &bob, "plain", T0 + 2);
    let sent = [notice, nickname_only, plain];

    let mut stored = Vec::new();
    for message in &sent {
        let appended = append_new(&stores, message.clone()).await;
        assert_eq!(
            (&appended.sender, appended.system, &appended.recalled),
            (&message.sender, message.system, &None),
            "append returns the extension as sent"
        );
        stored.push(appended);
    }
    let stream = StreamKey::c2c(&admin, &bob);
    assert_eq!(
        page(&stores, &stream, range(None, None, 10), None).await,
        stored,
        "history returns what append returned"
    );
    for message in &stored {
        assert_eq!(
            get(&stores, &stream, message.seq, NOW).await.as_ref(),
            Some(message)
        );
    }
}

/// GIVEN a message with a rich body, cloudCustomData and a sender profile WHEN it is recalled THEN
/// the answer is its tombstone (empty body, no cloudCustomData, the recall recorded, every other
/// field kept), `get_message`, history and the conversation list show that tombstone, and the
/// message next to it is untouched.
pub async fn recall_turns_a_message_into_a_tombstone(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let mut rich = fx.c2c(&alice, &bob, "oops", T0);
    rich.body = rich_body();
    rich.cloud_custom_data = Some("{\"secret\":true}".to_owned());
    rich.sender = Some(SenderProfile {
        nickname: Some("Alice".to_owned()),
        avatar: None,
    });
    let original = append_new(&stores, rich).await;
    let neighbour = append_new(&stores, fx.c2c(&bob, &alice, "fine", T0 + 1)).await;
    let last = append_new(&stores, fx.c2c(&alice, &bob, "oops-too", T0 + 2)).await;
    let stream = StreamKey::c2c(&alice, &bob);

    let by_alice = Recall {
        by: alice.clone(),
        time: T0 + 60_000,
    };
    let recalled = recall(&stores, &stream, 1, &by_alice).await;
    let expected = tombstone(&original, &by_alice);
    assert_eq!(recalled.as_ref(), Some(&expected), "recall answers the tombstone");
    assert_eq!(
        get(&stores, &stream, 1, NOW).await.as_ref(),
        Some(&expected),
        "get_message shows the tombstone"
    );
    assert_eq!(
        page(&stores, &stream, range(None, None, 10), None).await,
        vec![expected, neighbour.clone(), last.clone()],
        "history shows the tombstone in place and the others as they were"
    );

    // The conversation list's last message is the recalled one's tombstone, on both sides.
    let newest = recall(&stores, &stream, 3, &by_alice).await;
    assert_eq!(newest, Some(tombstone(&last, &by_alice)));
    for (owner, peer) in [(&alice, &bob), (&bob, &alice)] {
        let entry = stores
            .conversations
            .get_conversation(owner, &ConversationId::C2c(peer.clone()))
            .await
            .expect("get_conversation")
            .expect("the conversation exists");
        assert_eq!(
            entry.last_message,
            Some(tombstone(&last, &by_alice)),
            "{owner}'s list shows the tombstone"
        );
        assert_eq!(entry.last_seq, 3, "a recall is not a new message");
    }
}

/// GIVEN a recalled message WHEN it is recalled again, by someone else and later THEN nothing
/// changes: the answer and every read keep the first recall.
pub async fn recalling_twice_keeps_the_first_recall(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, admin) = (fx.user("alice"), fx.user("bob"), fx.user("admin"));
    let original = append_new(&stores, fx.c2c(&alice, &bob, "once", T0)).await;
    let stream = StreamKey::c2c(&alice, &bob);
    let first = Recall {
        by: alice.clone(),
        time: T0 + 10,
    };
    let second = Recall {
        by: admin,
        time: T0 + 20,
    };

    let expected = tombstone(&original, &first);
    assert_eq!(
        recall(&stores, &stream, 1, &first).await.as_ref(),
        Some(&expected)
    );
    assert_eq!(
        recall(&stores, &stream, 1, &second).await.as_ref(),
        Some(&expected),
        "the second recall answers the first tombstone"
    );
    assert_eq!(
        get(&stores, &stream, 1, NOW).await.as_ref(),
        Some(&expected),
        "and left it as it was"
    );
}

/// GIVEN a stream of one message WHEN a seq past its end, or one in a stream nobody wrote to, is
/// recalled THEN the answer is `None` and no message appears.
pub async fn recalling_a_missing_message_is_none(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let only = append_new(&stores, fx.c2c(&alice, &bob, "only", T0)).await;
    let stream = StreamKey::c2c(&alice, &bob);
    let by = Recall {
        by: alice.clone(),
        time: T0 + 1,
    };

    assert_eq!(recall(&stores, &stream, 2, &by).await, None, "past the end");
    let unknown = StreamKey::c2c(&alice, &fx.user("nobody"));
    assert_eq!(recall(&stores, &unknown, 1, &by).await, None, "unknown stream");
    assert_eq!(get(&stores, &stream, 2, NOW).await, None, "nothing was created");
    assert!(history(&stores, &unknown, None, None, 10).await.is_empty());
    assert_eq!(
        page(&stores, &stream, range(None, None, 10), None).await,
        vec![only],
        "the existing message is untouched"
    );
}

/// GIVEN 5 messages WHEN bob hides 2 and 4 THEN bob's history leaves them out, while alice's and
/// an anonymous read (no viewer) still show all 5, and `get_message` still finds them.
pub async fn hidden_messages_are_left_out_for_their_owner_only(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let sent = append_many(&stores, &fx, (&alice, &bob), "d", 5).await;
    let stream = StreamKey::c2c(&alice, &bob);

    hide(&stores, &bob, &stream, &[2, 4]).await;

    assert_eq!(
        history_of(&stores, &stream, &bob, None, None, 10).await,
        vec![1, 3, 5],
        "bob's view"
    );
    assert_eq!(
        history_of(&stores, &stream, &alice, None, None, 10).await,
        vec![1, 2, 3, 4, 5],
        "alice's view"
    );
    assert_eq!(
        history(&stores, &stream, None, None, 10).await,
        vec![1, 2, 3, 4, 5],
        "no viewer"
    );
    assert_eq!(
        get(&stores, &stream, 2, NOW).await.as_ref(),
        Some(&sent[1]),
        "a hidden message is still stored"
    );
    let other = StreamKey::c2c(&bob, &fx.user("carol"));
    append_new(&stores, fx.c2c(&bob, &fx.user("carol"), "elsewhere", T0 + 9)).await;
    assert_eq!(
        history_of(&stores, &other, &bob, None, None, 10).await,
        vec![1],
        "hiding is per stream: seq 2 of another stream is not hidden"
    );
}

/// GIVEN 10 messages of which bob hid 3, 4, 5 and 8 WHEN he reads pages of a fixed size in either
/// direction THEN each page is filled from the messages he still sees, and walking the pages
/// visits exactly those, without overlap or gap.
pub async fn history_fills_pages_past_hidden_messages(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    append_many(&stores, &fx, (&alice, &bob), "f", 10).await;
    let stream = StreamKey::c2c(&alice, &bob);
    hide(&stores, &bob, &stream, &[3, 4, 5, 8]).await;
    let visible = vec![1, 2, 6, 7, 9, 10];
    let h = |before, after, limit| history_of(&stores, &stream, &bob, before, after, limit);

    assert_eq!(h(None, None, 3).await, vec![7, 9, 10], "latest page");
    assert_eq!(h(Some(7), None, 3).await, vec![1, 2, 6], "backward past 3..=5");
    assert_eq!(
        h(None, Some(2), 3).await,
        vec![6, 7, 9],
        "forward past 3..=5 and 8"
    );
    assert_eq!(
        h(None, Some(0), 4).await,
        vec![1, 2, 6, 7],
        "forward from the start"
    );
    assert_eq!(
        h(Some(9), Some(2), 2).await,
        vec![6, 7],
        "between keeps the newest below before"
    );

    let mut backwards = Vec::new();
    let mut before = None;
    loop {
        let page = h(before, None, 2).await;
        let Some(&oldest) = page.first() else { break };
        assert!(page.len() <= 2);
        backwards.splice(0..0, page);
        before = Some(oldest);
    }
    assert_eq!(backwards, visible, "backward pages tile what bob sees");

    let mut forwards = Vec::new();
    let mut after = Some(0);
    loop {
        let page = h(None, after, 2).await;
        let Some(&newest) = page.last() else { break };
        assert!(page.len() <= 2);
        forwards.extend(page);
        after = Some(newest);
    }
    assert_eq!(forwards, visible, "forward pages tile what bob sees");
}

/// GIVEN a stream of 3 messages WHEN bob hides message 2 twice, together with itself and a seq
/// that does not exist, hides nothing, and hides in a stream nobody wrote to THEN every call
/// succeeds and exactly message 2 is hidden from him.
pub async fn hiding_twice_or_a_missing_seq_is_fine(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    append_many(&stores, &fx, (&alice, &bob), "t", 3).await;
    let stream = StreamKey::c2c(&alice, &bob);

    hide(&stores, &bob, &stream, &[2]).await;
    hide(&stores, &bob, &stream, &[2, 2, 99]).await;
    hide(&stores, &bob, &stream, &[]).await;
    let unknown = StreamKey::c2c(&bob, &fx.user("nobody"));
    hide(&stores, &bob, &unknown, &[1]).await;

    assert_eq!(
        history_of(&stores, &stream, &bob, None, None, 10).await,
        vec![1, 3]
    );
    assert!(
        history_of(&stores, &unknown, &bob, None, None, 10)
            .await
            .is_empty()
    );
}
