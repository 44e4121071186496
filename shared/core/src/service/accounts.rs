//! Accounts as the app server manages them (import, check, delete, kick, login status) and as a
//! user ends them (logout), with the token revocation both rely on.

use crate::accounts::{Account, AccountKind};
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::service::presence::platforms;
use crate::service::{Caller, Ports, SessionService};

/// The `session.kicked` reason when the administrator kicks a user.
pub const KICKED_BY_ADMIN: &str = "kicked_by_admin";
/// The `session.kicked` reason on a user's other connections when they log out.
pub const KICKED_BY_LOGOUT: &str = "logged_out";
/// The `session.kicked` reason when the account is deleted.
pub const KICKED_BY_DELETE: &str = "account_deleted";
/// The `session.kicked` reason when the password changes.
pub const KICKED_BY_PASSWORD: &str = "password_changed";

/// One account to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportItem {
    /// The user.
    pub user: UserId,
    /// Display name.
    pub nickname: Option<String>,
    /// Avatar URL.
    pub face_url: Option<String>,
}

/// What the admin API reports about one user's login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStatus {
    /// The user.
    pub user: UserId,
    /// Whether they have an account.
    pub exists: bool,
    /// Logged in (connected since their last logout or kick), connected right now or not.
    pub logged_in: bool,
    /// The platforms of their live connections (empty when offline), sorted.
    pub platforms: Vec<String>,
}

/// Longest nickname or avatar URL an import may carry, in bytes.
const MAX_IMPORT_FIELD: usize = 500;

/// Account management over the ports.
pub struct AccountService {
    ports: Ports,
    sessions: SessionService,
}

impl AccountService {
    /// An account service over `ports`.
    pub fn new(ports: Ports) -> Self {
        Self {
            sessions: SessionService::new(ports.clone()),
            ports,
        }
    }

    fn check_batch(&self, len: usize, what: &str) -> Result<()> {
        let max = self.ports.limits.max_account_batch;
        if len == 0 || len > max {
            return Err(Error::InvalidField(format!(
                "{what} must name 1 to {max} accounts"
            )));
        }
        Ok(())
    }

    /// Creates the accounts that do not exist yet (existing ones are left as they are); returns for
    /// each item whether it was created.
    pub async fn import(&self, items: Vec<ImportItem>) -> Result<Vec<bool>> {
        self.check_batch(items.len(), "the import")?;
        let now = self.ports.clock.now_ms();
        let mut accounts = Vec::with_capacity(items.len());
        for item in items {
            for field in [&item.nickname, &item.face_url].into_iter().flatten() {
                if field.len() > MAX_IMPORT_FIELD {
                    return Err(Error::InvalidField(format!(
                        "nickname and face URL may hold at most {MAX_IMPORT_FIELD} bytes"
                    )));
                }
            }
            let mut account = Account::new(item.user, AccountKind::Imported, now);
            account.nickname = item.nickname;
            account.face_url = item.face_url;
            accounts.push(account);
        }
        self.ports.accounts.create_accounts(&accounts).await
    }

    /// The account of each user, `None` where there is none, in the order asked.
    pub async fn check(&self, users: &[UserId]) -> Result<Vec<Option<Account>>> {
        self.check_batch(users.len(), "the check")?;
        let found = self.ports.accounts.get_accounts(users).await?;
        Ok(users
            .iter()
            .map(|user| found.iter().find(|a| &a.user == user).cloned())
            .collect())
    }

    /// Deletes the accounts and closes their connections; returns for each whether it existed.
    pub async fn delete(&self, users: &[UserId]) -> Result<Vec<bool>> {
        self.check_batch(users.len(), "the delete")?;
        let existed = self.ports.accounts.delete_accounts(users).await?;
        for user in users {
            self.sessions.kick_all(user, KICKED_BY_DELETE, None).await?;
        }
        Ok(existed)
    }

    /// Logs `user` out everywhere: every token issued so far is refused from now on and every
    /// connection is told (`session.kicked`) and closed. `false` if the user has no account.
    pub async fn kick(&self, user: &UserId) -> Result<bool> {
        let found = self.revoke(user).await?;
        self.sessions.kick_all(user, KICKED_BY_ADMIN, None).await?;
        Ok(found)
    }

    /// `auth.logout`: ends the caller's sessions on every device. Tokens are per user, not per
    /// device, so the other connections are told (`session.kicked`, `logged_out`) and closed too;
    /// the calling connection is closed by the caller after its reply.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        if caller.guest {
            // Guests have no account; their token simply lapses.
            return Ok(());
        }
        self.revoke(&caller.user).await?;
        self.sessions
            .kick_all(&caller.user, KICKED_BY_LOGOUT, caller.connection.as_ref())
            .await?;
        Ok(())
    }

    /// Refuses every token of `user` issued up to now and notes the logout.
    async fn revoke(&self, user: &UserId) -> Result<bool> {
        let now = self.ports.clock.now_ms();
        let revoked = self
            .ports
            .accounts
            .record_logout(user, now, Some(now.div_euclid(1000)))
            .await?;
        tracing::info!(user = %user, "tokens revoked");
        Ok(revoked.is_some())
    }

    /// Whether a token of `user` issued at `issued_at` (seconds) has not been revoked. Users
    /// without an account have nothing revoked.
    pub async fn token_current(&self, user: &UserId, issued_at: i64) -> Result<bool> {
        let account = self
            .ports
            .accounts
            .get_accounts(std::slice::from_ref(user))
            .await?;
        Ok(account
            .first()
            .is_none_or(|a| a.accepts_token_issued_at(issued_at)))
    }

    /// The account of `user`, if any.
    pub async fn get(&self, user: &UserId) -> Result<Option<Account>> {
        let mut found = self
            .ports
            .accounts
            .get_accounts(std::slice::from_ref(user))
            .await?;
        Ok(found.pop())
    }

    /// Creates an account of `kind` for `user` with an optional password hash; `false` if the user
    /// already has one (nothing changes then).
    pub async fn create(
        &self,
        user: &UserId,
        kind: AccountKind,
        password_hash: Option<String>,
    ) -> Result<bool> {
        let mut account = Account::new(user.clone(), kind, self.ports.clock.now_ms());
        account.password_hash = password_hash;
        let created = self.ports.accounts.create_accounts(&[account]).await?;
        Ok(created.first().copied().unwrap_or(false))
    }

    /// Replaces the password hash of `user`: every earlier token is refused and every connection
    /// is told (`session.kicked`, `password_changed`) and closed. `false` if there is no account.
    pub async fn change_password(&self, user: &UserId, password_hash: &str) -> Result<bool> {
        let now_secs = self.ports.clock.now_ms().div_euclid(1000);
        if !self
            .ports
            .accounts
            .set_password(user, password_hash, now_secs)
            .await?
        {
            return Ok(false);
        }
        self.sessions.kick_all(user, KICKED_BY_PASSWORD, None).await?;
        Ok(true)
    }

    /// Whether another password attempt may be made for every one of `keys` (a user id, a
    /// source address), each with its own allowance within the policy's window.
    pub async fn login_allowed(&self, keys: &[(&str, u32)]) -> Result<bool> {
        let now = self.ports.clock.now_ms();
        let window = self.ports.limits.accounts.failure_window_ms;
        for (key, allowed) in keys {
            if self.ports.accounts.login_failures(key, now, window).await? >= *allowed {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Counts a failed password attempt against each of `keys`.
    pub async fn note_failure(&self, keys: &[&str]) -> Result<()> {
        let now = self.ports.clock.now_ms();
        let window = self.ports.limits.accounts.failure_window_ms;
        for key in keys {
            self.ports.accounts.note_login_failure(key, now, window).await?;
        }
        Ok(())
    }

    /// Forgets the failures counted against `key` after a successful login.
    pub async fn clear_failures(&self, key: &str) -> Result<()> {
        self.ports.accounts.clear_login_failures(key).await
    }

    /// Login and online state of each user, in the order asked.
    pub async fn status(&self, users: &[UserId]) -> Result<Vec<LoginStatus>> {
        self.check_batch(users.len(), "the status query")?;
        Ok(crate::service::presence::sessions_of(&self.ports, users)
            .await?
            .into_iter()
            .map(|session| {
                let platforms: Vec<String> = platforms(&session.connections).into_iter().collect();
                LoginStatus {
                    exists: session.account.is_some(),
                    logged_in: !platforms.is_empty()
                        || session.account.as_ref().is_some_and(Account::is_logged_in),
                    user: session.user,
                    platforms,
                }
            })
            .collect())
    }
}
