//! Accounts as the app server manages them (import, check, delete, kick, login status) and as a
//! user ends them (logout), with the token revocation both rely on.

use crate::accounts::{Account, AccountKind};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::limits::Limits;
use crate::ports::{AccountStore, BlockStore, ConnectionStore, DeviceStore, ProfileStore, RelationStore};
use crate::service::presence::platforms;
use crate::service::{Caller, Ports, SessionService, StoreSource};
use crate::social::{Profile, RequestDirection};
use std::sync::Arc;

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

/// Longest nickname an import may carry, in bytes (as `profile.set`).
const MAX_IMPORT_NICK: usize = 100;
/// Longest avatar URL an import may carry, in bytes (as `profile.set`).
const MAX_IMPORT_FACE: usize = 500;
/// Entries read per page while a deleted account's relations are removed.
const PURGE_PAGE: u32 = 100;

/// Account management over the ports.
pub struct AccountService {
    ports: AccountPorts,
    sessions: Arc<SessionService>,
}

/// What account management uses.
#[derive(Clone)]
pub struct AccountPorts {
    /// Accounts and failed-login counters.
    pub accounts: Arc<dyn AccountStore>,
    /// Live connections (login status).
    pub connections: Arc<dyn ConnectionStore>,
    /// Profiles (an import's nickname and avatar; a deletion's profile).
    pub profiles: Arc<dyn ProfileStore>,
    /// Friend lists and requests (a deletion removes the account's, both sides).
    pub relations: Arc<dyn RelationStore>,
    /// Blacklists (a deletion removes the account's and those naming it).
    pub blocks: Arc<dyn BlockStore>,
    /// Push devices (a logout removes the user's).
    pub devices: Arc<dyn DeviceStore>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Batch limits and the account policy.
    pub limits: Limits,
}

impl AccountPorts {
    /// Account management's ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            accounts: ports.stores.accounts(),
            connections: ports.stores.connections(),
            profiles: ports.stores.profiles(),
            relations: ports.stores.relations(),
            blocks: ports.stores.blocks(),
            devices: ports.stores.devices(),
            clock: ports.clock.clone(),
            limits: ports.limits.clone(),
        }
    }
}

impl AccountService {
    /// An account service over `ports`, kicking connections through `sessions`.
    pub fn new(ports: AccountPorts, sessions: Arc<SessionService>) -> Self {
        Self { ports, sessions }
    }

    /// An account service over the process's ports.
    pub fn from_ports<S: StoreSource>(ports: &Ports<S>, sessions: Arc<SessionService>) -> Self {
        Self::new(AccountPorts::of(ports), sessions)
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

    /// Creates the accounts that do not exist yet (existing ones are left as they are, profile
    /// included); returns for each item whether it was created. A created account's nickname and
    /// avatar become its profile's, as if the user had set them with `profile.set`.
    pub async fn import(&self, items: Vec<ImportItem>) -> Result<Vec<bool>> {
        self.check_batch(items.len(), "the import")?;
        let now = self.ports.clock.now_ms();
        let mut accounts = Vec::with_capacity(items.len());
        for item in items {
            let too_long = |field: &Option<String>, max: usize| field.as_ref().is_some_and(|f| f.len() > max);
            if too_long(&item.nickname, MAX_IMPORT_NICK) || too_long(&item.face_url, MAX_IMPORT_FACE) {
                return Err(Error::InvalidField(format!(
                    "Nick may hold at most {MAX_IMPORT_NICK} bytes and FaceUrl {MAX_IMPORT_FACE}"
                )));
            }
            let mut account = Account::new(item.user, AccountKind::Imported, now);
            // Empty text is no value, as in `profile.set`.
            account.nickname = item.nickname.filter(|n| !n.is_empty());
            account.face_url = item.face_url.filter(|f| !f.is_empty());
            accounts.push(account);
        }
        let created = self.ports.accounts.create_accounts(&accounts).await?;
        for (account, _) in accounts.iter().zip(&created).filter(|(_, made)| **made) {
            if account.nickname.is_none() && account.face_url.is_none() {
                continue;
            }
            let profile = Profile {
                nickname: account.nickname.clone(),
                face_url: account.face_url.clone(),
                updated_at: now,
                ..Profile::default()
            };
            self.ports.profiles.put_profile(&account.user, &profile).await?;
        }
        Ok(created)
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

    /// Deletes the accounts with their profiles, refuses every token issued to them so far,
    /// removes their relations (friend entries on both sides, pending requests both ways, blocks
    /// both ways) and closes their connections; returns for each whether it existed. Messages
    /// already sent stay. The relations of every named user are removed, whether the account
    /// existed or not, so a deletion that failed half-way is finished by deleting again.
    pub async fn delete(&self, users: &[UserId]) -> Result<Vec<bool>> {
        self.check_batch(users.len(), "the delete")?;
        let now_secs = self.ports.clock.now_ms().div_euclid(1000);
        let existed = self.ports.accounts.delete_accounts(users, now_secs).await?;
        for user in users {
            // The user is out first: should removing the relations fail, a retry finishes them.
            self.sessions.kick_all(user, KICKED_BY_DELETE, None).await?;
            self.forget_relations(user).await?;
        }
        tracing::info!(count = users.len(), "accounts deleted");
        Ok(existed)
    }

    /// Removes every relation of `user`, page by page: their friend list and their entry in each
    /// friend's (a both-ways friendship goes in one step), the entries of those who added them
    /// one way (through the reverse index), pending requests both ways, their blocks and the
    /// blocks of them. Each pass moves a cursor forward, so it ends even while an eventually
    /// consistent index still lists what was just removed.
    async fn forget_relations(&self, user: &UserId) -> Result<()> {
        let (relations, blocks) = (&self.ports.relations, &self.ports.blocks);
        let mut after: Option<UserId> = None;
        loop {
            let page = relations.list_friends(user, after.as_ref(), PURGE_PAGE).await?;
            let pairs: Vec<(UserId, UserId)> = page
                .iter()
                .flat_map(|f| [(user.clone(), f.peer.clone()), (f.peer.clone(), user.clone())])
                .collect();
            relations.delete_friends(&pairs).await?;
            after = page.last().map(|f| f.peer.clone());
            if page.len() < PURGE_PAGE as usize {
                break;
            }
        }
        let mut after: Option<UserId> = None;
        loop {
            let owners = relations
                .list_friended_by(user, after.as_ref(), PURGE_PAGE)
                .await?;
            let pairs: Vec<(UserId, UserId)> = owners.iter().map(|o| (o.clone(), user.clone())).collect();
            relations.delete_friends(&pairs).await?;
            after = owners.last().cloned();
            if owners.len() < PURGE_PAGE as usize {
                break;
            }
        }
        for direction in [RequestDirection::Incoming, RequestDirection::Outgoing] {
            let mut after: Option<UserId> = None;
            loop {
                let page = relations
                    .list_requests(user, direction, after.as_ref(), PURGE_PAGE)
                    .await?;
                for request in &page {
                    relations.delete_request(&request.from, &request.to).await?;
                }
                after = page.last().map(|r| match direction {
                    RequestDirection::Incoming => r.from.clone(),
                    RequestDirection::Outgoing => r.to.clone(),
                });
                if page.len() < PURGE_PAGE as usize {
                    break;
                }
            }
        }
        let mut after: Option<UserId> = None;
        loop {
            let page = blocks.list_blocks(user, after.as_ref(), PURGE_PAGE).await?;
            let peers: Vec<UserId> = page.iter().map(|b| b.peer.clone()).collect();
            blocks.delete_blocks(user, &peers).await?;
            after = peers.last().cloned();
            if page.len() < PURGE_PAGE as usize {
                break;
            }
        }
        let mut after: Option<UserId> = None;
        loop {
            let owners = blocks.list_blocked_by(user, after.as_ref(), PURGE_PAGE).await?;
            for owner in &owners {
                blocks.delete_blocks(owner, std::slice::from_ref(user)).await?;
            }
            after = owners.last().cloned();
            if owners.len() < PURGE_PAGE as usize {
                break;
            }
        }
        Ok(())
    }

    /// Logs `user` out everywhere: every token issued so far is refused from now on and every
    /// connection is told (`session.kicked`) and closed. `false` if the user has no account.
    pub async fn kick(&self, user: &UserId) -> Result<bool> {
        let found = self.revoke(user).await?;
        self.sessions.kick_all(user, KICKED_BY_ADMIN, None).await?;
        Ok(found)
    }

    /// `auth.logout`: ends the caller's sessions on every device and removes their push devices. Tokens are per user, not per
    /// device, so the other connections are told (`session.kicked`, `logged_out`) and closed too;
    /// the calling connection is closed by the caller after its reply.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        if caller.guest {
            // Guests have no account; their token simply lapses.
            return Ok(());
        }
        self.revoke(&caller.user).await?;
        // Logged out everywhere: no device of theirs is pushed to until an app registers again.
        self.ports.devices.clear_devices(&caller.user).await?;
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

    /// Whether a token of `user` issued at `issued_at` (seconds) has not been revoked: by a
    /// logout, kick or password change on their account, or by the deletion of an account they
    /// had. Users who never had one have nothing revoked.
    pub async fn token_current(&self, user: &UserId, issued_at: i64) -> Result<bool> {
        let through = self.ports.accounts.tokens_valid_after(user).await?;
        Ok(issued_at > through)
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

    /// Replaces the password hash of `user`: every earlier token is refused, the user counts as
    /// logged out (as after `auth.logout`), and every connection is told (`session.kicked`,
    /// `password_changed`) and closed. `false` if there is no account.
    pub async fn change_password(&self, user: &UserId, password_hash: &str) -> Result<bool> {
        let now = self.ports.clock.now_ms();
        if !self
            .ports
            .accounts
            .set_password(user, password_hash, now, now.div_euclid(1000))
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
        let now = self.ports.clock.now_ms();
        let (connections, accounts) = (self.ports.connections.as_ref(), self.ports.accounts.as_ref());
        Ok(
            crate::service::presence::sessions_of(connections, accounts, users, now)
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
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::issue_time;
    use crate::error::ErrorCode;
    use crate::protocol::events;
    use crate::service::fakes::{START_MS, World, caller, user};
    use serde_json::json;

    /// The second the test clock starts in (tokens carry seconds).
    const START_SECS: i64 = START_MS / 1000;

    fn kicked(reason: &str) -> (String, serde_json::Value) {
        (events::SESSION_KICKED.to_owned(), json!({"reason": reason}))
    }

    #[tokio::test]
    async fn given_alice_on_two_devices_when_she_logs_out_on_one_then_the_other_is_kicked() {
        // GIVEN alice logged in on web and on ios
        let world = World::new();
        world.accounts.seen("alice", Some(START_MS), None);
        world.online("alice", "web1", Some("web"));
        world.online("alice", "ios1", Some("ios"));
        let service = world.services().accounts;
        // WHEN she logs out from web, 5.5 s later
        world.clock.advance(5_500);
        service.logout(&caller("alice", "web1")).await.unwrap();
        // THEN ios is told why, closed and forgotten
        assert_eq!(world.gateway.events_to("ios1"), [kicked(KICKED_BY_LOGOUT)]);
        assert_eq!(world.gateway.closed(), ["ios1"]);
        // AND the calling connection is left for its own reply and close
        assert!(world.gateway.events_to("web1").is_empty());
        assert_eq!(world.connections.ids_of("alice"), ["web1"]);
        // AND the logout is noted, revoking through the second it happened in
        let account = world.accounts.get("alice").unwrap();
        assert_eq!(account.last_logout_at, Some(START_MS + 5_500));
        assert_eq!(account.tokens_valid_after, START_SECS + 5);
        assert!(!account.is_logged_in());
    }

    #[tokio::test]
    async fn given_an_admin_kick_when_tokens_are_checked_then_those_issued_up_to_that_second_are_refused() {
        // GIVEN alice, connected, holding a token issued at the start second
        let world = World::new();
        world.accounts.seen("alice", Some(START_MS), None);
        world.online("alice", "web1", Some("web"));
        world.online("alice", "ios1", Some("ios"));
        let service = world.services().accounts;
        assert!(service.token_current(&user("alice"), START_SECS).await.unwrap());
        // WHEN the administrator kicks her 999 ms later, still in that second
        world.clock.advance(999);
        assert!(service.kick(&user("alice")).await.unwrap());
        // THEN every connection is told and closed
        assert_eq!(world.gateway.events_to("web1"), [kicked(KICKED_BY_ADMIN)]);
        assert_eq!(world.gateway.events_to("ios1"), [kicked(KICKED_BY_ADMIN)]);
        assert!(world.connections.ids_of("alice").is_empty());
        // AND tokens of that second or before are refused, a token minted now is accepted
        for (issued_at, current) in [
            (START_SECS - 60, false),
            (START_SECS, false),
            (START_SECS + 1, true),
        ] {
            assert_eq!(
                service.token_current(&user("alice"), issued_at).await.unwrap(),
                current,
                "issued at {issued_at}"
            );
        }
        let account = service.get(&user("alice")).await.unwrap();
        let minted = issue_time(account.as_ref(), START_SECS);
        assert!(service.token_current(&user("alice"), minted).await.unwrap());
        // AND an hour on, with no new kick, the same token is still good
        world.clock.advance(3_600_000);
        assert!(service.token_current(&user("alice"), minted).await.unwrap());
    }

    #[tokio::test]
    async fn given_no_account_when_kicked_or_checked_then_nothing_is_revoked() {
        // GIVEN a guest on two connections, with no account
        let world = World::new();
        world.online("guest-1", "g1", None);
        world.online("guest-1", "g2", None);
        let service = world.services().accounts;
        // WHEN the guest logs out THEN nothing is revoked and no connection is touched
        let guest = Caller {
            guest: true,
            ..caller("guest-1", "g1")
        };
        service.logout(&guest).await.unwrap();
        assert!(world.gateway.sent().is_empty());
        assert_eq!(world.connections.ids_of("guest-1"), ["g1", "g2"]);
        // WHEN zed, who has no account, is kicked THEN the answer is false and his tokens stand
        assert!(!service.kick(&user("zed")).await.unwrap());
        assert!(service.token_current(&user("zed"), START_SECS - 1).await.unwrap());
        assert_eq!(world.accounts.get("zed"), None);
    }

    #[tokio::test]
    async fn given_a_password_change_when_done_then_earlier_tokens_are_refused_and_every_connection_kicked() {
        // GIVEN alice registered and on web
        let world = World::new();
        world.accounts.seen("alice", Some(START_MS), None);
        world.online("alice", "web1", Some("web"));
        let service = world.services().accounts;
        // WHEN her password changes ten seconds on
        world.clock.advance(10_000);
        assert!(
            service
                .change_password(&user("alice"), "$argon2id$new")
                .await
                .unwrap()
        );
        // THEN the new hash is kept and tokens up to this second are refused
        let account = world.accounts.get("alice").unwrap();
        assert_eq!(account.password_hash.as_deref(), Some("$argon2id$new"));
        assert!(
            !service
                .token_current(&user("alice"), START_SECS + 10)
                .await
                .unwrap()
        );
        assert!(
            service
                .token_current(&user("alice"), START_SECS + 11)
                .await
                .unwrap()
        );
        // AND even the connection that asked is kicked
        assert_eq!(world.gateway.events_to("web1"), [kicked(KICKED_BY_PASSWORD)]);
        assert_eq!(world.gateway.closed(), ["web1"]);
        // WHEN a user with no account changes theirs THEN false, and nobody is kicked
        world.online("zed", "z1", None);
        assert!(!service.change_password(&user("zed"), "x").await.unwrap());
        assert_eq!(world.gateway.sent().len(), 1);
    }

    #[tokio::test]
    async fn given_accounts_when_deleted_then_their_connections_are_kicked_and_batches_are_bounded() {
        // GIVEN alice with an account and a connection; at most two accounts per call
        let world = World::new().with_limits(|l| l.max_account_batch = 2);
        world.accounts.seen("alice", Some(START_MS), None);
        world.online("alice", "a1", Some("web"));
        let service = world.services().accounts;
        // WHEN alice and zed (who has none) are deleted
        let existed = service.delete(&[user("alice"), user("zed")]).await.unwrap();
        // THEN the answer says which existed, and alice's connection is told and closed
        assert_eq!(existed, [true, false]);
        assert_eq!(world.accounts.get("alice"), None);
        assert_eq!(world.gateway.events_to("a1"), [kicked(KICKED_BY_DELETE)]);
        assert!(world.connections.ids_of("alice").is_empty());
        // WHEN none, or more than two, are named THEN the call is refused
        let three = [user("a"), user("b"), user("c")];
        for users in [&three[..0], &three[..]] {
            let err = service.delete(users).await.unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidField, "{} users", users.len());
        }
    }

    #[tokio::test]
    async fn given_failed_logins_when_the_window_passes_then_attempts_are_allowed_again() {
        // GIVEN a 15-minute window and two failures against alice
        let world = World::new();
        let service = world.services().accounts;
        let window = world.limits.accounts.failure_window_ms;
        assert_eq!(window, 15 * 60 * 1000);
        service.note_failure(&["alice", "10.0.0.1"]).await.unwrap();
        world.clock.advance(60_000);
        service.note_failure(&["alice"]).await.unwrap();
        // WHEN checked with an allowance of two for her and of five for the address
        // THEN she is held back, though the address alone would not be
        assert!(
            !service
                .login_allowed(&[("alice", 2), ("10.0.0.1", 5)])
                .await
                .unwrap()
        );
        assert!(service.login_allowed(&[("10.0.0.1", 5)]).await.unwrap());
        // WHEN the window since the first failure has passed THEN she may try again
        world.clock.set(START_MS + window);
        assert!(service.login_allowed(&[("alice", 2)]).await.unwrap());
        // AND a success clears the count at once
        world.clock.set(START_MS);
        service.clear_failures("alice").await.unwrap();
        assert!(service.login_allowed(&[("alice", 2)]).await.unwrap());
    }

    #[tokio::test]
    async fn given_an_import_with_nick_and_face_url_when_done_then_they_are_the_new_profile() {
        // GIVEN bob imported already, with a profile of his own
        let world = World::new();
        world.accounts.seen("bob", None, None);
        let bobs = Profile {
            nickname: Some("Bobby".to_owned()),
            ..Profile::default()
        };
        world.profiles.insert("bob", bobs.clone());
        let service = world.services().accounts;
        let item = |id: &str, nick: Option<&str>, face: Option<&str>| ImportItem {
            user: user(id),
            nickname: nick.map(str::to_owned),
            face_url: face.map(str::to_owned),
        };
        // WHEN ann and bob are imported with a nickname and avatar, and cat with an empty one
        let created = service
            .import(vec![
                item("ann", Some("Ann"), Some("https://example.com/ann.png")),
                item("bob", Some("Robert"), None),
                item("cat", Some(""), None),
            ])
            .await
            .unwrap();
        // THEN ann's profile carries them, bob's is as it was, cat has none stored
        assert_eq!(created, [true, false, true]);
        let ann = world.profiles.get("ann").unwrap();
        assert_eq!(ann.nickname.as_deref(), Some("Ann"));
        assert_eq!(ann.face_url.as_deref(), Some("https://example.com/ann.png"));
        assert_eq!(ann.updated_at, START_MS);
        assert_eq!(world.profiles.get("bob"), Some(bobs));
        assert_eq!(world.profiles.get("cat"), None);
        // WHEN a nickname is longer than profile.set allows THEN the import is refused whole
        let long = "n".repeat(101);
        let err = service
            .import(vec![item("dan", Some(&long), None)])
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidField);
        assert_eq!(world.accounts.get("dan"), None);
    }

    #[tokio::test]
    async fn given_an_account_with_relations_when_deleted_then_they_go_on_both_sides_and_its_tokens_are_refused()
     {
        use crate::ports::{BlockStore, RelationStore};
        use crate::social::{Block, Friend};
        // GIVEN alice with a profile; friends with bob both ways; carol has her one way and she
        // has dave one way; requests alice -> erin and frank -> alice; alice blocked gil, hal
        // blocked her; and bob friends with carol, which is none of alice's business
        let world = World::new();
        for id in ["alice", "bob", "carol", "dave", "erin", "frank", "gil", "hal"] {
            world.accounts.seen(id, Some(START_MS), None);
        }
        world.profiles.insert("alice", Profile::default());
        world.relations.befriend("alice", "bob", START_MS);
        world.relations.befriend("bob", "carol", START_MS);
        let one_way = |owner: &str, peer: &str| Friend {
            owner: user(owner),
            peer: user(peer),
            remark: None,
            groups: Vec::new(),
            added_at: START_MS,
        };
        world
            .relations
            .put_friends(&[one_way("carol", "alice"), one_way("alice", "dave")])
            .await
            .unwrap();
        world.relations.ask("alice", "erin", START_MS);
        world.relations.ask("frank", "alice", START_MS);
        world.blocks.block("alice", &["gil"], START_MS);
        world.blocks.block("hal", &["alice"], START_MS);
        world
            .blocks
            .put_blocks(&[Block {
                owner: user("hal"),
                peer: user("gil"),
                blocked_at: START_MS,
            }])
            .await
            .unwrap();
        world.online("alice", "a1", Some("web"));
        let service = world.services().accounts;
        assert!(service.token_current(&user("alice"), START_SECS).await.unwrap());
        // WHEN alice's account is deleted, a second on
        world.clock.advance(1_000);
        assert_eq!(service.delete(&[user("alice")]).await.unwrap(), [true]);
        // THEN her profile is gone, and nobody's list names her nor hers anybody
        assert_eq!(world.profiles.get("alice"), None);
        assert!(world.relations.friends_of("alice").is_empty());
        assert_eq!(world.relations.friends_of("bob"), ["carol"]);
        assert_eq!(world.relations.friends_of("carol"), ["bob"]);
        assert!(world.relations.requests().is_empty());
        assert!(world.blocks.of("alice").is_empty());
        assert_eq!(world.blocks.of("hal"), [("gil".to_owned(), START_MS)]);
        // AND her connection was told and closed
        assert_eq!(world.gateway.events_to("a1"), [kicked(KICKED_BY_DELETE)]);
        // AND the tokens issued up to the deletion are refused, even once the id connects again
        // and has a fresh account; a token minted after works
        assert!(
            !service
                .token_current(&user("alice"), START_SECS + 1)
                .await
                .unwrap()
        );
        world.clock.advance(1_000);
        world
            .services()
            .sessions
            .connect(crate::service::fakes::conn("a2"), user("alice"), None, false)
            .await
            .unwrap();
        let fresh = world.accounts.get("alice").unwrap();
        assert_eq!(fresh.kind, AccountKind::FirstLogin);
        assert!(
            !service
                .token_current(&user("alice"), START_SECS + 1)
                .await
                .unwrap()
        );
        assert!(
            service
                .token_current(&user("alice"), START_SECS + 2)
                .await
                .unwrap()
        );
        // AND her relations do not come back with the account
        assert!(world.relations.friends_of("alice").is_empty());
        assert_eq!(world.profiles.get("alice"), None);
    }

    #[tokio::test]
    async fn given_a_password_change_when_done_then_the_user_counts_as_logged_out() {
        // GIVEN alice, logged in, not connected
        let world = World::new();
        world.accounts.seen("alice", Some(START_MS), None);
        let service = world.services().accounts;
        let status = service.status(&[user("alice")]).await.unwrap();
        assert!(status[0].logged_in);
        // WHEN her password changes a minute on
        world.clock.advance(60_000);
        assert!(
            service
                .change_password(&user("alice"), "$argon2id$new")
                .await
                .unwrap()
        );
        // THEN the change counts as a logout everywhere, as the docs say
        let account = world.accounts.get("alice").unwrap();
        assert_eq!(account.last_logout_at, Some(START_MS + 60_000));
        let status = service.status(&[user("alice")]).await.unwrap();
        assert!(!status[0].logged_in);
    }
}
