//! Test helpers (cargo feature `testing`): ID tokens signed with the committed TEST key.
//!
//! The key is public (it is in the repository): never configure its JWKS for a deployed issuer.

use crate::oidc::{JwksSource, TrustedIssuer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::path::PathBuf;

/// The `kid` of the test RSA key in [`test_jwks_json`].
pub const TEST_KID: &str = "cirrus-test-rsa";

const TEST_RSA_KEY_PEM: &str = include_str!("../tests/fixtures/rsa-test-key.pem");
const TEST_JWKS_JSON: &str = include_str!("../tests/fixtures/jwks.json");

/// Signs `claims` as an RS256 JWT with the test RSA key, with `kid` in the header (use [`TEST_KID`]
/// for a token that [`test_jwks_json`] verifies).
pub fn sign_test_id_token(claims: &serde_json::Value, kid: &str) -> String {
    let key = EncodingKey::from_rsa_pem(TEST_RSA_KEY_PEM.as_bytes())
        .expect("the committed test key is an RSA private key in PEM");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).expect("signing with the test key cannot fail")
}

/// The JWKS with the test keys' public halves (RSA [`TEST_KID`], and EC P-256 `cirrus-test-ec`).
pub fn test_jwks_json() -> &'static str {
    TEST_JWKS_JSON
}

/// The path of the file [`test_jwks_json`] comes from, for a [`JwksSource::File`].
pub fn test_jwks_file() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwks.json"))
}

/// A trusted issuer `alias` for `issuer` and `audience` whose JWKS is [`test_jwks_file`].
pub fn test_trusted_issuer(alias: &str, issuer: &str, audience: &str) -> TrustedIssuer {
    TrustedIssuer {
        alias: alias.to_owned(),
        issuer: issuer.to_owned(),
        audiences: vec![audience.to_owned()],
        jwks: JwksSource::File(test_jwks_file()),
    }
}
