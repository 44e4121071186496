//! One issuer's JWKS: loading, the usable keys in it, and the cache.

use super::issuer::JwksSource;
use super::verifier::{JWKS_REFETCH_INTERVAL_SECS, JWKS_TTL_SECS};
use crate::error::{JwksError, OidcError};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// A key from a JWKS, ready to verify with.
#[derive(Debug)]
pub(crate) struct VerifyingKey {
    pub(crate) key: DecodingKey,
    /// The algorithms this key may verify: its JWK `alg` if given, else those of its type and curve.
    pub(crate) algorithms: Vec<Algorithm>,
}

type KeySet = HashMap<String, Arc<VerifyingKey>>;

/// The cached JWKS of one issuer. The lock is held while fetching, so concurrent verifications of the
/// same issuer wait for one fetch instead of each starting their own.
#[derive(Debug)]
pub(crate) struct JwksCache {
    alias: String,
    source: JwksSource,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// The keys of the last successful load, and when (caller's clock, seconds).
    keys: Option<(KeySet, i64)>,
    /// When the last load was attempted, successful or not.
    last_attempt: Option<i64>,
}

/// Whether `since` is at least `secs` before `now`; a clock that went backwards counts as elapsed.
fn elapsed(now: i64, since: i64, secs: i64) -> bool {
    !(0..secs).contains(&now.saturating_sub(since))
}

impl JwksCache {
    pub(crate) fn new(alias: String, source: JwksSource) -> Self {
        Self {
            alias,
            source,
            state: Mutex::default(),
        }
    }

    /// The key `kid`, from the cache while it is under 10 minutes old; an unknown `kid` refetches, at
    /// most once a minute.
    pub(crate) async fn key(
        &self,
        kid: &str,
        now: i64,
        http: &reqwest::Client,
    ) -> Result<Arc<VerifyingKey>, OidcError> {
        let mut state = self.state.lock().await;
        let fresh = matches!(&state.keys, Some((_, at)) if !elapsed(now, *at, JWKS_TTL_SECS));
        if !fresh {
            self.reload(&mut state, now, http).await?;
        }
        if let Some(key) = state.find(kid) {
            return Ok(key);
        }
        let may_refetch = state
            .last_attempt
            .is_none_or(|at| elapsed(now, at, JWKS_REFETCH_INTERVAL_SECS));
        if may_refetch {
            tracing::info!(alias = %self.alias, kid, "unknown key id, refetching the JWKS");
            self.reload(&mut state, now, http).await?;
            if let Some(key) = state.find(kid) {
                return Ok(key);
            }
        }
        Err(OidcError::UnknownKey)
    }

    async fn reload(
        &self,
        state: &mut CacheState,
        now: i64,
        http: &reqwest::Client,
    ) -> Result<(), OidcError> {
        state.last_attempt = Some(now);
        match self.load(http).await {
            Ok(keys) => {
                tracing::debug!(alias = %self.alias, keys = keys.len(), "JWKS loaded");
                state.keys = Some((keys, now));
                Ok(())
            }
            Err(source) => {
                tracing::warn!(alias = %self.alias, error = %source, "JWKS unavailable");
                Err(OidcError::JwksUnavailable {
                    alias: self.alias.clone(),
                    source,
                })
            }
        }
    }

    async fn load(&self, http: &reqwest::Client) -> Result<KeySet, JwksError> {
        let document: JwksDocument = match &self.source {
            JwksSource::Url(url) => http.get(url).send().await?.error_for_status()?.json().await?,
            JwksSource::File(path) => serde_json::from_str(&tokio::fs::read_to_string(path).await?)?,
        };
        Ok(usable_keys(&self.alias, document))
    }
}

impl CacheState {
    fn find(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        self.keys.as_ref().and_then(|(keys, _)| keys.get(kid).cloned())
    }
}

/// `{"keys": [...]}`, each key kept as JSON so that one key this library cannot read does not make the
/// whole set unusable.
#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

/// The signature keys with a `kid` that can verify an ID token; others are skipped (and logged).
fn usable_keys(alias: &str, document: JwksDocument) -> KeySet {
    let mut keys = KeySet::new();
    for value in document.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            tracing::debug!(
                alias,
                "skipping a JWKS entry that is not a JWK this library reads"
            );
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            tracing::debug!(alias, "skipping a JWK without kid");
            continue;
        };
        match verifying_key(&jwk) {
            Some(key) => {
                keys.insert(kid, Arc::new(key));
            }
            None => tracing::debug!(alias, kid, "skipping a JWK that cannot verify ID tokens"),
        }
    }
    keys
}

fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    // Symmetric (`oct`) keys never verify: a JWKS is public, so an HMAC key from it is no secret.
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            vec![Algorithm::EdDSA]
        }
        _ => return None,
    };
    let algorithms = match jwk.common.key_algorithm {
        None => family,
        Some(declared) => {
            let declared = Algorithm::try_from(declared).ok()?;
            if !family.contains(&declared) {
                return None;
            }
            vec![declared]
        }
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyingKey { key, algorithms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys_of(document: serde_json::Value) -> KeySet {
        usable_keys("t", serde_json::from_value(document).unwrap())
    }

    #[test]
    fn keeps_signature_keys_and_skips_the_rest() {
        // GIVEN a JWKS with an RSA key, an RSA key without alg, an HMAC key, an encryption key, a key
        // without kid and an entry of an unknown type
        let rsa = json!({"kty": "RSA", "n": "sXch", "e": "AQAB"});
        let with = |extra: serde_json::Value| {
            let mut key = rsa.clone();
            key.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            key
        };
        let keys = keys_of(json!({"keys": [
            with(json!({"kid": "rs256", "alg": "RS256", "use": "sig"})),
            with(json!({"kid": "any-rsa"})),
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            with(json!({"kid": "enc", "use": "enc"})),
            with(json!({"kid": "rsa-as-es", "alg": "ES256"})),
            rsa,
            {"kty": "weird", "kid": "weird"},
        ]}));
        // THEN only the two RSA signature keys remain, with their algorithms
        let mut kids: Vec<_> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["any-rsa", "rs256"]);
        assert_eq!(keys["rs256"].algorithms, [Algorithm::RS256]);
        assert!(keys["any-rsa"].algorithms.contains(&Algorithm::PS256));
        assert!(!keys["any-rsa"].algorithms.contains(&Algorithm::HS256));
    }

    #[test]
    fn time_elapses_forward_only() {
        assert!(!elapsed(100, 100, 60));
        assert!(!elapsed(159, 100, 60));
        assert!(elapsed(160, 100, 60));
        assert!(elapsed(99, 100, 60), "a clock that went back counts as elapsed");
    }
}
