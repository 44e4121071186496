//! The account settings a function reads from its environment, the same variables the local
//! stack's flags fall back to.

use cirrus_auth::{IssuerConfigError, TrustedIssuer};
use cirrus_core::accounts::{AccountPolicy, DEFAULT_ADMIN};
use cirrus_core::filter::{FilterMode, WordFilter};
use cirrus_core::ids::UserId;
use cirrus_core::limits::Limits;
use std::sync::Arc;

/// A setting that is present but unusable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A switch that is not `true`/`false` (or `1`/`0`, `on`/`off`, `yes`/`no`).
    #[error("{0} must be true or false")]
    NotASwitch(&'static str),
    /// `CIRRUS_ADMIN_USER` is not a valid user id.
    #[error("CIRRUS_ADMIN_USER is not a valid user id")]
    BadAdmin,
    /// A count setting that is not a positive number.
    #[error("{0} must be a positive number")]
    NotACount(&'static str),
    /// `CIRRUS_SENSITIVE_MODE` or the word list is unusable.
    #[error("the sensitive-word filter: {0}")]
    BadFilter(String),
    /// `CIRRUS_OIDC_ISSUERS` is not a valid issuer list.
    #[error("CIRRUS_OIDC_ISSUERS is not a valid issuer list")]
    BadIssuers(#[source] IssuerConfigError),
}

fn switch(name: &'static str, get: &impl Fn(&str) -> Option<String>) -> Result<bool, SettingsError> {
    match get(name).as_deref().map(str::trim) {
        None | Some("") => Ok(false),
        Some("1" | "true" | "on" | "yes") => Ok(true),
        Some("0" | "false" | "off" | "no") => Ok(false),
        Some(_) => Err(SettingsError::NotASwitch(name)),
    }
}

/// The account policy from `CIRRUS_ADMIN_USER`, `CIRRUS_HOSTED_ACCOUNTS`, `CIRRUS_GUESTS` and
/// `CIRRUS_GUEST_C2C` as `get` returns them (unset switches are off).
pub fn account_policy(get: impl Fn(&str) -> Option<String>) -> Result<AccountPolicy, SettingsError> {
    let admin = get("CIRRUS_ADMIN_USER")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN.to_owned());
    Ok(AccountPolicy {
        admin: UserId::parse(admin).map_err(|_| SettingsError::BadAdmin)?,
        hosted: switch("CIRRUS_HOSTED_ACCOUNTS", &get)?,
        guests: switch("CIRRUS_GUESTS", &get)?,
        guest_c2c: switch("CIRRUS_GUEST_C2C", &get)?,
        ..AccountPolicy::default()
    })
}

/// [`account_policy`] from the process environment.
pub fn account_policy_from_env() -> Result<AccountPolicy, SettingsError> {
    account_policy(|name| std::env::var(name).ok())
}

/// A positive count, if set (unset or empty: `None`).
fn count(name: &'static str, get: &impl Fn(&str) -> Option<String>) -> Result<Option<u32>, SettingsError> {
    match get(name).as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => match raw.parse::<u32>() {
            Ok(value) if value > 0 => Ok(Some(value)),
            _ => Err(SettingsError::NotACount(name)),
        },
    }
}

/// Applies `CIRRUS_MAX_FRIENDS` and `CIRRUS_MAX_BLOCKS` (as `get` returns them) to `limits`.
pub fn relationship_limits(
    limits: &mut Limits,
    get: impl Fn(&str) -> Option<String>,
) -> Result<(), SettingsError> {
    if let Some(max) = count("CIRRUS_MAX_FRIENDS", &get)? {
        limits.max_friends = max;
    }
    if let Some(max) = count("CIRRUS_MAX_BLOCKS", &get)? {
        limits.max_blocks = max;
    }
    Ok(())
}

/// Applies the message settings (as `get` returns them): `CIRRUS_MAX_BODY_BYTES`,
/// `CIRRUS_MAX_FILE_BYTES`, `CIRRUS_ROAMING_DAYS`,
/// `CIRRUS_MAX_CONVERSATION_MESSAGES`, `CIRRUS_RECALL_WINDOW_SECS` and
/// `CIRRUS_SENDER_PROFILE` (`true`, the default, or `false`).
pub fn message_limits(
    limits: &mut Limits,
    get: impl Fn(&str) -> Option<String>,
) -> Result<(), SettingsError> {
    if let Some(bytes) = count("CIRRUS_MAX_BODY_BYTES", &get)? {
        limits.max_body_bytes = bytes as usize;
    }
    if let Some(bytes) = count("CIRRUS_MAX_FILE_BYTES", &get)? {
        limits.max_file_bytes = u64::from(bytes);
    }
    if let Some(days) = count("CIRRUS_ROAMING_DAYS", &get)? {
        limits.roaming_ttl_ms = i64::from(days) * 24 * 3600 * 1000;
    }
    if let Some(max) = count("CIRRUS_MAX_CONVERSATION_MESSAGES", &get)? {
        limits.max_stream_messages = u64::from(max);
    }
    if let Some(secs) = count("CIRRUS_RECALL_WINDOW_SECS", &get)? {
        limits.recall_window_ms = i64::from(secs) * 1000;
    }
    if get("CIRRUS_SENDER_PROFILE").is_some_and(|raw| !raw.trim().is_empty()) {
        limits.sender_profile = switch("CIRRUS_SENDER_PROFILE", &get)?;
    }
    Ok(())
}

/// Every setting of this module from the process environment, applied to `limits`.
pub fn limits_from_env(limits: &mut Limits) -> Result<(), SettingsError> {
    limits.accounts = account_policy_from_env()?;
    let get = |name: &str| std::env::var(name).ok();
    relationship_limits(limits, get)?;
    message_limits(limits, get)
}

/// The sensitive-word filter from `CIRRUS_SENSITIVE_WORDS` (words separated by commas or lines;
/// unset or empty: none) and `CIRRUS_SENSITIVE_MODE` (`reject`, the default, or `mask`).
pub fn word_filter(get: impl Fn(&str) -> Option<String>) -> Result<Option<Arc<WordFilter>>, SettingsError> {
    let words = WordFilter::parse_list(&get("CIRRUS_SENSITIVE_WORDS").unwrap_or_default());
    let mode = match get("CIRRUS_SENSITIVE_MODE").as_deref().map(str::trim) {
        None | Some("") => FilterMode::Reject,
        Some(raw) => raw.parse().map_err(SettingsError::BadFilter)?,
    };
    Ok(WordFilter::new(words, mode)
        .map_err(SettingsError::BadFilter)?
        .map(Arc::new))
}

/// [`word_filter`] from the process environment.
pub fn word_filter_from_env() -> Result<Option<Arc<WordFilter>>, SettingsError> {
    word_filter(|name| std::env::var(name).ok())
}

/// The trusted issuers in `CIRRUS_OIDC_ISSUERS` (JSON; unset or empty: none).
pub fn oidc_issuers_from_env() -> Result<Vec<TrustedIssuer>, SettingsError> {
    match std::env::var("CIRRUS_OIDC_ISSUERS") {
        Ok(json) if !json.trim().is_empty() => {
            TrustedIssuer::list_from_json(&json).map_err(SettingsError::BadIssuers)
        }
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn policy(vars: &[(&str, &str)]) -> Result<AccountPolicy, SettingsError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        account_policy(|name| vars.get(name).cloned())
    }

    #[test]
    fn unset_means_tencents_defaults() {
        let policy = policy(&[]).unwrap();
        assert_eq!(policy, AccountPolicy::default());
        assert_eq!(policy.admin.as_str(), "administrator");
    }

    #[test]
    fn switches_and_the_admin_are_read() {
        let policy = policy(&[
            ("CIRRUS_ADMIN_USER", "ops"),
            ("CIRRUS_HOSTED_ACCOUNTS", "true"),
            ("CIRRUS_GUESTS", "1"),
            ("CIRRUS_GUEST_C2C", "off"),
        ])
        .unwrap();
        assert_eq!(policy.admin.as_str(), "ops");
        assert!(policy.hosted && policy.guests && !policy.guest_c2c);
    }

    #[test]
    fn relationship_limits_are_read_and_checked() {
        let mut limits = Limits::default();
        let vars = |name: &str| match name {
            "CIRRUS_MAX_FRIENDS" => Some("5000".to_owned()),
            _ => None,
        };
        relationship_limits(&mut limits, vars).unwrap();
        assert_eq!((limits.max_friends, limits.max_blocks), (5000, 1000));
        let zero = |name: &str| (name == "CIRRUS_MAX_BLOCKS").then(|| "0".to_owned());
        assert!(matches!(
            relationship_limits(&mut limits, zero),
            Err(SettingsError::NotACount("CIRRUS_MAX_BLOCKS"))
        ));
    }

    #[test]
    fn message_limits_are_read_and_checked() {
        let mut limits = Limits::default();
        let vars = |name: &str| match name {
            "CIRRUS_ROAMING_DAYS" => Some("30".to_owned()),
            "CIRRUS_MAX_CONVERSATION_MESSAGES" => Some("500".to_owned()),
            "CIRRUS_RECALL_WINDOW_SECS" => Some("600".to_owned()),
            "CIRRUS_SENDER_PROFILE" => Some("false".to_owned()),
            "CIRRUS_MAX_BODY_BYTES" => Some("4096".to_owned()),
            _ => None,
        };
        message_limits(&mut limits, vars).unwrap();
        assert_eq!(limits.max_body_bytes, 4096);
        assert_eq!(limits.roaming_ttl_ms, 30 * 24 * 3600 * 1000);
        assert_eq!(limits.max_stream_messages, 500);
        assert_eq!(limits.recall_window_ms, 600_000);
        assert!(!limits.sender_profile);
        let mut defaults = Limits::default();
        message_limits(&mut defaults, |_| None).unwrap();
        assert_eq!(defaults, Limits::default());
        let bad = |name: &str| (name == "CIRRUS_ROAMING_DAYS").then(|| "-1".to_owned());
        assert!(matches!(
            message_limits(&mut defaults, bad),
            Err(SettingsError::NotACount("CIRRUS_ROAMING_DAYS"))
        ));
    }

    #[test]
    fn the_word_filter_is_read_from_a_list_and_a_mode() {
        let none = word_filter(|_| None).unwrap();
        assert!(none.is_none());
        let vars = |name: &str| match name {
            "CIRRUS_SENSITIVE_WORDS" => Some("bad,worse".to_owned()),
            "CIRRUS_SENSITIVE_MODE" => Some("mask".to_owned()),
            _ => None,
        };
        assert!(format!("{:?}", word_filter(vars).unwrap()).contains("words: 2"));
        let bad_mode = |name: &str| match name {
            "CIRRUS_SENSITIVE_WORDS" => Some("bad".to_owned()),
            "CIRRUS_SENSITIVE_MODE" => Some("shout".to_owned()),
            _ => None,
        };
        assert!(matches!(word_filter(bad_mode), Err(SettingsError::BadFilter(_))));
    }

    #[test]
    fn unusable_values_are_errors() {
        assert!(matches!(
            policy(&[("CIRRUS_GUESTS", "maybe")]),
            Err(SettingsError::NotASwitch("CIRRUS_GUESTS"))
        ));
        assert!(matches!(
            policy(&[("CIRRUS_ADMIN_USER", "not valid")]),
            Err(SettingsError::BadAdmin)
        ));
    }
}
