//! The conversation list and read pointers.

use crate::callbacks::CallbackCommand;
use crate::clock::Clock;
use crate::conversation::{ConversationCursor, ConversationEntry};
use crate::error::{Error, Result};
use crate::ids::ConversationId;
use crate::limits::Limits;
use crate::ports::ConversationStore;
use crate::protocol::{ConvDeleteRequest, ConvListRequest, ConvReadRequest, ReadReceipt, event, events};
use crate::service::callback_hooks::{CallbackHooks, Fields};
use crate::service::{Caller, Delivery, Ports, StoreSource, page_size};
use bytes::Bytes;
use serde_json::json;
use std::sync::Arc;

/// Lists conversations and moves read pointers.
pub struct ConversationService {
    ports: ConversationPorts,
}

/// What conversation lists use.
#[derive(Clone)]
pub struct ConversationPorts {
    /// Conversation lists and read pointers.
    pub conversations: Arc<dyn ConversationStore>,
    /// Telling the caller's other connections and the peer (read receipts).
    pub delivery: Delivery,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The page limit.
    pub limits: Limits,
    /// The app's `C2C.CallbackAfterMsgReport`.
    pub callbacks: CallbackHooks,
}

impl ConversationPorts {
    /// The conversation lists' ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            conversations: ports.stores.conversations(),
            delivery: ports.delivery(),
            clock: ports.clock.clone(),
            limits: ports.limits.clone(),
            callbacks: CallbackHooks::of(ports),
        }
    }
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
    pub fn new(ports: ConversationPorts) -> Self {
        Self { ports }
    }

    /// A conversation service over the process's ports.
    pub fn from_ports<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self::new(ConversationPorts::of(ports))
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
        let limit = page_size(request.limit, self.ports.limits.max_conversation_page)?;
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
    /// the same event, so their unread counts follow; only when the read pointer moved (a repeat
    /// or an older seq tells nobody).
    pub async fn read(&self, caller: &Caller, request: ConvReadRequest) -> Result<ConversationEntry> {
        let conversation_id = ConversationId::parse(&request.conversation_id)?;
        // The pointer before, to tell whether this read moved it: a read that changes nothing
        // (a repeat, an older seq) tells nobody.
        let before = self
            .ports
            .conversations
            .get_conversation(&caller.user, &conversation_id)
            .await?
            .map(|entry| entry.read_seq);
        let entry = self
            .ports
            .conversations
            .mark_read(&caller.user, &conversation_id, request.seq)
            .await?
            .ok_or(Error::NotFound("conversation"))?;
        let moved = before.is_none_or(|read| entry.read_seq > read);
        if moved && let ConversationId::C2c(peer) = &conversation_id {
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
                && let Err(err) = self.ports.delivery.to_user(peer, peer_frame, None, now).await
            {
                tracing::warn!(error = %err, "could not send a read receipt");
            }
            if let Err(err) = self
                .ports
                .delivery
                .to_user(&caller.user, own_frame, caller.connection.as_ref(), now)
                .await
            {
                tracing::warn!(error = %err, "could not sync a read pointer");
            }
            self.ports
                .callbacks
                .after(CallbackCommand::C2cAfterMsgReport, || {
                    let mut fields = Fields::new();
                    fields.insert("Report_Account".into(), json!(caller.user.as_str()));
                    fields.insert("Peer_Account".into(), json!(peer.as_str()));
                    fields.insert("LastReadTime".into(), json!(now / 1000));
                    fields.insert("MsgSeq".into(), json!(entry.read_seq));
                    fields.insert("UnreadMsgNum".into(), json!(entry.unread()));
                    fields.insert("EventTime".into(), json!(now));
                    fields
                })
                .await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::service::fakes::{START_MS, World, caller};
    use serde_json::json;

    fn read(conversation: &str, seq: u64) -> ConvReadRequest {
        ConvReadRequest {
            conversation_id: conversation.to_owned(),
            seq,
        }
    }

    fn receipt(conversation: &str, read_seq: u64) -> (String, serde_json::Value) {
        let data = json!({"conversationId": conversation, "userId": "alice", "readSeq": read_seq});
        (events::MSG_READ.to_owned(), data)
    }

    fn unread(entries: &[ConversationEntry]) -> Vec<(String, u64)> {
        entries
            .iter()
            .map(|e| (e.conversation_id.to_string(), e.unread()))
            .collect()
    }

    #[tokio::test]
    async fn given_conversations_when_listed_then_most_recent_first_with_unread_as_last_minus_read() {
        // GIVEN alice's conversations: bob (8 sent, 5 read), a group (all read), carol (none
        // read) and one with dave that has no message yet
        let world = World::new();
        world.conversations.insert("alice", "C2Cbob", 8, 5, START_MS + 3);
        world.conversations.insert("alice", "GROUPg1", 4, 4, START_MS + 2);
        world
            .conversations
            .insert("alice", "C2Ccarol", 10, 0, START_MS + 1);
        world.conversations.insert("alice", "C2Cdave", 0, 0, START_MS + 9);
        let service = world.services().conversations;
        let alice = caller("alice", "a1");
        // WHEN she lists two a page
        let page = |cursor: Option<String>| ConvListRequest {
            cursor,
            limit: Some(2),
        };
        let first = service.list(&alice, page(None)).await.unwrap();
        // THEN the two most recent come first, with their unread counts, and a cursor
        assert_eq!(
            unread(&first.entries),
            [("C2Cbob".to_owned(), 3), ("GROUPg1".to_owned(), 0)]
        );
        assert!(first.cursor.is_some());
        // WHEN she follows the cursor THEN carol's comes, all unread, and the list ends (dave's
        // conversation waits for its first message)
        let second = service.list(&alice, page(first.cursor)).await.unwrap();
        assert_eq!(unread(&second.entries), [("C2Ccarol".to_owned(), 10)]);
        assert_eq!(second.cursor, None);
        // AND a cursor this server did not issue is refused
        let err = service
            .list(&alice, page(Some("yesterday".to_owned())))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidField);
    }

    #[tokio::test]
    async fn given_a_c2c_conversation_when_read_then_the_peer_and_the_readers_other_devices_are_told() {
        // GIVEN alice with 8 messages from bob, 5 read, on two devices; bob online
        let world = World::new();
        world.conversations.insert("alice", "C2Cbob", 8, 5, START_MS);
        world.online("alice", "a1", Some("web"));
        world.online("alice", "a2", Some("ios"));
        world.online("bob", "b1", Some("web"));
        let service = world.services().conversations;
        // WHEN she reads up to 6 on web
        let entry = service
            .read(&caller("alice", "a1"), read("C2Cbob", 6))
            .await
            .unwrap();
        // THEN two remain unread
        assert_eq!((entry.read_seq, entry.unread()), (6, 2));
        // AND bob gets a receipt naming the conversation from his side, her ios device the same
        // from hers, and the web connection that read hears nothing
        assert_eq!(world.gateway.events_to("b1"), [receipt("C2Calice", 6)]);
        assert_eq!(world.gateway.events_to("a2"), [receipt("C2Cbob", 6)]);
        assert!(world.gateway.events_to("a1").is_empty());
    }

    #[tokio::test]
    async fn given_a_read_past_the_end_or_backwards_when_marked_then_the_receipt_tells_the_stored_pointer() {
        // GIVEN alice with 8 messages from bob, 5 read
        let world = World::new();
        world.conversations.insert("alice", "C2Cbob", 8, 5, START_MS);
        world.online("bob", "b1", Some("web"));
        let service = world.services().conversations;
        let alice = caller("alice", "a1");
        // WHEN she reads up to 100 THEN the pointer stops at the last message
        let entry = service.read(&alice, read("C2Cbob", 100)).await.unwrap();
        assert_eq!((entry.read_seq, entry.unread()), (8, 0));
        // AND bob's receipt says where it is, not what was asked
        assert_eq!(world.gateway.events_to("b1"), [receipt("C2Calice", 8)]);
        // WHEN a late device reads up to 3 THEN the pointer does not move back
        let entry = service.read(&alice, read("C2Cbob", 3)).await.unwrap();
        assert_eq!(entry.read_seq, 8);
    }

    #[tokio::test]
    async fn given_a_read_that_does_not_move_the_pointer_when_marked_then_nobody_is_told() {
        // GIVEN alice with 8 messages from bob, 5 read; bob online, alice on two devices
        let world = World::new();
        world.conversations.insert("alice", "C2Cbob", 8, 5, START_MS);
        world.online("bob", "b1", Some("web"));
        world.online("alice", "a1", Some("web"));
        world.online("alice", "a2", Some("ios"));
        let service = world.services().conversations;
        let alice = caller("alice", "a1");
        // WHEN she reads up to 5 again, then up to 3
        for seq in [5, 3] {
            let entry = service.read(&alice, read("C2Cbob", seq)).await.unwrap();
            // THEN the pointer stays at 5
            assert_eq!(entry.read_seq, 5, "read up to {seq}");
        }
        // AND neither bob nor her other device hears of it
        assert!(world.gateway.sent().is_empty());
        // WHEN she reads up to 6 THEN both are told once
        service.read(&alice, read("C2Cbob", 6)).await.unwrap();
        assert_eq!(world.gateway.events_to("b1"), [receipt("C2Calice", 6)]);
        assert_eq!(world.gateway.events_to("a2"), [receipt("C2Cbob", 6)]);
    }

    #[tokio::test]
    async fn given_notes_to_self_and_groups_when_read_then_no_receipt_goes_to_a_peer() {
        // GIVEN alice's notes to herself and a group, alice on two devices
        let world = World::new();
        world.conversations.insert("alice", "C2Calice", 3, 0, START_MS);
        world.conversations.insert("alice", "GROUPg1", 9, 0, START_MS);
        world.online("alice", "a1", Some("web"));
        world.online("alice", "a2", Some("ios"));
        let service = world.services().conversations;
        let alice = caller("alice", "a1");
        // WHEN she reads her notes THEN her other device is told once (she is not her own peer)
        service.read(&alice, read("C2Calice", 3)).await.unwrap();
        assert_eq!(world.gateway.events_to("a2"), [receipt("C2Calice", 3)]);
        // WHEN she reads the group THEN the pointer moves and nobody is told
        let entry = service.read(&alice, read("GROUPg1", 9)).await.unwrap();
        assert_eq!(entry.unread(), 0);
        assert_eq!(world.gateway.sent().len(), 1);
    }

    #[tokio::test]
    async fn given_unknown_or_malformed_conversations_when_read_or_deleted_then_refused_and_silent() {
        let world = World::new();
        world.conversations.insert("alice", "C2Cbob", 8, 5, START_MS);
        world.online("bob", "b1", Some("web"));
        let service = world.services().conversations;
        let alice = caller("alice", "a1");
        // WHEN she reads one she does not have, or a malformed id THEN each has its code
        let err = service.read(&alice, read("C2Ccarol", 1)).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        let err = service.read(&alice, read("bob", 1)).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidConversationId);
        let delete = |id: &str| ConvDeleteRequest {
            conversation_id: id.to_owned(),
        };
        let err = service.delete(&alice, delete("C2Ccarol")).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        assert!(world.gateway.sent().is_empty());
        // WHEN she deletes bob's THEN it leaves her list with everything counted read
        service.delete(&alice, delete("C2Cbob")).await.unwrap();
        let (entry, hidden) = world.conversations.entry("alice", "C2Cbob").unwrap();
        assert!(hidden);
        assert_eq!(entry.unread(), 0);
        let page = service
            .list(
                &alice,
                ConvListRequest {
                    cursor: None,
                    limit: None,
                },
            )
            .await
            .unwrap();
        assert!(page.entries.is_empty());
    }
}
