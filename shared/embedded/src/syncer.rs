//! The WAL syncer: makes committed batches durable while the writer goes on with the next one.
//!
//! With `synchronous = FULL`, SQLite fsyncs the WAL inside every commit, and the single writer
//! thread sat idle in that fsync for about half of its time under load. Instead the write
//! connection runs `synchronous = NORMAL` (a commit only `write`s its WAL frames) and hands each
//! committed batch here; this thread fsyncs the WAL file and only then answers the batch's jobs.
//! An fsync issued after a commit returned covers every frame of that commit, so no job is
//! acknowledged before its effects are on disk, and one fsync covers every batch that arrived
//! meanwhile. (Readers of the same process may see a message a moment before it is durable.)

use crate::writer::{BatchOutcome, Job};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

/// The syncer thread's body: runs until the writer drops its sender, answering every job it got.
pub(crate) fn run(wal: PathBuf, batches: mpsc::Receiver<Vec<Box<dyn Job>>>, syncs: &AtomicU64) {
    let mut file: Option<File> = None;
    while let Ok(first) = batches.recv() {
        let mut jobs = first;
        while let Ok(more) = batches.try_recv() {
            jobs.extend(more);
        }
        let outcome = match sync(&mut file, &wal) {
            Ok(()) => BatchOutcome::Committed,
            Err(err) => {
                tracing::error!(error = %err, wal = %wal.display(), "fsync of the WAL failed");
                // Reopen next time: the handle may be what broke.
                file = None;
                BatchOutcome::SyncFailed(Arc::new(err))
            }
        };
        syncs.fetch_add(1, Ordering::Relaxed);
        for job in jobs {
            job.finish(&outcome);
        }
    }
}

fn sync(file: &mut Option<File>, wal: &PathBuf) -> std::io::Result<()> {
    if file.is_none() {
        *file = Some(File::open(wal)?);
    }
    match file {
        Some(file) => file.sync_data(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreError;
    use crate::writer::Pending;
    use tokio::sync::oneshot;

    fn job(value: u32) -> (Box<dyn Job>, oneshot::Receiver<crate::Result<u32>>) {
        let (reply, answer) = oneshot::channel();
        let mut pending = Pending::new(move |_: &rusqlite::Connection| Ok(value), reply);
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        assert!(pending.run(&conn));
        (Box::new(pending), answer)
    }

    #[test]
    fn jobs_are_answered_only_after_the_wal_is_synced() {
        // GIVEN a WAL file and two committed jobs handed to the syncer
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let (tx, rx) = mpsc::channel();
        let (a, answer_a) = job(1);
        let (b, answer_b) = job(2);
        tx.send(vec![a, b]).unwrap();
        drop(tx);
        // WHEN it runs
        let syncs = AtomicU64::new(0);
        run(wal, rx, &syncs);
        // THEN it synced and answered both with their values
        assert!(syncs.load(Ordering::Relaxed) >= 1);
        assert_eq!(answer_a.blocking_recv().unwrap().unwrap(), 1);
        assert_eq!(answer_b.blocking_recv().unwrap().unwrap(), 2);
    }

    #[test]
    fn a_failed_sync_fails_the_jobs() {
        // GIVEN a WAL that cannot be opened
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = mpsc::channel();
        let (a, answer) = job(1);
        tx.send(vec![a]).unwrap();
        drop(tx);
        // WHEN the syncer runs THEN the job is told its write may not be durable
        run(dir.path().join("missing-wal"), rx, &AtomicU64::new(0));
        assert!(matches!(
            answer.blocking_recv().unwrap(),
            Err(StoreError::SyncFailed(_))
        ));
    }
}
