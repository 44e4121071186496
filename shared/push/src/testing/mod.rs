//! Test helpers (cargo feature `testing`): fakes of APNs and FCM on 127.0.0.1 that speak the
//! real protocols and check the credentials, and the committed TEST keys they verify against.
//!
//! The keys are public (they are in the repository): never configure them for a real account.

mod apns_fake;
mod fcm_fake;

pub use apns_fake::{ApnsCall, ApnsFake};
pub use fcm_fake::{FcmCall, FcmFake};

use crate::KeyMaterial;
use cirrus_core::ids::{ConversationId, MsgId, UserId};
use cirrus_core::push_devices::{PushDevice, PushService};
use cirrus_core::service::push::OfflinePush;
use std::collections::HashSet;

/// The TEST APNs signing key (EC P-256, PKCS#8 PEM as Apple's `.p8`).
pub const APNS_TEST_KEY: &str = include_str!("../../tests/fixtures/apns-test-key.p8");
/// Its public half, which [`ApnsFake`] verifies provider tokens with.
pub const APNS_TEST_PUBLIC_KEY: &str = include_str!("../../tests/fixtures/apns-test-key.pub.pem");
/// The TEST service account's RSA key (PKCS#8 PEM).
pub const FCM_TEST_KEY: &str = include_str!("../../tests/fixtures/fcm-test-key.pem");
/// Its public half, which [`FcmFake`]'s token endpoint verifies assertions with.
pub const FCM_TEST_PUBLIC_KEY: &str = include_str!("../../tests/fixtures/fcm-test-key.pub.pem");

/// The key id the APNs fake expects in `kid`.
pub const APNS_KEY_ID: &str = "TESTKEY123";
/// The team id the APNs fake expects in `iss`.
pub const APNS_TEAM_ID: &str = "TESTTEAM99";
/// The service account's email.
pub const FCM_CLIENT_EMAIL: &str = "cirrus-push@cirrus-test.iam.gserviceaccount.com";
/// The Firebase project.
pub const FCM_PROJECT: &str = "cirrus-test";

/// The TEST APNs key as key material.
pub fn apns_test_key() -> KeyMaterial {
    KeyMaterial::new(APNS_TEST_KEY)
}

/// Binds a free loopback port and serves `app` on it (HTTP/1 and h2c) until the runtime ends;
/// returns `http://127.0.0.1:<port>`.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|err| panic!("cannot bind a loopback port: {err}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|err| panic!("bound listener has no address: {err}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Locks `mutex`, a poisoned lock (a panicking test) notwithstanding.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A device of `provider` with `token` (platform `ios` for APNs, else `android`), registered
/// with `bundle_id`.
pub fn device(provider: PushService, token: &str, bundle_id: Option<&str>) -> PushDevice {
    PushDevice {
        provider,
        token: token.to_owned(),
        platform: if provider == PushService::Apns {
            "ios"
        } else {
            "android"
        }
        .to_owned(),
        bundle_id: bundle_id.map(str::to_owned),
        registered_at: 1,
    }
}

/// Alice's notification to bob about message `msg_id`: "Alice", "hi bob", seq 7.
pub fn push_to_bob(msg_id: &str) -> OfflinePush {
    let user = |id: &str| UserId::parse(id).unwrap_or_else(|err| panic!("{id}: {err}"));
    OfflinePush {
        to: user("bob"),
        from: user("alice"),
        title: "Alice".to_owned(),
        text: "hi bob".to_owned(),
        conversation_id: ConversationId::parse("C2Calice").unwrap_or_else(|err| panic!("{err}")),
        msg_id: MsgId::parse(msg_id).unwrap_or_else(|err| panic!("{msg_id}: {err}")),
        seq: 7,
        time: 1_800_000_000_000,
    }
}

/// Which device tokens a fake answers as dead or as failing for now.
#[derive(Default)]
struct Script {
    dead: HashSet<String>,
    failing: HashSet<String>,
}

/// What a fake's script says of a token.
#[derive(PartialEq, Eq)]
enum Verdict {
    Dead,
    Failing,
    Take,
}

impl Script {
    fn mark_dead(&mut self, token: &str) {
        self.dead.insert(token.to_owned());
    }

    fn set_failing(&mut self, token: &str, failing: bool) {
        if failing {
            self.failing.insert(token.to_owned());
        } else {
            self.failing.remove(token);
        }
    }

    fn verdict(&self, token: &str) -> Verdict {
        if self.dead.contains(token) {
            Verdict::Dead
        } else if self.failing.contains(token) {
            Verdict::Failing
        } else {
            Verdict::Take
        }
    }
}
