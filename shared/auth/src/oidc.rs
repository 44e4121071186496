//! OpenID Connect ID token verification against configured trusted issuers.
//!
//! [`OidcVerifier::verify`] reads the token's `iss` and `kid` without trusting them, picks the
//! [`TrustedIssuer`] whose `issuer` is exactly `iss`, takes the key `kid` from that issuer's JWKS (cached
//! for 10 minutes; an unknown `kid` triggers at most one refetch a minute), then checks the signature
//! (RS256/384/512, PS256/384/512, ES256, ES384 or EdDSA, as the key allows; never HMAC), `iss`, `aud`,
//! `exp` and `nbf` (60 s leeway, against the caller's clock) and requires a `sub`. The subject maps to
//! a Cirrus user id as [`FederatedIdentity::user_id`] documents.

mod identity;
mod issuer;
mod jwks;
mod verifier;

pub use identity::FederatedIdentity;
pub use issuer::{JwksSource, TrustedIssuer};
pub use verifier::{
    JWKS_FETCH_TIMEOUT, JWKS_REFETCH_INTERVAL_SECS, JWKS_TTL_SECS, LEEWAY_SECS, OidcVerifier,
};
