//! [`MessageStore`](cirrus_core::ports::MessageStore): seq allocation, idempotency, content,
//! history.

use crate::fixture::{Fixture, Stores, T0, append_new};
use cirrus_core::element::{Element, MediaRef, Rendition};
use cirrus_core::ids::StreamKey;
use cirrus_core::message::StoredMessage;
use cirrus_core::ports::{Appended, SeqRange};

fn seqs(messages: &[StoredMessage]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

async fn history(
    stores: &Stores,
    stream: &StreamKey,
    before: Option<u64>,
    after: Option<u64>,
    limit: u32,
) -> Vec<u64> {
    let range = SeqRange { before, after, limit };
    let page = stores
        .messages
        .history(stream, range)
        .await
        .unwrap_or_else(|err| panic!("history {range:?} failed: {err:?}"));
    seqs(&page)
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
                width: 4032,
                height: 3024,
                size: 3_456_789,
            },
            large: Some(Rendition {
                media: MediaRef {
                    media_id: None,
                    url: Some("https://cdn.example.com/l.png?a=1&b=%20".to_owned()),
                },
                width: 720,
                height: 540,
                size: 80_000,
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
                width: 320,
                height: 240,
                size: 0,
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
    let page = stores
        .messages
        .history(
            &sent.stream,
            SeqRange {
                before: None,
                after: None,
                limit: 10,
            },
        )
        .await
        .expect("history");
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
