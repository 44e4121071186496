//! The errors of this crate and their stable client-facing codes.
//!
//! `Display` and `source()` carry the detail for logs; clients only ever see `code()`.

/// Why a password was refused or could not be hashed. Never contains the password.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`crate::password::MIN_PASSWORD_LEN`] bytes.
    #[error("password is shorter than {min} bytes")]
    TooShort {
        /// The minimum length, in bytes.
        min: usize,
    },
    /// Longer than [`crate::password::MAX_PASSWORD_LEN`] bytes.
    #[error("password is longer than {max} bytes")]
    TooLong {
        /// The maximum length, in bytes.
        max: usize,
    },
    /// Nothing but whitespace.
    #[error("password is only whitespace")]
    Blank,
    /// argon2 failed (in practice: the OS random number generator failed).
    #[error("password hashing failed")]
    Hash(#[source] argon2::password_hash::Error),
}

impl PasswordError {
    /// The stable client-facing code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "password_too_short",
            Self::TooLong { .. } => "password_too_long",
            Self::Blank => "password_blank",
            Self::Hash(_) => "internal_error",
        }
    }
}

/// Why an ID token was refused. Each variant has one stable meaning and [`OidcError::code`].
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Not a well-formed JWS/JWT: bad shape, header, base64 or JSON, unsupported `alg` (`none`),
    /// no `iss`, `kid` or `exp`.
    #[error("malformed ID token: {0}")]
    Malformed(&'static str),
    /// The `iss` claim is not exactly the issuer of any trusted issuer.
    #[error("ID token issuer is not trusted")]
    UnknownIssuer,
    /// The header's `kid` is not in the issuer's JWKS, even after the rate-limited refetch.
    #[error("ID token key id is not in the issuer's JWKS")]
    UnknownKey,
    /// The signature does not verify, or `alg` is not one the issuer's key is for (e.g. HS256).
    #[error("ID token signature does not verify with the issuer's key")]
    BadSignature,
    /// `aud` is absent or names none of the issuer's configured audiences.
    #[error("ID token audience is not one of ours")]
    WrongAudience,
    /// `exp` is past, beyond the leeway.
    #[error("ID token has expired")]
    Expired,
    /// `nbf` is in the future, beyond the leeway.
    #[error("ID token is not valid yet")]
    NotYetValid,
    /// No `sub` claim, or an empty one.
    #[error("ID token has no subject")]
    MissingSubject,
    /// The issuer's JWKS could not be fetched or read.
    #[error("JWKS of trusted issuer `{alias}` is unavailable")]
    JwksUnavailable {
        /// The trusted issuer's alias.
        alias: String,
        /// What went wrong, for the logs.
        #[source]
        source: JwksError,
    },
}

impl OidcError {
    /// The stable client-facing code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "bad_id_token",
            Self::UnknownIssuer => "unknown_issuer",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::WrongAudience => "wrong_audience",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::MissingSubject => "missing_subject",
            Self::JwksUnavailable { .. } => "jwks_unavailable",
        }
    }
}

/// Why a JWKS could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The HTTP request failed, timed out or answered with an error status.
    #[error("JWKS request failed")]
    Http(#[from] reqwest::Error),
    /// The JWKS file could not be read.
    #[error("cannot read the JWKS file")]
    File(#[from] std::io::Error),
    /// The document is not a JWKS (`{"keys": [...]}`).
    #[error("the document is not a JWKS")]
    Json(#[from] serde_json::Error),
}

/// A trusted-issuer configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IssuerConfigError {
    /// The issuer list is not valid JSON, or an entry is invalid (the message says which rule).
    #[error("invalid trusted issuer list: {0}")]
    Json(#[from] serde_json::Error),
    /// An entry breaks a rule.
    #[error("trusted issuer `{alias}`: {reason}")]
    Invalid {
        /// The entry's alias, as given.
        alias: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// Two entries have the same alias.
    #[error("two trusted issuers have the alias `{0}`")]
    DuplicateAlias(String),
    /// Two entries have the same issuer, so `iss` would not pick one.
    #[error("two trusted issuers have the issuer `{0}`")]
    DuplicateIssuer(String),
    /// The HTTP client for fetching JWKS could not be built (TLS setup failed).
    #[error("cannot build the JWKS HTTP client")]
    HttpClient(#[source] reqwest::Error),
}
