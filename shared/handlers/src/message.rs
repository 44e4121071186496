//! The message function's routes (`msg.*`, `conv.*`, `presence.*`, `media.*`, `auth.logout`,
//! `push.*`, `sys.ping`, and `$default`).

use crate::rate_limit::RateLimiter;
use crate::routes::{Routes, unknown};
use cirrus_core::clock::Clock;
use cirrus_core::error::{Error, Result};
use cirrus_core::ports::ConnectionGateway;
use cirrus_core::protocol::messages::{Deleted, Recalled, SyncReply, SyncedConversation as SyncedView};
use cirrus_core::protocol::{
    Action, ClientFrame, ConvListReply, ConversationView, Function, HistoryReply, PingReply, PresenceReply,
    reply_ok,
};
use cirrus_core::service::{
    AccountService, Caller, ConversationService, MediaService, MessageService, Ports, PresenceService,
    PushDeviceService, SessionService, StoreSource,
};
use std::sync::Arc;

/// The services the message function's actions call.
#[derive(Clone)]
pub struct MessageRoutes {
    /// Sending, history, sync, recall and delete.
    pub messages: Arc<MessageService>,
    /// Conversation lists and read pointers.
    pub conversations: Arc<ConversationService>,
    /// Presence queries and subscriptions.
    pub presence: Arc<PresenceService>,
    /// Logout.
    pub accounts: Arc<AccountService>,
    /// Media upload and download URLs.
    pub media: Arc<MediaService>,
    /// Push device registration.
    pub push_devices: Arc<PushDeviceService>,
    /// Posts logout's reply before the close.
    pub gateway: Arc<dyn ConnectionGateway>,
    /// The heartbeat's time.
    pub clock: Arc<dyn Clock>,
    /// Whether guests may message one-to-one.
    pub guest_c2c: bool,
    /// The rate limits' buckets.
    pub rate_limiter: Arc<RateLimiter>,
}

impl MessageRoutes {
    /// Builds the message function's services, and only those, over `ports`.
    pub fn build<S: StoreSource>(ports: &Ports<S>) -> Self {
        let presence = Arc::new(PresenceService::from_ports(ports));
        let sessions = Arc::new(SessionService::from_ports(ports, presence.clone()));
        Self {
            messages: Arc::new(MessageService::from_ports(ports)),
            conversations: Arc::new(ConversationService::from_ports(ports)),
            accounts: Arc::new(AccountService::from_ports(ports, sessions)),
            media: Arc::new(MediaService::from_ports(ports)),
            push_devices: Arc::new(PushDeviceService::from_ports(ports)),
            presence,
            gateway: ports.gateway.clone(),
            clock: ports.clock.clone(),
            guest_c2c: ports.limits.accounts.guest_c2c,
            rate_limiter: Arc::new(RateLimiter::new(&ports.limits.rates)),
        }
    }
}

impl Routes for MessageRoutes {
    fn guest_c2c(&self) -> bool {
        self.guest_c2c
    }

    fn rate_limiter(&self) -> &RateLimiter {
        &self.rate_limiter
    }

    async fn dispatch(&self, caller: &Caller, action: Action, frame: &ClientFrame<'_>) -> Result<String> {
        if action.function() != Function::Message {
            return Err(unknown(action.name()));
        }
        dispatch(self, caller, action, frame).await
    }
}

async fn dispatch(
    deps: &MessageRoutes,
    caller: &Caller,
    action: Action,
    frame: &ClientFrame<'_>,
) -> Result<String> {
    let req_id = frame.req_id.as_deref();
    match action {
        Action::MsgSend => {
            let ack = deps.messages.send(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &ack))
        }
        Action::MsgHistory => {
            let page = deps.messages.history(caller, frame.data()?).await?;
            let messages = page.messages.iter().map(|m| m.view(&caller.user)).collect();
            Ok(reply_ok(
                req_id,
                &HistoryReply {
                    messages,
                    complete: page.complete,
                },
            ))
        }
        Action::MsgRecall => {
            let message = deps.messages.recall(caller, frame.data()?).await?;
            let recall = message
                .recalled
                .as_ref()
                .ok_or_else(|| Error::store("a recalled message came back without its recall"))?;
            Ok(reply_ok(
                req_id,
                &Recalled {
                    conversation_id: message.to.conversation_for(&message.from, &caller.user),
                    msg_id: &message.msg_id,
                    seq: message.seq,
                    recalled_by: &recall.by,
                    time: recall.time,
                },
            ))
        }
        Action::MsgEdit => {
            let message = deps.messages.edit(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &message.view(&caller.user)))
        }
        Action::MsgDelete => {
            let (conversation_id, seqs) = deps.messages.delete(caller, frame.data()?).await?;
            Ok(reply_ok(
                req_id,
                &Deleted {
                    conversation_id: &conversation_id,
                    seqs: &seqs,
                },
            ))
        }
        Action::MsgSync => {
            let synced = deps.messages.sync(caller, frame.data()?).await?;
            let conversations = synced
                .iter()
                .map(|conversation| SyncedView {
                    conversation_id: &conversation.conversation_id,
                    last_seq: conversation.last_seq,
                    read_seq: conversation.read_seq,
                    unread: conversation.last_seq.saturating_sub(conversation.read_seq),
                    messages: conversation
                        .page
                        .messages
                        .iter()
                        .map(|m| m.view(&caller.user))
                        .collect(),
                    complete: conversation.page.complete,
                })
                .collect();
            Ok(reply_ok(req_id, &SyncReply { conversations }))
        }
        Action::ConvList => {
            let page = deps.conversations.list(caller, frame.data()?).await?;
            let conversations = page
                .entries
                .iter()
                .map(|entry| ConversationView {
                    conversation_id: &entry.conversation_id,
                    r#type: entry.conversation_id.kind(),
                    peer: entry.conversation_id.peer(),
                    last_message: entry.last_message.as_ref().map(|m| m.view(&caller.user)),
                    last_seq: entry.last_seq,
                    read_seq: entry.read_seq,
                    unread: entry.unread(),
                    updated_at: entry.updated_at,
                })
                .collect();
            Ok(reply_ok(
                req_id,
                &ConvListReply {
                    conversations,
                    cursor: page.cursor,
                },
            ))
        }
        Action::MsgSignal => {
            deps.messages.signal(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &serde_json::json!({})))
        }
        Action::ConvRead => {
            deps.conversations.read(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &serde_json::json!({})))
        }
        Action::ConvDelete => {
            deps.conversations.delete(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &serde_json::json!({})))
        }
        Action::ConvPin => {
            let pinned = deps.messages.pin(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &pinned.view(&caller.user, &caller.user)))
        }
        Action::ConvUnpin => {
            let unpinned = deps.messages.unpin(caller, frame.data()?).await?;
            Ok(reply_ok(
                req_id,
                &serde_json::json!({ "removed": unpinned.is_some() }),
            ))
        }
        Action::ConvPins => {
            let pins = deps.messages.pins(caller, frame.data()?).await?;
            let pins = pins
                .iter()
                .map(|pin| pin.view(&caller.user, &caller.user))
                .collect();
            Ok(reply_ok(req_id, &cirrus_core::protocol::pins::PinsReply { pins }))
        }
        Action::PresenceGet => {
            let users = deps.presence.get(frame.data()?).await?;
            Ok(reply_ok(req_id, &PresenceReply { users }))
        }
        Action::PresenceSubscribe => {
            let reply = deps.presence.subscribe(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &reply))
        }
        Action::PresenceUnsubscribe => {
            let reply = deps.presence.unsubscribe(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &reply))
        }
        Action::AuthLogout => {
            deps.accounts.logout(caller).await?;
            let reply = reply_ok(req_id, &serde_json::json!({}));
            // The reply goes out before the close, so it is posted rather than returned.
            if let Some(connection) = &caller.connection {
                deps.gateway.post(connection, reply.into()).await?;
                deps.gateway.close(connection).await?;
            }
            Ok(String::new())
        }
        Action::PushRegister => {
            deps.push_devices.register(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &serde_json::json!({})))
        }
        Action::PushUnregister => {
            let removed = deps.push_devices.unregister(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &serde_json::json!({"removed": removed})))
        }
        Action::SysPing => Ok(reply_ok(
            req_id,
            &PingReply {
                time: deps.clock.now_ms(),
            },
        )),
        Action::MediaUpload | Action::MediaDownload => {
            crate::media::dispatch(&deps.media, caller, action, frame).await
        }
        other => Err(unknown(other.name())),
    }
}
