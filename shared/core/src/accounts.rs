//! Accounts: who may log in, how the account came to be, and what revokes their tokens.

use crate::ids::UserId;

/// How an account came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// Created ahead of its first login by the app server (admin import).
    Imported,
    /// Created at its first login with an app-minted UserSig (independent mode, not imported).
    FirstLogin,
    /// Registered with a password (hosted mode).
    Registered,
    /// Created at its first login with an OpenID Connect ID token (third-party account).
    Federated,
}

impl AccountKind {
    /// The kind as stored and shown in admin replies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Imported => "imported",
            Self::FirstLogin => "first_login",
            Self::Registered => "registered",
            Self::Federated => "federated",
        }
    }

    /// Reads a stored kind; `None` for text this version does not know.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "imported" => Some(Self::Imported),
            "first_login" => Some(Self::FirstLogin),
            "registered" => Some(Self::Registered),
            "federated" => Some(Self::Federated),
            _ => None,
        }
    }
}

/// One user's account record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user.
    pub user: UserId,
    /// How the account came to exist.
    pub kind: AccountKind,
    /// When it was created, ms since the epoch.
    pub created_at: i64,
    /// Display name given at import (profiles own it afterwards).
    pub nickname: Option<String>,
    /// Avatar URL given at import.
    pub face_url: Option<String>,
    /// The argon2id PHC string of a registered account's password; never logged or returned.
    pub password_hash: Option<String>,
    /// Tokens issued at or before this second (since the epoch) are refused; 0 revokes nothing.
    pub tokens_valid_after: i64,
    /// The last successful connection, ms since the epoch.
    pub last_login_at: Option<i64>,
    /// The last explicit logout (or admin kick), ms since the epoch.
    pub last_logout_at: Option<i64>,
}

impl Account {
    /// A fresh account of `kind` created at `now` (ms), with nothing else set.
    pub fn new(user: UserId, kind: AccountKind, now: i64) -> Self {
        Self {
            user,
            kind,
            created_at: now,
            nickname: None,
            face_url: None,
            password_hash: None,
            tokens_valid_after: 0,
            last_login_at: None,
            last_logout_at: None,
        }
    }

    /// Whether a token issued at `issued_at` (seconds) is still acceptable for this account.
    pub fn accepts_token_issued_at(&self, issued_at: i64) -> bool {
        issued_at > self.tokens_valid_after
    }

    /// Logged in: connected at least once since the last logout or kick.
    pub fn is_logged_in(&self) -> bool {
        match (self.last_login_at, self.last_logout_at) {
            (Some(login), Some(logout)) => login > logout,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// The prefix of generated guest ids; registration refuses it, so such an id names a guest.
pub const GUEST_PREFIX: &str = "guest_";

/// The user id of the app administrator when `CIRRUS_ADMIN_USER` is not set (Tencent's default).
pub const DEFAULT_ADMIN: &str = "administrator";

/// Which ways in are open, and how long the tokens Cirrus mints itself live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPolicy {
    /// The administrator: the only identity whose UserSig authorizes the server REST API.
    pub admin: UserId,
    /// Hosted mode: register and log in with a password.
    pub hosted: bool,
    /// Guest tokens: live rooms only (plus C2C when `guest_c2c`).
    pub guests: bool,
    /// Whether guests may send and read one-to-one messages.
    pub guest_c2c: bool,
    /// Lifetime of the UserSigs the login endpoints mint, in seconds.
    pub token_ttl_secs: i64,
    /// Lifetime of guest tokens, in seconds.
    pub guest_ttl_secs: i64,
    /// Failed password logins allowed per user id within `failure_window_ms`.
    pub max_failures_per_user: u32,
    /// Failed password logins allowed per source address within `failure_window_ms`.
    pub max_failures_per_source: u32,
    /// The window failed logins are counted in.
    pub failure_window_ms: i64,
}

impl Default for AccountPolicy {
    /// Hosted and guest modes off (the app's own accounts, as Tencent IM), 7-day tokens, 1-hour
    /// guest tokens, 5 failures per user and 20 per address in 15 minutes.
    fn default() -> Self {
        Self {
            admin: UserId::parse(DEFAULT_ADMIN).unwrap_or_else(|_| unreachable!("a valid id")),
            hosted: false,
            guests: false,
            guest_c2c: false,
            token_ttl_secs: 7 * 24 * 3600,
            guest_ttl_secs: 3600,
            max_failures_per_user: 5,
            max_failures_per_source: 20,
            failure_window_ms: 15 * 60 * 1000,
        }
    }
}

/// The issue time for a token minted now for `account`: never at or before its revocation second,
/// so a token minted right after a logout or password change is accepted.
pub fn issue_time(account: Option<&Account>, now_secs: i64) -> i64 {
    account.map_or(now_secs, |a| now_secs.max(a.tokens_valid_after + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account::new(UserId::parse("alice").unwrap(), AccountKind::Imported, 1_000)
    }

    #[test]
    fn kinds_round_trip_through_their_stored_text() {
        for kind in [
            AccountKind::Imported,
            AccountKind::FirstLogin,
            AccountKind::Registered,
            AccountKind::Federated,
        ] {
            assert_eq!(AccountKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AccountKind::parse("guest"), None);
    }

    #[test]
    fn tokens_issued_at_or_before_the_revocation_second_are_refused() {
        let mut account = account();
        assert!(account.accepts_token_issued_at(1));
        account.tokens_valid_after = 100;
        assert!(!account.accepts_token_issued_at(99));
        assert!(!account.accepts_token_issued_at(100));
        assert!(account.accepts_token_issued_at(101));
    }

    #[test]
    fn minted_tokens_are_issued_after_the_revocation_second() {
        let mut account = account();
        assert_eq!(issue_time(None, 50), 50);
        assert_eq!(issue_time(Some(&account), 50), 50);
        account.tokens_valid_after = 50;
        assert_eq!(issue_time(Some(&account), 50), 51);
        assert!(account.accepts_token_issued_at(issue_time(Some(&account), 50)));
    }

    #[test]
    fn logged_in_means_a_login_after_the_last_logout() {
        let mut account = account();
        assert!(!account.is_logged_in());
        account.last_login_at = Some(10);
        assert!(account.is_logged_in());
        account.last_logout_at = Some(20);
        assert!(!account.is_logged_in());
        account.last_login_at = Some(30);
        assert!(account.is_logged_in());
    }
}
