//! [`PinStore`](cirrus_core::ports::PinStore): a conversation's pins, by stream, bounded, newest
//! first; pinning twice keeps the first pin, and concurrent pins never pass the bound.

use crate::fixture::{Fixture, Stores, T0};
use cirrus_core::ids::{StreamKey, UserId};
use cirrus_core::pins::{Pin, Pinning};

fn pin(seq: u64, by: &UserId, at: i64) -> Pin {
    Pin {
        seq,
        pinned_by: by.clone(),
        pinned_at: at,
    }
}

async fn pin_in(stores: &Stores, stream: &StreamKey, pin: &Pin, max: usize) -> Pinning {
    stores
        .pins
        .pin(stream, pin, max)
        .await
        .unwrap_or_else(|err| panic!("pin {} failed: {err:?}", pin.seq))
}

async fn seqs(stores: &Stores, stream: &StreamKey) -> Vec<u64> {
    let pins = stores.pins.pins(stream).await.expect("pins");
    pins.iter().map(|pin| pin.seq).collect()
}

/// GIVEN a conversation WHEN messages are pinned, one twice, and one unpinned THEN the list
/// holds each once, newest pin first, the repeat answers with the first pin, and another
/// conversation's list is untouched.
pub async fn pins_list_newest_first_and_pinning_twice_keeps_the_first(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let stream = StreamKey::c2c(&alice, &bob);
    let other = StreamKey::c2c(&alice, &carol);
    assert_eq!(seqs(&stores, &stream).await, Vec::<u64>::new(), "no pins yet");

    let first = pin(3, &alice, T0);
    assert_eq!(
        pin_in(&stores, &stream, &first, 10).await,
        Pinning::Added(first.clone())
    );
    let second = pin(1, &bob, T0 + 10);
    assert_eq!(
        pin_in(&stores, &stream, &second, 10).await,
        Pinning::Added(second.clone())
    );
    assert_eq!(
        pin_in(&stores, &stream, &pin(3, &bob, T0 + 20), 10).await,
        Pinning::Already(first.clone()),
        "a pinned seq keeps its first pin"
    );
    assert_eq!(
        stores.pins.pins(&stream).await.expect("pins"),
        vec![second.clone(), first]
    );
    pin_in(&stores, &other, &pin(7, &carol, T0), 10).await;

    assert!(
        stores.pins.unpin(&stream, 3).await.expect("unpin"),
        "3 was pinned"
    );
    assert!(
        !stores.pins.unpin(&stream, 3).await.expect("unpin"),
        "3 is not pinned any more"
    );
    assert!(
        !stores.pins.unpin(&stream, 99).await.expect("unpin"),
        "99 never was"
    );
    assert_eq!(seqs(&stores, &stream).await, [1]);
    assert_eq!(seqs(&stores, &other).await, [7], "pins are per conversation");
}

/// GIVEN a conversation with as many pins as allowed WHEN one more is pinned, also by several
/// writers at once, THEN it is refused as full and the list stays at the bound; unpinning one
/// makes room.
pub async fn pins_stop_at_the_bound_even_when_concurrent(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let stream = StreamKey::c2c(&alice, &bob);
    let max = 3;
    let racers = (1..=6).map(|seq| {
        let (stores, stream, by) = (stores.clone(), stream.clone(), alice.clone());
        tokio::spawn(async move { pin_in(&stores, &stream, &pin(seq, &by, T0 + seq as i64), max).await })
    });
    let mut added = 0;
    for racer in racers {
        match racer.await.expect("a pin task") {
            Pinning::Added(_) => added += 1,
            Pinning::Full => {}
            Pinning::Already(pin) => panic!("seq {} was pinned once only", pin.seq),
        }
    }
    assert_eq!(added, max, "exactly the bound of concurrent pins is added");
    let kept = seqs(&stores, &stream).await;
    assert_eq!(kept.len(), max, "{kept:?}");
    assert_eq!(
        pin_in(&stores, &stream, &pin(9, &bob, T0 + 100), max).await,
        Pinning::Full,
        "a full list refuses"
    );
    assert!(stores.pins.unpin(&stream, kept[0]).await.expect("unpin"));
    assert!(matches!(
        pin_in(&stores, &stream, &pin(9, &bob, T0 + 100), max).await,
        Pinning::Added(_)
    ));
}
