//! The sweeper: deletes the messages whose roaming ended, the hidden-message rows that expired and
//! the live-room seats that lapsed (taking them off their rooms' audiences).
//!
//! Reads already leave expired messages out (see [`crate::messages`]); sweeping only keeps the
//! database from growing without bound, the way DynamoDB's TTL does for the AWS backend. Nothing
//! runs it on a timer: the owner of the store calls [`SqliteStore::sweep`] with its own clock (a
//! background timer on the wall clock would wipe a test stack whose clock is set in the past).
//!
//! Messages have no expiry index, so that an append writes no extra index entry. Instead the
//! sweeper relies on messages being appended in time order with one roaming period: the expired
//! ones are the oldest rows, at the low end of the rowid order. It walks from the lowest rowid
//! and stops at the first message that has not expired. A message appended with a later expiry
//! than the ones after it (a longer roaming period, since shortened) holds the sweep up until it
//! expires in turn; the messages behind it are left out of reads meanwhile, as every expired
//! message is.

use crate::error::Result;
use crate::rooms::sweep_seats;
use crate::store::SqliteStore;
use rusqlite::{Connection, params};

/// Most rows one sweep job deletes. Each job runs in a writer batch between appends, so a long
/// sweep delays a group commit by one small job at a time rather than by the whole backlog.
const BATCH: usize = 256;

/// The oldest messages by rowid, with their expiry, at most `?1`.
pub(crate) const OLDEST: &str = "SELECT id, expires_at FROM messages ORDER BY id LIMIT ?1";

/// Hidden-message rows expired at `?1`, at most `?2`, found by the expiry index.
pub(crate) const EXPIRED_HIDDEN: &str = "DELETE FROM hidden_messages WHERE (owner, stream, seq) IN \
     (SELECT owner, stream, seq FROM hidden_messages WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)";

/// What one [`SqliteStore::sweep`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Swept {
    /// Messages whose roaming had ended.
    pub messages: usize,
    /// Delete-for-me marks that had expired.
    pub hidden: usize,
    /// Live-room seats that had lapsed.
    pub seats: usize,
}

impl SqliteStore {
    /// Deletes the messages whose roaming ended at or before `now` (ms since the epoch), walking
    /// from the oldest until the first live one, every hidden-message row expired at `now`, and
    /// every live-room seat lapsed at `now` (lowering its room's audience).
    ///
    /// Cost: proportional to what it deletes. It reads the expired run of oldest messages plus one
    /// live row, and the expired hidden rows and lapsed seats through their expiry indexes; it
    /// never scans the live data. The work is split into writer jobs of at most
    /// 256 rows of each table, so appends keep flowing while it runs. Call it every minute or so:
    /// a sweep with nothing to do reads one message row and probes each expiry index once.
    pub async fn sweep(&self, now: i64) -> Result<Swept> {
        let mut swept = Swept::default();
        loop {
            let deleted = self.write(move |conn| sweep_messages(conn, now)).await?;
            swept.messages += deleted;
            if deleted < BATCH {
                break;
            }
        }
        // Hidden rows and lapsed seats share jobs: each job deletes at most a batch of each.
        loop {
            let (hidden, lapsed) = self
                .write(move |conn| Ok((sweep_hidden(conn, now)?, sweep_seats(conn, now, BATCH)?)))
                .await?;
            swept.hidden += hidden;
            swept.seats += lapsed;
            if hidden < BATCH && lapsed < BATCH {
                break;
            }
        }
        if swept != Swept::default() {
            tracing::debug!(
                messages = swept.messages,
                hidden = swept.hidden,
                seats = swept.seats,
                "expired rows swept"
            );
        }
        Ok(swept)
    }
}

/// Deletes the longest run of expired messages among the [`BATCH`] oldest; returns how many.
fn sweep_messages(conn: &Connection, now: i64) -> Result<usize> {
    let mut last_expired = None;
    {
        let mut oldest = conn.prepare_cached(OLDEST)?;
        let mut rows = oldest.query(params![BATCH as i64])?;
        while let Some(row) = rows.next()? {
            let (id, expires_at): (i64, i64) = (row.get(0)?, row.get(1)?);
            if expires_at > now {
                break;
            }
            last_expired = Some(id);
        }
    }
    let Some(last) = last_expired else {
        return Ok(0);
    };
    // Every row up to `last` was just read and had expired: one rowid range.
    Ok(conn
        .prepare_cached("DELETE FROM messages WHERE id <= ?1")?
        .execute([last])?)
}

/// Deletes up to [`BATCH`] expired hidden-message rows; returns how many.
fn sweep_hidden(conn: &Connection, now: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(EXPIRED_HIDDEN)?
        .execute(params![now, BATCH as i64])?)
}
