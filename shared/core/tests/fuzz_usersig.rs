//! Fuzzes UserSig verification: arbitrary tokens, minted tokens and single-byte mutations.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cirrus_core::fuzzing::{arbitrary_text, config, json_value};
use cirrus_core::usersig::UserSigKey;
use cirrus_core::{Error, ErrorCode};
use flate2::Compression;
use flate2::write::ZlibEncoder;
use proptest::prelude::*;
use std::io::{Read as _, Write as _};

const APP_ID: u64 = 1_400_000_000;
const NOW: i64 = 1_764_000_000;

/// A UserSig document's own keys.
const KEYS: &[&str] = &[
    "TLS.ver",
    "TLS.identifier",
    "TLS.sdkappid",
    "TLS.time",
    "TLS.expire",
    "TLS.sig",
    "TLS.userbuf",
];

fn key() -> UserSigKey {
    UserSigKey::new(APP_ID, "fuzzing-secret")
}

/// Encodes `doc` the way UserSigs are: zlib, base64, `+ / =` as `* - _`.
fn encode(doc: &[u8]) -> String {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(doc).expect("writing into a Vec cannot fail");
    STANDARD
        .encode(encoder.finish().expect("finishing into a Vec cannot fail"))
        .replace('+', "*")
        .replace('/', "-")
        .replace('=', "_")
}

/// The zlib bytes of a token.
fn decode(token: &str) -> Vec<u8> {
    STANDARD
        .decode(token.replace('*', "+").replace('-', "/").replace('_', "="))
        .expect("a verified token is base64")
}

/// The document a token's zlib bytes inflate to.
fn inflate(compressed: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .read_to_end(&mut out)
        .expect("a verified token inflates");
    out
}

/// A refusal of a token that is not genuine: never an internal error.
fn assert_refused(token: &str) {
    let err = key()
        .verify(token, NOW)
        .expect_err("a token not minted with the key never verifies");
    assert_eq!(Error::from(err).code(), ErrorCode::Unauthorized);
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_tokens_never_verify(token in arbitrary_text(KEYS)) {
        assert_refused(&token);
    }

    #[test]
    fn well_encoded_arbitrary_documents_never_verify(doc in json_value(KEYS)) {
        assert_refused(&encode(doc.to_string().as_bytes()));
    }

    #[test]
    fn minted_tokens_verify_and_round_trip(
        identifier in "\\PC{1,40}",
        issued in NOW - 1_000_000..NOW,
        expire in 1_000_000i64..100_000_000,
        userbuf in proptest::option::of("\\PC{0,20}"),
    ) {
        let token = key().mint_with_userbuf(&identifier, issued, expire, userbuf.as_deref());
        prop_assert!(!token.contains(['+', '/', '=']));
        let claims = key().verify(&token, NOW).expect("a minted token verifies before it expires");
        prop_assert_eq!(claims.identifier, identifier);
        prop_assert_eq!(claims.issued_at, issued);
        prop_assert_eq!(claims.expire, expire);
        prop_assert_eq!(claims.userbuf, userbuf);
        let expired = key().verify(&token, issued + expire + 1).expect_err("past its lifetime");
        prop_assert_eq!(Error::from(expired).code(), ErrorCode::Unauthorized);
    }

    #[test]
    fn a_single_byte_mutation_never_verifies(
        identifier in "[a-z0-9_]{1,20}",
        expire in 1_000i64..100_000_000,
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let token = key().mint(&identifier, NOW, expire);
        let mut bytes = token.clone().into_bytes();
        // Any of the 255 other values, without rejecting cases.
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        let mutated = String::from_utf8_lossy(&bytes);
        match key().verify(&mutated, NOW) {
            Err(err) => prop_assert_eq!(Error::from(err).code(), ErrorCode::Unauthorized),
            // DEFLATE has more than one encoding of the same bytes (the padding after the final
            // block, unused code lengths in a block header), and the signature covers the
            // claims, not their encoding: a mutation may verify only if it inflates to exactly
            // the original document. Anything that changes the content must not verify.
            Ok(claims) => {
                prop_assert_eq!(inflate(&decode(&mutated)), inflate(&decode(&token)), "{} verified", mutated);
                prop_assert_eq!(claims, key().verify(&token, NOW).expect("the original verifies"));
            }
        }
    }
}
