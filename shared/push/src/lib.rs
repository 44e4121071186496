//! Offline push providers behind [`cirrus_core::ports::PushProvider`]:
//!
//! - [`apns::ApnsProvider`]: Apple Push Notification service over HTTP/2, authenticated with an
//!   ES256 provider token (JWT) that is reused for [`apns::TOKEN_REUSE`].
//! - [`fcm::FcmProvider`]: Firebase Cloud Messaging HTTP v1, authenticated with an OAuth2 access
//!   token obtained with a service account's RS256 assertion and cached until shortly before it
//!   expires.
//!
//! Both map the provider's answers onto [`cirrus_core::ports::PushError`]: a dead token, a
//! rejection for good, or a failure worth another try. Keys, JWTs, access tokens and device
//! tokens never reach a log or an error: `Debug` impls redact them, and HTTP errors are stripped
//! of their URL (an APNs URL carries the device token).

pub mod apns;
pub mod fcm;
mod key;
mod oauth;
#[cfg(feature = "testing")]
pub mod testing;

pub use key::KeyMaterial;

use std::time::Duration;

/// How long one call to a provider may take, connecting included, unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a provider cannot be built. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The endpoint does not parse, or is not `http` / `https`.
    #[error("the {0} endpoint is not an http(s) URL")]
    BadEndpoint(&'static str),
    /// The private key is not a PKCS#8 PEM key of the kind the provider needs.
    #[error("the {0} private key is not a PKCS#8 PEM {1} key")]
    BadKey(&'static str, &'static str),
    /// A required setting is empty.
    #[error("the {0} is empty")]
    Missing(&'static str),
    /// The service-account JSON does not parse.
    #[error("the FCM service account is not a service-account JSON document")]
    BadServiceAccount(#[source] serde_json::Error),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// The endpoint `raw` without a trailing slash, checked to be an `http(s)` URL.
fn endpoint(raw: &str, what: &'static str) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(raw).map_err(|_| ConfigError::BadEndpoint(what))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::BadEndpoint(what));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// A `PushError::Unreachable` for a transport error, its URL (which may carry a device token)
/// removed.
fn unreachable(err: reqwest::Error) -> cirrus_core::ports::PushError {
    cirrus_core::ports::PushError::Unreachable(Box::new(err.without_url()))
}

/// The HTTP client of a provider: bounded calls, no redirects (a redirect would carry the
/// credentials elsewhere).
fn client(timeout: Duration, builder: reqwest::ClientBuilder) -> Result<reqwest::Client, ConfigError> {
    builder
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("cirrus-push/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(ConfigError::Client)
}
