//! Use cases over the ports. Each service declares the ports it uses (its `…Ports` set, built
//! from the process's [`Ports`] by `…Ports::of`) and takes the services whose effects it needs;
//! [`Services::build`] wires them all.

mod accounts;
mod audience;
mod blocks;
pub mod callback_config;
pub mod callback_hooks;
mod conversations;
mod delivery;
#[cfg(test)]
mod fakes;
pub mod fanout;
mod friends;
mod groups;
mod media;
mod messaging;
pub mod notifier;
mod presence;
mod profiles;
pub mod push;
pub mod push_devices;
pub mod push_routing;
pub mod rooms;
mod sender_cache;
mod sessions;

pub use accounts::{
    AccountPorts, AccountService, ImportItem, KICKED_BY_ADMIN, KICKED_BY_DELETE, KICKED_BY_LOGOUT,
    KICKED_BY_PASSWORD, LoginStatus,
};
pub use audience::AudiencePorts;
pub use blocks::{BlockPorts, BlockService};
pub use callback_config::{CallbackConfigPorts, CallbackConfigService};
pub use conversations::{ConversationPorts, ConversationService};
pub use delivery::Delivery;
pub use friends::{FriendPorts, FriendService};
pub use groups::{AdmitOutcome, ApplyOutcome, GroupPorts, GroupService, GroupTips, InviteOutcome};
pub use media::{MediaPorts, MediaService, read_manifest, verify_media};
pub use messaging::{
    HistoryPage, MAX_DELETE_BATCH, MessagePorts, MessageService, PinnedMessage, SyncedConversation,
};
pub use presence::{PresencePorts, PresenceService};
pub use profiles::{ProfilePorts, ProfileService};
pub use push_devices::{PushDevicePorts, PushDeviceService};
pub use sessions::{KICKED_BY_LOGIN, SessionPorts, SessionService};

use crate::clock::{Clock, IdGen};
use crate::ids::{ConnectionId, UserId};
use crate::limits::Limits;
use crate::ports::{
    AccountStore, AppConfigStore, BlockStore, ConnectionGateway, ConnectionStore, ConversationStore,
    DeviceStore, GroupStore, MediaStore, MessageStore, NotificationStore, PinStore, ProfileStore, Queue,
    RecommendationStore, RelationStore, RoomStore, SubscriptionStore,
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
    + AppConfigStore
    + DeviceStore
    + PinStore
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
        + AppConfigStore
        + DeviceStore
        + PinStore
        + 'static
{
}

/// The fifteen store ports of one backend, each its own handle.
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
    /// App-wide settings changed at run time.
    pub app_config: Arc<dyn AppConfigStore>,
    /// Users' push devices.
    pub devices: Arc<dyn DeviceStore>,
    /// Conversations' pinned messages.
    pub pins: Arc<dyn PinStore>,
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
            conversations: store.clone(),
            app_config: store.clone(),
            devices: store.clone(),
            pins: store,
        }
    }
}

/// Where the services take their store ports from, one trait object at a time: each service's
/// port set asks for the stores it uses and no others, so a Lambda function that builds only its
/// own services links only the store code they call.
pub trait StoreSource: Send + Sync {
    /// Live connection records.
    fn connections(&self) -> Arc<dyn ConnectionStore>;
    /// Account records and failed-login counters.
    fn accounts(&self) -> Arc<dyn AccountStore>;
    /// Presence subscriptions.
    fn subscriptions(&self) -> Arc<dyn SubscriptionStore>;
    /// Profiles and the nickname index.
    fn profiles(&self) -> Arc<dyn ProfileStore>;
    /// Friend lists and requests.
    fn relations(&self) -> Arc<dyn RelationStore>;
    /// Blacklists.
    fn blocks(&self) -> Arc<dyn BlockStore>;
    /// Friend recommendation buffers.
    fn recommendations(&self) -> Arc<dyn RecommendationStore>;
    /// System notifications.
    fn notifications(&self) -> Arc<dyn NotificationStore>;
    /// Groups, members and join requests.
    fn groups(&self) -> Arc<dyn GroupStore>;
    /// Live-room audiences.
    fn rooms(&self) -> Arc<dyn RoomStore>;
    /// Message streams.
    fn messages(&self) -> Arc<dyn MessageStore>;
    /// Conversation lists.
    fn conversations(&self) -> Arc<dyn ConversationStore>;
    /// App-wide settings changed at run time.
    fn app_config(&self) -> Arc<dyn AppConfigStore>;
    /// Users' push devices.
    fn devices(&self) -> Arc<dyn DeviceStore>;
    /// Conversations' pinned messages.
    fn pins(&self) -> Arc<dyn PinStore>;
}

/// Hands out the fifteen handles as they are.
macro_rules! source {
    ($($port:ident: $store:ident),* $(,)?) => {
        impl StoreSource for Stores {
            $(fn $port(&self) -> Arc<dyn $store> {
                self.$port.clone()
            })*
        }

        /// One backend's store serves every port; only the ports asked for are ever made.
        impl<S: Backend> StoreSource for Arc<S> {
            $(fn $port(&self) -> Arc<dyn $store> {
                self.clone()
            })*
        }
    };
}

source!(
    connections: ConnectionStore,
    accounts: AccountStore,
    subscriptions: SubscriptionStore,
    profiles: ProfileStore,
    relations: RelationStore,
    blocks: BlockStore,
    recommendations: RecommendationStore,
    notifications: NotificationStore,
    groups: GroupStore,
    rooms: RoomStore,
    messages: MessageStore,
    conversations: ConversationStore,
    app_config: AppConfigStore,
    devices: DeviceStore,
    pins: PinStore,
);

/// The stores and the platform ports of one process (or Lambda cold start), from which each
/// service's port set takes what that service uses.
#[derive(Clone)]
pub struct Ports<S = Stores> {
    /// The store ports: [`Stores`] (one handle each) or one backend's store (`Arc<DynamoStore>`).
    pub stores: S,
    /// Push to connections.
    pub gateway: Arc<dyn ConnectionGateway>,
    /// Jobs for the push function (frames the gateway deferred, offline push); `None` where no
    /// consumer runs (the local stack's sockets are in-process and never defer).
    pub queue: Option<Arc<dyn Queue>>,
    /// The push queue's dead letters, for replaying them; `None` where they cannot be reached
    /// (only the HTTP API's function is given the dead-letter queue).
    pub dead_letters: Option<Arc<dyn crate::ports::DeadLetters>>,
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
    /// The app's callback configuration, read through one cache per process.
    pub callback_config: Arc<CallbackConfigService>,
    /// Calls the app's callback URL; `None`: no callback fires, whatever is configured.
    pub callback_client: Option<Arc<dyn crate::ports::CallbackClient>>,
}

impl<S: StoreSource> Ports<S> {
    /// The ports over `stores` and `gateway`, with the system's time and ids left to the caller,
    /// no queue, no media store, default limits, no word filter and no callback client (the
    /// settings add theirs).
    pub fn new(
        stores: S,
        gateway: Arc<dyn ConnectionGateway>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Self {
        let callback_config = Arc::new(CallbackConfigService::new(callback_config::CallbackConfigPorts {
            app_config: stores.app_config(),
            clock: clock.clone(),
        }));
        Self {
            stores,
            gateway,
            queue: None,
            dead_letters: None,
            media: None,
            clock,
            ids,
            limits: Limits::default(),
            filter: None,
            callback_config,
            callback_client: None,
        }
    }

    /// Pushing to users' connections over these ports.
    pub(crate) fn delivery(&self) -> Delivery {
        Delivery::new(
            self.stores.connections(),
            self.gateway.clone(),
            self.queue.clone(),
        )
    }
}

/// Every service over one process's ports, each built once and shared with the services that
/// use its effects (what the local stack and the HTTP API serve; a Lambda function of the
/// WebSocket API builds only its own).
#[derive(Clone)]
pub struct Services {
    /// Presence queries, subscriptions and announcements.
    pub presence: Arc<PresenceService>,
    /// Connection lifecycle.
    pub sessions: Arc<SessionService>,
    /// Accounts, logout and token revocation.
    pub accounts: Arc<AccountService>,
    /// Profiles and user search.
    pub profiles: Arc<ProfileService>,
    /// The relationship chain.
    pub friends: Arc<FriendService>,
    /// Blacklists.
    pub blocks: Arc<BlockService>,
    /// Conversation lists and read pointers.
    pub conversations: Arc<ConversationService>,
    /// Sending, history and recall.
    pub messages: Arc<MessageService>,
    /// Groups and their membership.
    pub groups: Arc<GroupService>,
    /// Media upload and download URLs.
    pub media: Arc<MediaService>,
    /// The app's callback configuration.
    pub callbacks: Arc<CallbackConfigService>,
    /// Push devices.
    pub push_devices: Arc<PushDeviceService>,
}

impl Services {
    /// Builds every service over `ports`.
    pub fn build<S: StoreSource>(ports: &Ports<S>) -> Self {
        let presence = Arc::new(PresenceService::from_ports(ports));
        let sessions = Arc::new(SessionService::from_ports(ports, presence.clone()));
        let profiles = Arc::new(ProfileService::from_ports(ports));
        let friends = Arc::new(FriendService::from_ports(ports, profiles.clone()));
        let messages = Arc::new(MessageService::from_ports(ports));
        Self {
            accounts: Arc::new(AccountService::from_ports(ports, sessions.clone())),
            blocks: Arc::new(BlockService::from_ports(ports, friends.clone())),
            conversations: Arc::new(ConversationService::from_ports(ports)),
            groups: Arc::new(GroupService::from_ports(ports, messages.clone())),
            media: Arc::new(MediaService::from_ports(ports)),
            callbacks: ports.callback_config.clone(),
            push_devices: Arc::new(PushDeviceService::from_ports(ports)),
            presence,
            sessions,
            profiles,
            friends,
            messages,
        }
    }
}

/// The default page size when a client gives none.
pub(crate) const DEFAULT_PAGE: u32 = 20;

/// Parses 1 to `max` distinct user ids, dropping repeats and keeping the first order: the limit
/// counts the distinct ids, so repeats never push a batch over it.
pub(crate) fn unique_user_ids(raw: Vec<String>, max: usize) -> crate::error::Result<Vec<UserId>> {
    let too_many =
        || crate::error::Error::InvalidField(format!("userIds must hold 1 to {max} distinct user ids"));
    let mut seen = std::collections::HashSet::with_capacity(raw.len().min(max + 1));
    let mut users: Vec<UserId> = Vec::with_capacity(raw.len().min(max + 1));
    for id in raw {
        let user = UserId::parse(id)?;
        if seen.insert(user.clone()) {
            if users.len() == max {
                return Err(too_many());
            }
            users.push(user);
        }
    }
    if users.is_empty() {
        return Err(too_many());
    }
    Ok(users)
}

/// A client-requested page size: [`DEFAULT_PAGE`] when none is given, at most `max` (a larger one
/// is lowered to it, as a page may always hold fewer); `limit: 0` asks for nothing and is refused.
pub(crate) fn page_size(requested: Option<u32>, max: u32) -> crate::error::Result<u32> {
    match requested {
        Some(0) => Err(crate::error::Error::InvalidField(
            "limit must be at least 1".to_owned(),
        )),
        requested => Ok(requested.unwrap_or(DEFAULT_PAGE).clamp(1, max.max(1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("u{i:03}")).collect()
    }

    #[test]
    fn given_101_ids_with_one_repeat_when_parsed_with_a_limit_of_100_then_the_100_distinct_are_kept() {
        // GIVEN 100 distinct ids and a repeat of the first
        let mut ids = raw(100);
        ids.push("u000".to_owned());
        // WHEN parsed THEN all 100 come back, in their first order
        let users = unique_user_ids(ids, 100).unwrap();
        assert_eq!(users.len(), 100);
        assert_eq!(users[0].as_str(), "u000");
        assert_eq!(users[99].as_str(), "u099");
    }

    #[test]
    fn given_too_many_distinct_ids_or_none_when_parsed_then_refused() {
        for ids in [raw(101), Vec::new()] {
            let err = unique_user_ids(ids.clone(), 100).unwrap_err();
            assert_eq!(
                err.code(),
                crate::error::ErrorCode::InvalidField,
                "{} ids",
                ids.len()
            );
        }
        // AND a malformed id is refused as such
        assert!(unique_user_ids(vec!["no spaces".to_owned()], 100).is_err());
    }

    #[test]
    fn page_sizes_default_cap_and_refuse_zero() {
        // GIVEN a page limit of 50 THEN no limit is the default, a larger one is lowered to 50,
        // and 0 (which asks for nothing) is refused
        assert_eq!(page_size(None, 50).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_size(Some(7), 50).unwrap(), 7);
        assert_eq!(page_size(Some(500), 50).unwrap(), 50);
        assert_eq!(
            page_size(Some(0), 50).unwrap_err().code(),
            crate::error::ErrorCode::InvalidField
        );
    }
}
