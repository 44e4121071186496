//! The store conformance suite over the SQLite store: once in memory, once on a file in a
//! temporary directory.

use cirrus_conformance::Stores;
use cirrus_embedded::{SqliteStore, StoreOptions};

mod in_memory {
    use super::*;

    cirrus_conformance::conformance_suite!(|| async {
        Stores::new(SqliteStore::open_in_memory().expect("open an in-memory store"))
    });
}

mod file {
    use super::*;

    cirrus_conformance::conformance_suite!(|| async {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(dir.path().join("db/cirrus.sqlite3"), StoreOptions::default())
            .expect("open a file store");
        // The store is dropped (and closed) before the directory.
        Stores::new(store).with_guard(dir)
    });
}
