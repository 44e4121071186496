//! ID token verification end to end: tokens signed with the fixture keys, JWKS from a file or from a
//! local HTTP server that counts its requests.

#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cirrus_auth::testing::{TEST_KID, sign_test_id_token, test_jwks_json, test_trusted_issuer};
use cirrus_auth::{FederatedIdentity, JwksSource, OidcError, OidcVerifier, TrustedIssuer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const ISSUER: &str = "https://issuer.test/pool";
const AUDIENCE: &str = "cirrus-client";
const ALIAS: &str = "test";
const NOW: i64 = 1_700_000_000;
const EC_KID: &str = "cirrus-test-ec";

const OTHER_RSA_KEY_PEM: &str = include_str!("fixtures/rsa-other-key.pem");
const TEST_RSA_PUBLIC_PEM: &str = include_str!("fixtures/rsa-test-key.pub.pem");
const EC_KEY_PEM: &str = include_str!("fixtures/ec-test-key.pem");

/// Claims of a valid ID token at [`NOW`].
fn claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": NOW, "exp": NOW + 3600})
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

fn sign(alg: Algorithm, key: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// A verifier trusting [`ISSUER`] with the fixture JWKS file.
fn verifier() -> OidcVerifier {
    OidcVerifier::new(vec![test_trusted_issuer(ALIAS, ISSUER, AUDIENCE)]).unwrap()
}

async fn code_of(verifier: &OidcVerifier, token: &str, now: i64) -> &'static str {
    match verifier.verify(token, now).await {
        Ok(identity) => panic!("expected a failure, got {identity:?}"),
        Err(error) => error.code(),
    }
}

#[tokio::test]
async fn a_good_rs256_token_yields_the_identity() {
    // GIVEN a token signed by the issuer's key
    let token = sign_test_id_token(&claims(), TEST_KID);
    // WHEN it is verified
    let identity = verifier().verify(&token, NOW).await.unwrap();
    // THEN it names the subject and its Cirrus user id
    assert_eq!(
        identity,
        FederatedIdentity {
            alias: ALIAS.into(),
            issuer: ISSUER.into(),
            subject: "user-1".into(),
            user_id: "test_user-1".into(),
        }
    );
}

#[tokio::test]
async fn a_good_es256_token_yields_the_identity() {
    let key = EncodingKey::from_ec_pem(EC_KEY_PEM.as_bytes()).unwrap();
    let token = sign(Algorithm::ES256, &key, EC_KID, &claims());
    let identity = verifier().verify(&token, NOW).await.unwrap();
    assert_eq!(identity.subject, "user-1");
}

#[tokio::test]
async fn a_long_subject_maps_to_a_hashed_user_id() {
    let sub = "7f3c8d2a-4b1e-4c9a-9f0e-2d6b8a1c3e5f-and-more";
    let token = sign_test_id_token(&with(claims(), json!({"sub": sub})), TEST_KID);
    let identity = verifier().verify(&token, NOW).await.unwrap();
    assert_eq!(identity.subject, sub);
    assert!(identity.user_id.starts_with("test_"));
    assert_eq!(identity.user_id.len(), 32);
    assert!(identity.user_id[5..].bytes().all(|c| c.is_ascii_hexdigit()));
}

#[tokio::test]
async fn the_audience_may_be_a_list_that_includes_ours() {
    let token = sign_test_id_token(&with(claims(), json!({"aud": ["other", AUDIENCE]})), TEST_KID);
    assert!(verifier().verify(&token, NOW).await.is_ok());
}

#[tokio::test]
async fn the_issuer_is_chosen_by_exact_iss() {
    // GIVEN two trusted issuers
    let verifier = OidcVerifier::new(vec![
        test_trusted_issuer("first", "https://first.test", AUDIENCE),
        test_trusted_issuer("second", "https://second.test", AUDIENCE),
    ])
    .unwrap();
    // WHEN a token of the second is verified
    let token = sign_test_id_token(&with(claims(), json!({"iss": "https://second.test"})), TEST_KID);
    // THEN the identity is the second's
    let identity = verifier.verify(&token, NOW).await.unwrap();
    assert_eq!(
        (identity.alias.as_str(), identity.user_id.as_str()),
        ("second", "second_user-1")
    );
    // AND an issuer that differs only by a trailing slash is unknown
    let token = sign_test_id_token(&with(claims(), json!({"iss": "https://second.test/"})), TEST_KID);
    assert_eq!(code_of(&verifier, &token, NOW).await, "unknown_issuer");
}

#[tokio::test]
async fn each_kind_of_bad_token_fails_with_its_code() {
    let verifier = verifier();
    let other_key = EncodingKey::from_rsa_pem(OTHER_RSA_KEY_PEM.as_bytes()).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "signed by another key under the same kid",
            sign(Algorithm::RS256, &other_key, TEST_KID, &claims()),
            "bad_signature",
        ),
        (
            "RSA-signed but naming the EC key",
            sign_test_id_token(&claims(), EC_KID),
            "bad_signature",
        ),
        (
            "unknown kid",
            sign_test_id_token(&claims(), "no-such-kid"),
            "unknown_key",
        ),
        (
            "untrusted issuer",
            sign_test_id_token(&with(claims(), json!({"iss": "https://evil.test"})), TEST_KID),
            "unknown_issuer",
        ),
        (
            "another audience",
            sign_test_id_token(&with(claims(), json!({"aud": "someone-else"})), TEST_KID),
            "wrong_audience",
        ),
        (
            "no audience",
            sign_test_id_token(&with(claims(), json!({"aud": null})), TEST_KID),
            "wrong_audience",
        ),
        (
            "expired beyond the leeway",
            sign_test_id_token(&with(claims(), json!({"exp": NOW - 61})), TEST_KID),
            "token_expired",
        ),
        (
            "not valid for two more minutes",
            sign_test_id_token(&with(claims(), json!({"nbf": NOW + 120})), TEST_KID),
            "token_not_yet_valid",
        ),
        (
            "no subject",
            sign_test_id_token(&with(claims(), json!({"sub": null})), TEST_KID),
            "missing_subject",
        ),
        (
            "empty subject",
            sign_test_id_token(&with(claims(), json!({"sub": ""})), TEST_KID),
            "missing_subject",
        ),
        (
            "no exp",
            sign_test_id_token(&with(claims(), json!({"exp": null})), TEST_KID),
            "bad_id_token",
        ),
        (
            "no iss",
            sign_test_id_token(&with(claims(), json!({"iss": null})), TEST_KID),
            "bad_id_token",
        ),
        ("not a JWT", "not-a-jwt".into(), "bad_id_token"),
        ("empty", String::new(), "bad_id_token"),
    ];
    for (what, token, code) in cases {
        assert_eq!(code_of(&verifier, &token, NOW).await, code, "{what}");
    }
}

#[tokio::test]
async fn clock_skew_within_the_leeway_is_tolerated() {
    let verifier = verifier();
    let expired_a_bit = sign_test_id_token(&with(claims(), json!({"exp": NOW - 30})), TEST_KID);
    assert!(verifier.verify(&expired_a_bit, NOW).await.is_ok());
    let early_a_bit = sign_test_id_token(&with(claims(), json!({"nbf": NOW + 30})), TEST_KID);
    assert!(verifier.verify(&early_a_bit, NOW).await.is_ok());
    // The same token, verified later by the caller's clock, has expired.
    let token = sign_test_id_token(&claims(), TEST_KID);
    assert_eq!(code_of(&verifier, &token, NOW + 3600 + 60).await, "token_expired");
}

#[tokio::test]
async fn an_unsigned_token_is_refused() {
    // GIVEN a token with `alg: none` and no signature, naming a real key
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": TEST_KID}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
        // THEN it is refused as malformed (jsonwebtoken has no `none` algorithm)
        assert_eq!(code_of(&verifier(), &token, NOW).await, "bad_id_token", "{token}");
    }
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused() {
    // GIVEN the algorithm-confusion attack: HS256 keyed with the issuer's public key, in PEM and as
    // the JWKS document
    for secret in [TEST_RSA_PUBLIC_PEM, test_jwks_json()] {
        let key = EncodingKey::from_secret(secret.as_bytes());
        let token = sign(Algorithm::HS256, &key, TEST_KID, &claims());
        // THEN the RSA key does not verify an HMAC
        assert_eq!(code_of(&verifier(), &token, NOW).await, "bad_signature");
    }
}

#[tokio::test]
async fn a_jwks_file_is_cached_for_ten_minutes() {
    // GIVEN an issuer whose JWKS file is read once, then deleted
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, test_jwks_json()).unwrap();
    let verifier = OidcVerifier::new(vec![TrustedIssuer {
        jwks: JwksSource::File(path.clone()),
        ..test_trusted_issuer(ALIAS, ISSUER, AUDIENCE)
    }])
    .unwrap();
    let token = sign_test_id_token(&with(claims(), json!({"exp": NOW + 7200})), TEST_KID);
    verifier.verify(&token, NOW).await.unwrap();
    std::fs::remove_file(&path).unwrap();
    // WHEN tokens are verified within ten minutes
    // THEN the cached keys serve them
    verifier.verify(&token, NOW + 599).await.unwrap();
    // AND after ten minutes the file is read again, and its absence is reported
    let error = verifier.verify(&token, NOW + 600).await.unwrap_err();
    assert_eq!(error.code(), "jwks_unavailable");
    assert!(matches!(error, OidcError::JwksUnavailable { ref alias, .. } if alias == ALIAS));
    assert!(
        std::error::Error::source(&error).is_some(),
        "the cause is kept for the logs"
    );
}

/// A JWKS endpoint on 127.0.0.1 that serves `body` with `status` and counts its requests.
#[derive(Clone)]
struct JwksServer {
    body: Arc<Mutex<String>>,
    status: Arc<AtomicU16>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(body: &str) -> (Self, String) {
        let server = Self {
            body: Arc::new(Mutex::new(body.to_owned())),
            status: Arc::new(AtomicU16::new(200)),
            hits: Arc::default(),
        };
        let app = Router::new()
            .route("/.well-known/jwks.json", get(Self::serve))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (server, url)
    }

    async fn serve(
        State(server): State<Self>,
    ) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
        server.hits.fetch_add(1, Ordering::SeqCst);
        let status = StatusCode::from_u16(server.status.load(Ordering::SeqCst)).unwrap();
        let body = server.body.lock().unwrap().clone();
        (status, [(header::CONTENT_TYPE, "application/json")], body)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn url_verifier(url: &str) -> OidcVerifier {
        OidcVerifier::new(vec![TrustedIssuer {
            jwks: JwksSource::Url(url.to_owned()),
            ..test_trusted_issuer(ALIAS, ISSUER, AUDIENCE)
        }])
        .unwrap()
    }
}

/// The fixture JWKS plus the test RSA key again under `kid`, as after a key rotation.
fn jwks_with_extra_kid(kid: &str) -> String {
    let mut jwks: Value = serde_json::from_str(test_jwks_json()).unwrap();
    let keys = jwks["keys"].as_array_mut().unwrap();
    let mut rotated = keys.iter().find(|k| k["kid"] == TEST_KID).unwrap().clone();
    rotated["kid"] = kid.into();
    keys.push(rotated);
    jwks.to_string()
}

#[tokio::test]
async fn a_jwks_url_is_fetched_once_and_cached_for_ten_minutes() {
    // GIVEN an issuer whose JWKS is served over HTTP
    let (server, url) = JwksServer::start(test_jwks_json()).await;
    let verifier = JwksServer::url_verifier(&url);
    let token = sign_test_id_token(&with(claims(), json!({"exp": NOW + 7200})), TEST_KID);
    // WHEN tokens are verified again and again within ten minutes
    for later in [0, 1, 30, 300, 599] {
        verifier.verify(&token, NOW + later).await.unwrap();
    }
    // THEN the JWKS was fetched once
    assert_eq!(server.hits(), 1);
    // AND once ten minutes have passed it is fetched again
    verifier.verify(&token, NOW + 600).await.unwrap();
    assert_eq!(server.hits(), 2);
    verifier.verify(&token, NOW + 601).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn concurrent_verifications_share_one_fetch() {
    let (server, url) = JwksServer::start(test_jwks_json()).await;
    let verifier = Arc::new(JwksServer::url_verifier(&url));
    let token = sign_test_id_token(&claims(), TEST_KID);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move { verifier.verify(&token, NOW).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn an_unknown_kid_refetches_at_most_once_a_minute() {
    // GIVEN a verifier that has fetched the JWKS at NOW
    let (server, url) = JwksServer::start(test_jwks_json()).await;
    let verifier = JwksServer::url_verifier(&url);
    let known = sign_test_id_token(&with(claims(), json!({"exp": NOW + 7200})), TEST_KID);
    let rotated = sign_test_id_token(&with(claims(), json!({"exp": NOW + 7200})), "rotated");
    verifier.verify(&known, NOW).await.unwrap();
    assert_eq!(server.hits(), 1);

    // WHEN a token names an unknown kid within a minute of that fetch
    // THEN it is refused without a refetch
    assert_eq!(code_of(&verifier, &rotated, NOW + 10).await, "unknown_key");
    assert_eq!(server.hits(), 1);

    // WHEN a minute has passed, the unknown kid causes one refetch (the key is still not there)
    assert_eq!(code_of(&verifier, &rotated, NOW + 61).await, "unknown_key");
    assert_eq!(server.hits(), 2);
    // AND repeated unknown kids within the next minute cause none
    for later in [62, 90, 120] {
        assert_eq!(code_of(&verifier, &rotated, NOW + later).await, "unknown_key");
    }
    assert_eq!(server.hits(), 2);

    // WHEN the issuer publishes the rotated key
    *server.body.lock().unwrap() = jwks_with_extra_kid("rotated");
    // THEN it is still unknown until a minute after the last fetch
    assert_eq!(code_of(&verifier, &rotated, NOW + 100).await, "unknown_key");
    assert_eq!(server.hits(), 2);
    // AND then one refetch finds it, and it stays cached
    verifier.verify(&rotated, NOW + 121).await.unwrap();
    assert_eq!(server.hits(), 3);
    verifier.verify(&rotated, NOW + 130).await.unwrap();
    verifier.verify(&known, NOW + 131).await.unwrap();
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn an_unreachable_or_failing_jwks_url_is_reported() {
    // GIVEN a JWKS endpoint that answers 500
    let (server, url) = JwksServer::start(test_jwks_json()).await;
    server.status.store(500, Ordering::SeqCst);
    let token = sign_test_id_token(&claims(), TEST_KID);
    let verifier = JwksServer::url_verifier(&url);
    // THEN verification reports the JWKS as unavailable
    assert_eq!(code_of(&verifier, &token, NOW).await, "jwks_unavailable");
    // AND recovers once the endpoint does
    server.status.store(200, Ordering::SeqCst);
    verifier.verify(&token, NOW + 1).await.unwrap();

    // GIVEN a JWKS endpoint that answers something that is not a JWKS
    *server.body.lock().unwrap() = "<html>maintenance</html>".into();
    let verifier = JwksServer::url_verifier(&url);
    assert_eq!(code_of(&verifier, &token, NOW).await, "jwks_unavailable");

    // GIVEN nothing listening at the JWKS URL
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    let verifier = JwksServer::url_verifier(&closed);
    assert_eq!(code_of(&verifier, &token, NOW).await, "jwks_unavailable");
}

#[test]
fn verifier_construction_rejects_invalid_issuers() {
    let bad_alias = test_trusted_issuer("Bad_Alias", ISSUER, AUDIENCE);
    assert!(OidcVerifier::new(vec![bad_alias]).is_err());
    let twice = vec![
        test_trusted_issuer("one", ISSUER, AUDIENCE),
        test_trusted_issuer("two", ISSUER, AUDIENCE),
    ];
    assert!(OidcVerifier::new(twice).is_err());
}
