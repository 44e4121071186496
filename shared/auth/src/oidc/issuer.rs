//! Trusted issuer configuration.

use crate::error::IssuerConfigError;
use serde::Deserialize;
use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;

/// An OpenID Connect provider whose ID tokens Cirrus accepts.
///
/// Deserializes from `{"alias": "cognito", "issuer": "https://…", "audiences": ["client-id"],
/// "jwksUrl": "https://…/.well-known/jwks.json"}`, or with `"jwksFile": "path"` instead of `jwksUrl`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawTrustedIssuer")]
pub struct TrustedIssuer {
    /// Short name, the prefix of the user ids of this issuer's subjects: 1–15 bytes of `a-z`, `0-9`, `-`.
    pub alias: String,
    /// The issuer identifier; a token's `iss` must equal it exactly.
    pub issuer: String,
    /// The accepted `aud` values (our OAuth client ids at this provider); a token must name one.
    pub audiences: Vec<String>,
    /// Where the provider's signing keys are published.
    pub jwks: JwksSource,
}

/// Where a JWKS comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// An `https://` URL (plain `http://` only on a loopback host, for local stacks and tests).
    Url(String),
    /// A file on local disk.
    File(PathBuf),
}

impl TrustedIssuer {
    /// Longest alias, in bytes: it leaves at least 16 hex digits of hash in a 32-byte user id.
    pub const MAX_ALIAS_LEN: usize = 15;

    /// Parses and validates a JSON array of trusted issuers (see [`TrustedIssuer`] for the format).
    pub fn list_from_json(json: &str) -> Result<Vec<Self>, IssuerConfigError> {
        let issuers: Vec<Self> = serde_json::from_str(json)?;
        check_list(&issuers)?;
        Ok(issuers)
    }

    /// Checks the rules of one entry: alias format, a non-empty issuer and audiences, a usable JWKS URL.
    pub fn validate(&self) -> Result<(), IssuerConfigError> {
        let invalid = |reason| {
            Err(IssuerConfigError::Invalid {
                alias: self.alias.clone(),
                reason,
            })
        };
        let alias_ok = (1..=Self::MAX_ALIAS_LEN).contains(&self.alias.len())
            && self
                .alias
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        if !alias_ok {
            return invalid("alias must be 1-15 bytes of a-z, 0-9 and -");
        }
        if self.issuer.is_empty() {
            return invalid("issuer must not be empty");
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return invalid("audiences must be a non-empty list of non-empty strings");
        }
        match &self.jwks {
            JwksSource::Url(url) if !jwks_url_allowed(url) => {
                invalid("jwksUrl must be an https URL (http only on a loopback host)")
            }
            JwksSource::File(path) if path.as_os_str().is_empty() => invalid("jwksFile must not be empty"),
            _ => Ok(()),
        }
    }
}

/// Checks every entry, and that no alias or issuer appears twice.
pub(crate) fn check_list(issuers: &[TrustedIssuer]) -> Result<(), IssuerConfigError> {
    let mut aliases = HashSet::new();
    let mut iss = HashSet::new();
    for issuer in issuers {
        issuer.validate()?;
        if !aliases.insert(issuer.alias.as_str()) {
            return Err(IssuerConfigError::DuplicateAlias(issuer.alias.clone()));
        }
        if !iss.insert(issuer.issuer.as_str()) {
            return Err(IssuerConfigError::DuplicateIssuer(issuer.issuer.clone()));
        }
    }
    Ok(())
}

fn jwks_url_allowed(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => match url.host_str() {
            Some("localhost") => true,
            Some(host) => host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()),
            None => false,
        },
        _ => false,
    }
}

/// The JSON form, before the one-of `jwksUrl` / `jwksFile` rule and validation.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawTrustedIssuer {
    alias: String,
    issuer: String,
    audiences: Vec<String>,
    jwks_url: Option<String>,
    jwks_file: Option<PathBuf>,
}

impl TryFrom<RawTrustedIssuer> for TrustedIssuer {
    type Error = IssuerConfigError;

    fn try_from(raw: RawTrustedIssuer) -> Result<Self, IssuerConfigError> {
        let jwks = match (raw.jwks_url, raw.jwks_file) {
            (Some(url), None) => JwksSource::Url(url),
            (None, Some(path)) => JwksSource::File(path),
            _ => {
                return Err(IssuerConfigError::Invalid {
                    alias: raw.alias,
                    reason: "exactly one of jwksUrl and jwksFile is required",
                });
            }
        };
        let issuer = Self {
            alias: raw.alias,
            issuer: raw.issuer,
            audiences: raw.audiences,
            jwks,
        };
        issuer.validate()?;
        Ok(issuer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_url_and_file_sources() {
        // GIVEN a list with one issuer of each JWKS source
        let json = r#"[
            {"alias":"cognito","issuer":"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",
             "audiences":["client-id"],
             "jwksUrl":"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"},
            {"alias":"local-idp","issuer":"http://127.0.0.1:9000","audiences":["a","b"],"jwksFile":"keys.json"}
        ]"#;
        // WHEN it is parsed
        let issuers = TrustedIssuer::list_from_json(json).unwrap();
        // THEN both entries come out with their sources
        assert_eq!(issuers.len(), 2);
        assert_eq!(issuers[0].alias, "cognito");
        assert_eq!(issuers[0].audiences, ["client-id"]);
        assert_eq!(
            issuers[0].jwks,
            JwksSource::Url(
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json".into()
            )
        );
        assert_eq!(issuers[1].jwks, JwksSource::File("keys.json".into()));
    }

    #[test]
    fn rejects_bad_entries() {
        let entry = |fields: &str| format!(r#"[{{"issuer":"https://i","audiences":["a"],{fields}}}]"#);
        for (fields, why) in [
            (r#""alias":"x""#, "no JWKS source"),
            (
                r#""alias":"x","jwksUrl":"https://k","jwksFile":"k""#,
                "both JWKS sources",
            ),
            (
                r#""alias":"x","jwksUrl":"http://example.com/jwks""#,
                "plain http to a remote host",
            ),
            (r#""alias":"x","jwksUrl":"not a url""#, "not a URL"),
            (
                r#""alias":"has_underscore","jwksFile":"k""#,
                "underscore in alias",
            ),
            (r#""alias":"UPPER","jwksFile":"k""#, "upper case alias"),
            (r#""alias":"sixteen-bytes-xx","jwksFile":"k""#, "alias too long"),
            (r#""alias":"","jwksFile":"k""#, "empty alias"),
            (r#""alias":"x","jwksFile":"k","extra":1"#, "unknown field"),
        ] {
            assert!(
                TrustedIssuer::list_from_json(&entry(fields)).is_err(),
                "{why} should be rejected"
            );
        }
        let no_audience = r#"[{"alias":"x","issuer":"https://i","audiences":[],"jwksFile":"k"}]"#;
        assert!(TrustedIssuer::list_from_json(no_audience).is_err());
    }

    #[test]
    fn accepts_http_only_on_loopback() {
        for url in [
            "http://localhost:8080/jwks",
            "http://127.0.0.1/jwks",
            "http://[::1]:1/jwks",
        ] {
            assert!(jwks_url_allowed(url), "{url}");
        }
        for url in [
            "http://10.0.0.1/jwks",
            "ftp://localhost/jwks",
            "https://",
            "file:///etc/jwks.json",
        ] {
            assert!(!jwks_url_allowed(url), "{url}");
        }
    }

    #[test]
    fn rejects_duplicate_issuers_and_aliases() {
        let two = |a2: &str, i2: &str| {
            format!(
                r#"[{{"alias":"a","issuer":"https://i","audiences":["x"],"jwksFile":"k"}},
                    {{"alias":"{a2}","issuer":"{i2}","audiences":["x"],"jwksFile":"k"}}]"#
            )
        };
        assert!(matches!(
            TrustedIssuer::list_from_json(&two("a", "https://j")),
            Err(IssuerConfigError::DuplicateAlias(_))
        ));
        assert!(matches!(
            TrustedIssuer::list_from_json(&two("b", "https://i")),
            Err(IssuerConfigError::DuplicateIssuer(_))
        ));
        assert!(TrustedIssuer::list_from_json(&two("b", "https://j")).is_ok());
    }
}
