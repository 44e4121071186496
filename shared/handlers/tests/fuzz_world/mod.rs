//! What the handlers' fuzz suites run against: the services over an in-memory SQLite store, a
//! gateway that delivers nowhere, and one runtime for all cases.

use async_trait::async_trait;
use bytes::Bytes;
use cirrus_core::clock::{SystemClock, UuidIds};
use cirrus_core::ids::ConnectionId;
use cirrus_core::ports::{ConnectionGateway, PostOutcome};
use cirrus_core::service::{Ports, Stores};
use cirrus_embedded::SqliteStore;
use std::sync::Arc;

/// Takes every post and close, delivers nothing.
struct NoGateway;

#[async_trait]
impl ConnectionGateway for NoGateway {
    async fn post(&self, _: &ConnectionId, _: Bytes) -> cirrus_core::Result<PostOutcome> {
        Ok(PostOutcome::Delivered)
    }

    async fn close(&self, _: &ConnectionId) -> cirrus_core::Result<()> {
        Ok(())
    }
}

/// Ports over a fresh in-memory store, with guests on so the guest paths are reachable.
pub fn ports() -> Ports<Stores> {
    let store = Arc::new(SqliteStore::open_in_memory().expect("an in-memory store opens"));
    let mut ports = Ports::new(
        Stores::of(store),
        Arc::new(NoGateway),
        Arc::new(SystemClock),
        Arc::new(UuidIds),
    );
    ports.limits.accounts.guests = true;
    ports
}

/// A single-threaded runtime: the cases run one after the other.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime starts")
}
