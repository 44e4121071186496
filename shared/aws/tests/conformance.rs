//! The store conformance suite over the DynamoDB store, against one moto server per test binary
//! (`.venv/bin/moto_server`, installed by `scripts/setup-tools`), one set of tables per case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_dynamodb::Client;
use cirrus_aws::moto;
use cirrus_aws::{Config, DynamoStore, create_tables};
use cirrus_conformance::Stores;
use std::sync::atomic::{AtomicU32, Ordering};

/// A client of the moto server.
fn client() -> Client {
    Client::new(&moto::sdk())
}

/// A fresh set of tables for one case.
///
/// The cases could share one set (each draws its ids from its own namespace); separate tables keep
/// a failing case's leftovers from confusing the next, and cost moto nothing.
async fn tables() -> Config {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let case = NEXT.fetch_add(1, Ordering::Relaxed);
    let config = Config::with_prefix(&format!("cirrus-test-{}-{case}", std::process::id()));
    create_tables(&client(), &config)
        .await
        .expect("create the tables in moto");
    config
}

/// A store per case over its own tables and client (each case runs on its own runtime).
async fn stores() -> Stores {
    let config = tables().await;
    Stores::new(DynamoStore::new(client(), config))
}

cirrus_conformance::conformance_suite!(stores);
