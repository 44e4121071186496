//! Google's OAuth2 for service accounts: an RS256 assertion signed with the account's key is
//! exchanged at its `token_uri` for an access token, which is cached until shortly before it
//! expires (one fetch at a time; concurrent sends wait for it).

use crate::{ConfigError, KeyMaterial, unreachable};
use cirrus_core::clock::Clock;
use cirrus_core::ports::PushError;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The OAuth2 scope of FCM's send API.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The grant type of a JWT assertion (RFC 7523).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// An access token is replaced this long before it expires, so none is used at its last second.
const EXPIRY_MARGIN_MS: i64 = 60_000;
/// How long an assertion is valid (Google takes at most an hour).
const ASSERTION_LIFETIME_S: i64 = 3600;

/// The claims of an assertion.
#[derive(Serialize, Deserialize)]
pub struct AssertionClaims {
    /// The service account's email.
    pub iss: String,
    /// The scope asked for.
    pub scope: String,
    /// The token endpoint.
    pub aud: String,
    /// Signing time, seconds since the epoch.
    pub iat: i64,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
}

/// A token endpoint's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: i64,
}

/// An access token and when to stop using it.
#[derive(Clone)]
struct AccessToken {
    token: String,
    use_until_ms: i64,
}

/// Obtains and caches access tokens for one service account.
pub(crate) struct TokenSource {
    http: reqwest::Client,
    client_email: String,
    token_uri: String,
    key: EncodingKey,
    clock: Arc<dyn Clock>,
    cached: tokio::sync::Mutex<Option<AccessToken>>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A source for the account `client_email` whose key is `key`.
    pub(crate) fn new(
        http: reqwest::Client,
        client_email: String,
        token_uri: String,
        key: &KeyMaterial,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let key = EncodingKey::from_rsa_pem(key.bytes()).map_err(|_| ConfigError::BadKey("FCM", "RSA"))?;
        Ok(Self {
            http,
            client_email,
            token_uri: crate::endpoint(&token_uri, "OAuth token")?,
            key,
            clock,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// A valid access token: the cached one, else a new one from the token endpoint.
    pub(crate) async fn token(&self) -> Result<String, PushError> {
        let mut cached = self.cached.lock().await;
        let now = self.clock.now_ms();
        if let Some(token) = cached.as_ref().filter(|token| now < token.use_until_ms) {
            return Ok(token.token.clone());
        }
        let fresh = self.fetch(now).await?;
        *cached = Some(fresh.clone());
        Ok(fresh.token)
    }

    /// Forgets `token` if it is still the cached one (FCM answered 401 to it).
    pub(crate) async fn invalidate(&self, token: &str) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|cached| cached.token == token) {
            *cached = None;
        }
    }

    async fn fetch(&self, now_ms: i64) -> Result<AccessToken, PushError> {
        let iat = now_ms.div_euclid(1000);
        let claims = AssertionClaims {
            iss: self.client_email.clone(),
            scope: SCOPE.to_owned(),
            aud: self.token_uri.clone(),
            iat,
            exp: iat + ASSERTION_LIFETIME_S,
        };
        let assertion = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|_| PushError::Refused("cannot sign the OAuth assertion".to_owned()))?;
        // The assertion is base64url and dots: nothing in it needs form encoding.
        let body = format!("grant_type={}&assertion={assertion}", form_encode(GRANT_TYPE));
        let response = self
            .http
            .post(&self.token_uri)
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            // A refused credential is a configuration fault: retried, then dead-lettered, so it shows.
            return Err(PushError::Refused(format!(
                "OAuth token endpoint: HTTP {}",
                status.as_u16()
            )));
        }
        let answer: TokenAnswer = response.json().await.map_err(unreachable)?;
        tracing::debug!(expires_in = answer.expires_in, "new FCM access token");
        Ok(AccessToken {
            token: answer.access_token,
            use_until_ms: now_ms + answer.expires_in * 1000 - EXPIRY_MARGIN_MS,
        })
    }
}

/// `value` form-encoded (RFC 3986 unreserved characters kept, everything else `%XX`).
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_grant_type_is_form_encoded() {
        assert_eq!(
            super::form_encode(super::GRANT_TYPE),
            "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
        );
    }
}
