//! What the handlers need, built once per process or Lambda cold start.

use cirrus_core::clock::Clock;
use cirrus_core::service::{ConversationService, MessageService, Ports, SessionService};
use std::sync::Arc;

/// The services every WebSocket route handler calls.
pub struct Deps {
    /// Sending and history.
    pub messages: MessageService,
    /// Conversation list and read pointers.
    pub conversations: ConversationService,
    /// Connection lifecycle.
    pub sessions: SessionService,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

impl Deps {
    /// Builds every service over the same ports.
    pub fn new(ports: Ports) -> Self {
        Self {
            messages: MessageService::new(ports.clone()),
            conversations: ConversationService::new(ports.clone()),
            sessions: SessionService::new(ports.clone()),
            clock: ports.clock,
        }
    }
}
