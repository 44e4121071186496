//! Fuzzes ID token verification (third-party login) and the password policy: arbitrary tokens,
//! JWT-shaped ones, and single-byte mutations of a genuine token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cirrus_auth::testing::{TEST_KID, sign_test_id_token, test_trusted_issuer};
use cirrus_auth::{OidcVerifier, check_password_policy};
use cirrus_core::fuzzing::{arbitrary_text, config, hostile_string, json_value};
use proptest::prelude::*;
use serde_json::json;

const ISSUER: &str = "https://issuer.test/pool";
const AUDIENCE: &str = "cirrus-client";
const NOW: i64 = 1_700_000_000;

/// Header and claim names, so JWT-shaped tokens reach the checks behind the parser.
const KEYS: &[&str] = &["alg", "kid", "typ", "iss", "aud", "sub", "exp", "nbf", "iat"];

struct World {
    runtime: tokio::runtime::Runtime,
    verifier: OidcVerifier,
    genuine: String,
}

fn world() -> World {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime starts");
    let verifier =
        OidcVerifier::new(vec![test_trusted_issuer("test", ISSUER, AUDIENCE)]).expect("a valid issuer");
    let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": NOW, "exp": NOW + 3600});
    World {
        runtime,
        verifier,
        genuine: sign_test_id_token(&claims, TEST_KID),
    }
}

thread_local! {
    static WORLD: World = world();
}

/// The token does not verify, and the refusal has one of the documented codes.
fn assert_refused(world: &World, token: &str) {
    let err = world
        .runtime
        .block_on(world.verifier.verify(token, NOW))
        .expect_err("a token not signed by the issuer never verifies");
    assert!(
        matches!(
            err.code(),
            "bad_id_token"
                | "unknown_issuer"
                | "unknown_key"
                | "bad_signature"
                | "wrong_audience"
                | "token_expired"
                | "token_not_yet_valid"
                | "missing_subject"
        ),
        "{err:?}"
    );
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        json_value(KEYS).prop_map(|v| URL_SAFE_NO_PAD.encode(v.to_string())),
        Just(URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": TEST_KID}).to_string())),
        Just(URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string())),
        Just(URL_SAFE_NO_PAD.encode(json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "x"}).to_string())),
        hostile_string(),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_tokens_never_verify(token in arbitrary_text(KEYS)) {
        WORLD.with(|world| assert_refused(world, &token));
    }

    #[test]
    fn jwt_shaped_tokens_never_verify(parts in prop::collection::vec(segment(), 1..5)) {
        WORLD.with(|world| assert_refused(world, &parts.join(".")));
    }

    #[test]
    fn a_single_byte_mutation_of_a_genuine_token_never_verifies(
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        WORLD.with(|world| {
            let mut bytes = world.genuine.clone().into_bytes();
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            assert_refused(world, &String::from_utf8_lossy(&bytes));
        });
    }

    #[test]
    fn the_password_policy_never_panics(password in hostile_string()) {
        let accepted = check_password_policy(&password).is_ok();
        prop_assert!(!accepted || (8..=128).contains(&password.len()));
    }
}

#[test]
fn samples_the_genuine_token_verifies() {
    // Without this the mutation property would pass against a verifier that refuses everything.
    WORLD.with(|world| {
        let identity = world
            .runtime
            .block_on(world.verifier.verify(&world.genuine, NOW))
            .expect("genuine");
        assert_eq!(identity.subject, "user-1");
    });
}
