//! Presence: who is online and on which platforms (`presence.get`), and telling subscribers when
//! that changes (`presence.subscribe`, `presence.changed`).
//!
//! Subscriptions are explicit and kept per user (they follow the user to every device), at most
//! `limits.max_presence_subscriptions` each. A change is told to at most
//! `limits.max_presence_watchers` subscribers, so one connect or disconnect has bounded work.

use crate::accounts::Account;
use crate::devices::platform_of;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::ports::Connection;
use crate::protocol::{PresenceRequest, PresenceStatus, SubscribeReply, UserPresence, event, events};
use crate::service::{Caller, Delivery, Ports, unique_user_ids};
use bytes::Bytes;
use futures_util::future::join_all;
use std::collections::BTreeSet;

/// Presence queries, subscriptions and change announcements.
#[derive(Clone)]
pub struct PresenceService {
    ports: Ports,
    delivery: Delivery,
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
    pub fn new(ports: Ports) -> Self {
        Self {
            delivery: Delivery::from_ports(&ports),
            ports,
        }
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
        Ok(sessions_of(&self.ports, &users)
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
            .map(|subscriber| self.delivery.to_user(subscriber, frame.clone(), None, now));
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
pub(crate) async fn sessions_of(ports: &Ports, users: &[UserId]) -> Result<Vec<Sessions>> {
    let now = ports.clock.now_ms();
    let lookups = users
        .iter()
        .map(|user| ports.connections.connections_of(user, now));
    let (found, mut accounts) = futures_util::future::try_join(
        futures_util::future::try_join_all(lookups),
        ports.accounts.get_accounts(users),
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
