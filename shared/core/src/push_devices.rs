//! Push devices: the tokens a user's apps registered (`push.register`) for offline push through
//! APNs, FCM or the app's webhook. A user has at most [`MAX_DEVICES_PER_USER`]; registering one
//! more drops the oldest. A logout removes them all, and a provider's "dead token" answer removes
//! that one.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Most devices one user may have registered; a new one beyond it drops the oldest.
pub const MAX_DEVICES_PER_USER: usize = 10;

/// Most bytes of a device token (APNs tokens are 64 hex digits, FCM tokens about 160 characters).
pub const MAX_TOKEN_LEN: usize = 512;

/// Most bytes of a platform name or bundle id.
pub const MAX_NAME_LEN: usize = 128;

/// Which provider delivers to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushService {
    /// Apple Push Notification service (HTTP/2 provider API).
    Apns,
    /// Firebase Cloud Messaging (HTTP v1 API).
    Fcm,
    /// The app server's webhook, which passes the token on to the app's own channel.
    Webhook,
}

impl PushService {
    /// The wire name (`apns`, `fcm`, `webhook`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Apns => "apns",
            Self::Fcm => "fcm",
            Self::Webhook => "webhook",
        }
    }

    /// The service of a wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Apns, Self::Fcm, Self::Webhook]
            .into_iter()
            .find(|service| service.name() == name)
    }
}

impl fmt::Display for PushService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One registered device of a user.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushDevice {
    /// Which provider delivers to it.
    pub provider: PushService,
    /// The provider's device token (unique per user: registering it again replaces the entry).
    pub token: String,
    /// The client's platform (`ios`, `android`, …).
    pub platform: String,
    /// The app's bundle id (the APNs topic), if the client gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// When it was (last) registered, ms since the epoch: the oldest goes first.
    pub registered_at: i64,
}

impl fmt::Debug for PushDevice {
    /// A token is an address for pushing to someone's phone: logs show its length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushDevice")
            .field("provider", &self.provider)
            .field("token", &format_args!("<{} bytes>", self.token.len()))
            .field("platform", &self.platform)
            .field("bundle_id", &self.bundle_id)
            .field("registered_at", &self.registered_at)
            .finish()
    }
}

/// Why a device token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The token is empty, too long, or has whitespace or control characters.
    #[error("token must be 1 to {MAX_TOKEN_LEN} printable characters without spaces")]
    BadToken,
    /// The platform or bundle id is empty, too long or not printable.
    #[error("{0} must be 1 to {MAX_NAME_LEN} printable characters without spaces")]
    BadName(&'static str),
}

/// Checks a device token.
pub fn check_token(token: &str) -> Result<(), DeviceError> {
    if printable(token, MAX_TOKEN_LEN) {
        Ok(())
    } else {
        Err(DeviceError::BadToken)
    }
}

/// Checks a platform name or bundle id, `what` naming the field.
pub fn check_name(value: &str, what: &'static str) -> Result<(), DeviceError> {
    if printable(value, MAX_NAME_LEN) {
        Ok(())
    } else {
        Err(DeviceError::BadName(what))
    }
}

fn printable(value: &str, max: usize) -> bool {
    !value.is_empty() && value.len() <= max && value.chars().all(|c| !c.is_whitespace() && !c.is_control())
}

/// `devices` with `device` registered: an entry with the same token replaced, then the oldest
/// dropped beyond `max`; ordered oldest first. What both stores apply.
pub fn with_registered(mut devices: Vec<PushDevice>, device: PushDevice, max: usize) -> Vec<PushDevice> {
    devices.retain(|existing| existing.token != device.token);
    devices.push(device);
    // Ties by token, so both backends keep the same ones.
    devices.sort_by(|a, b| (a.registered_at, &a.token).cmp(&(b.registered_at, &b.token)));
    let excess = devices.len().saturating_sub(max.max(1));
    devices.drain(..excess);
    devices
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(token: &str, at: i64) -> PushDevice {
        PushDevice {
            provider: PushService::Apns,
            token: token.to_owned(),
            platform: "ios".to_owned(),
            bundle_id: None,
            registered_at: at,
        }
    }

    fn tokens(devices: &[PushDevice]) -> Vec<&str> {
        devices.iter().map(|d| d.token.as_str()).collect()
    }

    #[test]
    fn given_a_full_list_when_one_more_registers_then_the_oldest_goes() {
        // GIVEN three devices, the limit three
        let devices = vec![device("b", 2), device("a", 1), device("c", 3)];
        // WHEN a fourth registers
        let after = with_registered(devices, device("d", 4), 3);
        // THEN the oldest (a) is dropped, the rest oldest first
        assert_eq!(tokens(&after), ["b", "c", "d"]);
    }

    #[test]
    fn given_a_registered_token_when_registered_again_then_it_is_replaced_and_newest() {
        let devices = vec![device("a", 1), device("b", 2)];
        let mut again = device("a", 5);
        again.provider = PushService::Fcm;
        let after = with_registered(devices, again, 10);
        assert_eq!(tokens(&after), ["b", "a"]);
        assert_eq!(after[1].provider, PushService::Fcm);
    }

    #[test]
    fn tokens_and_names_are_checked() {
        assert_eq!(check_token("abc123"), Ok(()));
        assert_eq!(check_token(&"f".repeat(MAX_TOKEN_LEN)), Ok(()));
        for bad in [
            String::new(),
            "a b".to_owned(),
            "a\n".to_owned(),
            "x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert_eq!(check_token(&bad), Err(DeviceError::BadToken), "{bad:?}");
        }
        assert_eq!(check_name("ios", "platform"), Ok(()));
        assert_eq!(check_name("", "platform"), Err(DeviceError::BadName("platform")));
    }

    #[test]
    fn services_parse_by_wire_name_and_the_token_stays_out_of_debug() {
        for service in [PushService::Apns, PushService::Fcm, PushService::Webhook] {
            assert_eq!(PushService::from_name(service.name()), Some(service));
        }
        assert_eq!(PushService::from_name("hms"), None);
        let shown = format!("{:?}", device("secret-token-value", 1));
        assert!(!shown.contains("secret-token-value"), "{shown}");
    }
}
