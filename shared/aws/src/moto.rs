//! A moto server for tests: one per process (`.venv/bin/moto_server` of this checkout, installed
//! by `scripts/setup-tools`) on a free 127.0.0.1 port, killed by a watchdog once the process is
//! gone. Used by this crate's tests and the end-to-end suites of the AWS backend, behind the
//! `testing` feature so that no Lambda function links it.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The endpoint of this process's moto server, started on first use.
///
/// # Panics
/// If moto is not installed or does not listen within 60 s: a test cannot go on without it.
pub fn moto_endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(start_moto)
}

/// SDK configuration for the moto server (starting it if needed).
pub fn sdk() -> SdkConfig {
    sdk_for(moto_endpoint())
}

/// SDK configuration for `endpoint`: region us-east-1 and dummy static credentials (the process
/// environment is untouched).
pub fn sdk_for(endpoint: &str) -> SdkConfig {
    offline_sdk().into_builder().endpoint_url(endpoint).build()
}

/// Region us-east-1 and dummy static credentials, no endpoint: for clients that set their own
/// (the API Gateway Management client) or never call out.
pub fn offline_sdk() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "cirrus-tests",
        )))
        .build()
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
