//! Pinned messages: `conv.pin`, `conv.unpin`, `conv.pins`.

use super::Client;
use crate::error::Result;
use crate::types::PinnedMessage;
use cirrus_core::ids::ConversationId;
use cirrus_core::protocol::Action;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PinData<'a> {
    conversation_id: &'a ConversationId,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
}

#[derive(Deserialize)]
struct Unpinned {
    removed: bool,
}

#[derive(Deserialize)]
struct Pins {
    pins: Vec<PinnedMessage>,
}

impl Client {
    /// `conv.pin`: pins message `seq` of `conversation` for everyone in it (in a group, its
    /// owner and admins may). Pinning a pinned message answers with the standing pin.
    pub async fn pin(&self, conversation: &ConversationId, seq: u64) -> Result<PinnedMessage> {
        let data = PinData {
            conversation_id: conversation,
            seq: Some(seq),
        };
        self.typed(Action::ConvPin, data).await
    }

    /// `conv.unpin`: unpins message `seq`; answers whether it was pinned.
    pub async fn unpin(&self, conversation: &ConversationId, seq: u64) -> Result<bool> {
        let data = PinData {
            conversation_id: conversation,
            seq: Some(seq),
        };
        let reply: Unpinned = self.typed(Action::ConvUnpin, data).await?;
        Ok(reply.removed)
    }

    /// `conv.pins`: the conversation's pinned messages, newest pin first.
    pub async fn pins(&self, conversation: &ConversationId) -> Result<Vec<PinnedMessage>> {
        let data = PinData {
            conversation_id: conversation,
            seq: None,
        };
        let reply: Pins = self.typed(Action::ConvPins, data).await?;
        Ok(reply.pins)
    }
}
