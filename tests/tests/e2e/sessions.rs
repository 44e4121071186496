//! The multi-device policy: which older connections a new login displaces, with `session.kicked`.

use cirrus_core::devices::DevicePolicy;
use cirrus_core::ids::UserId;
use cirrus_tests::{TestSocket, TestStack};
use serde_json::{Value, json};
use std::time::Duration;

/// How long a connection that keeps its place is watched for a stray kick.
const QUIET: Duration = Duration::from_millis(300);

async fn stack_with(policy: DevicePolicy) -> TestStack {
    TestStack::start_with(crate::BACKEND, |config| config.limits.devices = policy).await
}

/// THEN `socket` is told it was displaced by a login from `by` and closed.
async fn assert_kicked(socket: &mut TestSocket, by: &str) {
    let kicked: Value = socket.event("session.kicked").await;
    assert_eq!(kicked, json!({"reason": "login_elsewhere", "byPlatform": by}));
    assert_eq!(socket.closed().await, Some(1000));
}

/// THEN `socket` is untouched: no event, and it still answers.
async fn assert_kept(socket: &mut TestSocket) {
    socket.expect_no_event(QUIET).await;
    socket.ok("sys.ping", json!({})).await;
}

async fn platforms_of(stack: &TestStack, user: &str) -> Vec<String> {
    let user = UserId::parse(user).unwrap();
    let mut platforms: Vec<String> = stack
        .stack
        .connections()
        .connections_of(&user, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.platform.unwrap_or_default())
        .collect();
    platforms.sort();
    platforms
}

#[tokio::test]
async fn single_device_a_new_login_displaces_every_other() {
    // GIVEN the single-device policy and alice on the web
    let stack = stack_with(DevicePolicy::Single).await;
    let mut web = stack.connect_from("alice", "web").await;
    let mut bob = stack.connect_from("bob", "web").await;
    // WHEN alice logs in on her phone
    let mut phone = stack.connect_from("alice", "ios").await;
    // THEN the web session is told why and closed, the phone works, bob is untouched
    assert_kicked(&mut web, "ios").await;
    assert_kept(&mut phone).await;
    assert_kept(&mut bob).await;
    assert_eq!(platforms_of(&stack, "alice").await, ["ios"]);
    // AND messages reach the phone
    bob.send_text("alice", "after-kick", "still there?").await;
    assert_eq!(phone.event("msg.new").await["body"][0]["text"], "still there?");
}

#[tokio::test]
async fn one_per_platform_a_login_displaces_only_its_own_platform() {
    // GIVEN one connection per platform, alice on the web and on her phone
    let stack = stack_with(DevicePolicy::OnePerPlatform).await;
    let mut web = stack.connect_from("alice", "web").await;
    let mut phone = stack.connect_from("alice", "ios").await;
    assert_kept(&mut web).await;
    // WHEN she opens the web app again
    let mut web_again = stack.connect_from("alice", "web").await;
    // THEN only the older web session goes
    assert_kicked(&mut web, "web").await;
    assert_kept(&mut phone).await;
    assert_kept(&mut web_again).await;
    assert_eq!(platforms_of(&stack, "alice").await, ["ios", "web"]);
}

#[tokio::test]
async fn multiple_per_platform_the_oldest_beyond_the_cap_goes() {
    // GIVEN two connections per platform and alice in two web tabs
    let stack = stack_with(DevicePolicy::Multiple { per_platform: 2 }).await;
    // ("Oldest" is by connection time in ms: the tabs open a few ms apart.)
    let mut first = stack.connect_from("alice", "web").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut second = stack.connect_from("alice", "web").await;
    assert_kept(&mut first).await;
    // WHEN a third tab opens
    let mut third = stack.connect_from("alice", "web").await;
    // THEN the oldest tab goes and the other two stay
    assert_kicked(&mut first, "web").await;
    assert_kept(&mut second).await;
    assert_kept(&mut third).await;
    assert_eq!(platforms_of(&stack, "alice").await, ["web", "web"]);
}
