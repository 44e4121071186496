//! Presence: who is online and on which platforms (`presence.get`), and telling subscribers when
//! that changes (`presence.subscribe`, `presence.changed`).
//!
//! Subscriptions are explicit and kept per user (they follow the user to every device), at most
//! `limits.max_presence_subscriptions` each. A change is told to at most
//! `limits.max_presence_watchers` subscribers, so one connect or disconnect has bounded work.

use crate::accounts::Account;
use crate::clock::Clock;
use crate::devices::platform_of;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::limits::Limits;
use crate::ports::Connection;
use crate::ports::{AccountStore, ConnectionStore, SubscriptionStore};
use crate::protocol::{PresenceRequest, PresenceStatus, SubscribeReply, UserPresence, event, events};
use crate::service::{Caller, Delivery, Ports, StoreSource, unique_user_ids};
use bytes::Bytes;
use futures_util::future::join_all;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Presence queries, subscriptions and change announcements.
#[derive(Clone)]
pub struct PresenceService {
    ports: PresencePorts,
}

/// What presence uses.
#[derive(Clone)]
pub struct PresencePorts {
    /// Live connections (who is online, where).
    pub connections: Arc<dyn ConnectionStore>,
    /// Accounts (logged out or never logged in).
    pub accounts: Arc<dyn AccountStore>,
    /// Who watches whom.
    pub subscriptions: Arc<dyn SubscriptionStore>,
    /// Telling subscribers.
    pub delivery: Delivery,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Batch and subscription limits.
    pub limits: Limits,
}

impl PresencePorts {
    /// Presence's ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            connections: ports.stores.connections(),
            accounts: ports.stores.accounts(),
            subscriptions: ports.stores.subscriptions(),
            delivery: ports.delivery(),
            clock: ports.clock.clone(),
            limits: ports.limits.clone(),
        }
    }
}

/// The sorted, distinct platforms of `connections`.
pub(crate) fn platforms<'a>(connections: impl IntoIterator<Item = &'a Connection>) -> BTreeSet<String> {
    connections
        .into_iter()
        .map(|c| platform_of(c).to_owned())
        .collect()
}

impl PresenceService {
    /// A presence service over `ports`.
    pub fn new(ports: PresencePorts) -> Self {
        Self { ports }
    }

    /// A presence service over the process's ports.
    pub fn from_ports<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self::new(PresencePorts::of(ports))
    }

    /// Validates 1 to `max_presence_batch` ids and drops repeats, keeping the first order.
    fn users(&self, request: PresenceRequest) -> Result<Vec<UserId>> {
        unique_user_ids(request.user_ids, self.ports.limits.max_presence_batch)
    }

    /// Whether each user is online and on which platforms, from their live connection records.
    pub async fn get(&self, request: PresenceRequest) -> Result<Vec<UserPresence>> {
        let users = self.users(request)?;
        self.of(users).await
    }

    async fn of(&self, users: Vec<UserId>) -> Result<Vec<UserPresence>> {
        let now = self.ports.clock.now_ms();
        Ok(sessions_of(
            self.ports.connections.as_ref(),
            self.ports.accounts.as_ref(),
            &users,
            now,
        )
        .await?
        .into_iter()
        .map(|session| {
            presence_of(
                &session.user,
                platforms(&session.connections),
                session.account.as_ref(),
            )
        })
        .collect())
    }

    /// Subscribes the caller to the users' presence changes; answers with their presence now.
    pub async fn subscribe(&self, caller: &Caller, request: PresenceRequest) -> Result<SubscribeReply> {
        let users = self.users(request)?;
        let store = &self.ports.subscriptions;
        let mut current: BTreeSet<UserId> = store.subscriptions_of(&caller.user).await?.into_iter().collect();
        let max = self.ports.limits.max_presence_subscriptions;
        current.extend(users.iter().cloned());
        if current.len() > max {
            return Err(Error::LimitExceeded(format!(
                "at most {max} presence subscriptions per user"
            )));
        }
        store.subscribe(&caller.user, &users).await?;
        Ok(SubscribeReply {
            users: self.of(users).await?,
            subscriptions: current.len(),
        })
    }

    /// Ends the caller's subscriptions to these users.
    pub async fn unsubscribe(&self, caller: &Caller, request: PresenceRequest) -> Result<SubscribeReply> {
        let users = self.users(request)?;
        let store = &self.ports.subscriptions;
        store.unsubscribe(&caller.user, &users).await?;
        Ok(SubscribeReply {
            users: Vec::new(),
            subscriptions: store.subscriptions_of(&caller.user).await?.len(),
        })
    }

    /// Tells `user`'s subscribers (`presence.changed`) if their platforms went from `before` to
    /// `after`. Failures are logged: presence is advisory and the change already happened.
    pub async fn announce(&self, user: &UserId, before: &BTreeSet<String>, after: &BTreeSet<String>) {
        if before == after {
            return;
        }
        let limit = self.ports.limits.max_presence_watchers;
        let subscribers = match self.ports.subscriptions.subscribers_of(user, limit).await {
            Ok(subscribers) => subscribers,
            Err(err) => {
                tracing::warn!(user = %user, error = %err, "could not read presence subscribers");
                return;
            }
        };
        if subscribers.is_empty() {
            return;
        }
        // Gone offline: whether still logged in is the account's to say (a kick, logout or
        // delete has already been recorded when its connections close).
        let account = if after.is_empty() {
            match self.ports.accounts.get_accounts(std::slice::from_ref(user)).await {
                Ok(mut found) => found.pop(),
                Err(err) => {
                    tracing::warn!(user = %user, error = %err, "could not read the account for presence");
                    None
                }
            }
        } else {
            None
        };
        let frame = Bytes::from(event(
            events::PRESENCE_CHANGED,
            &presence_of(user, after.clone(), account.as_ref()),
        ));
        let now = self.ports.clock.now_ms();
        let posts = subscribers
            .iter()
            .map(|subscriber| self.ports.delivery.to_user(subscriber, frame.clone(), None, now));
        for result in join_all(posts).await {
            if let Err(err) = result {
                tracing::warn!(user = %user, error = %err, "could not tell a presence subscriber");
            }
        }
    }
}

/// A user's presence from their connected platforms and account.
fn presence_of(user: &UserId, platforms: BTreeSet<String>, account: Option<&Account>) -> UserPresence {
    let status = if !platforms.is_empty() {
        PresenceStatus::Online
    } else if account.is_some_and(Account::is_logged_in) {
        PresenceStatus::Offline
    } else {
        PresenceStatus::LoggedOut
    };
    UserPresence {
        user_id: user.to_string(),
        online: !platforms.is_empty(),
        status,
        platforms: platforms.into_iter().collect(),
    }
}

/// One user's live connections and account, as presence and login status read them.
pub(crate) struct Sessions {
    /// The user.
    pub user: UserId,
    /// Their unexpired connections.
    pub connections: Vec<Connection>,
    /// Their account, if they have one.
    pub account: Option<Account>,
}

/// The live connections and account of each of `users`, in order (the connection lookups run
/// concurrently with the one batched account read).
pub(crate) async fn sessions_of(
    connections: &dyn ConnectionStore,
    accounts: &dyn AccountStore,
    users: &[UserId],
    now: i64,
) -> Result<Vec<Sessions>> {
    let lookups = users.iter().map(|user| connections.connections_of(user, now));
    let (found, mut accounts) = futures_util::future::try_join(
        futures_util::future::try_join_all(lookups),
        accounts.get_accounts(users),
    )
    .await?;
    Ok(users
        .iter()
        .zip(found)
        .map(|(user, connections)| Sessions {
            user: user.clone(),
            connections,
            account: accounts
                .iter()
                .position(|a| &a.user == user)
                .map(|at| accounts.swap_remove(at)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::service::fakes::{START_MS, World, caller, ids, user};
    use crate::service::sessions::MAX_CONNECTION_MS;
    use serde_json::json;

    fn request(users: &[&str]) -> PresenceRequest {
        PresenceRequest { user_ids: ids(users) }
    }

    fn status(presence: &UserPresence) -> (&str, bool, PresenceStatus, Vec<&str>) {
        let platforms = presence.platforms.iter().map(String::as_str).collect();
        (
            presence.user_id.as_str(),
            presence.online,
            presence.status,
            platforms,
        )
    }

    fn set(platforms: &[&str]) -> BTreeSet<String> {
        platforms.iter().map(|&p| p.to_owned()).collect()
    }

    #[tokio::test]
    async fn given_users_in_every_state_when_presence_is_asked_then_each_gets_its_status() {
        // GIVEN alice on two web tabs and ios, bob logged in but offline, carol logged out and
        // dave never seen
        let world = World::new();
        world.online("alice", "a1", Some("web"));
        world.online("alice", "a2", Some("web"));
        world.online("alice", "a3", Some("ios"));
        world.accounts.seen("bob", Some(START_MS - 10), None);
        world
            .accounts
            .seen("carol", Some(START_MS - 10), Some(START_MS - 5));
        let service = world.services().presence;
        // WHEN asked about all four, alice twice
        let found = service
            .get(request(&["alice", "bob", "carol", "dave", "alice"]))
            .await
            .unwrap();
        // THEN one entry each, in the order asked, platforms sorted and distinct
        let found: Vec<_> = found.iter().map(status).collect();
        assert_eq!(
            found,
            [
                ("alice", true, PresenceStatus::Online, vec!["ios", "web"]),
                ("bob", false, PresenceStatus::Offline, vec![]),
                ("carol", false, PresenceStatus::LoggedOut, vec![]),
                ("dave", false, PresenceStatus::LoggedOut, vec![]),
            ]
        );
    }

    #[tokio::test]
    async fn given_a_connection_two_hours_old_when_presence_is_asked_then_it_has_lapsed() {
        // GIVEN alice, logged in, connected at the start
        let world = World::new();
        world.accounts.seen("alice", Some(START_MS), None);
        world.online("alice", "a1", Some("web"));
        let service = world.services().presence;
        // WHEN asked a millisecond before two hours THEN she is online
        world.clock.advance(MAX_CONNECTION_MS - 1);
        let before = service.get(request(&["alice"])).await.unwrap();
        assert_eq!(before[0].status, PresenceStatus::Online);
        // WHEN asked at two hours THEN the connection no longer counts
        world.clock.advance(1);
        let after = service.get(request(&["alice"])).await.unwrap();
        assert_eq!(
            status(&after[0]),
            ("alice", false, PresenceStatus::Offline, vec![])
        );
    }

    #[tokio::test]
    async fn given_a_subscription_limit_when_subscribing_past_it_then_refused_and_nothing_added() {
        // GIVEN at most three subscriptions, and bob subscribed to alice and carol
        let world = World::new().with_limits(|l| l.max_presence_subscriptions = 3);
        world.online("dave", "d1", Some("android"));
        let service = world.services().presence;
        let bob = caller("bob", "b1");
        service
            .subscribe(&bob, request(&["alice", "carol"]))
            .await
            .unwrap();
        // WHEN he subscribes to carol again and dave THEN carol counts once: three in all, and
        // the reply has their presence now
        let reply = service
            .subscribe(&bob, request(&["carol", "dave"]))
            .await
            .unwrap();
        assert_eq!(reply.subscriptions, 3);
        let users: Vec<_> = reply.users.iter().map(status).collect();
        assert_eq!(
            users,
            [
                ("carol", false, PresenceStatus::LoggedOut, vec![]),
                ("dave", true, PresenceStatus::Online, vec!["android"]),
            ]
        );
        // WHEN he subscribes to a fourth THEN it is refused and the store is as it was
        let err = service.subscribe(&bob, request(&["erin"])).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded);
        assert_eq!(world.subscriptions.of("bob"), ["alice", "carol", "dave"]);
        // WHEN he drops alice THEN erin fits
        let reply = service.unsubscribe(&bob, request(&["alice"])).await.unwrap();
        assert_eq!((reply.users.len(), reply.subscriptions), (0, 2));
        assert_eq!(
            service
                .subscribe(&bob, request(&["erin"]))
                .await
                .unwrap()
                .subscriptions,
            3
        );
        assert_eq!(world.subscriptions.of("bob"), ["carol", "dave", "erin"]);
    }

    #[tokio::test]
    async fn given_a_batch_limit_when_asking_about_too_many_none_or_bad_ids_then_refused() {
        let world = World::new().with_limits(|l| l.max_presence_batch = 2);
        let service = world.services().presence;
        let bob = caller("bob", "b1");
        for (users, code) in [
            (vec![], ErrorCode::InvalidField),
            (vec!["alice", "carol", "dave"], ErrorCode::InvalidField),
            (vec!["alice", "no spaces"], ErrorCode::InvalidUserId),
        ] {
            // WHEN asked, or subscribed, that way THEN refused with its code
            let err = service.get(request(&users)).await.unwrap_err();
            assert_eq!(err.code(), code, "get {users:?}");
            let err = service.subscribe(&bob, request(&users)).await.unwrap_err();
            assert_eq!(err.code(), code, "subscribe {users:?}");
        }
        // AND nothing was subscribed
        assert!(world.subscriptions.of("bob").is_empty());
    }

    #[tokio::test]
    async fn given_more_watchers_than_the_limit_when_presence_changes_then_the_first_by_id_are_told() {
        // GIVEN two watchers at most, and dave, bob and carol watching alice
        let world = World::new().with_limits(|l| l.max_presence_watchers = 2);
        let service = world.services().presence;
        for watcher in ["dave", "bob", "carol"] {
            world.online(watcher, &format!("{watcher}1"), Some("web"));
            service
                .subscribe(&caller(watcher, "x"), request(&["alice"]))
                .await
                .unwrap();
        }
        // WHEN alice comes online on web
        service.announce(&user("alice"), &set(&[]), &set(&["web"])).await;
        // THEN bob and carol are told, dave is not
        let online = json!({"userId": "alice", "online": true, "status": "online", "platforms": ["web"]});
        let told = || (events::PRESENCE_CHANGED.to_owned(), online.clone());
        assert_eq!(world.gateway.events_to("bob1"), [told()]);
        assert_eq!(world.gateway.events_to("carol1"), [told()]);
        assert!(world.gateway.events_to("dave1").is_empty());
        // WHEN nothing changes THEN nobody is told
        service
            .announce(&user("alice"), &set(&["web"]), &set(&["web"]))
            .await;
        assert_eq!(world.gateway.sent().len(), 2);
        // WHEN she goes offline after a logout THEN the change says logged out
        world.accounts.seen("alice", Some(START_MS), Some(START_MS + 1));
        service.announce(&user("alice"), &set(&["web"]), &set(&[])).await;
        assert_eq!(
            world.gateway.events_to("bob1")[1].1,
            json!({"userId": "alice", "online": false, "status": "logged_out", "platforms": []})
        );
    }
}
