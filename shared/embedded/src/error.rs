//! The one error type of the embedded store.

use std::sync::Arc;

/// Result with the embedded store's [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong inside the SQLite store.
///
/// Port methods hand these to the services as [`cirrus_core::Error::Store`], so the detail reaches
/// the log and never a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused a statement.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The batch this job ran in could not be committed (or was rolled back by SQLite as a whole),
    /// so the job's effects are not durable.
    #[error("the batch transaction failed: {0}")]
    BatchFailed(#[source] Arc<rusqlite::Error>),
    /// Another job's failure made SQLite roll the whole batch back, so this job's effects are gone.
    #[error("the batch transaction was rolled back by a failing job")]
    BatchAborted,
    /// The batch committed but the WAL could not be synced to disk, so it may not be durable.
    #[error("syncing the write-ahead log failed")]
    SyncFailed(#[source] Arc<std::io::Error>),
    /// The job panicked; its savepoint was rolled back.
    #[error("the store job panicked")]
    JobPanicked,
    /// Creating the database directory failed.
    #[error("cannot create the database directory: {0}")]
    Io(#[from] std::io::Error),
    /// A JSON column could not be written, or what is stored does not parse.
    #[error("{column} does not convert to or from JSON: {source}")]
    BadJson {
        /// The column.
        column: &'static str,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// A stored value breaks the rules of its type (an id that does not validate, a negative seq…).
    #[error("stored {column} holds an invalid value")]
    BadValue {
        /// The column.
        column: &'static str,
    },
    /// The database was written by a newer version of Cirrus.
    #[error("database schema version {found} is newer than this build's {supported}")]
    SchemaTooNew {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The writer thread has stopped (the store was closed).
    #[error("the store is closed")]
    Closed,
}

impl From<StoreError> for cirrus_core::Error {
    fn from(err: StoreError) -> Self {
        cirrus_core::Error::store(err)
    }
}
