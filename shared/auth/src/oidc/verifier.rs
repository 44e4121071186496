//! [`OidcVerifier`]: ID token in, [`FederatedIdentity`] out.

use super::identity::FederatedIdentity;
use super::issuer::{TrustedIssuer, check_list};
use super::jwks::JwksCache;
use crate::error::{IssuerConfigError, OidcError};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, dangerous, decode, decode_header};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: i64 = 60;
/// How long a fetched JWKS is used before it is fetched again, in seconds.
pub const JWKS_TTL_SECS: i64 = 10 * 60;
/// The least time between two fetches of one issuer's JWKS caused by unknown key ids, in seconds.
pub const JWKS_REFETCH_INTERVAL_SECS: i64 = 60;
/// Timeout of a whole JWKS HTTP request.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Verifies ID tokens of a fixed set of trusted issuers. Build it once (per cold start) and share it:
/// it holds the JWKS caches and the HTTP client.
pub struct OidcVerifier {
    /// Trusted issuers by their exact `issuer`.
    issuers: HashMap<String, Issuer>,
    http: reqwest::Client,
}

struct Issuer {
    config: TrustedIssuer,
    jwks: JwksCache,
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcVerifier")
            .field(
                "issuers",
                &self.issuers.values().map(|i| &i.config).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// What is read from the payload before the signature is checked: only which issuer to ask.
#[derive(Deserialize)]
struct UnverifiedClaims {
    iss: Option<String>,
}

/// The claims checked here rather than by `jsonwebtoken` (its time checks use the system clock).
#[derive(Deserialize)]
struct IdClaims {
    sub: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
}

impl OidcVerifier {
    /// Checks the issuers (as [`TrustedIssuer::validate`], no duplicates) and builds the HTTP client.
    pub fn new(issuers: Vec<TrustedIssuer>) -> Result<Self, IssuerConfigError> {
        check_list(&issuers)?;
        let http = reqwest::Client::builder()
            .timeout(JWKS_FETCH_TIMEOUT)
            .build()
            .map_err(IssuerConfigError::HttpClient)?;
        let issuers = issuers
            .into_iter()
            .map(|config| {
                let jwks = JwksCache::new(config.alias.clone(), config.jwks.clone());
                (config.issuer.clone(), Issuer { config, jwks })
            })
            .collect();
        Ok(Self { issuers, http })
    }

    /// Verifies `id_token` at time `now_secs` (Unix seconds; also the clock of the JWKS cache) and
    /// returns who it identifies.
    #[tracing::instrument(skip_all, fields(alias = tracing::field::Empty))]
    pub async fn verify(&self, id_token: &str, now_secs: i64) -> Result<FederatedIdentity, OidcError> {
        // Only routing so far: nothing read here is trusted until the signature verifies.
        let header =
            decode_header(id_token).map_err(|_| OidcError::Malformed("not a JWS with a supported alg"))?;
        let unverified: UnverifiedClaims = dangerous::insecure_decode_claims(id_token)
            .map_err(|_| OidcError::Malformed("payload is not a JSON object with a string iss"))?;
        let iss = unverified.iss.ok_or(OidcError::Malformed("no iss claim"))?;
        let issuer = self.issuers.get(&iss).ok_or(OidcError::UnknownIssuer)?;
        let config = &issuer.config;
        tracing::Span::current().record("alias", config.alias.as_str());
        let kid = header
            .kid
            .as_deref()
            .ok_or(OidcError::Malformed("no kid in the header"))?;

        let key = issuer.jwks.key(kid, now_secs, &self.http).await?;
        if !key.algorithms.contains(&header.alg) {
            return Err(OidcError::BadSignature);
        }
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["iss", "aud"]);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&config.audiences);
        let claims = decode::<IdClaims>(id_token, &key.key, &validation)
            .map_err(|error| classify(error.kind()))?
            .claims;

        let exp = claims.exp.ok_or(OidcError::Malformed("no exp claim"))?;
        if now_secs >= exp.saturating_add(LEEWAY_SECS) {
            return Err(OidcError::Expired);
        }
        if let Some(nbf) = claims.nbf
            && now_secs.saturating_add(LEEWAY_SECS) < nbf
        {
            return Err(OidcError::NotYetValid);
        }
        let subject = claims
            .sub
            .filter(|sub| !sub.is_empty())
            .ok_or(OidcError::MissingSubject)?;
        Ok(FederatedIdentity::new(&config.alias, &config.issuer, subject))
    }
}

/// Maps a `jsonwebtoken` verification failure to ours.
fn classify(kind: &ErrorKind) -> OidcError {
    match kind {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::Provider(_) => OidcError::BadSignature,
        ErrorKind::InvalidAudience => OidcError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => OidcError::WrongAudience,
        ErrorKind::InvalidIssuer => OidcError::UnknownIssuer,
        _ => OidcError::Malformed("claims are not valid JSON of the expected types"),
    }
}
