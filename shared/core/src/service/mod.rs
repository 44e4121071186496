//! Use cases over the ports. Each service takes the [`Ports`] it needs and nothing else.

mod accounts;
mod audience;
mod blocks;
mod conversations;
mod delivery;
#[cfg(test)]
mod fakes;
pub mod fanout;
mod friends;
mod groups;
mod media;
mod messaging;
mod notifier;
mod presence;
mod profiles;
pub mod push;
pub mod rooms;
mod sender_cache;
mod sessions;

pub use accounts::{
    AccountService, ImportItem, KICKED_BY_ADMIN, KICKED_BY_DELETE, KICKED_BY_LOGOUT, KICKED_BY_PASSWORD,
    LoginStatus,
};
pub use blocks::BlockService;
pub use conversations::ConversationService;
pub use delivery::Delivery;
pub use friends::FriendService;
pub use groups::{ApplyOutcome, GroupService, GroupTips, InviteOutcome};
pub use media::{MediaService, read_manifest, verify_media};
pub use messaging::{HistoryPage, MAX_DELETE_BATCH, MessageService, SyncedConversation};
pub use presence::PresenceService;
pub use profiles::ProfileService;
pub use sessions::SessionService;

use crate::clock::{Clock, IdGen};
use crate::ids::{ConnectionId, UserId};
use crate::limits::Limits;
use crate::ports::{
    AccountStore, BlockStore, ConnectionGateway, ConnectionStore, ConversationStore, GroupStore, MediaStore,
    MessageStore, NotificationStore, ProfileStore, Queue, RecommendationStore, RelationStore, RoomStore,
    SubscriptionStore,
};
use std::sync::Arc;

/// Who is calling: the authenticated user and, over WebSocket, their connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The authenticated user.
    pub user: UserId,
    /// The connection the request came on, if any.
    pub connection: Option<ConnectionId>,
    /// Whether the caller holds a guest token (live rooms only).
    pub guest: bool,
}

/// Every store port: what one backend's store value implements (the SQLite store, the DynamoDB
/// store).
pub trait Backend:
    ConnectionStore
    + AccountStore
    + SubscriptionStore
    + ProfileStore
    + RelationStore
    + BlockStore
    + RecommendationStore
    + NotificationStore
    + GroupStore
    + RoomStore
    + MessageStore
    + ConversationStore
    + 'static
{
}

impl<S> Backend for S where
    S: ConnectionStore
        + AccountStore
        + SubscriptionStore
        + ProfileStore
        + RelationStore
        + BlockStore
        + RecommendationStore
        + NotificationStore
        + GroupStore
        + RoomStore
        + MessageStore
        + ConversationStore
        + 'static
{
}

/// The twelve store ports of one backend, each its own handle.
#[derive(Clone)]
pub struct Stores {
    /// Live connection records.
    pub connections: Arc<dyn ConnectionStore>,
    /// Account records and failed-login counters.
    pub accounts: Arc<dyn AccountStore>,
    /// Presence subscriptions.
    pub subscriptions: Arc<dyn SubscriptionStore>,
    /// Profiles and the nickname index.
    pub profiles: Arc<dyn ProfileStore>,
    /// Friend lists and requests.
    pub relations: Arc<dyn RelationStore>,
    /// Blacklists.
    pub blocks: Arc<dyn BlockStore>,
    /// Friend recommendation buffers.
    pub recommendations: Arc<dyn RecommendationStore>,
    /// System notifications.
    pub notifications: Arc<dyn NotificationStore>,
    /// Groups, members and join requests.
    pub groups: Arc<dyn GroupStore>,
    /// Live-room audiences.
    pub rooms: Arc<dyn RoomStore>,
    /// Message streams.
    pub messages: Arc<dyn MessageStore>,
    /// Conversation lists.
    pub conversations: Arc<dyn ConversationStore>,
}

impl Stores {
    /// Each port served by the one `store`.
    pub fn of<S: Backend>(store: Arc<S>) -> Self {
        Self {
            connections: store.clone(),
            accounts: store.clone(),
            subscriptions: store.clone(),
            profiles: store.clone(),
            relations: store.clone(),
            blocks: store.clone(),
            recommendations: store.clone(),
            notifications: store.clone(),
            groups: store.clone(),
            rooms: store.clone(),
            messages: store.clone(),
            conversations: store,
        }
    }
}

/// Every port the services use, built once per process (or Lambda cold start).
#[derive(Clone)]
pub struct Ports {
    /// Live connection records.
    pub connections: Arc<dyn ConnectionStore>,
    /// Account records and failed-login counters.
    pub accounts: Arc<dyn AccountStore>,
    /// Presence subscriptions.
    pub subscriptions: Arc<dyn SubscriptionStore>,
    /// Profiles and the nickname index.
    pub profiles: Arc<dyn ProfileStore>,
    /// Friend lists and requests.
    pub relations: Arc<dyn RelationStore>,
    /// Blacklists.
    pub blocks: Arc<dyn BlockStore>,
    /// Friend recommendation buffers.
    pub recommendations: Arc<dyn RecommendationStore>,
    /// System notifications.
    pub notifications: Arc<dyn NotificationStore>,
    /// Groups, members and join requests.
    pub groups: Arc<dyn GroupStore>,
    /// Live-room audiences.
    pub rooms: Arc<dyn RoomStore>,
    /// Message streams.
    pub messages: Arc<dyn MessageStore>,
    /// Conversation lists.
    pub conversations: Arc<dyn ConversationStore>,
    /// Push to connections.
    pub gateway: Arc<dyn ConnectionGateway>,
    /// Jobs for the push function (frames the gateway deferred, offline push); `None` where no
    /// consumer runs (the local stack's sockets are in-process and never defer).
    pub queue: Option<Arc<dyn Queue>>,
    /// Media objects behind presigned URLs; `None` where the deployment has no media storage.
    pub media: Option<Arc<dyn MediaStore>>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Id generation.
    pub ids: Arc<dyn IdGen>,
    /// Limits.
    pub limits: Limits,
    /// The sensitive-word filter applied to messages, if the app configured one.
    pub filter: Option<Arc<crate::filter::WordFilter>>,
}

impl Ports {
    /// The ports over `stores` and `gateway`, with the system's time and ids left to the caller,
    /// no queue, no media store, default limits and no word filter (the settings add theirs).
    pub fn new(
        stores: Stores,
        gateway: Arc<dyn ConnectionGateway>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Self {
        let Stores {
            connections,
            accounts,
            subscriptions,
            profiles,
            relations,
            blocks,
            recommendations,
            notifications,
            groups,
            rooms,
            messages,
            conversations,
        } = stores;
        Self {
            connections,
            accounts,
            subscriptions,
            profiles,
            relations,
            blocks,
            recommendations,
            notifications,
            groups,
            rooms,
            messages,
            conversations,
            gateway,
            queue: None,
            media: None,
            clock,
            ids,
            limits: Limits::default(),
            filter: None,
        }
    }
}

/// The default page size when a client gives none.
pub(crate) const DEFAULT_PAGE: u32 = 20;

/// Parses 1 to `max` user ids, dropping repeats and keeping the first order.
pub(crate) fn unique_user_ids(raw: Vec<String>, max: usize) -> crate::error::Result<Vec<UserId>> {
    if raw.is_empty() || raw.len() > max {
        return Err(crate::error::Error::InvalidField(format!(
            "userIds must hold 1 to {max} user ids"
        )));
    }
    let mut users: Vec<UserId> = Vec::with_capacity(raw.len());
    for id in raw {
        let user = UserId::parse(id)?;
        if !users.contains(&user) {
            users.push(user);
        }
    }
    Ok(users)
}

/// Clamps a client-requested page size to `1..=max`, defaulting to [`DEFAULT_PAGE`].
pub(crate) fn page_size(requested: Option<u32>, max: u32) -> u32 {
    requested.unwrap_or(DEFAULT_PAGE).clamp(1, max.max(1))
}
