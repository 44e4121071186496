//! [`PinStore`] for [`SqliteStore`]: one row per pinned (stream, seq); a pin reads the stream's
//! few rows and inserts in one write transaction, so the bound holds under concurrent pins.

use crate::rows::{seq_at, seq_param, user_at};
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::StreamKey;
use cirrus_core::pins::{Pin, Pinning, newest_first, with_pin};
use cirrus_core::ports::PinStore;
use rusqlite::{Connection, params};

fn pins_of(conn: &Connection, stream: &str) -> crate::error::Result<Vec<Pin>> {
    let mut statement =
        conn.prepare_cached("SELECT seq, pinned_by, pinned_at FROM message_pins WHERE stream = ?1")?;
    let mut rows = statement.query([stream])?;
    let mut pins = Vec::new();
    while let Some(row) = rows.next()? {
        pins.push(Pin {
            seq: seq_at(row, 0, "seq")?,
            pinned_by: user_at(row, 1, "pinned_by")?,
            pinned_at: row.get(2)?,
        });
    }
    newest_first(&mut pins);
    Ok(pins)
}

#[async_trait]
impl PinStore for SqliteStore {
    async fn pin(&self, stream: &StreamKey, pin: &Pin, max: usize) -> cirrus_core::Result<Pinning> {
        let (stream, pin) = (stream.as_str().to_owned(), pin.clone());
        Ok(self
            .write(move |conn| {
                let (_, outcome) = with_pin(pins_of(conn, &stream)?, pin.clone(), max);
                if let Pinning::Added(added) = &outcome {
                    conn.prepare_cached(
                        "INSERT INTO message_pins (stream, seq, pinned_by, pinned_at) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![
                        stream,
                        seq_param(added.seq),
                        added.pinned_by.as_str(),
                        added.pinned_at
                    ])?;
                }
                Ok(outcome)
            })
            .await?)
    }

    async fn unpin(&self, stream: &StreamKey, seq: u64) -> cirrus_core::Result<bool> {
        let stream = stream.as_str().to_owned();
        let seq = seq_param(seq);
        Ok(self
            .write(move |conn| {
                let removed = conn
                    .prepare_cached("DELETE FROM message_pins WHERE stream = ?1 AND seq = ?2")?
                    .execute(params![stream, seq])?;
                Ok(removed > 0)
            })
            .await?)
    }

    async fn pins(&self, stream: &StreamKey) -> cirrus_core::Result<Vec<Pin>> {
        let stream = stream.as_str().to_owned();
        Ok(self.read(move |conn| pins_of(conn, &stream)).await?)
    }
}
