//! The conversation list and read pointers.

use crate::conversation::{ConversationCursor, ConversationEntry};
use crate::error::{Error, Result};
use crate::ids::ConversationId;
use crate::protocol::{ConvDeleteRequest, ConvListRequest, ConvReadRequest, ReadReceipt, event, events};
use crate::service::{Caller, Delivery, Ports, page_size};
use bytes::Bytes;

/// Lists conversations and moves read pointers.
pub struct ConversationService {
    ports: Ports,
    delivery: Delivery,
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
        Self {
            delivery: Delivery::from_ports(&ports),
            ports,
        }
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

    /// Marks everything up to `seq` read in one of the caller's conversations. In a one-to-one
    /// conversation the peer gets a read receipt (`msg.read`) and the caller's other connections
    /// the same event, so their unread counts follow.
    pub async fn read(&self, caller: &Caller, request: ConvReadRequest) -> Result<ConversationEntry> {
        let conversation_id = ConversationId::parse(&request.conversation_id)?;
        let entry = self
            .ports
            .conversations
            .mark_read(&caller.user, &conversation_id, request.seq)
            .await?
            .ok_or(Error::NotFound("conversation"))?;
        if let ConversationId::C2c(peer) = &conversation_id {
            let now = self.ports.clock.now_ms();
            let to_peer = ReadReceipt {
                conversation_id: ConversationId::C2c(caller.user.clone()).to_string(),
                user_id: caller.user.as_str(),
                read_seq: entry.read_seq,
            };
            let to_self = ReadReceipt {
                conversation_id: conversation_id.to_string(),
                ..to_peer
            };
            let peer_frame = Bytes::from(event(events::MSG_READ, &to_peer));
            let own_frame = Bytes::from(event(events::MSG_READ, &to_self));
            // Receipts are advisory: the read pointer is stored either way.
            if peer != &caller.user
                && let Err(err) = self.delivery.to_user(peer, peer_frame, None, now).await
            {
                tracing::warn!(error = %err, "could not send a read receipt");
            }
            if let Err(err) = self
                .delivery
                .to_user(&caller.user, own_frame, caller.connection.as_ref(), now)
                .await
            {
                tracing::warn!(error = %err, "could not sync a read pointer");
            }
        }
        Ok(entry)
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
