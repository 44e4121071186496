//! The background checkpointer of a file database.
//!
//! Left to itself, SQLite checkpoints inside the commit that crosses the WAL size limit, so that one
//! commit (and every ack waiting on it) stalls while thousands of pages are copied into the
//! database file. Instead the writer's automatic checkpoints are off, and this thread runs a
//! `PASSIVE` checkpoint on its own connection every interval: it copies committed pages into the
//! database file while the writer keeps committing.
//!
//! Under steady load a passive checkpoint rarely catches the WAL's very end, and the WAL restarts
//! from the top only once it has been copied completely. So when a pass finds the WAL past its
//! limit it raises [`Signals::restart`], and the writer, between two batches, runs a `RESTART`
//! checkpoint itself: it has only the pages committed since the pass to copy.

use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// What the checkpointer tells the writer.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    /// The WAL is past its limit: the writer should run a `RESTART` checkpoint between batches.
    pub(crate) restart: AtomicBool,
}

/// The checkpointer thread's body: runs until `stop`'s sender is dropped.
pub(crate) fn run(
    conn: Connection,
    stop: mpsc::Receiver<()>,
    interval: Duration,
    limit_pages: u32,
    signals: &Signals,
) {
    // A message or a hang-up on `stop` ends the loop.
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(interval) {
        match checkpoint(&conn, PASSIVE) {
            Ok(outcome) if outcome.log_pages >= i64::from(limit_pages) => {
                signals.restart.store(true, Ordering::Release);
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "background checkpoint failed"),
        }
    }
    if let Err((_, err)) = conn.close() {
        tracing::warn!(error = %err, "closing the checkpoint connection failed");
    }
}

/// Copies what it can without waiting for anyone.
pub(crate) const PASSIVE: &str = "PRAGMA wal_checkpoint(PASSIVE)";
/// Copies everything and makes the next write start the WAL from the top (waits for readers).
pub(crate) const RESTART: &str = "PRAGMA wal_checkpoint(RESTART)";

/// What one checkpoint did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome {
    /// A `RESTART` could not finish (a reader or another checkpoint was in the way).
    pub(crate) blocked: bool,
    /// Pages in the WAL.
    pub(crate) log_pages: i64,
}

/// Runs one checkpoint (`PASSIVE` or `RESTART`).
pub(crate) fn checkpoint(conn: &Connection, sql: &str) -> rusqlite::Result<Outcome> {
    conn.prepare_cached(sql)?.query_row([], |row| {
        Ok(Outcome {
            blocked: row.get::<_, i64>(0)? != 0,
            log_pages: row.get(1)?,
        })
    })
}
