//! Tencent-compatible UserSig v2 tokens (the `tls-sig-api-v2` algorithm).
//!
//! A UserSig is zlib-compressed JSON, base64-encoded with `+ / =` replaced by `* - _`, whose
//! `TLS.sig` is an HMAC-SHA256 over `TLS.identifier`, `TLS.sdkappid`, `TLS.time` and `TLS.expire`
//! (and `TLS.userbuf` when present) under the app's secret key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use std::io::{Read as _, Write as _};

/// The app id the local stack and the CLI use when `CIRRUS_APP_ID` is not set.
pub const DEV_APP_ID: u64 = 1_400_000_000;

/// The well-known development secret used when `CIRRUS_SECRET_KEY` is not set.
/// Anything reachable by others must set its own secret.
pub const DEV_SECRET_KEY: &str = "cirrus-development-secret-do-not-deploy";

/// Why a UserSig was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserSigError {
    /// Not base64, not zlib, not JSON, or a field is missing.
    #[error("the token is malformed")]
    Malformed,
    /// Issued for another app id.
    #[error("the token was issued for another app")]
    WrongApp,
    /// The signature does not match.
    #[error("the token signature is invalid")]
    BadSignature,
    /// Past `TLS.time + TLS.expire`.
    #[error("the token has expired")]
    Expired,
}

/// The verified contents of a UserSig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user the token was minted for (not yet validated as a [`crate::ids::UserId`]).
    pub identifier: String,
    /// Issue time, seconds since the epoch.
    pub issued_at: i64,
    /// Lifetime in seconds.
    pub expire: i64,
    /// `TLS.userbuf`, signed with the rest: Cirrus marks guest tokens with [`GUEST_USERBUF`].
    pub userbuf: Option<String>,
}

impl Claims {
    /// Whether this is a guest token (minted by the guest endpoint, restricted to live rooms).
    pub fn is_guest(&self) -> bool {
        self.userbuf.as_deref() == Some(GUEST_USERBUF)
    }
}

/// The `TLS.userbuf` of guest tokens: base64 of `cirrus:guest`, as Tencent's userbuf is base64.
pub const GUEST_USERBUF: &str = "Y2lycnVzOmd1ZXN0";

/// Mints and verifies UserSigs for one app.
#[derive(Clone)]
pub struct UserSigKey {
    app_id: u64,
    secret: Vec<u8>,
}

impl std::fmt::Debug for UserSigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log.
        f.debug_struct("UserSigKey")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

const MAX_TOKEN_LEN: usize = 4096;

impl UserSigKey {
    /// A key for `app_id` (Tencent's SDKAppID) with the app's secret key.
    pub fn new(app_id: u64, secret: impl Into<Vec<u8>>) -> Self {
        Self {
            app_id,
            secret: secret.into(),
        }
    }

    /// The app id this key serves.
    pub fn app_id(&self) -> u64 {
        self.app_id
    }

    fn mac(&self, identifier: &str, time: i64, expire: i64, userbuf: Option<&str>) -> Hmac<Sha256> {
        let mut content = format!(
            "TLS.identifier:{identifier}\nTLS.sdkappid:{}\nTLS.time:{time}\nTLS.expire:{expire}\n",
            self.app_id
        );
        if let Some(buf) = userbuf {
            content.push_str("TLS.userbuf:");
            content.push_str(buf);
            content.push('\n');
        }
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(content.as_bytes());
        mac
    }

    /// Mints a token for `identifier`, issued at `now_secs`, valid for `expire_secs`.
    pub fn mint(&self, identifier: &str, now_secs: i64, expire_secs: i64) -> String {
        self.mint_with_userbuf(identifier, now_secs, expire_secs, None)
    }

    /// Mints a token carrying a signed `TLS.userbuf` (see [`GUEST_USERBUF`]).
    pub fn mint_with_userbuf(
        &self,
        identifier: &str,
        now_secs: i64,
        expire_secs: i64,
        userbuf: Option<&str>,
    ) -> String {
        let sig = STANDARD.encode(
            self.mac(identifier, now_secs, expire_secs, userbuf)
                .finalize()
                .into_bytes(),
        );
        let mut doc = serde_json::json!({
            "TLS.ver": "2.0",
            "TLS.identifier": identifier,
            "TLS.sdkappid": self.app_id,
            "TLS.expire": expire_secs,
            "TLS.time": now_secs,
            "TLS.sig": sig,
        });
        if let Some(buf) = userbuf {
            doc["TLS.userbuf"] = Value::from(buf);
        }
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        // Writing into a Vec cannot fail.
        let compressed = encoder
            .write_all(doc.to_string().as_bytes())
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        STANDARD
            .encode(compressed)
            .replace('+', "*")
            .replace('/', "-")
            .replace('=', "_")
    }

    /// Verifies a token at `now_secs`; returns its claims if it is genuine and current.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Claims, UserSigError> {
        let doc = decode(token)?;
        if doc.app_id != self.app_id {
            return Err(UserSigError::WrongApp);
        }
        let sig = STANDARD.decode(&doc.sig).map_err(|_| UserSigError::Malformed)?;
        self.mac(&doc.identifier, doc.time, doc.expire, doc.userbuf.as_deref())
            .verify_slice(&sig)
            .map_err(|_| UserSigError::BadSignature)?;
        if now_secs > doc.time.saturating_add(doc.expire) {
            return Err(UserSigError::Expired);
        }
        Ok(Claims {
            identifier: doc.identifier,
            issued_at: doc.time,
            expire: doc.expire,
            userbuf: doc.userbuf,
        })
    }
}

struct Document {
    identifier: String,
    app_id: u64,
    time: i64,
    expire: i64,
    sig: String,
    userbuf: Option<String>,
}

#[derive(Deserialize)]
struct RawDocument {
    #[serde(rename = "TLS.identifier")]
    identifier: String,
    #[serde(rename = "TLS.sdkappid")]
    app_id: Value,
    #[serde(rename = "TLS.time")]
    time: Value,
    #[serde(rename = "TLS.expire")]
    expire: Value,
    #[serde(rename = "TLS.sig")]
    sig: String,
    #[serde(rename = "TLS.userbuf", default)]
    userbuf: Option<String>,
}

/// Reads a number that implementations write either as a JSON number or as a decimal string.
fn number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn decode(token: &str) -> Result<Document, UserSigError> {
    // Only the token alphabet: `+ / =` would decode as `* - _` do, so one token would have
    // several spellings.
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.contains(['+', '/', '=']) {
        return Err(UserSigError::Malformed);
    }
    let standard = token.replace('*', "+").replace('-', "/").replace('_', "=");
    let compressed = STANDARD.decode(standard).map_err(|_| UserSigError::Malformed)?;
    let mut json = Vec::new();
    let mut decoder = ZlibDecoder::new(compressed.as_slice());
    // Bound the inflated size so a crafted token cannot balloon in memory.
    (&mut decoder)
        .take(MAX_TOKEN_LEN as u64 * 4)
        .read_to_end(&mut json)
        .map_err(|_| UserSigError::Malformed)?;
    // Bytes after the zlib stream would be ignored: refuse them, as no minter writes any.
    if decoder.total_in() != compressed.len() as u64 {
        return Err(UserSigError::Malformed);
    }
    let raw: RawDocument = serde_json::from_slice(&json).map_err(|_| UserSigError::Malformed)?;
    Ok(Document {
        app_id: number(&raw.app_id)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or(UserSigError::Malformed)?,
        time: number(&raw.time).ok_or(UserSigError::Malformed)?,
        expire: number(&raw.expire).ok_or(UserSigError::Malformed)?,
        identifier: raw.identifier,
        sig: raw.sig,
        userbuf: raw.userbuf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn key() -> UserSigKey {
        UserSigKey::new(
            1_400_000_000,
            "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e",
        )
    }

    #[test]
    fn minted_tokens_verify_until_they_expire() {
        let token = key().mint("alice", NOW, 3600);
        assert!(!token.contains(['+', '/', '=']));
        let claims = key().verify(&token, NOW + 3600).unwrap();
        assert_eq!(claims.identifier, "alice");
        assert_eq!(key().verify(&token, NOW + 3601), Err(UserSigError::Expired));
    }

    #[test]
    fn other_apps_and_other_secrets_are_refused() {
        let token = key().mint("alice", NOW, 3600);
        let other_app = UserSigKey::new(1_400_000_001, key().secret.clone());
        assert_eq!(other_app.verify(&token, NOW), Err(UserSigError::WrongApp));
        let other_secret = UserSigKey::new(1_400_000_000, "another-secret");
        assert_eq!(other_secret.verify(&token, NOW), Err(UserSigError::BadSignature));
    }

    #[test]
    fn other_spellings_of_a_genuine_token_are_malformed() {
        // Found by the UserSig fuzz suite: the padding `_` turned into `*` appended a byte after
        // the zlib stream, which was ignored, so the mutated token verified.
        let token = key().mint("af_", NOW, 45_005_974);
        assert!(token.ends_with('_'), "{token}");
        let trailing = format!("{}*", &token[..token.len() - 1]);
        assert_eq!(key().verify(&trailing, NOW), Err(UserSigError::Malformed));
        // And `+ / =` decoded as `* - _` do.
        let plus = token
            .replacen('*', "+", 1)
            .replacen('-', "/", 1)
            .replacen('_', "=", 1);
        assert_ne!(plus, token);
        assert_eq!(key().verify(&plus, NOW), Err(UserSigError::Malformed));
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in ["", "abc", "****", &"A".repeat(5000)] {
            assert_eq!(key().verify(bad, NOW), Err(UserSigError::Malformed), "{bad:.10}");
        }
    }

    #[test]
    fn tampered_identifier_breaks_the_signature() {
        // Re-encode a genuine document with a different identifier but the original signature.
        let token = key().mint("alice", NOW, 3600);
        let standard = token.replace('*', "+").replace('-', "/").replace('_', "=");
        let mut json = String::new();
        ZlibDecoder::new(STANDARD.decode(standard).unwrap().as_slice())
            .read_to_string(&mut json)
            .unwrap();
        let forged_json = json.replace("\"alice\"", "\"admin\"");
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(forged_json.as_bytes()).unwrap();
        let forged = STANDARD
            .encode(encoder.finish().unwrap())
            .replace('+', "*")
            .replace('/', "-")
            .replace('=', "_");
        assert_eq!(key().verify(&forged, NOW), Err(UserSigError::BadSignature));
    }

    /// Minted by Tencent's own `tls-sig-api-v2` 1.1 (PyPI) with `time.time()` pinned to 1764000000,
    /// for app 1400000000 and the secret of [`key`]: `gen_sig("alice", 86400)` and
    /// `gen_sig_with_userbuf("bob_1", 3600, b"room-42")`.
    const TENCENT_ALICE: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkEnMyk1NhUsUp2YkFBZkpQAlDEwMogMqlVhRkFqUCZSzMTOCCJZm5ICFDczMTFMXFmekgwx0r-cO80x0z-CuMiiMs-SJKgxItfdOrCrI8fQ2DMoMiCtxDDMK0fQtSPDxtlWoBAPwx-g__";
    const TENCENT_BOB_USERBUF: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkkvKT4g1hUsUp2YkFBZkpQAlDEwMogMqlVhRkFqUCZYzN4GIlmbkgEUNzMxMUtaXFqUVJpWkg85NzLcuSgg0MfNNtbeHWZKaDpEpSLaKSfHNMQk1TLMvyzBPDA8vDKnINPC3Diz0LXfOcss3Mc7wTLU0coyxslWoBIHo6SQ__";
    const TENCENT_TIME: i64 = 1_764_000_000;

    #[test]
    fn tokens_minted_by_tencents_library_are_accepted() {
        let alice = key().verify(TENCENT_ALICE, TENCENT_TIME + 60).unwrap();
        assert_eq!(
            alice,
            Claims {
                identifier: "alice".into(),
                issued_at: TENCENT_TIME,
                expire: 86400,
                userbuf: None,
            }
        );
        let bob = key().verify(TENCENT_BOB_USERBUF, TENCENT_TIME + 3600).unwrap();
        assert_eq!(bob.identifier, "bob_1");
        assert_eq!(bob.userbuf.as_deref(), Some("cm9vbS00Mg=="));
        assert!(!bob.is_guest());
        assert_eq!(
            key().verify(TENCENT_ALICE, TENCENT_TIME + 86401),
            Err(UserSigError::Expired)
        );
        let other_secret = UserSigKey::new(1_400_000_000, "x");
        assert_eq!(
            other_secret.verify(TENCENT_BOB_USERBUF, TENCENT_TIME),
            Err(UserSigError::BadSignature)
        );
    }

    #[test]
    fn our_tokens_have_tencents_layout() {
        // Decoding our token yields the same JSON keys Tencent's library writes.
        let token = key().mint("alice", TENCENT_TIME, 86400);
        let doc = decode(&token).unwrap();
        assert_eq!(
            (doc.identifier.as_str(), doc.app_id, doc.time, doc.expire),
            ("alice", 1_400_000_000, TENCENT_TIME, 86400)
        );
        // Same inputs, same signature as the fixture minted by Tencent's code.
        assert_eq!(doc.sig, decode(TENCENT_ALICE).unwrap().sig);
    }

    #[test]
    fn the_guest_mark_is_signed_with_the_token() {
        let guest = key().mint_with_userbuf("guest_1", NOW, 60, Some(GUEST_USERBUF));
        assert!(key().verify(&guest, NOW).unwrap().is_guest());
        assert!(
            !key()
                .verify(&key().mint("guest_1", NOW, 60), NOW)
                .unwrap()
                .is_guest()
        );
        // Stripping the mark from a guest token breaks its signature.
        let mut doc: serde_json::Value = {
            let standard = guest.replace('*', "+").replace('-', "/").replace('_', "=");
            let mut json = String::new();
            ZlibDecoder::new(STANDARD.decode(standard).unwrap().as_slice())
                .read_to_string(&mut json)
                .unwrap();
            serde_json::from_str(&json).unwrap()
        };
        doc.as_object_mut().unwrap().remove("TLS.userbuf");
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(doc.to_string().as_bytes()).unwrap();
        let stripped = STANDARD
            .encode(encoder.finish().unwrap())
            .replace('+', "*")
            .replace('/', "-")
            .replace('=', "_");
        assert_eq!(key().verify(&stripped, NOW), Err(UserSigError::BadSignature));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        assert!(!format!("{:?}", key()).contains("5bd2850f"));
    }
}
