//! The ports: what the services need from the outside world. Adapters implement them.

use crate::accounts::Account;
use crate::error::Result;
use crate::ids::{ConnectionId, UserId};
use crate::media::{MediaKey, ObjectInfo, PresignedUrl};
use crate::social::{
    Block, Friend, FriendRequest, Notification, Profile, Recommendation, RequestDirection, UserProfile,
};
use async_trait::async_trait;

mod groups;
mod messages;
mod rooms;
use bytes::Bytes;
pub use groups::GroupStore;
pub use messages::{
    Appended, ConversationStore, Edited, InboxUpdate, MessageEdit, MessageStore, NewMessage, PinStore,
    SeqRange,
};
pub use rooms::{ROOM_SHARDS, RoomStore, Seat, shard_of};
use std::time::Duration;

/// App-wide settings an administrator changes at run time (the callback configuration), each a
/// JSON document under its name; the services validate what they store.
#[async_trait]
pub trait AppConfigStore: Send + Sync {
    /// The document stored under `name`, if any.
    async fn app_config(&self, name: &str) -> Result<Option<String>>;
    /// Stores `value` under `name`, replacing what was there; `None` removes it.
    async fn put_app_config(&self, name: &str, value: Option<&str>) -> Result<()>;
}

/// The push devices each user registered (`push.register`), at most a bound per user.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Registers `device` for `user`: an entry with the same token is replaced, and beyond `max`
    /// devices the oldest (by `registered_at`, ties by token) are dropped.
    async fn register_device(
        &self,
        user: &UserId,
        device: &crate::push_devices::PushDevice,
        max: usize,
    ) -> Result<()>;
    /// Removes `user`'s device with `token`; whether there was one.
    async fn unregister_device(&self, user: &UserId, token: &str) -> Result<bool>;
    /// `user`'s devices, oldest first.
    async fn devices_of(&self, user: &UserId) -> Result<Vec<crate::push_devices::PushDevice>>;
    /// Removes every device of `user` (a logout).
    async fn clear_devices(&self, user: &UserId) -> Result<()>;
}

/// A live WebSocket connection as recorded at `$connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// API Gateway's connection id.
    pub id: ConnectionId,
    /// The authenticated user.
    pub user: UserId,
    /// Client platform (`web`, `ios`, …) if the client said.
    pub platform: Option<String>,
    /// When it connected, ms since the epoch.
    pub connected_at: i64,
    /// When the record stops counting (the 2-hour API Gateway limit), ms since the epoch.
    pub expires_at: i64,
}

/// Records of live connections.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Records a new connection (or replaces a record with the same id).
    async fn put_connection(&self, connection: &Connection) -> Result<()>;
    /// Removes a connection record; returns it if it existed.
    async fn delete_connection(&self, id: &ConnectionId) -> Result<Option<Connection>>;
    /// Looks one connection up, if it has not expired at `now`.
    async fn get_connection(&self, id: &ConnectionId, now: i64) -> Result<Option<Connection>>;
    /// Every unexpired connection of `user` at `now`.
    async fn connections_of(&self, user: &UserId, now: i64) -> Result<Vec<Connection>>;
}

/// Account records (the account part of the Users aggregate), and the failed-login counters that
/// throttle password guessing.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates each account whose user has none yet and leaves existing ones untouched; returns,
    /// for each input in order, whether it was created.
    async fn create_accounts(&self, accounts: &[Account]) -> Result<Vec<bool>>;

    /// The accounts that exist among `users`, in the order asked (missing and deleted ones left
    /// out).
    async fn get_accounts(&self, users: &[UserId]) -> Result<Vec<Account>>;

    /// Deletes the accounts and their profiles; returns, for each input in order, whether it
    /// existed. Each deleted account leaves a tombstone that keeps refusing the tokens issued up
    /// to `revoke_through` (seconds; raised to it, never lowered): `get_accounts` leaves
    /// tombstones out, and creating the account again (import, first login, registration) starts
    /// it afresh but keeps that second.
    async fn delete_accounts(&self, users: &[UserId], revoke_through: i64) -> Result<Vec<bool>>;

    /// The second up to which `user`'s tokens are refused, from their account or the tombstone of
    /// a deleted one; 0 when they never had an account.
    async fn tokens_valid_after(&self, user: &UserId) -> Result<i64>;

    /// Notes a successful connection at `now` (ms), creating a [`crate::accounts::AccountKind::FirstLogin`]
    /// account if the user has none; returns the account as it is afterwards.
    async fn record_login(&self, user: &UserId, now: i64) -> Result<Account>;

    /// Notes a logout (or admin kick) at `now` (ms) and, with `revoke_through` (seconds), raises
    /// `tokens_valid_after` to it (never lowers it). Returns the account afterwards, or `None` if the
    /// user has no account (nothing is created).
    async fn record_logout(
        &self,
        user: &UserId,
        now: i64,
        revoke_through: Option<i64>,
    ) -> Result<Option<Account>>;

    /// Replaces a registered account's password hash, notes a logout at `now` (ms: the user is
    /// logged out everywhere) and raises `tokens_valid_after` to `revoke_through` (seconds);
    /// `false` if the user has no account.
    async fn set_password(&self, user: &UserId, hash: &str, now: i64, revoke_through: i64) -> Result<bool>;

    /// Counts one failed login against `key` (a user id, a source address…) in a fixed window of
    /// `window_ms` starting at the first failure; a failure after the window starts a new one.
    /// Returns the failures in the current window, this one included.
    async fn note_login_failure(&self, key: &str, now: i64, window_ms: i64) -> Result<u32>;

    /// The failures counted against `key` in the window current at `now` (0 if it has lapsed).
    async fn login_failures(&self, key: &str, now: i64, window_ms: i64) -> Result<u32>;

    /// Forgets the failures counted against `key` (after a successful login).
    async fn clear_login_failures(&self, key: &str) -> Result<()>;
}

/// Presence subscriptions: who asked to be told when whom comes online or goes offline.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Subscribes `subscriber` to each of `targets` (already subscribed ones stay as they are).
    async fn subscribe(&self, subscriber: &UserId, targets: &[UserId]) -> Result<()>;

    /// Removes those subscriptions of `subscriber` (missing ones are ignored).
    async fn unsubscribe(&self, subscriber: &UserId, targets: &[UserId]) -> Result<()>;

    /// Everyone `subscriber` is subscribed to, in user id order.
    async fn subscriptions_of(&self, subscriber: &UserId) -> Result<Vec<UserId>>;

    /// Up to `limit` subscribers of `target`, in user id order.
    async fn subscribers_of(&self, target: &UserId, limit: u32) -> Result<Vec<UserId>>;
}

/// Profiles (the profile part of the Users aggregate) and the nickname index.
#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// The stored profiles among `users`, in the order asked (users who never set one left out).
    async fn get_profiles(&self, users: &[UserId]) -> Result<Vec<UserProfile>>;

    /// Replaces `user`'s profile (every field; the service merges changes first).
    async fn put_profile(&self, user: &UserId, profile: &Profile) -> Result<()>;

    /// Up to `limit` profiles whose lower-cased nickname starts with `prefix` (already lower-cased,
    /// not empty), ordered by lower-cased nickname, then user id. Served from an index, never a scan.
    async fn search_nickname(&self, prefix: &str, limit: u32) -> Result<Vec<UserProfile>>;
}

/// Friend lists and pending friend requests (the Relations aggregate).
#[async_trait]
pub trait RelationStore: Send + Sync {
    /// `owner`'s entries for each of `peers`, in the order asked (non-friends left out).
    async fn get_friends(&self, owner: &UserId, peers: &[UserId]) -> Result<Vec<Friend>>;

    /// Which of `owners` have `peer` on their friend list, in the order asked: the reverse side of
    /// [`RelationStore::get_friends`], read in one batch.
    async fn friended_by(&self, peer: &UserId, owners: &[UserId]) -> Result<Vec<UserId>>;

    /// One page of the users who have `peer` in their friend list, in their id order, starting
    /// after `after`: the reverse side of [`RelationStore::list_friends`], served from an index
    /// (on DynamoDB an eventually consistent one), never a scan.
    async fn list_friended_by(
        &self,
        peer: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>>;

    /// One page of `owner`'s friends in peer id order, starting after `after`.
    async fn list_friends(&self, owner: &UserId, after: Option<&UserId>, limit: u32) -> Result<Vec<Friend>>;

    /// How many friends `owner` has.
    async fn count_friends(&self, owner: &UserId) -> Result<u32>;

    /// Writes these friend entries (replacing entries of the same owner and peer) and deletes
    /// every pending request between each entry's owner and peer, in both directions, all at once.
    async fn put_friends(&self, entries: &[Friend]) -> Result<()>;

    /// Deletes the entries (owner, peer); returns, for each pair in order, whether it existed.
    async fn delete_friends(&self, pairs: &[(UserId, UserId)]) -> Result<Vec<bool>>;

    /// Records a pending request, replacing one from the same requester to the same user.
    async fn put_request(&self, request: &FriendRequest) -> Result<()>;

    /// The pending request from `from` to `to`, if any.
    async fn get_request(&self, from: &UserId, to: &UserId) -> Result<Option<FriendRequest>>;

    /// Deletes the pending request from `from` to `to`; whether it existed.
    async fn delete_request(&self, from: &UserId, to: &UserId) -> Result<bool>;

    /// One page of `user`'s pending requests in `direction`, ordered by the other side's user id,
    /// starting after `after`.
    async fn list_requests(
        &self,
        user: &UserId,
        direction: RequestDirection,
        after: Option<&UserId>,
        limit: u32,
    ) -> Result<Vec<FriendRequest>>;
}

/// Blacklists.
#[async_trait]
pub trait BlockStore: Send + Sync {
    /// Adds these blocks (an existing one keeps its original time).
    async fn put_blocks(&self, blocks: &[Block]) -> Result<()>;

    /// Removes `owner`'s blocks of `peers`; returns, for each peer in order, whether it existed.
    async fn delete_blocks(&self, owner: &UserId, peers: &[UserId]) -> Result<Vec<bool>>;

    /// `owner`'s blocks among `peers`, in the order asked (unblocked ones left out).
    async fn get_blocks(&self, owner: &UserId, peers: &[UserId]) -> Result<Vec<Block>>;

    /// One page of `owner`'s blocks in peer id order, starting after `after`.
    async fn list_blocks(&self, owner: &UserId, after: Option<&UserId>, limit: u32) -> Result<Vec<Block>>;

    /// One page of the users who have blocked `peer`, in their id order, starting after `after`:
    /// the reverse side of [`BlockStore::list_blocks`], served from an index (on DynamoDB an
    /// eventually consistent one), never a scan.
    async fn list_blocked_by(&self, peer: &UserId, after: Option<&UserId>, limit: u32)
    -> Result<Vec<UserId>>;

    /// How many users `owner` has blocked.
    async fn count_blocks(&self, owner: &UserId) -> Result<u32>;
}

/// Per-user friend recommendation buffers, filled by the app server.
#[async_trait]
pub trait RecommendationStore: Send + Sync {
    /// Adds these recommendations (replacing one for the same owner and peer).
    async fn put_recommendations(&self, recommendations: &[Recommendation]) -> Result<()>;

    /// One page of `owner`'s recommendations in peer id order, starting after `after`.
    async fn list_recommendations(
        &self,
        owner: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> Result<Vec<Recommendation>>;

    /// Removes `owner`'s recommendations of `peers`; returns, for each in order, whether it existed.
    async fn delete_recommendations(&self, owner: &UserId, peers: &[UserId]) -> Result<Vec<bool>>;
}

/// System notifications: relationship events kept per user to fetch after being offline.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Keeps a notification until `expires_at` (ms since the epoch); one with the same owner and
    /// id is replaced.
    async fn put_notification(&self, notification: &Notification, expires_at: i64) -> Result<()>;

    /// Up to `limit` of `owner`'s unexpired notifications at `now` with ids after `after`, in id
    /// order.
    async fn list_notifications(
        &self,
        owner: &UserId,
        after: Option<&str>,
        limit: u32,
        now: i64,
    ) -> Result<Vec<Notification>>;
}

/// The result of posting to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostOutcome {
    /// Handed to the connection.
    Delivered,
    /// The connection no longer exists (API Gateway's 410 Gone).
    Gone,
    /// The API kept refusing for now (throttling or server errors, after the gateway's own
    /// retries): worth handing to the queue for a later try.
    Deferred,
}

/// Pushes data to WebSocket connections (API Gateway's `@connections` API).
#[async_trait]
pub trait ConnectionGateway: Send + Sync {
    /// Sends one text frame to a connection.
    async fn post(&self, connection: &ConnectionId, data: Bytes) -> Result<PostOutcome>;
    /// Closes a connection; closing one that is gone is not an error.
    async fn close(&self, connection: &ConnectionId) -> Result<()>;
}

/// The background work queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// The push function's work: offline push notifications for recipients with no live
    /// connection, and frames the connection gateway deferred (`redeliver` jobs).
    Push,
    /// Shards of a fan-out too large to deliver within one request.
    Fanout,
}

/// One unit of background work: an opaque JSON payload its consumer knows how to read.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The payload, delivered to the consumer as it was enqueued.
    pub payload: serde_json::Value,
}

impl From<serde_json::Value> for Job {
    fn from(payload: serde_json::Value) -> Self {
        Self { payload }
    }
}

/// Hands work to asynchronous consumers (SQS in AWS).
#[async_trait]
pub trait Queue: Send + Sync {
    /// Enqueues every job, or fails: once this returns `Ok` each job is durably queued (at least
    /// once; consumers must tolerate duplicates). Jobs are not ordered.
    async fn enqueue(&self, queue: QueueName, jobs: Vec<Job>) -> Result<()>;
}

/// Which dead letters a redrive takes back; the others stay where they are.
pub type JobFilter<'a> = &'a (dyn Fn(&Job) -> bool + Send + Sync);

/// What one redrive did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Redriven {
    /// Jobs moved back onto their queue.
    pub moved: usize,
    /// True when every dead letter was looked at; false when the limit (or the scan bound)
    /// stopped it first, so another call may move more.
    pub complete: bool,
}

/// The jobs the push queue gave up on after their last receive (its dead-letter queue in
/// AWS), and moving them back to be tried again.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Moves up to `limit` dead letters of the push queue that `pick` takes back onto it, as new
    /// jobs whose receive count starts again; the others stay dead-lettered. A job may be moved
    /// and still be seen once more as a dead letter if the call is cut short (at least once).
    async fn redrive_push(&self, limit: usize, pick: JobFilter<'_>) -> Result<Redriven>;
}

/// Media object storage that clients reach directly with presigned URLs (S3 in AWS), and that
/// the media processing reads and writes (the `media` function, the local stack's upload hook).
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// A `PUT` URL that stores exactly `content_length` bytes of `content_type` at `key`;
    /// `expires` may not exceed [`crate::media::MAX_URL_EXPIRY`].
    async fn upload_url(
        &self,
        key: &MediaKey,
        content_type: &str,
        content_length: u64,
        expires: Duration,
    ) -> Result<PresignedUrl>;

    /// A `GET` URL for the object at `key`; `expires` may not exceed
    /// [`crate::media::MAX_URL_EXPIRY`].
    async fn download_url(&self, key: &MediaKey, expires: Duration) -> Result<PresignedUrl>;

    /// The object's size and content type, or `None` if there is no object at `key`.
    async fn head(&self, key: &MediaKey) -> Result<Option<ObjectInfo>>;

    /// At most the first `max_len` bytes of the object, or `None` if there is none.
    async fn read(&self, key: &MediaKey, max_len: u64) -> Result<Option<Bytes>>;

    /// Stores `body` at `key` with `content_type`, replacing any object there.
    async fn put(&self, key: &MediaKey, content_type: &str, body: Bytes) -> Result<()>;

    /// Removes the object at `key`; removing a missing object is not an error.
    async fn delete(&self, key: &MediaKey) -> Result<()>;
}

// Offline push providers.

/// Why a push provider did not take a notification for one device. What the push function does
/// depends on the kind: [`Unreachable`](Self::Unreachable) and [`Refused`](Self::Refused) fail
/// the job, so the queue delivers it again later and dead-letters it after its last try;
/// [`DeadToken`](Self::DeadToken) removes the device; [`Rejected`](Self::Rejected) drops that
/// device's notification (another try would be refused the same way).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The provider could not be reached, or did not answer in time.
    #[error("push provider unreachable")]
    Unreachable(#[source] crate::error::BoxError),
    /// The provider answered that it cannot take the notification now (HTTP 429, 5xx); the text
    /// says what it answered, never a secret or a token.
    #[error("push provider refused the notification: {0}")]
    Refused(String),
    /// The provider answered that the device token is no longer valid (the app was removed, the
    /// token expired): the device is forgotten.
    #[error("the device token is dead")]
    DeadToken,
    /// The provider refused the notification for good (an HTTP 4xx other than a dead token);
    /// the text says what it answered, never a secret or a token.
    #[error("push provider rejected the notification: {0}")]
    Rejected(String),
}

/// Delivers offline notifications to devices of one provider (APNs, FCM, the app's webhook).
#[async_trait]
pub trait PushProvider: Send + Sync {
    /// Hands one notification for one of the recipient's devices to the provider; `Ok` once the
    /// provider has taken it. The same notification may come again (the queue delivers at least
    /// once): providers pass on an id stable across retries where the provider de-duplicates
    /// or collapses by one.
    async fn send(
        &self,
        device: &crate::push_devices::PushDevice,
        push: &crate::service::push::OfflinePush,
    ) -> std::result::Result<(), PushError>;
}

/// Calls the app's callback URL (the HTTP client, signing and Tencent's query; a stand-in in
/// tests). One call, no retries: an after-callback's retries are its queue's.
#[async_trait]
pub trait CallbackClient: Send + Sync {
    /// POSTs `call` to `config.url`, waiting at most `timeout`, and reads the app's reply.
    async fn call(
        &self,
        config: &crate::callbacks::CallbackConfig,
        call: &crate::callbacks::CallbackCall,
        timeout: Duration,
    ) -> std::result::Result<crate::callbacks::CallbackReply, crate::callbacks::CallbackFailure>;
}
