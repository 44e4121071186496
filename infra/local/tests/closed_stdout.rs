//! Whoever starts `cirrus-local` may stop reading its stdout once it has the address (a test
//! harness, a shell pipe that ended): the stack serves on and still shuts down cleanly. Before,
//! the banner's and the shutdown's `println!` panicked on the closed pipe and took the process
//! down (found as a kill-9 test failure in CI: its harness drops the stdout reader once it has
//! the address, and the rest of the banner raced with the drop).

mod support;

use serde_json::json;
use std::time::Duration;
use support::Socket;

#[tokio::test]
async fn the_stack_serves_on_and_stops_cleanly_when_nobody_reads_its_stdout() {
    // GIVEN cirrus-local started by a harness that stops reading stdout once it has the address
    let data = tempfile::tempdir().expect("a temp dir");
    let dir = data.path().to_str().expect("a UTF-8 temp path");
    let (mut child, url) = support::start(&["--data-dir", dir], &[("RUST_LOG", "error")]).await;
    drop(child.stderr.take());

    // WHEN a client talks to it THEN it answers
    let mut socket = Socket::connect(&url, "alice").await.expect("connects");
    let pong = socket.ok("sys.ping", json!({})).await;
    assert!(pong["time"].as_i64().is_some(), "{pong}");
    socket.close().await;

    // WHEN it is told to stop (its goodbye goes to the closed pipe) THEN it exits cleanly
    let pid = child.id().expect("the child's pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success(), "SIGTERM sent");
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("cirrus-local stops within 20 s")
        .expect("the child's status");
    assert!(status.success(), "cirrus-local exited with {status}");
}
