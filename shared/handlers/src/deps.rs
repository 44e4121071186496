//! What the handlers need, built once per process or Lambda cold start.

use cirrus_core::clock::Clock;
use cirrus_core::limits::Limits;
use cirrus_core::ports::ConnectionGateway;
use cirrus_core::service::{
    AccountService, BlockService, ConversationService, FriendService, GroupService, MediaService,
    MessageService, Ports, PresenceService, ProfileService, SessionService,
};
use std::sync::Arc;

/// The services every WebSocket route handler calls.
pub struct Deps {
    /// Sending and history (shared with the group service, which posts its tips through it).
    pub messages: Arc<MessageService>,
    /// Conversation list and read pointers.
    pub conversations: ConversationService,
    /// Connection lifecycle.
    pub sessions: SessionService,
    /// Presence queries and subscriptions.
    pub presence: PresenceService,
    /// Profiles and user search.
    pub profiles: ProfileService,
    /// The relationship chain.
    pub friends: FriendService,
    /// Blacklists.
    pub blocks: BlockService,
    /// Groups and their membership.
    pub groups: GroupService,
    /// Accounts, logout and token revocation.
    pub accounts: AccountService,
    /// Media upload and download URLs.
    pub media: MediaService,
    /// Pushes frames to connections (a logout's reply goes this way before the close).
    pub gateway: Arc<dyn ConnectionGateway>,
    /// Limits and the account policy.
    pub limits: Limits,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

impl Deps {
    /// Builds every service over the same ports, each once.
    pub fn new(ports: Ports) -> Self {
        let messages = Arc::new(MessageService::new(ports.clone()));
        Self {
            groups: GroupService::new(ports.clone(), messages.clone()),
            messages,
            conversations: ConversationService::new(ports.clone()),
            sessions: SessionService::new(ports.clone()),
            presence: PresenceService::new(ports.clone()),
            profiles: ProfileService::new(ports.clone()),
            friends: FriendService::new(ports.clone()),
            blocks: BlockService::new(ports.clone()),
            accounts: AccountService::new(ports.clone()),
            media: MediaService::new(ports.clone()),
            gateway: ports.gateway.clone(),
            limits: ports.limits.clone(),
            clock: ports.clock,
        }
    }
}
