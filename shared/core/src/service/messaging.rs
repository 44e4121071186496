//! Sending messages and reading history.

use crate::element::validate_body;
use crate::error::{Error, Result};
use crate::ids::{ClientMsgId, ConversationId};
use crate::message::{StoredMessage, Target};
use crate::ports::{Appended, InboxUpdate, NewMessage, SeqRange};
use crate::protocol::{HistoryRequest, SendAck, SendRequest, events};
use crate::service::{Caller, Delivery, Ports, page_size};
use bytes::Bytes;

/// Sends messages and reads conversation history.
pub struct MessageService {
    ports: Ports,
    delivery: Delivery,
}

/// A page of history.
#[derive(Debug)]
pub struct HistoryPage {
    /// Messages in ascending seq order.
    pub messages: Vec<StoredMessage>,
    /// Nothing more lies in the paging direction.
    pub complete: bool,
}

impl MessageService {
    /// A message service over `ports`.
    pub fn new(ports: Ports) -> Self {
        Self {
            delivery: Delivery::from_ports(&ports),
            ports,
        }
    }

    /// Validates and stores a message, then delivers it to every live connection of the recipient
    /// and to the sender's other connections. Idempotent on (sender, clientMsgId).
    #[tracing::instrument(level = "debug", skip_all, fields(from = %caller.user))]
    pub async fn send(&self, caller: &Caller, request: SendRequest) -> Result<SendAck> {
        let to = request.to.parse()?;
        let client_msg_id = ClientMsgId::parse(request.client_msg_id)?;
        let peer = match &to {
            Target::C2c(peer) => peer.clone(),
            Target::Group(_) => return Err(Error::NotFound("group")),
        };
        validate_body(&request.body, &self.ports.limits)?;
        let mut body = request.body;
        if let Some(filter) = &self.ports.filter {
            filter.apply(&mut body)?;
        }
        if let Some(data) = &request.cloud_custom_data
            && data.len() > self.ports.limits.max_body_bytes
        {
            return Err(Error::BodyTooLarge {
                size: data.len(),
                limit: self.ports.limits.max_body_bytes,
            });
        }

        let from = caller.user.clone();
        if from != peer
            && !self
                .ports
                .blocks
                .get_blocks(&peer, std::slice::from_ref(&from))
                .await?
                .is_empty()
        {
            return Err(Error::PeerRefused);
        }
        let inbox = InboxUpdate::c2c(&from, &peer);
        let now = self.ports.clock.now_ms();
        let appended = self
            .ports
            .messages
            .append(NewMessage {
                stream: to.stream(&from),
                msg_id: self.ports.ids.msg_id(),
                from: from.clone(),
                to,
                time: now,
                client_msg_id,
                body,
                cloud_custom_data: request.cloud_custom_data,
                sender: None,
                system: false,
                expires_at: now + self.ports.limits.roaming_ttl_ms,
                keep_last: self.ports.limits.max_stream_messages,
                inbox,
            })
            .await?;

        let message = match appended {
            Appended::New(message) => {
                tracing::debug!(seq = message.seq, "message stored");
                self.deliver(caller, &message, now).await;
                message
            }
            Appended::Duplicate(message) => {
                tracing::debug!(seq = message.seq, "duplicate send answered with the first ack");
                message
            }
        };
        Ok(SendAck {
            conversation_id: message.to.conversation_for(&message.from, &caller.user),
            msg_id: message.msg_id,
            seq: message.seq,
            time: message.time,
        })
    }

    /// Pushes `msg.new` to the recipient's connections and the sender's other connections.
    async fn deliver(&self, caller: &Caller, message: &StoredMessage, now: i64) {
        let sender_frame = Bytes::from(crate::protocol::event(
            events::MSG_NEW,
            &message.view(&message.from),
        ));
        let own = self
            .delivery
            .to_user(&message.from, sender_frame, caller.connection.as_ref(), now);
        let peer = async {
            match &message.to {
                Target::C2c(peer) if peer != &message.from => {
                    let frame = Bytes::from(crate::protocol::event(events::MSG_NEW, &message.view(peer)));
                    self.delivery.to_user(peer, frame, None, now).await
                }
                _ => Ok(0),
            }
        };
        let (own, peer) = futures_util::join!(own, peer);
        for result in [own, peer] {
            if let Err(err) = result {
                tracing::warn!(error = %err, "delivery lookup failed; recipients will sync from history");
            }
        }
    }

    /// A page of a conversation's history, by seq.
    pub async fn history(&self, caller: &Caller, request: HistoryRequest) -> Result<HistoryPage> {
        let conversation_id = ConversationId::parse(&request.conversation_id)?;
        if matches!(conversation_id, ConversationId::Group(_)) {
            return Err(Error::NotFound("group"));
        }
        if let (Some(before), Some(after)) = (request.before_seq, request.after_seq)
            && before <= after
        {
            return Err(Error::InvalidField(
                "beforeSeq must be greater than afterSeq".to_owned(),
            ));
        }
        let limit = page_size(request.limit, self.ports.limits.max_history_page);
        let stream = conversation_id.stream(&caller.user);
        let range = SeqRange {
            before: request.before_seq,
            after: request.after_seq,
            limit: limit + 1,
            now: self.ports.clock.now_ms(),
            keep_last: self.ports.limits.max_stream_messages,
        };
        let mut messages = self
            .ports
            .messages
            .history(&stream, range, Some(&caller.user))
            .await?;
        let complete = messages.len() <= limit as usize;
        if !complete {
            // One more than asked was read to learn whether the page is the last one; drop the extra
            // from the far end of the paging direction.
            if request.after_seq.is_some() && request.before_seq.is_none() {
                messages.pop();
            } else {
                messages.remove(0);
            }
        }
        Ok(HistoryPage { messages, complete })
    }
}
