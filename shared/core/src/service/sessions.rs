//! Connection lifecycle: recording connections at `$connect` (and displacing older ones under the
//! multi-device policy), forgetting them at `$disconnect`.

use crate::callbacks::CallbackCommand;
use crate::clock::Clock;
use crate::devices::platform_of;
use crate::error::{Error, Result};
use crate::ids::{ConnectionId, UserId};
use crate::limits::Limits;
use crate::ports::Connection;
use crate::ports::{AccountStore, ConnectionGateway, ConnectionStore};
use crate::protocol::{Kicked, event, events};
use crate::service::callback_hooks::{CallbackHooks, Fields};
use crate::service::presence::platforms;
use crate::service::{Ports, PresenceService, StoreSource};
use bytes::Bytes;
use serde_json::json;
use std::sync::Arc;

/// The `session.kicked` reason of a connection displaced by a newer login.
pub const KICKED_BY_LOGIN: &str = "login_elsewhere";

/// API Gateway closes every WebSocket after two hours; records expire with it.
pub const MAX_CONNECTION_MS: i64 = 2 * 60 * 60 * 1000;

/// Records and forgets connections.
pub struct SessionService {
    ports: SessionPorts,
    presence: Arc<PresenceService>,
}

/// `State.StateChange` of a connection made: Tencent's `Login` / `Register`.
const LOGIN: (&str, &str) = ("Login", "Register");
/// Of connections closed by a logout or a kick: `Logout` / `Unregister`.
const LOGOUT: (&str, &str) = ("Logout", "Unregister");
/// Of a connection that went away: `Disconnect` / `LinkClose`.
const DISCONNECT: (&str, &str) = ("Disconnect", "LinkClose");

/// What the connection lifecycle uses.
#[derive(Clone)]
pub struct SessionPorts {
    /// Connection records.
    pub connections: Arc<dyn ConnectionStore>,
    /// Accounts (each login is noted).
    pub accounts: Arc<dyn AccountStore>,
    /// Telling and closing displaced connections.
    pub gateway: Arc<dyn ConnectionGateway>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The device policy.
    pub limits: Limits,
    /// The app's `State.StateChange` callback.
    pub callbacks: CallbackHooks,
}

impl SessionPorts {
    /// The sessions' ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            connections: ports.stores.connections(),
            accounts: ports.stores.accounts(),
            gateway: ports.gateway.clone(),
            clock: ports.clock.clone(),
            limits: ports.limits.clone(),
            callbacks: CallbackHooks::of(ports),
        }
    }
}

impl SessionService {
    /// A session service over `ports`, announcing presence changes through `presence`.
    pub fn new(ports: SessionPorts, presence: Arc<PresenceService>) -> Self {
        Self { ports, presence }
    }

    /// A session service over the process's ports.
    pub fn from_ports<S: StoreSource>(ports: &Ports<S>, presence: Arc<PresenceService>) -> Self {
        Self::new(SessionPorts::of(ports), presence)
    }

    /// Records that `user` connected on `id`, and (unless a guest, who has no account) notes the
    /// login on their account, creating it at their first login.
    pub async fn connect(
        &self,
        id: ConnectionId,
        user: UserId,
        platform: Option<String>,
        guest: bool,
    ) -> Result<Connection> {
        if let Some(platform) = &platform {
            let valid = !platform.is_empty()
                && platform.len() <= 32
                && platform
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
            if !valid {
                return Err(Error::InvalidField(
                    "platform must be 1-32 letters, digits, _ or -".to_owned(),
                ));
            }
        }
        let now = self.ports.clock.now_ms();
        let connection = Connection {
            id,
            user,
            platform,
            connected_at: now,
            expires_at: now + MAX_CONNECTION_MS,
        };
        if guest {
            self.ports.connections.put_connection(&connection).await?;
        } else {
            // Both writes at once, but neither cancelled by the other's failure: a login that was
            // not noted must not leave its connection record behind (the connection is refused,
            // and a record would make the user look online).
            let (put, login) = futures_util::future::join(
                self.ports.connections.put_connection(&connection),
                self.ports.accounts.record_login(&connection.user, now),
            )
            .await;
            if let Err(err) = login {
                if put.is_ok()
                    && let Err(undo) = self.ports.connections.delete_connection(&connection.id).await
                {
                    tracing::warn!(connection = %connection.id.fingerprint(), error = %undo, "could not drop the record of a refused connection");
                }
                return Err(err);
            }
            put?;
        }
        let kicked = self.displace_older(&connection).await;
        if !guest {
            self.state_changed(&connection.user, LOGIN, &kicked).await;
        }
        Ok(connection)
    }

    /// Queues `State.StateChange` for `user`: `(Action, Reason)` as Tencent names them, and the
    /// platforms a login displaced (`KickedDevice`).
    async fn state_changed(&self, user: &UserId, (action, reason): (&str, &str), kicked: &[String]) {
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(CallbackCommand::StateChange, || {
                let mut fields = Fields::new();
                fields.insert("EventTime".into(), json!(now));
                fields.insert(
                    "Info".into(),
                    json!({"Action": action, "To_Account": user.as_str(), "Reason": reason}),
                );
                if !kicked.is_empty() {
                    let devices: Vec<_> = kicked.iter().map(|p| json!({"Platform": p})).collect();
                    fields.insert("KickedDevice".into(), json!(devices));
                }
                fields
            })
            .await;
    }

    /// The user's live connections now.
    async fn live(&self, user: &UserId) -> Result<Vec<Connection>> {
        let now = self.ports.clock.now_ms();
        self.ports.connections.connections_of(user, now).await
    }

    /// Closes the connections `new` displaces under the device policy, each told why first with
    /// `session.kicked`, and drops their records. Failures are logged: the new connection stands
    /// either way. Two logins racing may both see (or both miss) each other; the policy holds again
    /// at the next login. Returns the displaced connections' platforms.
    async fn displace_older(&self, new: &Connection) -> Vec<String> {
        let others = match self
            .ports
            .connections
            .connections_of(&new.user, new.connected_at)
            .await
        {
            Ok(others) => others,
            Err(err) => {
                tracing::warn!(user = %new.user, error = %err, "could not apply the device policy");
                return Vec::new();
            }
        };
        let displaced = self.ports.limits.devices.displaced(new, &others);
        // The index the list comes from may lag (DynamoDB's is eventually consistent): the new
        // connection counts whether it is listed or not.
        let before = platforms(others.iter().filter(|c| c.id != new.id));
        let kept = others
            .iter()
            .filter(|c| c.id != new.id && !displaced.iter().any(|d| d.id == c.id));
        let after = platforms(kept.chain(std::iter::once(new)));
        self.presence.announce(&new.user, &before, &after).await;
        if displaced.is_empty() {
            return Vec::new();
        }
        self.kick(&displaced, KICKED_BY_LOGIN, Some(platform_of(new)))
            .await;
        tracing::info!(
            user = %new.user,
            displaced = displaced.len(),
            by = platform_of(new),
            policy = %self.ports.limits.devices,
            "connections displaced by a newer login"
        );
        displaced.iter().map(|c| platform_of(c).to_owned()).collect()
    }

    /// Tells each connection why with `session.kicked`, closes it and drops its record; failures
    /// are logged and the rest go on.
    async fn kick(&self, connections: &[&Connection], reason: &str, by_platform: Option<&str>) {
        let frame = Bytes::from(event(events::SESSION_KICKED, &Kicked { reason, by_platform }));
        for old in connections {
            if let Err(err) = self.ports.gateway.post(&old.id, frame.clone()).await {
                tracing::warn!(connection = %old.id.fingerprint(), error = %err, "could not tell a kicked connection");
            }
            if let Err(err) = self.ports.gateway.close(&old.id).await {
                tracing::warn!(connection = %old.id.fingerprint(), error = %err, "could not close a kicked connection");
            }
            if let Err(err) = self.ports.connections.delete_connection(&old.id).await {
                tracing::warn!(connection = %old.id.fingerprint(), error = %err, "could not drop a kicked connection");
            }
        }
    }

    /// Kicks every live connection of `user` but `except` (`session.kicked` with `reason`, then
    /// closed); returns how many.
    pub async fn kick_all(
        &self,
        user: &UserId,
        reason: &str,
        except: Option<&ConnectionId>,
    ) -> Result<usize> {
        let now = self.ports.clock.now_ms();
        let all = self.ports.connections.connections_of(user, now).await?;
        let before = platforms(&all);
        let (kept, connections): (Vec<Connection>, Vec<Connection>) =
            all.into_iter().partition(|c| Some(&c.id) == except);
        self.kick(&connections.iter().collect::<Vec<_>>(), reason, None)
            .await;
        // Their records are gone before their `$disconnect` runs, so the change is told here.
        self.presence.announce(user, &before, &platforms(&kept)).await;
        if !connections.is_empty() {
            tracing::info!(user = %user, count = connections.len(), reason, "connections kicked");
            self.state_changed(user, LOGOUT, &[]).await;
        }
        Ok(connections.len())
    }

    /// Forgets connection `id`, telling the user's presence subscribers if that changed what
    /// they see; returns its record if there was one. When the remaining connections cannot be
    /// read nothing is announced: better no news than a false "offline" for a user still
    /// connected elsewhere.
    pub async fn disconnect(&self, id: &ConnectionId) -> Result<Option<Connection>> {
        let gone = self.ports.connections.delete_connection(id).await?;
        if let Some(connection) = &gone {
            let mut remaining = match self.live(&connection.user).await {
                Ok(remaining) => remaining,
                Err(err) => {
                    tracing::warn!(user = %connection.user, error = %err, "could not list connections; presence not announced");
                    return Ok(gone);
                }
            };
            // A lagging index may still list the connection just deleted.
            remaining.retain(|c| c.id != connection.id);
            let after = platforms(&remaining);
            let before = platforms(remaining.iter().chain(std::iter::once(connection)));
            self.presence.announce(&connection.user, &before, &after).await;
            self.state_changed(&connection.user, DISCONNECT, &[]).await;
        }
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::AccountKind;
    use crate::devices::DevicePolicy;
    use crate::error::ErrorCode;
    use crate::ports::SubscriptionStore;
    use crate::service::fakes::{START_MS, World, conn, user};
    use serde_json::json;

    async fn connect(sessions: &SessionService, id: &str, who: &str, platform: Option<&str>) -> Connection {
        sessions
            .connect(conn(id), user(who), platform.map(str::to_owned), false)
            .await
            .unwrap()
    }

    fn kicked_by(platform: &str) -> (String, serde_json::Value) {
        let data = json!({"reason": KICKED_BY_LOGIN, "byPlatform": platform});
        (events::SESSION_KICKED.to_owned(), data)
    }

    fn presence(platforms: &[&str], status: &str) -> (String, serde_json::Value) {
        let data = json!({
            "userId": "alice", "online": !platforms.is_empty(), "status": status, "platforms": platforms,
        });
        (events::PRESENCE_CHANGED.to_owned(), data)
    }

    #[tokio::test]
    async fn given_a_user_when_connecting_then_the_record_lasts_two_hours_and_the_login_is_noted() {
        let world = World::new();
        let sessions = world.services().sessions;
        // WHEN alice connects on web
        let connection = connect(&sessions, "web1", "alice", Some("web")).await;
        // THEN the record lives for API Gateway's two hours from now
        assert_eq!(connection.connected_at, START_MS);
        assert_eq!(connection.expires_at, START_MS + 2 * 60 * 60 * 1000);
        assert_eq!(world.connections.record("web1"), Some(connection));
        // AND her first login created her account
        let account = world.accounts.get("alice").unwrap();
        assert_eq!(account.kind, AccountKind::FirstLogin);
        assert_eq!(account.last_login_at, Some(START_MS));
        // WHEN she connects again a minute later THEN the login moves, the account stays hers
        world.clock.advance(60_000);
        connect(&sessions, "ios1", "alice", Some("ios")).await;
        let account = world.accounts.get("alice").unwrap();
        assert_eq!(
            (account.created_at, account.last_login_at),
            (START_MS, Some(START_MS + 60_000))
        );
        // AND a guest's connection is recorded without giving them an account
        let guest = sessions
            .connect(conn("g1"), user("guest-7"), None, true)
            .await
            .unwrap();
        assert_eq!(world.connections.record("g1"), Some(guest));
        assert_eq!(world.accounts.get("guest-7"), None);
    }

    #[tokio::test]
    async fn given_a_bad_platform_when_connecting_then_refused_and_nothing_recorded() {
        let world = World::new();
        let sessions = world.services().sessions;
        let too_long = "a".repeat(33);
        for platform in ["", too_long.as_str(), "we b", "web/1", "wéb"] {
            // WHEN alice connects naming that platform
            let err = sessions
                .connect(conn("c1"), user("alice"), Some(platform.to_owned()), false)
                .await
                .unwrap_err();
            // THEN the connect is refused before anything is written
            assert_eq!(err.code(), ErrorCode::InvalidField, "{platform:?}");
        }
        assert!(world.connections.ids_of("alice").is_empty());
        assert_eq!(world.accounts.get("alice"), None);
        // AND 32 letters, digits, _ and - are a platform
        let longest = format!("ios_17-beta{}", "x".repeat(21));
        connect(&sessions, "c1", "alice", Some(&longest)).await;
        assert_eq!(world.connections.ids_of("alice"), ["c1"]);
    }

    #[tokio::test]
    async fn given_one_connection_per_platform_when_web_logs_in_again_then_the_older_web_is_kicked() {
        // GIVEN the per-platform policy and alice on web, then on ios
        let world = World::new().with_limits(|l| l.devices = DevicePolicy::OnePerPlatform);
        let sessions = world.services().sessions;
        connect(&sessions, "web1", "alice", Some("web")).await;
        world.clock.advance(1_000);
        connect(&sessions, "ios1", "alice", Some("ios")).await;
        world.clock.advance(1_000);
        // WHEN she logs in on web again
        connect(&sessions, "web2", "alice", Some("web")).await;
        // THEN the older web connection is told why, closed and forgotten
        assert_eq!(world.gateway.events_to("web1"), [kicked_by("web")]);
        assert_eq!(world.gateway.closed(), ["web1"]);
        assert_eq!(world.connections.ids_of("alice"), ["ios1", "web2"]);
        // AND the ios connection and the new one hear nothing
        assert!(world.gateway.events_to("ios1").is_empty());
        assert!(world.gateway.events_to("web2").is_empty());
    }

    #[tokio::test]
    async fn given_a_single_connection_when_ios_logs_in_then_every_other_is_kicked_and_told_once() {
        // GIVEN the single policy, alice on web and on an unnamed client, bob watching her
        let world = World::new().with_limits(|l| l.devices = DevicePolicy::Single);
        let sessions = world.services().sessions;
        world.online("bob", "bob1", Some("web"));
        world
            .subscriptions
            .subscribe(&user("bob"), &[user("alice")])
            .await
            .unwrap();
        world.online("alice", "web1", Some("web"));
        world.clock.advance(1_000);
        world.online("alice", "anon1", None);
        world.clock.advance(1_000);
        // WHEN she logs in on ios
        connect(&sessions, "ios1", "alice", Some("ios")).await;
        // THEN both older connections are kicked by ios, oldest first
        assert_eq!(world.gateway.events_to("web1"), [kicked_by("ios")]);
        assert_eq!(world.gateway.events_to("anon1"), [kicked_by("ios")]);
        assert_eq!(world.gateway.closed(), ["web1", "anon1"]);
        assert_eq!(world.connections.ids_of("alice"), ["ios1"]);
        // AND bob sees her move to ios in one change
        assert_eq!(world.gateway.events_to("bob1"), [presence(&["ios"], "online")]);
        // WHEN a kicked socket's `$disconnect` arrives THEN it finds no record and tells nobody
        assert_eq!(sessions.disconnect(&conn("web1")).await.unwrap(), None);
        assert_eq!(world.gateway.sent().len(), 3);
    }

    #[tokio::test]
    async fn given_two_per_platform_when_more_log_in_then_the_oldest_live_one_goes_and_lapsed_ones_do_not_count()
     {
        // GIVEN up to two per platform and a web connection of alice's two hours old
        let world = World::new().with_limits(|l| l.devices = DevicePolicy::Multiple { per_platform: 2 });
        let sessions = world.services().sessions;
        connect(&sessions, "web1", "alice", Some("web")).await;
        world.clock.advance(MAX_CONNECTION_MS);
        // WHEN she opens two more web tabs THEN the lapsed one does not count against them
        connect(&sessions, "web2", "alice", Some("web")).await;
        world.clock.advance(1);
        connect(&sessions, "web3", "alice", Some("web")).await;
        assert!(world.gateway.sent().is_empty());
        // WHEN a third live tab opens THEN the oldest live one is displaced, and only it
        world.clock.advance(1);
        connect(&sessions, "web4", "alice", Some("web")).await;
        assert_eq!(world.gateway.events_to("web2"), [kicked_by("web")]);
        assert_eq!(world.gateway.closed(), ["web2"]);
        // (the lapsed record stays until its `$disconnect`; nothing lists it)
        assert_eq!(world.connections.ids_of("alice"), ["web1", "web3", "web4"]);
    }

    #[tokio::test]
    async fn given_a_watcher_when_connections_come_and_go_then_only_platform_changes_are_told() {
        // GIVEN bob subscribed to alice's presence
        let world = World::new();
        let sessions = world.services().sessions;
        world.online("bob", "bob1", Some("web"));
        world
            .subscriptions
            .subscribe(&user("bob"), &[user("alice")])
            .await
            .unwrap();
        // WHEN alice connects on web, on web again, on ios, then leaves one by one
        connect(&sessions, "web1", "alice", Some("web")).await;
        connect(&sessions, "web2", "alice", Some("web")).await;
        connect(&sessions, "ios1", "alice", Some("ios")).await;
        for id in ["web1", "web2", "ios1"] {
            assert!(sessions.disconnect(&conn(id)).await.unwrap().is_some(), "{id}");
        }
        // THEN bob hears each change of her platforms, and the last says she is offline but still
        // logged in (she did not log out)
        assert_eq!(
            world.gateway.events_to("bob1"),
            [
                presence(&["web"], "online"),
                presence(&["ios", "web"], "online"),
                presence(&["ios"], "online"),
                presence(&[], "offline"),
            ]
        );
        assert!(world.connections.ids_of("alice").is_empty());
        // AND forgetting an unknown connection is no change
        assert_eq!(sessions.disconnect(&conn("nope")).await.unwrap(), None);
        assert_eq!(world.gateway.sent().len(), 4);
    }

    /// Connection records that stop listing alice's connections when told to (a store failing
    /// between the delete and the read of `$disconnect`).
    struct ListingFails {
        inner: Arc<crate::service::fakes::MemConnections>,
        failing: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl ConnectionStore for ListingFails {
        async fn put_connection(&self, connection: &Connection) -> Result<()> {
            self.inner.put_connection(connection).await
        }
        async fn delete_connection(&self, id: &ConnectionId) -> Result<Option<Connection>> {
            self.inner.delete_connection(id).await
        }
        async fn get_connection(&self, id: &ConnectionId, now: i64) -> Result<Option<Connection>> {
            self.inner.get_connection(id, now).await
        }
        async fn connections_of(&self, user: &UserId, now: i64) -> Result<Vec<Connection>> {
            // Only alice's: bob's are read to tell him anything.
            if self.failing.load(std::sync::atomic::Ordering::SeqCst) && user.as_str() == "alice" {
                return Err(Error::store("connections unreadable"));
            }
            self.inner.connections_of(user, now).await
        }
    }

    #[tokio::test]
    async fn given_the_remaining_connections_unreadable_when_one_disconnects_then_nothing_is_announced() {
        // GIVEN bob watching alice, who is on web and on ios
        let world = World::new();
        let mut ports = world.ports();
        let store = Arc::new(ListingFails {
            inner: world.connections.clone(),
            failing: false.into(),
        });
        ports.stores.connections = store.clone();
        let presence = Arc::new(PresenceService::from_ports(&ports));
        let sessions = SessionService::from_ports(&ports, presence);
        world.online("bob", "bob1", Some("web"));
        world
            .subscriptions
            .subscribe(&user("bob"), &[user("alice")])
            .await
            .unwrap();
        connect(&sessions, "web1", "alice", Some("web")).await;
        connect(&sessions, "ios1", "alice", Some("ios")).await;
        let told = world.gateway.events_to("bob1").len();
        // WHEN web disconnects while her connections cannot be read
        store.failing.store(true, std::sync::atomic::Ordering::SeqCst);
        let gone = sessions.disconnect(&conn("web1")).await.unwrap();
        // THEN the record is gone, and bob is not told she went offline (she has not)
        assert_eq!(gone.map(|c| c.id), Some(conn("web1")));
        assert_eq!(world.gateway.events_to("bob1").len(), told);
        assert_eq!(world.connections.ids_of("alice"), ["ios1"]);
    }

    /// Accounts whose login notes fail (a store error at `$connect`).
    struct LoginFails(Arc<crate::service::fakes::MemAccounts>);

    #[async_trait::async_trait]
    impl AccountStore for LoginFails {
        async fn create_accounts(&self, accounts: &[crate::accounts::Account]) -> Result<Vec<bool>> {
            self.0.create_accounts(accounts).await
        }
        async fn get_accounts(&self, users: &[UserId]) -> Result<Vec<crate::accounts::Account>> {
            self.0.get_accounts(users).await
        }
        async fn delete_accounts(&self, users: &[UserId], through: i64) -> Result<Vec<bool>> {
            self.0.delete_accounts(users, through).await
        }
        async fn tokens_valid_after(&self, user: &UserId) -> Result<i64> {
            self.0.tokens_valid_after(user).await
        }
        async fn record_login(&self, _: &UserId, _: i64) -> Result<crate::accounts::Account> {
            Err(Error::store("accounts unwritable"))
        }
        async fn record_logout(
            &self,
            user: &UserId,
            now: i64,
            through: Option<i64>,
        ) -> Result<Option<crate::accounts::Account>> {
            self.0.record_logout(user, now, through).await
        }
        async fn set_password(&self, user: &UserId, hash: &str, now: i64, through: i64) -> Result<bool> {
            self.0.set_password(user, hash, now, through).await
        }
        async fn note_login_failure(&self, key: &str, now: i64, window: i64) -> Result<u32> {
            self.0.note_login_failure(key, now, window).await
        }
        async fn login_failures(&self, key: &str, now: i64, window: i64) -> Result<u32> {
            self.0.login_failures(key, now, window).await
        }
        async fn clear_login_failures(&self, key: &str) -> Result<()> {
            self.0.clear_login_failures(key).await
        }
    }

    #[tokio::test]
    async fn given_the_login_note_failing_when_connecting_then_refused_and_no_record_is_left() {
        // GIVEN accounts that cannot note a login
        let world = World::new();
        let mut ports = world.ports();
        ports.stores.accounts = Arc::new(LoginFails(world.accounts.clone()));
        let presence = Arc::new(PresenceService::from_ports(&ports));
        let sessions = SessionService::from_ports(&ports, presence);
        // WHEN alice connects
        let refused = sessions
            .connect(conn("web1"), user("alice"), Some("web".to_owned()), false)
            .await;
        // THEN the connection is refused and nothing of it stays behind
        assert_eq!(refused.unwrap_err().code(), ErrorCode::Internal);
        assert!(world.connections.ids_of("alice").is_empty());
        assert!(world.gateway.sent().is_empty());
    }
}
