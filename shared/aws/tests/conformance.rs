//! The store conformance suite over the DynamoDB store, against one moto server per test binary
//! (`.venv/bin/moto_server`, installed by `scripts/setup-tools`), one set of tables per case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use cirrus_aws::{Config, DynamoStore, create_tables};
use cirrus_conformance::Stores;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The endpoint of this test binary's moto server, started on first use.
fn moto_endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(start_moto)
}

#[expect(
    clippy::zombie_processes,
    reason = "the server and its watchdog live as long as the test process; init reaps them"
)]
fn start_moto() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let moto = root.join(".venv/bin/moto_server");
    assert!(
        moto.exists(),
        "{} is missing: run scripts/setup-tools to install moto",
        moto.display()
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let server = Command::new(&moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    // Statics are never dropped: a watchdog kills the server once this test process is gone.
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {test} 2>/dev/null; do sleep 1; done; kill {moto} 2>/dev/null",
            test = std::process::id(),
            moto = server.id()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the moto watchdog");

    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen on port {port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("http://127.0.0.1:{port}")
}

/// A client of the moto server with dummy credentials (the process environment is untouched).
fn client() -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "cirrus-tests"))
        .endpoint_url(moto_endpoint())
        .build();
    Client::from_conf(config)
}

/// A fresh set of tables for one case.
///
/// The cases could share one set (each draws its ids from its own namespace), but moto does not
/// isolate concurrent requests to one table: a transaction deep-copies the table while other
/// threads write to it (an HTML 500 when the copy races a write) and a cancelled one restores
/// that copy over their writes. So each case gets its own tables; within a case the store's
/// per-stream turns keep its own appends from overlapping.
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
