//! Media objects (images, files, voice) that clients upload and download directly, with
//! short-lived presigned URLs, so the bytes never pass through a Lambda function.

use crate::error::Error;
use crate::ids::UserId;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::time::Duration;

/// The longest a presigned URL may stay valid: SigV4 refuses anything over seven days.
pub const MAX_URL_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// A media key that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid media key: {0}")]
pub struct InvalidMediaKey(pub &'static str);

impl From<InvalidMediaKey> for Error {
    fn from(err: InvalidMediaKey) -> Self {
        Error::InvalidField(err.to_string())
    }
}

/// Where one media object lives: `media/<userId>/<name>`, the uploader's id first so that a
/// user's objects share a prefix. `<name>` is one or more `/`-separated segments of letters,
/// digits, `_`, `-` and `.`, none of them `.` or `..`; at most [`MediaKey::MAX_LEN`] bytes in all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MediaKey(String);

impl MediaKey {
    /// Longest accepted key, in bytes (S3's limit).
    pub const MAX_LEN: usize = 1024;
    /// The prefix every key starts with.
    pub const PREFIX: &'static str = "media/";

    /// Validates `raw` and wraps it.
    pub fn parse(raw: impl Into<String>) -> Result<Self, InvalidMediaKey> {
        let raw = raw.into();
        if raw.len() > Self::MAX_LEN {
            return Err(InvalidMediaKey("longer than 1024 bytes"));
        }
        let rest = raw
            .strip_prefix(Self::PREFIX)
            .ok_or(InvalidMediaKey("does not start with `media/`"))?;
        let (owner, name) = rest
            .split_once('/')
            .ok_or(InvalidMediaKey("has no object name after the user id"))?;
        UserId::parse(owner).map_err(|_| InvalidMediaKey("the user id is not valid"))?;
        check_name(name)?;
        Ok(Self(raw))
    }

    /// The key of `name` uploaded by `owner`.
    pub fn new(owner: &UserId, name: &str) -> Result<Self, InvalidMediaKey> {
        Self::parse(format!("{}{owner}/{name}", Self::PREFIX))
    }

    /// The uploader's user id (the second segment).
    pub fn owner(&self) -> &str {
        // `parse` guarantees the prefix and the `/` after the user id.
        let rest = &self.0[Self::PREFIX.len()..];
        rest.split_once('/').map_or(rest, |(owner, _)| owner)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Segments of safe characters only, so that a key is the same string in a URL path, an S3 key
/// and a file path, and can never climb out of its owner's prefix.
fn check_name(name: &str) -> Result<(), InvalidMediaKey> {
    for segment in name.split('/') {
        if segment.is_empty() {
            return Err(InvalidMediaKey("has an empty path segment"));
        }
        if segment == "." || segment == ".." {
            return Err(InvalidMediaKey("has a `.` or `..` segment"));
        }
        if !segment
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        {
            return Err(InvalidMediaKey("contains a character that is not allowed"));
        }
    }
    Ok(())
}

impl fmt::Display for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for MediaKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for MediaKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for MediaKey {
    type Err = InvalidMediaKey;
    fn from_str(s: &str) -> Result<Self, InvalidMediaKey> {
        Self::parse(s)
    }
}

/// A request a client may make without credentials until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUrl {
    /// The full URL, signature in the query string.
    pub url: String,
    /// The HTTP method the signature is for (`PUT` or `GET`).
    pub method: String,
    /// Headers the client must send exactly as given (they are part of the signature).
    pub headers: Vec<(String, String)>,
    /// When the URL stops working, ms since the epoch.
    pub expires_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_well_formed_keys_when_parsed_then_accepted_with_their_owner() {
        for raw in ["media/alice/photo.jpg", "media/bob_1/2026/11/a-b_c.v2.png"] {
            let key = MediaKey::parse(raw).expect(raw);
            assert_eq!(key.as_str(), raw);
        }
        assert_eq!(MediaKey::parse("media/alice/x/y").unwrap().owner(), "alice");
    }

    #[test]
    fn given_malformed_keys_when_parsed_then_refused() {
        let too_long = format!("media/alice/{}", "a".repeat(1020));
        for raw in [
            "",
            "/media/alice/x",
            "media/alice",
            "media/alice/",
            "media//x",
            "media/alice/../bob/x",
            "media/alice/./x",
            "media/alice/a//b",
            "media/al ice/x",
            "media/alice/x?y",
            "uploads/alice/x",
            "media/alice/caf\u{e9}",
            too_long.as_str(),
        ] {
            assert!(MediaKey::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn given_an_owner_and_a_name_when_keyed_then_the_owner_prefixes_the_key() {
        let owner = UserId::parse("alice").unwrap();
        assert_eq!(
            MediaKey::new(&owner, "a/b.png").unwrap().as_str(),
            "media/alice/a/b.png"
        );
        assert!(MediaKey::new(&owner, "../bob/b.png").is_err());
    }

    #[test]
    fn given_a_bad_key_when_converted_to_the_core_error_then_it_is_an_input_error() {
        let err: Error = MediaKey::parse("media/alice/..").unwrap_err().into();
        assert!(!err.is_internal());
    }
}
