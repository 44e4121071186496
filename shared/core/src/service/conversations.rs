//! The conversation list and read pointers.

use crate::conversation::{ConversationCursor, ConversationEntry};
use crate::error::{Error, Result};
use crate::ids::ConversationId;
use crate::protocol::{ConvDeleteRequest, ConvListRequest, ConvReadRequest};
use crate::service::{Caller, Ports, page_size};

/// Lists conversations and moves read pointers.
pub struct ConversationService {
    ports: Ports,
}

/// A page of the conversation list.
#[derive(Debug)]
pub struct ConversationPage {
    /// Entries, most recently active first.
    pub entries: Vec<ConversationEntry>,
    /// Cursor for the next page, if there is one.
    pub cursor: Option<String>,
}

impl ConversationService {
    /// A conversation service over `ports`.
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// One page of the caller's conversations with unread counts.
    pub async fn list(&self, caller: &Caller, request: ConvListRequest) -> Result<ConversationPage> {
        let cursor = match request.cursor.as_deref() {
            Some(raw) => Some(
                ConversationCursor::decode(raw)
                    .ok_or_else(|| Error::InvalidField("cursor is not one this server issued".to_owned()))?,
            ),
            None => None,
        };
        let limit = page_size(request.limit, self.ports.limits.max_conversation_page);
        let mut entries = self
            .ports
            .conversations
            .list_conversations(&caller.user, cursor.as_ref(), limit + 1)
            .await?;
        let cursor = if entries.len() > limit as usize {
            entries.truncate(limit as usize);
            entries.last().map(|last| {
                ConversationCursor {
                    updated_at: last.updated_at,
                    conversation_id: last.conversation_id.to_string(),
                }
                .encode()
            })
        } else {
            None
        };
        Ok(ConversationPage { entries, cursor })
    }

    /// Marks everything up to `seq` read in one of the caller's conversations.
    pub async fn read(&self, caller: &Caller, request: ConvReadRequest) -> Result<ConversationEntry> {
        let conversation_id = ConversationId::parse(&request.conversation_id)?;
        self.ports
            .conversations
            .mark_read(&caller.user, &conversation_id, request.seq)
            .await?
            .ok_or(Error::NotFound("conversation"))
    }

    /// Removes a conversation from the caller's list on every device; its messages stay, and a
    /// newer message brings it back with only the newer messages unread.
    pub async fn delete(&self, caller: &Caller, request: ConvDeleteRequest) -> Result<()> {
        let conversation_id = ConversationId::parse(&request.conversation_id)?;
        if !self
            .ports
            .conversations
            .hide_conversation(&caller.user, &conversation_id)
            .await?
        {
            return Err(Error::NotFound("conversation"));
        }
        Ok(())
    }
}
