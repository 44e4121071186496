//! In-memory fakes of the store ports, a gateway that records what it is asked to post, and a
//! [`World`] that wires them into [`Ports`] with a [`ManualClock`]: the services' unit tests run
//! on these, without a database, a socket or a sleep.
//!
//! Long because it is test-only code kept in one file: one small fake per store port, each
//! following the rules its port documents, so a test author finds every fake in one place.
//!
//! Each fake keeps the rules its port documents (expiry, ordering, "never lowers") as far as the
//! tests rely on them; ports and methods no test needs answer with a store error.

use crate::accounts::{Account, AccountKind};
use crate::clock::{Clock, IdGen, ManualClock};
use crate::conversation::{ConversationCursor, ConversationEntry};
use crate::error::{Error, Result};
use crate::group::{Group, JoinRequest, Member};
use crate::ids::{ConnectionId, ConversationId, GroupId, MsgId, StreamKey, UserId};
use crate::limits::Limits;
use crate::message::{Recall, StoredMessage};
use crate::ports::{
    AccountStore, AppConfigStore, Appended, BlockStore, Connection, ConnectionGateway, ConnectionStore,
    ConversationStore, GroupStore, MessageStore, NewMessage, NotificationStore, PostOutcome, ProfileStore,
    RecommendationStore, RelationStore, RoomStore, Seat, SeqRange, SubscriptionStore,
};
use crate::service::sessions::MAX_CONNECTION_MS;
use crate::service::{Caller, Ports, Services, Stores};
use crate::social::{
    Block, Friend, FriendRequest, Notification, Profile, Recommendation, RequestDirection, UserProfile,
    nickname_key,
};
use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Where every test's clock starts: 2023-11-14T22:13:20Z, a whole second.
pub(crate) const START_MS: i64 = 1_700_000_000_000;

/// A user id known to be valid.
pub(crate) fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

/// A connection id known to be valid.
pub(crate) fn conn(id: &str) -> ConnectionId {
    ConnectionId::parse(id).unwrap()
}

/// `user` calling over `connection`, not a guest.
pub(crate) fn caller(user: &str, connection: &str) -> Caller {
    Caller {
        user: self::user(user),
        connection: Some(conn(connection)),
        guest: false,
    }
}

/// Ids as a request carries them.
pub(crate) fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|&id| id.to_owned()).collect()
}

/// The error a fake answers for what it does not keep.
fn unsupported(what: &str) -> Error {
    Error::store(format!("the in-memory fake does not support {what}"))
}

/// Locks a fake's state; a test that panicked holding it has failed already.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fakes behind one test's [`Ports`], kept at hand to set the scene and to look at
/// afterwards.
pub(crate) struct World {
    /// The time every service reads; starts at [`START_MS`].
    pub clock: Arc<ManualClock>,
    /// Records every post and close.
    pub gateway: Arc<RecordingGateway>,
    /// Connection records.
    pub connections: Arc<MemConnections>,
    /// Accounts.
    pub accounts: Arc<MemAccounts>,
    /// Presence subscriptions.
    pub subscriptions: Arc<MemSubscriptions>,
    /// Profiles.
    pub profiles: Arc<MemProfiles>,
    /// Friends and friend requests.
    pub relations: Arc<MemRelations>,
    /// Blacklists.
    pub blocks: Arc<MemBlocks>,
    /// System notifications.
    pub notifications: Arc<MemNotifications>,
    /// Conversation lists.
    pub conversations: Arc<MemConversations>,
    /// Push devices.
    pub devices: Arc<MemDevices>,
    /// The limits [`World::ports`] hands the services.
    pub limits: Limits,
}

impl World {
    /// Empty stores, default limits, the clock at [`START_MS`].
    pub(crate) fn new() -> Self {
        let profiles = Arc::<MemProfiles>::default();
        Self {
            clock: Arc::new(ManualClock::new(START_MS)),
            gateway: Arc::default(),
            connections: Arc::default(),
            accounts: Arc::new(MemAccounts::with_profiles(profiles.clone())),
            subscriptions: Arc::default(),
            profiles,
            relations: Arc::default(),
            blocks: Arc::default(),
            notifications: Arc::default(),
            conversations: Arc::default(),
            devices: Arc::default(),
            limits: Limits::default(),
        }
    }

    /// The same world with `change` applied to its limits.
    pub(crate) fn with_limits(mut self, change: impl FnOnce(&mut Limits)) -> Self {
        change(&mut self.limits);
        self
    }

    /// Ports over the fakes; groups, rooms, messages and recommendations are not kept.
    pub(crate) fn ports(&self) -> Ports {
        let unsupported = Arc::new(Unsupported);
        let stores = Stores {
            connections: self.connections.clone(),
            accounts: self.accounts.clone(),
            subscriptions: self.subscriptions.clone(),
            profiles: self.profiles.clone(),
            relations: self.relations.clone(),
            blocks: self.blocks.clone(),
            recommendations: unsupported.clone(),
            notifications: self.notifications.clone(),
            groups: unsupported.clone(),
            rooms: unsupported.clone(),
            messages: unsupported.clone(),
            conversations: self.conversations.clone(),
            app_config: unsupported.clone(),
            devices: self.devices.clone(),
            pins: unsupported,
        };
        Ports {
            limits: self.limits.clone(),
            ..Ports::new(
                stores,
                self.gateway.clone(),
                self.clock.clone(),
                Arc::new(SeqIds::default()),
            )
        }
    }

    /// Every service over [`World::ports`], wired as a process wires them.
    pub(crate) fn services(&self) -> Services {
        Services::build(&self.ports())
    }

    /// Records `user` as connected on `connection` now (as `$connect` would, without the device
    /// policy or presence): the scene for services that only read connections.
    pub(crate) fn online(&self, user: &str, connection: &str, platform: Option<&str>) {
        let now = self.clock.now_ms();
        lock(&self.connections.0).insert(
            conn(connection),
            Connection {
                id: conn(connection),
                user: self::user(user),
                platform: platform.map(str::to_owned),
                connected_at: now,
                expires_at: now + MAX_CONNECTION_MS,
            },
        );
    }
}

/// Deterministic ids: `m-1`, `m-2`, … and `conn1`, `conn2`, …
#[derive(Default)]
pub(crate) struct SeqIds(AtomicU64);

impl IdGen for SeqIds {
    fn msg_id(&self) -> MsgId {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        MsgId::parse(format!("m-{n:06}")).unwrap()
    }

    fn connection_id(&self) -> ConnectionId {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        conn(&format!("conn{n}"))
    }
}

/// One event frame the gateway was asked to post.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sent {
    /// The connection.
    pub to: String,
    /// The event name (`session.kicked`, …).
    pub event: String,
    /// The event's data.
    pub data: Value,
}

/// Records every event posted (each answered as delivered) and every close.
#[derive(Default)]
pub(crate) struct RecordingGateway {
    sent: Mutex<Vec<Sent>>,
    closed: Mutex<Vec<String>>,
}

impl RecordingGateway {
    /// Every event posted, in order.
    pub(crate) fn sent(&self) -> Vec<Sent> {
        lock(&self.sent).clone()
    }

    /// The events posted to `connection`, as (name, data), in order.
    pub(crate) fn events_to(&self, connection: &str) -> Vec<(String, Value)> {
        lock(&self.sent)
            .iter()
            .filter(|sent| sent.to == connection)
            .map(|sent| (sent.event.clone(), sent.data.clone()))
            .collect()
    }

    /// The connections closed, in order.
    pub(crate) fn closed(&self) -> Vec<String> {
        lock(&self.closed).clone()
    }
}

#[async_trait]
impl ConnectionGateway for RecordingGateway {
    async fn post(&self, connection: &ConnectionId, data: Bytes) -> Result<PostOutcome> {
        let frame: Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(frame["type"], "event", "only events are pushed: {frame}");
        lock(&self.sent).push(Sent {
            to: connection.to_string(),
            event: frame["event"].as_str().unwrap().to_owned(),
            data: frame["data"].clone(),
        });
        Ok(PostOutcome::Delivered)
    }

    async fn close(&self, connection: &ConnectionId) -> Result<()> {
        lock(&self.closed).push(connection.to_string());
        Ok(())
    }
}

/// Connection records by id; expired ones stay until deleted but are not listed.
#[derive(Default)]
pub(crate) struct MemConnections(Mutex<BTreeMap<ConnectionId, Connection>>);

impl MemConnections {
    /// The ids of every record of `user`, expired or not, in id order.
    pub(crate) fn ids_of(&self, user: &str) -> Vec<String> {
        lock(&self.0)
            .values()
            .filter(|c| c.user.as_str() == user)
            .map(|c| c.id.to_string())
            .collect()
    }

    /// The record of `id`, expired or not.
    pub(crate) fn record(&self, id: &str) -> Option<Connection> {
        lock(&self.0).get(&conn(id)).cloned()
    }
}

#[async_trait]
impl ConnectionStore for MemConnections {
    async fn put_connection(&self, connection: &Connection) -> Result<()> {
        lock(&self.0).insert(connection.id.clone(), connection.clone());
        Ok(())
    }

    async fn delete_connection(&self, id: &ConnectionId) -> Result<Option<Connection>> {
        Ok(lock(&self.0).remove(id))
    }

    async fn get_connection(&self, id: &ConnectionId, now: i64) -> Result<Option<Connection>> {
        Ok(lock(&self.0).get(id).filter(|c| c.expires_at > now).cloned())
    }

    async fn connections_of(&self, user: &UserId, now: i64) -> Result<Vec<Connection>> {
        Ok(lock(&self.0)
            .values()
            .filter(|c| &c.user == user && c.expires_at > now)
            .cloned()
            .collect())
    }
}

/// Accounts by user, the revocation seconds deleted accounts leave, and failed-login windows by
/// key (start, failures). A deletion deletes the profile too, from the profiles it shares.
#[derive(Default)]
pub(crate) struct MemAccounts {
    accounts: Mutex<BTreeMap<UserId, Account>>,
    tombstones: Mutex<HashMap<UserId, i64>>,
    failures: Mutex<HashMap<String, (i64, u32)>>,
    profiles: Arc<MemProfiles>,
}

impl MemAccounts {
    /// Accounts whose deletion deletes the profile in `profiles`.
    pub(crate) fn with_profiles(profiles: Arc<MemProfiles>) -> Self {
        Self {
            profiles,
            ..Self::default()
        }
    }

    /// A new account of `user`, keeping the revocation second of a deleted one.
    fn revive(&self, mut account: Account) -> Account {
        if let Some(through) = lock(&self.tombstones).remove(&account.user) {
            account.tokens_valid_after = account.tokens_valid_after.max(through);
        }
        account
    }

    /// `user`'s account, if any.
    pub(crate) fn get(&self, user: &str) -> Option<Account> {
        lock(&self.accounts).get(&self::user(user)).cloned()
    }

    /// Stores `account` as it is (replacing one of the same user).
    pub(crate) fn insert(&self, account: Account) {
        lock(&self.accounts).insert(account.user.clone(), account);
    }

    /// An imported account of `user` that logged in at `login_at` and out at `logout_at`.
    pub(crate) fn seen(&self, user: &str, login_at: Option<i64>, logout_at: Option<i64>) {
        let mut account = Account::new(self::user(user), AccountKind::Imported, START_MS);
        account.last_login_at = login_at;
        account.last_logout_at = logout_at;
        self.insert(account);
    }
}

#[async_trait]
impl AccountStore for MemAccounts {
    async fn create_accounts(&self, accounts: &[Account]) -> Result<Vec<bool>> {
        let mut stored = lock(&self.accounts);
        Ok(accounts
            .iter()
            .map(|account| {
                let new = !stored.contains_key(&account.user);
                if new {
                    stored.insert(account.user.clone(), self.revive(account.clone()));
                }
                new
            })
            .collect())
    }

    async fn get_accounts(&self, users: &[UserId]) -> Result<Vec<Account>> {
        let stored = lock(&self.accounts);
        Ok(users.iter().filter_map(|u| stored.get(u).cloned()).collect())
    }

    async fn delete_accounts(&self, users: &[UserId], revoke_through: i64) -> Result<Vec<bool>> {
        let mut stored = lock(&self.accounts);
        let mut tombstones = lock(&self.tombstones);
        Ok(users
            .iter()
            .map(|u| {
                let old = stored.remove(u);
                lock(&self.profiles.0).remove(u);
                let before = old.as_ref().map_or(0, |a| a.tokens_valid_after);
                let through = tombstones.entry(u.clone()).or_insert(0);
                *through = (*through).max(before).max(revoke_through);
                old.is_some()
            })
            .collect())
    }

    async fn tokens_valid_after(&self, user: &UserId) -> Result<i64> {
        if let Some(account) = lock(&self.accounts).get(user) {
            return Ok(account.tokens_valid_after);
        }
        Ok(lock(&self.tombstones).get(user).copied().unwrap_or(0))
    }

    async fn record_login(&self, user: &UserId, now: i64) -> Result<Account> {
        let mut stored = lock(&self.accounts);
        let account = stored
            .entry(user.clone())
            .or_insert_with(|| self.revive(Account::new(user.clone(), AccountKind::FirstLogin, now)));
        account.last_login_at = Some(now);
        Ok(account.clone())
    }

    async fn record_logout(
        &self,
        user: &UserId,
        now: i64,
        revoke_through: Option<i64>,
    ) -> Result<Option<Account>> {
        let mut stored = lock(&self.accounts);
        Ok(stored.get_mut(user).map(|account| {
            account.last_logout_at = Some(now);
            if let Some(through) = revoke_through {
                account.tokens_valid_after = account.tokens_valid_after.max(through);
            }
            account.clone()
        }))
    }

    async fn set_password(&self, user: &UserId, hash: &str, now: i64, revoke_through: i64) -> Result<bool> {
        let mut stored = lock(&self.accounts);
        Ok(match stored.get_mut(user) {
            Some(account) => {
                account.password_hash = Some(hash.to_owned());
                account.last_logout_at = Some(now);
                account.tokens_valid_after = account.tokens_valid_after.max(revoke_through);
                true
            }
            None => false,
        })
    }

    async fn note_login_failure(&self, key: &str, now: i64, window_ms: i64) -> Result<u32> {
        let mut failures = lock(&self.failures);
        let window = failures.entry(key.to_owned()).or_insert((now, 0));
        if now >= window.0 + window_ms {
            *window = (now, 0);
        }
        window.1 += 1;
        Ok(window.1)
    }

    async fn login_failures(&self, key: &str, now: i64, window_ms: i64) -> Result<u32> {
        Ok(lock(&self.failures)
            .get(key)
            .filter(|(start, _)| now < start + window_ms)
            .map_or(0, |(_, count)| *count))
    }

    async fn clear_login_failures(&self, key: &str) -> Result<()> {
        lock(&self.failures).remove(key);
        Ok(())
    }
}

/// Presence subscriptions as (subscriber, target) pairs.
#[derive(Default)]
pub(crate) struct MemSubscriptions(Mutex<BTreeSet<(UserId, UserId)>>);

impl MemSubscriptions {
    /// Whom `subscriber` is subscribed to, in id order.
    pub(crate) fn of(&self, subscriber: &str) -> Vec<String> {
        lock(&self.0)
            .iter()
            .filter(|(s, _)| s.as_str() == subscriber)
            .map(|(_, target)| target.to_string())
            .collect()
    }
}

#[async_trait]
impl SubscriptionStore for MemSubscriptions {
    async fn subscribe(&self, subscriber: &UserId, targets: &[UserId]) -> Result<()> {
        let mut pairs = lock(&self.0);
        pairs.extend(targets.iter().map(|t| (subscriber.clone(), t.clone())));
        Ok(())
    }

    async fn unsubscribe(&self, subscriber: &UserId, targets: &[UserId]) -> Result<()> {
        let mut pairs = lock(&self.0);
        for target in targets {
            pairs.remove(&(subscriber.clone(), target.clone()));
        }
        Ok(())
    }

    async fn subscriptions_of(&self, subscriber: &UserId) -> Result<Vec<UserId>> {
        Ok(lock(&self.0)
            .iter()
            .filter(|(s, _)| s == subscriber)
            .map(|(_, target)| target.clone())
            .collect())
    }

    async fn subscribers_of(&self, target: &UserId, limit: u32) -> Result<Vec<UserId>> {
        let pairs = lock(&self.0);
        let subscribers: BTreeSet<&UserId> = pairs
            .iter()
            .filter(|(_, t)| t == target)
            .map(|(s, _)| s)
            .collect();
        Ok(subscribers.into_iter().take(limit as usize).cloned().collect())
    }
}

/// Profiles by user.
#[derive(Default)]
pub(crate) struct MemProfiles(Mutex<BTreeMap<UserId, Profile>>);

impl MemProfiles {
    /// `user`'s stored profile, if they ever set one.
    pub(crate) fn get(&self, user: &str) -> Option<Profile> {
        lock(&self.0).get(&self::user(user)).cloned()
    }

    /// Stores `profile` for `user` as it is.
    pub(crate) fn insert(&self, user: &str, profile: Profile) {
        lock(&self.0).insert(self::user(user), profile);
    }
}

#[async_trait]
impl ProfileStore for MemProfiles {
    async fn get_profiles(&self, users: &[UserId]) -> Result<Vec<UserProfile>> {
        let stored = lock(&self.0);
        Ok(users
            .iter()
            .filter_map(|u| {
                stored.get(u).map(|profile| UserProfile {
                    user: u.clone(),
                    profile: profile.clone(),
                })
            })
            .collect())
    }

    async fn put_profile(&self, user: &UserId, profile: &Profile) -> Result<()> {
        lock(&self.0).insert(user.clone(), profile.clone());
        Ok(())
    }

    async fn search_nickname(&self, prefix: &str, limit: u32) -> Result<Vec<UserProfile>> {
        let stored = lock(&self.0);
        let mut found: Vec<(String, UserProfile)> = stored
            .iter()
            .filter_map(|(user, profile)| {
                let key = nickname_key(profile.nickname.as_deref()?);
                key.starts_with(prefix).then(|| {
                    let found = UserProfile {
                        user: user.clone(),
                        profile: profile.clone(),
                    };
                    (key, found)
                })
            })
            .collect();
        found.sort_by(|a, b| (&a.0, &a.1.user).cmp(&(&b.0, &b.1.user)));
        Ok(found.into_iter().take(limit as usize).map(|(_, p)| p).collect())
    }
}

/// Friend entries by (owner, peer) and pending requests by (from, to).
#[derive(Default)]
pub(crate) struct MemRelations {
    friends: Mutex<BTreeMap<(UserId, UserId), Friend>>,
    requests: Mutex<BTreeMap<(UserId, UserId), FriendRequest>>,
}

impl MemRelations {
    /// Makes `a` and `b` friends both ways since `at`.
    pub(crate) fn befriend(&self, a: &str, b: &str, at: i64) {
        let mut friends = lock(&self.friends);
        for (owner, peer) in [(a, b), (b, a)] {
            let entry = Friend {
                owner: user(owner),
                peer: user(peer),
                remark: None,
                groups: Vec::new(),
                added_at: at,
            };
            friends.insert((user(owner), user(peer)), entry);
        }
    }

    /// The peers on `owner`'s friend list, in id order.
    pub(crate) fn friends_of(&self, owner: &str) -> Vec<String> {
        lock(&self.friends)
            .keys()
            .filter(|(o, _)| o.as_str() == owner)
            .map(|(_, peer)| peer.to_string())
            .collect()
    }

    /// Records a pending request from `from` to `to`.
    pub(crate) fn ask(&self, from: &str, to: &str, at: i64) {
        let request = FriendRequest {
            from: user(from),
            to: user(to),
            reason: None,
            remark: None,
            created_at: at,
        };
        lock(&self.requests).insert((user(from), user(to)), request);
    }

    /// Every pending request as (from, to), in order.
    pub(crate) fn requests(&self) -> Vec<(String, String)> {
        lock(&self.requests)
            .keys()
            .map(|(from, to)| (from.to_string(), to.to_string()))
            .collect()
    }
}

#[async_trait]
impl RelationStore for MemRelations {
    async fn get_friends(&self, owner: &UserId, peers: &[UserId]) -> Result<Vec<Friend>> {
        let friends = lock(&self.friends);
        Ok(peers
            .iter()
            .filter_map(|peer| friends.get(&(owner.clone(), peer.clone())).cloned())
            .collect())
    }

    async fn friended_by(&self, peer: &UserId, owners: &[UserId]) -> Result<Vec<UserId>> {
        let friends = lock(&self.friends);
        Ok(owners
            .iter()
            .filter(|owner| friends.contains_key(&((*owner).clone(), peer.clone())))
            .cloned()
            .collect())
    }

    async fn list_friended_by(
        &self,
        peer: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>> {
        let mut owners: Vec<UserId> = lock(&self.friends)
            .keys()
            .filter(|(owner, p)| p == peer && after.is_none_or(|after| owner > after))
            .map(|(owner, _)| owner.clone())
            .collect();
        owners.sort();
        owners.truncate(limit as usize);
        Ok(owners)
    }

    async fn list_friends(&self, owner: &UserId, after: Option<&UserId>, limit: u32) -> Result<Vec<Friend>> {
        Ok(lock(&self.friends)
            .values()
            .filter(|f| &f.owner == owner && after.is_none_or(|after| &f.peer > after))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn count_friends(&self, owner: &UserId) -> Result<u32> {
        let friends = lock(&self.friends);
        Ok(friends.keys().filter(|(o, _)| o == owner).count() as u32)
    }

    async fn put_friends(&self, entries: &[Friend]) -> Result<()> {
        let mut friends = lock(&self.friends);
        let mut requests = lock(&self.requests);
        for entry in entries {
            friends.insert((entry.owner.clone(), entry.peer.clone()), entry.clone());
            requests.remove(&(entry.owner.clone(), entry.peer.clone()));
            requests.remove(&(entry.peer.clone(), entry.owner.clone()));
        }
        Ok(())
    }

    async fn delete_friends(&self, pairs: &[(UserId, UserId)]) -> Result<Vec<bool>> {
        let mut friends = lock(&self.friends);
        Ok(pairs.iter().map(|pair| friends.remove(pair).is_some()).collect())
    }

    async fn put_request(&self, request: &FriendRequest) -> Result<()> {
        let key = (request.from.clone(), request.to.clone());
        lock(&self.requests).insert(key, request.clone());
        Ok(())
    }

    async fn get_request(&self, from: &UserId, to: &UserId) -> Result<Option<FriendRequest>> {
        Ok(lock(&self.requests).get(&(from.clone(), to.clone())).cloned())
    }

    async fn delete_request(&self, from: &UserId, to: &UserId) -> Result<bool> {
        Ok(lock(&self.requests).remove(&(from.clone(), to.clone())).is_some())
    }

    async fn list_requests(
        &self,
        user: &UserId,
        direction: RequestDirection,
        after: Option<&UserId>,
        limit: u32,
    ) -> Result<Vec<FriendRequest>> {
        let other = |r: &FriendRequest| match direction {
            RequestDirection::Incoming => r.from.clone(),
            RequestDirection::Outgoing => r.to.clone(),
        };
        let mut page: Vec<FriendRequest> = lock(&self.requests)
            .values()
            .filter(|r| match direction {
                RequestDirection::Incoming => &r.to == user,
                RequestDirection::Outgoing => &r.from == user,
            })
            .filter(|r| after.is_none_or(|after| &other(r) > after))
            .cloned()
            .collect();
        page.sort_by_key(other);
        page.truncate(limit as usize);
        Ok(page)
    }
}

/// Blocks by (owner, peer).
#[derive(Default)]
pub(crate) struct MemBlocks(Mutex<BTreeMap<(UserId, UserId), Block>>);

impl MemBlocks {
    /// Records that `owner` blocked each of `peers` at `at`.
    pub(crate) fn block(&self, owner: &str, peers: &[&str], at: i64) {
        let mut blocks = lock(&self.0);
        for &peer in peers {
            let block = Block {
                owner: user(owner),
                peer: user(peer),
                blocked_at: at,
            };
            blocks.insert((user(owner), user(peer)), block);
        }
    }

    /// The peers `owner` blocked, in id order, with when.
    pub(crate) fn of(&self, owner: &str) -> Vec<(String, i64)> {
        lock(&self.0)
            .values()
            .filter(|b| b.owner.as_str() == owner)
            .map(|b| (b.peer.to_string(), b.blocked_at))
            .collect()
    }
}

#[async_trait]
impl BlockStore for MemBlocks {
    async fn put_blocks(&self, blocks: &[Block]) -> Result<()> {
        let mut stored = lock(&self.0);
        for block in blocks {
            stored
                .entry((block.owner.clone(), block.peer.clone()))
                .or_insert_with(|| block.clone());
        }
        Ok(())
    }

    async fn delete_blocks(&self, owner: &UserId, peers: &[UserId]) -> Result<Vec<bool>> {
        let mut stored = lock(&self.0);
        Ok(peers
            .iter()
            .map(|peer| stored.remove(&(owner.clone(), peer.clone())).is_some())
            .collect())
    }

    async fn get_blocks(&self, owner: &UserId, peers: &[UserId]) -> Result<Vec<Block>> {
        let stored = lock(&self.0);
        Ok(peers
            .iter()
            .filter_map(|peer| stored.get(&(owner.clone(), peer.clone())).cloned())
            .collect())
    }

    async fn list_blocks(&self, owner: &UserId, after: Option<&UserId>, limit: u32) -> Result<Vec<Block>> {
        Ok(lock(&self.0)
            .values()
            .filter(|b| &b.owner == owner && after.is_none_or(|after| &b.peer > after))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn list_blocked_by(
        &self,
        peer: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>> {
        Ok(lock(&self.0)
            .keys()
            .filter(|(owner, p)| p == peer && after.is_none_or(|after| owner > after))
            .take(limit as usize)
            .map(|(owner, _)| owner.clone())
            .collect())
    }

    async fn count_blocks(&self, owner: &UserId) -> Result<u32> {
        Ok(lock(&self.0).keys().filter(|(o, _)| o == owner).count() as u32)
    }
}

/// Notifications with their expiry, by (owner, id).
#[derive(Default)]
pub(crate) struct MemNotifications(Mutex<BTreeMap<(UserId, String), (Notification, i64)>>);

impl MemNotifications {
    /// `owner`'s notifications as (event, data), in id order, expired or not.
    pub(crate) fn of(&self, owner: &str) -> Vec<(String, Value)> {
        lock(&self.0)
            .values()
            .filter(|(n, _)| n.owner.as_str() == owner)
            .map(|(n, _)| (n.event.clone(), serde_json::from_str(&n.data).unwrap()))
            .collect()
    }
}

#[async_trait]
impl NotificationStore for MemNotifications {
    async fn put_notification(&self, notification: &Notification, expires_at: i64) -> Result<()> {
        let key = (notification.owner.clone(), notification.id.clone());
        lock(&self.0).insert(key, (notification.clone(), expires_at));
        Ok(())
    }

    async fn list_notifications(
        &self,
        owner: &UserId,
        after: Option<&str>,
        limit: u32,
        now: i64,
    ) -> Result<Vec<Notification>> {
        Ok(lock(&self.0)
            .values()
            .filter(|(n, expires_at)| {
                &n.owner == owner && *expires_at > now && after.is_none_or(|after| n.id.as_str() > after)
            })
            .take(limit as usize)
            .map(|(n, _)| n.clone())
            .collect())
    }
}

/// Conversation entries by (owner, conversation id), each with whether it is hidden.
#[derive(Default)]
pub(crate) struct MemConversations(Mutex<BTreeMap<(UserId, String), (ConversationEntry, bool)>>);

impl MemConversations {
    /// Gives `owner` the conversation `id` (`C2Cbob`, `GROUPg1`) with messages up to `last_seq`,
    /// read up to `read_seq`, last active at `updated_at`.
    pub(crate) fn insert(&self, owner: &str, id: &str, last_seq: u64, read_seq: u64, updated_at: i64) {
        let conversation_id = ConversationId::parse(id).unwrap();
        let entry = ConversationEntry {
            owner: user(owner),
            stream: conversation_id.stream(&user(owner)),
            conversation_id,
            last_seq,
            read_seq,
            last_message: None,
            updated_at,
        };
        lock(&self.0).insert((user(owner), id.to_owned()), (entry, false));
    }

    /// `owner`'s entry for `id`, hidden or not, and whether it is hidden.
    pub(crate) fn entry(&self, owner: &str, id: &str) -> Option<(ConversationEntry, bool)> {
        lock(&self.0).get(&(user(owner), id.to_owned())).cloned()
    }

    /// The visible entry of `owner` for `key`: hidden ones and ones without a message are not.
    fn visible(
        entries: &BTreeMap<(UserId, String), (ConversationEntry, bool)>,
        key: &(UserId, String),
    ) -> Option<ConversationEntry> {
        entries
            .get(key)
            .filter(|(entry, hidden)| !hidden && entry.last_seq > 0)
            .map(|(entry, _)| entry.clone())
    }
}

#[async_trait]
impl ConversationStore for MemConversations {
    async fn list_conversations(
        &self,
        owner: &UserId,
        after: Option<&ConversationCursor>,
        limit: u32,
    ) -> Result<Vec<ConversationEntry>> {
        let entries = lock(&self.0);
        let mut listed: Vec<ConversationEntry> = entries
            .iter()
            .filter(|((o, _), _)| o == owner)
            .filter_map(|(key, _)| Self::visible(&entries, key))
            .filter(|entry| {
                after.is_none_or(|cursor| {
                    (entry.updated_at, entry.conversation_id.to_string())
                        < (cursor.updated_at, cursor.conversation_id.clone())
                })
            })
            .collect();
        // Most recently active first; ties by conversation id, descending.
        listed.sort_by_key(|entry| std::cmp::Reverse((entry.updated_at, entry.conversation_id.to_string())));
        listed.truncate(limit as usize);
        Ok(listed)
    }

    async fn get_conversation(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<ConversationEntry>> {
        let entries = lock(&self.0);
        Ok(Self::visible(
            &entries,
            &(owner.clone(), conversation.to_string()),
        ))
    }

    async fn hide_conversation(&self, owner: &UserId, conversation: &ConversationId) -> Result<bool> {
        let mut entries = lock(&self.0);
        Ok(
            match entries.get_mut(&(owner.clone(), conversation.to_string())) {
                Some((entry, hidden)) => {
                    entry.read_seq = entry.last_seq;
                    *hidden = true;
                    true
                }
                None => false,
            },
        )
    }

    async fn open_conversation(
        &self,
        _owner: &UserId,
        _conversation: &ConversationId,
        _stream: &StreamKey,
    ) -> Result<ConversationEntry> {
        Err(unsupported("opening a conversation (it keeps no streams)"))
    }

    async fn mark_read(
        &self,
        owner: &UserId,
        conversation: &ConversationId,
        seq: u64,
    ) -> Result<Option<ConversationEntry>> {
        let mut entries = lock(&self.0);
        let key = (owner.clone(), conversation.to_string());
        let Some((entry, _)) = entries.get_mut(&key) else {
            return Ok(None);
        };
        entry.read_seq = entry.read_seq.max(seq.min(entry.last_seq));
        Ok(Self::visible(&entries, &key))
    }
}

/// The ports the fakes do not keep: every call is a store error.
struct Unsupported;

/// Push devices per user, as the stores keep them ([`crate::push_devices::with_registered`]).
#[derive(Default)]
pub(crate) struct MemDevices(Mutex<HashMap<UserId, Vec<crate::push_devices::PushDevice>>>);

#[async_trait]
impl crate::ports::DeviceStore for MemDevices {
    async fn register_device(
        &self,
        user: &UserId,
        device: &crate::push_devices::PushDevice,
        max: usize,
    ) -> Result<()> {
        let mut all = lock(&self.0);
        let devices = all.remove(user).unwrap_or_default();
        all.insert(
            user.clone(),
            crate::push_devices::with_registered(devices, device.clone(), max),
        );
        Ok(())
    }

    async fn unregister_device(&self, user: &UserId, token: &str) -> Result<bool> {
        let mut all = lock(&self.0);
        let devices = all.entry(user.clone()).or_default();
        let before = devices.len();
        devices.retain(|device| device.token != token);
        Ok(devices.len() < before)
    }

    async fn devices_of(&self, user: &UserId) -> Result<Vec<crate::push_devices::PushDevice>> {
        Ok(lock(&self.0).get(user).cloned().unwrap_or_default())
    }

    async fn clear_devices(&self, user: &UserId) -> Result<()> {
        lock(&self.0).remove(user);
        Ok(())
    }
}

#[async_trait]
impl AppConfigStore for Unsupported {
    async fn app_config(&self, _: &str) -> Result<Option<String>> {
        Err(unsupported("app config"))
    }
    async fn put_app_config(&self, _: &str, _: Option<&str>) -> Result<()> {
        Err(unsupported("app config"))
    }
}

#[async_trait]
impl RecommendationStore for Unsupported {
    async fn put_recommendations(&self, _: &[Recommendation]) -> Result<()> {
        Err(unsupported("recommendations"))
    }
    async fn list_recommendations(
        &self,
        _: &UserId,
        _: Option<&UserId>,
        _: u32,
    ) -> Result<Vec<Recommendation>> {
        Err(unsupported("recommendations"))
    }
    async fn delete_recommendations(&self, _: &UserId, _: &[UserId]) -> Result<Vec<bool>> {
        Err(unsupported("recommendations"))
    }
}

#[async_trait]
impl GroupStore for Unsupported {
    async fn create_group(&self, _: &Group, _: &[Member]) -> Result<bool> {
        Err(unsupported("groups"))
    }
    async fn get_group(&self, _: &GroupId) -> Result<Option<Group>> {
        Err(unsupported("groups"))
    }
    async fn put_group(&self, _: &Group) -> Result<bool> {
        Err(unsupported("groups"))
    }
    async fn add_members(&self, _: &GroupId, _: &[Member], _: Option<u32>) -> Result<Option<Vec<bool>>> {
        Err(unsupported("groups"))
    }
    async fn remove_members(&self, _: &GroupId, _: &[UserId]) -> Result<Vec<bool>> {
        Err(unsupported("groups"))
    }
    async fn get_members(&self, _: &GroupId, _: &[UserId]) -> Result<Vec<Member>> {
        Err(unsupported("groups"))
    }
    async fn put_member(&self, _: &Member) -> Result<bool> {
        Err(unsupported("groups"))
    }
    async fn list_members(&self, _: &GroupId, _: Option<&UserId>, _: u32) -> Result<Vec<Member>> {
        Err(unsupported("groups"))
    }
    async fn groups_of(&self, _: &UserId, _: Option<&GroupId>, _: u32) -> Result<Vec<Member>> {
        Err(unsupported("groups"))
    }
    async fn count_groups_of(&self, _: &UserId) -> Result<u32> {
        Err(unsupported("groups"))
    }
    async fn search_groups(&self, _: &str, _: u32) -> Result<Vec<Group>> {
        Err(unsupported("groups"))
    }
    async fn put_join_request(&self, _: &JoinRequest) -> Result<()> {
        Err(unsupported("groups"))
    }
    async fn get_join_request(&self, _: &GroupId, _: &UserId) -> Result<Option<JoinRequest>> {
        Err(unsupported("groups"))
    }
    async fn take_join_request(&self, _: &GroupId, _: &UserId) -> Result<Option<JoinRequest>> {
        Err(unsupported("groups"))
    }
    async fn list_join_requests(&self, _: &GroupId, _: Option<&UserId>, _: u32) -> Result<Vec<JoinRequest>> {
        Err(unsupported("groups"))
    }
}

#[async_trait]
impl RoomStore for Unsupported {
    async fn join_room(&self, _: &Seat) -> Result<bool> {
        Err(unsupported("live rooms"))
    }
    async fn leave_room(&self, _: &GroupId, _: &ConnectionId) -> Result<bool> {
        Err(unsupported("live rooms"))
    }
    async fn get_seat(&self, _: &GroupId, _: &ConnectionId, _: i64) -> Result<Option<Seat>> {
        Err(unsupported("live rooms"))
    }
    async fn shard_seats(
        &self,
        _: &GroupId,
        _: u32,
        _: Option<&ConnectionId>,
        _: u32,
        _: i64,
    ) -> Result<Vec<Seat>> {
        Err(unsupported("live rooms"))
    }
    async fn audience(&self, _: &GroupId) -> Result<u64> {
        Err(unsupported("live rooms"))
    }
    async fn mute_viewer(&self, _: &GroupId, _: &UserId, _: i64) -> Result<()> {
        Err(unsupported("live rooms"))
    }
    async fn viewer_muted_until(&self, _: &GroupId, _: &UserId, _: i64) -> Result<Option<i64>> {
        Err(unsupported("live rooms"))
    }
}

#[async_trait]
impl MessageStore for Unsupported {
    async fn append(&self, _: NewMessage) -> Result<Appended> {
        Err(unsupported("messages"))
    }
    async fn history(&self, _: &StreamKey, _: SeqRange, _: Option<&UserId>) -> Result<Vec<StoredMessage>> {
        Err(unsupported("messages"))
    }
    async fn get_message(&self, _: &StreamKey, _: u64, _: i64) -> Result<Option<StoredMessage>> {
        Err(unsupported("messages"))
    }
    async fn recall(&self, _: &StreamKey, _: u64, _: &Recall) -> Result<Option<StoredMessage>> {
        Err(unsupported("messages"))
    }
    async fn edit(
        &self,
        _: &StreamKey,
        _: u64,
        _: &crate::ports::MessageEdit,
    ) -> Result<crate::ports::Edited> {
        Err(unsupported("messages"))
    }
    async fn hide_messages(&self, _: &UserId, _: &StreamKey, _: &[u64], _: i64) -> Result<()> {
        Err(unsupported("messages"))
    }
}

#[async_trait]
impl crate::ports::PinStore for Unsupported {
    async fn pin(&self, _: &StreamKey, _: &crate::pins::Pin, _: usize) -> Result<crate::pins::Pinning> {
        Err(unsupported("pins"))
    }
    async fn unpin(&self, _: &StreamKey, _: u64) -> Result<bool> {
        Err(unsupported("pins"))
    }
    async fn pins(&self, _: &StreamKey) -> Result<Vec<crate::pins::Pin>> {
        Err(unsupported("pins"))
    }
}
