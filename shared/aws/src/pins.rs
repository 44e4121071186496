//! [`PinStore`] for [`DynamoStore`]: a conversation's pins are one messages-table item,
//! `("pins:<stream>", 0)`, holding the list as JSON in `pins` and a `version` for optimistic
//! concurrency (the `pins:` prefix meets no stream, claim or hide entry). Ten pins are well under
//! 1 KB: listing reads 0.5 RCU, a pin or unpin is one consistent read and one conditional
//! `PutItem` (1 WCU).

use crate::item::{n, s};
use crate::store::DynamoStore;
use crate::versioned::VersionedItem;
use async_trait::async_trait;
use cirrus_core::ids::StreamKey;
use cirrus_core::pins::{Pin, Pinning, newest_first, with_pin};
use cirrus_core::ports::PinStore;
use std::collections::HashMap;

/// The key prefix of a conversation's pins in the messages table.
const PINS_PREFIX: &str = "pins:";

fn pins_item<'a>(store: &'a DynamoStore, stream: &StreamKey) -> VersionedItem<'a> {
    VersionedItem {
        table: &store.config.messages_table,
        key: HashMap::from([
            (
                "stream".to_owned(),
                s(format!("{PINS_PREFIX}{}", stream.as_str())),
            ),
            ("seq".to_owned(), n(0)),
        ]),
        attribute: "pins",
    }
}

#[async_trait]
impl PinStore for DynamoStore {
    async fn pin(&self, stream: &StreamKey, pin: &Pin, max: usize) -> cirrus_core::Result<Pinning> {
        self.update_versioned(&pins_item(self, stream), |pins| {
            let (pins, outcome) = with_pin(pins, pin.clone(), max);
            (matches!(outcome, Pinning::Added(_)).then_some(pins), outcome)
        })
        .await
    }

    async fn unpin(&self, stream: &StreamKey, seq: u64) -> cirrus_core::Result<bool> {
        self.update_versioned(&pins_item(self, stream), |mut pins: Vec<Pin>| {
            let before = pins.len();
            pins.retain(|pin| pin.seq != seq);
            let removed = pins.len() < before;
            (removed.then_some(pins), removed)
        })
        .await
    }

    async fn pins(&self, stream: &StreamKey) -> cirrus_core::Result<Vec<Pin>> {
        let (mut pins, _) = self.read_versioned(&pins_item(self, stream)).await?;
        newest_first(&mut pins);
        Ok(pins)
    }
}
