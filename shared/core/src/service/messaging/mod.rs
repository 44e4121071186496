//! Sending messages, reading history and sync, recall and delete-for-me.
//!
//! Sending is here (the checks of `submit`); storing and delivering a message is in
//! [`delivery`], reading in [`history`] (history, sync), editing in [`edit`], undoing in
//! [`recall`] (recall, delete for me), pinning in [`pins`].
//!
//! Just over 600 lines: `submit` and the checks it shares with edit, signal and pin (who may speak
//! in a group, blacklists, content) stay together; moving `submit` to its own module is next.

mod callbacks;
mod delivery;
mod edit;
mod history;
mod pins;
mod recall;
mod signals;

pub use pins::PinnedMessage;

use crate::accounts::{Account, GUEST_PREFIX};
use crate::clock::{Clock, IdGen};
use crate::element::Element;
use crate::element::validate_body;
use crate::error::{Error, Result};
use crate::filter::WordFilter;
use crate::group::{Audience, Group, Rule};
use crate::ids::{ClientMsgId, ConversationId, GroupId, StreamKey, UserId};
use crate::limits::Limits;
use crate::message::{Recall, StoredMessage, Target};
use crate::ports::{
    AccountStore, BlockStore, ConversationStore, GroupStore, MediaStore, MessageStore, PinStore,
    ProfileStore, Queue, RoomStore,
};
use crate::ports::{InboxUpdate, NewMessage, QueueName, SeqRange};
use crate::protocol::messages::{DeleteRequest, RecallRequest, Recalled, SyncRequest};
use crate::protocol::{HistoryRequest, SendAck, SendRequest, event, events};
use crate::service::callback_hooks::CallbackHooks;
use crate::service::groups::TipChanges;
use crate::service::media::verify_media;
use crate::service::push::offline_push_job;
use crate::service::sender_cache::SenderProfiles;
use crate::service::{AudiencePorts, Caller, Delivery, GroupTips, Ports, StoreSource, page_size};
use bytes::Bytes;
use futures_util::future::join_all;
use std::collections::HashMap;
use std::sync::Arc;

/// Most seqs one `msg.delete` may name.
pub const MAX_DELETE_BATCH: usize = 100;

/// Sends messages and reads conversation history.
pub struct MessageService {
    ports: MessagePorts,
    senders: SenderProfiles,
}

/// What sending and reading messages use.
#[derive(Clone)]
pub struct MessagePorts {
    /// Message streams.
    pub messages: Arc<dyn MessageStore>,
    /// Conversation lists (sync, history bounds).
    pub conversations: Arc<dyn ConversationStore>,
    /// Groups and members (who may send, read or recall).
    pub groups: Arc<dyn GroupStore>,
    /// Blacklists (a blocked sender is refused).
    pub blocks: Arc<dyn BlockStore>,
    /// Profiles (the sender's, carried on each message).
    pub profiles: Arc<dyn ProfileStore>,
    /// Accounts (a one-to-one recipient must have one; offline push reaches them logged in only).
    pub accounts: Arc<dyn AccountStore>,
    /// Live rooms' seats (who may send there).
    pub rooms: Arc<dyn RoomStore>,
    /// Uploaded media (a message may only carry what its sender uploaded).
    pub media: Option<Arc<dyn MediaStore>>,
    /// Conversations' pinned messages.
    pub pins: Arc<dyn PinStore>,
    /// Offline-push jobs, where the push function runs.
    pub queue: Option<Arc<dyn Queue>>,
    /// Pushing to the recipients' and the sender's connections.
    pub delivery: Delivery,
    /// Reaching a group's audience.
    pub audience: AudiencePorts,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Message ids.
    pub ids: Arc<dyn IdGen>,
    /// Body, history and recall limits.
    pub limits: Limits,
    /// The sensitive-word filter, if the app configured one.
    pub filter: Option<Arc<WordFilter>>,
    /// The app's before- and after-send callbacks.
    pub callbacks: CallbackHooks,
}

impl MessagePorts {
    /// The messages' ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            messages: ports.stores.messages(),
            conversations: ports.stores.conversations(),
            pins: ports.stores.pins(),
            groups: ports.stores.groups(),
            blocks: ports.stores.blocks(),
            profiles: ports.stores.profiles(),
            accounts: ports.stores.accounts(),
            rooms: ports.stores.rooms(),
            media: ports.media.clone(),
            queue: ports.queue.clone(),
            delivery: ports.delivery(),
            audience: AudiencePorts::of(ports),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
            limits: ports.limits.clone(),
            filter: ports.filter.clone(),
            callbacks: CallbackHooks::of(ports),
        }
    }
}

/// A page of history.
#[derive(Debug)]
pub struct HistoryPage {
    /// Messages in ascending seq order.
    pub messages: Vec<StoredMessage>,
    /// Nothing more lies in the paging direction.
    pub complete: bool,
}

/// One conversation's part of a `msg.sync`.
#[derive(Debug)]
pub struct SyncedConversation {
    /// The conversation from the caller's side.
    pub conversation_id: ConversationId,
    /// Highest seq.
    pub last_seq: u64,
    /// The caller's read pointer.
    pub read_seq: u64,
    /// What the client lacks (or the newest page), ascending.
    pub page: HistoryPage,
}

/// A message on its way in, from a client or the app server.
struct Submission {
    from: UserId,
    to: Target,
    client_msg_id: ClientMsgId,
    body: Vec<crate::element::Element>,
    cloud_custom_data: Option<String>,
    /// The connection the sender used (not echoed to).
    origin: Option<crate::ids::ConnectionId>,
    /// A notice from the server.
    system: bool,
    /// The sender holds a guest token.
    guest: bool,
    /// Sent by the app server (the REST API): no send callback fires.
    by_server: bool,
    /// The sender's own connections are told (`msg.new`); the REST API's `SyncOtherMachine: 2`
    /// turns it off.
    sync_sender: bool,
}

/// Who a message is stored for and how it is announced.
struct Outgoing {
    message: NewMessage,
    /// The connection the sender used (not echoed to).
    origin: Option<crate::ids::ConnectionId>,
    /// `msg.new`, or `msg.system` for notices.
    event: &'static str,
    /// The target group as the send checked it (read once per send).
    group: Option<Group>,
    /// A client's message: the before-send callback may refuse or rewrite it, the after-send
    /// callback fires once it is stored.
    callbacks: bool,
    /// The sender's other connections are told.
    sync_sender: bool,
}

impl MessageService {
    /// A message service over `ports`.
    pub fn new(ports: MessagePorts) -> Self {
        Self {
            senders: SenderProfiles::new(ports.profiles.clone()),
            ports,
        }
    }

    /// A message service over the process's ports.
    pub fn from_ports<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self::new(MessagePorts::of(ports))
    }

    /// Validates and stores a message, then delivers it to every live connection of the recipient
    /// and to the sender's other connections; a logged-in recipient with none gets an offline-push
    /// job. A one-to-one recipient with no account is refused (`not_found`).
    /// Idempotent on (sender, clientMsgId).
    #[tracing::instrument(level = "debug", skip_all, fields(from = %caller.user))]
    pub async fn send(&self, caller: &Caller, request: SendRequest) -> Result<SendAck> {
        let to = request.to.parse()?;
        let stored = self
            .submit(Submission {
                from: caller.user.clone(),
                to,
                client_msg_id: ClientMsgId::parse(request.client_msg_id)?,
                body: request.body,
                cloud_custom_data: request.cloud_custom_data,
                origin: caller.connection.clone(),
                system: false,
                guest: caller.guest,
                by_server: false,
                sync_sender: true,
            })
            .await?;
        Ok(SendAck {
            conversation_id: stored.to.conversation_for(&stored.from, &caller.user),
            msg_id: stored.msg_id,
            seq: stored.seq,
            time: stored.time,
        })
    }

    /// Sends on the app server's behalf (the REST API), to a user or a group: as `from` if
    /// given (a group's rules for its members apply), otherwise as a system notice from the
    /// administrator (`msg.system`, no blacklist, membership or mute check). Stored, synced and
    /// pushed like any message, to the sender's own connections too unless `sync_sender` is
    /// false; idempotent on (sender, `client_msg_id`).
    pub async fn send_as_server(
        &self,
        from: Option<UserId>,
        to: Target,
        client_msg_id: ClientMsgId,
        body: Vec<crate::element::Element>,
        cloud_custom_data: Option<String>,
        sync_sender: bool,
    ) -> Result<StoredMessage> {
        let system = from.is_none();
        let from = from.unwrap_or_else(|| self.ports.limits.accounts.admin.clone());
        self.submit(Submission {
            from,
            to,
            client_msg_id,
            body,
            cloud_custom_data,
            origin: None,
            system,
            guest: false,
            by_server: true,
            sync_sender,
        })
        .await
    }

    /// The common send path: checks, the message extension, append, delivery.
    async fn submit(&self, submission: Submission) -> Result<StoredMessage> {
        let Submission {
            from,
            to,
            client_msg_id,
            body,
            cloud_custom_data,
            origin,
            system,
            guest,
            by_server,
            sync_sender,
        } = submission;
        let callbacks = !system && !by_server;
        let body = self.checked_content(body, cloud_custom_data.as_deref())?;

        let now = self.ports.clock.now_ms();
        let peer = match &to {
            Target::C2c(peer) => peer.clone(),
            Target::Group(group) => {
                let found = self.live_group(group).await?;
                let inbox = self
                    .group_sender(&found, &from, system, now, origin.as_ref(), guest)
                    .await?;
                let media = verify_media(self.ports.media.as_deref(), &from, &body);
                let (sender, media) = futures_util::join!(self.sender_profile(&from, now), media);
                media?;
                let message = NewMessage {
                    stream: to.stream(&from),
                    msg_id: self.ports.ids.msg_id(),
                    from,
                    to,
                    time: now,
                    client_msg_id,
                    body,
                    cloud_custom_data,
                    sender: if system { None } else { sender? },
                    system,
                    expires_at: now + self.ports.limits.roaming_ttl_ms,
                    keep_last: self.ports.limits.max_stream_messages,
                    inbox,
                };
                return self
                    .store_and_deliver(Outgoing {
                        message,
                        origin,
                        event: if system {
                            events::MSG_SYSTEM
                        } else {
                            events::MSG_NEW
                        },
                        group: Some(found),
                        callbacks,
                        sync_sender,
                    })
                    .await;
            }
        };
        let blocked =
            async { Ok::<_, Error>(!system && from != peer && self.blocked_by(&peer, &from).await?) };
        let media = verify_media(self.ports.media.as_deref(), &from, &body);
        let (blocked, sender, media, recipient) = futures_util::join!(
            blocked,
            self.sender_profile(&from, now),
            media,
            self.recipient_exists(&from, &peer)
        );
        if !recipient? {
            return Err(Error::NotFound("user"));
        }
        if blocked? {
            return Err(Error::PeerRefused);
        }
        media?;
        let inbox = InboxUpdate::c2c(&from, &peer);
        let message = NewMessage {
            stream: to.stream(&from),
            msg_id: self.ports.ids.msg_id(),
            from,
            to,
            time: now,
            client_msg_id,
            body,
            cloud_custom_data,
            sender: sender?,
            system,
            expires_at: now + self.ports.limits.roaming_ttl_ms,
            keep_last: self.ports.limits.max_stream_messages,
            inbox,
        };
        self.store_and_deliver(Outgoing {
            message,
            origin,
            event: if system {
                events::MSG_SYSTEM
            } else {
                events::MSG_NEW
            },
            group: None,
            callbacks,
            sync_sender,
        })
        .await
    }

    /// Checks that `from` may send to `group` now (a member, not muted; the server's notices
    /// always may) and returns the inbox update: the sender's own read pointer only, so a group
    /// send writes nothing per member.
    async fn group_sender(
        &self,
        found: &Group,
        from: &UserId,
        system: bool,
        now: i64,
        origin: Option<&crate::ids::ConnectionId>,
        guest: bool,
    ) -> Result<Vec<InboxUpdate>> {
        let group = &found.id;
        if system {
            return Ok(Vec::new());
        }
        if guest {
            return Err(Error::GuestNotAllowed("msg.send"));
        }
        let member = self
            .ports
            .groups
            .get_members(group, std::slice::from_ref(from))
            .await?
            .pop();
        let live = found.kind.audience() == Audience::Seats;
        let member = match member {
            Some(member) => member,
            // A live room's audience speaks from a seated connection; viewers keep no
            // conversation entry (nothing is written per viewer).
            None if live => {
                let seated = async {
                    match origin {
                        Some(connection) => self.ports.rooms.get_seat(group, connection, now).await,
                        None => Ok(None),
                    }
                };
                // A viewer's own mute is kept per user (it outlasts the seat); read alongside.
                let muted = self.ports.rooms.viewer_muted_until(group, from, now);
                let (seated, muted) = futures_util::join!(seated, muted);
                let (seated, muted) = (seated?, muted?);
                return match seated {
                    Some(_) if !found.mute_all && muted.is_none() => Ok(Vec::new()),
                    Some(_) => Err(Error::Muted),
                    None => Err(Error::Forbidden("join the live room first")),
                };
            }
            None => return Err(Error::Forbidden("only members may send to this group")),
        };
        if member.muted_until > now || (found.mute_all && !member.role.manages()) {
            return Err(Error::Muted);
        }
        if live {
            return Ok(Vec::new());
        }
        Ok(vec![InboxUpdate {
            owner: from.clone(),
            conversation_id: ConversationId::Group(group.clone()),
            mark_read: true,
        }])
    }

    /// Posts a group tip: a system message in the group's stream whose body is one custom
    /// element, `data` `{"tip", "by", "users"}` (and `changes`, the changed profile fields with
    /// their new values, where there are any) and a readable `desc`.
    pub async fn post_tip(
        &self,
        group: &Group,
        tip: &str,
        by: &UserId,
        users: &[UserId],
        changes: &TipChanges,
    ) -> Result<StoredMessage> {
        let mut data = serde_json::json!({"tip": tip, "by": by, "users": users});
        if !changes.is_empty() {
            data["changes"] = serde_json::Value::Object(changes.clone());
        }
        let data = data.to_string();
        let names: Vec<&str> = users.iter().map(UserId::as_str).collect();
        let desc = if !changes.is_empty() {
            let fields: Vec<String> = changes
                .iter()
                .map(|(field, value)| match value {
                    serde_json::Value::Null => format!("{field} cleared"),
                    serde_json::Value::Object(_) => format!("{field} changed"),
                    value => format!("{field} set to {value}"),
                })
                .collect();
            format!("{tip} by {by}: {}", fields.join(", "))
        } else if names.is_empty() {
            format!("{tip} by {by}")
        } else {
            format!("{tip}: {}", names.join(", "))
        };
        self.submit(Submission {
            from: self.ports.limits.accounts.admin.clone(),
            to: Target::Group(group.id.clone()),
            client_msg_id: ClientMsgId::parse(format!("tip-{}", self.ports.ids.msg_id()))?,
            body: vec![Element::Custom {
                data,
                desc: Some(desc),
                ext: None,
            }],
            cloud_custom_data: None,
            origin: None,
            system: true,
            guest: false,
            by_server: true,
            sync_sender: true,
        })
        .await
    }

    /// The message extension for `sender`, if the app keeps it.
    async fn sender_profile(
        &self,
        sender: &UserId,
        now: i64,
    ) -> Result<Option<crate::message::SenderProfile>> {
        if !self.ports.limits.sender_profile {
            return Ok(None);
        }
        self.senders.get(sender, now).await
    }

    /// A body and cloudCustomData as a message may carry them: valid elements within the size
    /// limits, with the app's sensitive words masked (or refused, as the filter says).
    fn checked_content(&self, body: Vec<Element>, cloud_custom_data: Option<&str>) -> Result<Vec<Element>> {
        validate_body(&body, &self.ports.limits)?;
        let mut body = body;
        if let Some(filter) = &self.ports.filter {
            filter.apply(&mut body)?;
        }
        self.check_custom_data(cloud_custom_data)?;
        Ok(body)
    }

    /// cloudCustomData within the body's size limit.
    fn check_custom_data(&self, cloud_custom_data: Option<&str>) -> Result<()> {
        match cloud_custom_data {
            Some(data) if data.len() > self.ports.limits.max_body_bytes => Err(Error::BodyTooLarge {
                size: data.len(),
                limit: self.ports.limits.max_body_bytes,
            }),
            _ => Ok(()),
        }
    }

    /// The group, if `caller` may speak in it now (as [`Self::group_sender`] checks for a send):
    /// what an edit or a signal needs before it reaches the group.
    async fn may_speak_in(&self, id: &GroupId, caller: &Caller) -> Result<Group> {
        let group = self.live_group(id).await?;
        let now = self.ports.clock.now_ms();
        self.group_sender(
            &group,
            &caller.user,
            false,
            now,
            caller.connection.as_ref(),
            caller.guest,
        )
        .await?;
        Ok(group)
    }

    /// The group, unless it does not exist or is dismissed (`not_found`).
    async fn live_group(&self, id: &GroupId) -> Result<Group> {
        self.ports
            .groups
            .get_group(id)
            .await?
            .filter(|group| !group.dismissed)
            .ok_or(Error::NotFound("group"))
    }

    /// Posts an event to a group's audience but `actor` (whose own connections the caller tells)
    /// and `origin` (best effort: clients see the change in history); `what` names it for the log.
    async fn announce_to_group(
        &self,
        actor: &UserId,
        group: &GroupId,
        frame: String,
        origin: Option<&crate::ids::ConnectionId>,
        now: i64,
        what: &str,
    ) {
        let posted = match self.ports.groups.get_group(group).await {
            Ok(Some(found)) => self.ports.audience.post(&found, frame, actor, origin, now).await,
            Ok(None) => Ok(0),
            Err(err) => Err(err),
        };
        if let Err(err) = posted {
            tracing::warn!(error = %err, what, "could not announce a change to the group");
        }
    }

    /// Whether `peer` has `from` on their blacklist (which refuses `from`'s messages and signals).
    async fn blocked_by(&self, peer: &UserId, from: &UserId) -> Result<bool> {
        let blocks = self
            .ports
            .blocks
            .get_blocks(peer, std::slice::from_ref(from))
            .await?;
        Ok(!blocks.is_empty())
    }

    /// Whether `peer` may receive a one-to-one message from `from`: an account of theirs exists
    /// (Tencent refuses a recipient that was never imported), or they are the sender, the
    /// administrator, or a guest where guests may chat one to one (neither has an account).
    async fn recipient_exists(&self, from: &UserId, peer: &UserId) -> Result<bool> {
        let accounts = &self.ports.limits.accounts;
        if peer == from
            || peer == &accounts.admin
            || (accounts.guest_c2c && peer.as_str().starts_with(GUEST_PREFIX))
        {
            return Ok(true);
        }
        let found = self
            .ports
            .accounts
            .get_accounts(std::slice::from_ref(peer))
            .await?;
        Ok(!found.is_empty())
    }

    /// Queues the offline-push job for `recipient` if they are logged in (best effort: the
    /// message is stored). A user who logged out, or never logged in, has no device to tell:
    /// offline push is for the `offline` status of `presence.get`, not `logged_out`.
    async fn push_offline(&self, message: &StoredMessage, recipient: &UserId) {
        let Some(queue) = &self.ports.queue else {
            return;
        };
        match self
            .ports
            .accounts
            .get_accounts(std::slice::from_ref(recipient))
            .await
        {
            Ok(found) if found.first().is_some_and(Account::is_logged_in) => {}
            Ok(_) => return,
            Err(err) => {
                tracing::warn!(error = %err, "could not read the recipient's account; no offline push");
                return;
            }
        }
        let job = offline_push_job(message, recipient);
        if let Err(err) = queue.enqueue(QueueName::Push, vec![job]).await {
            tracing::warn!(error = %err, "could not queue an offline push");
        }
    }
}

/// A conversation as one viewer may read it.
struct Access {
    conversation_id: ConversationId,
    stream: StreamKey,
    /// Seqs up to this are not the viewer's to see (history before joining a group).
    floor: u64,
}

#[async_trait::async_trait]
impl GroupTips for MessageService {
    async fn post_tip(
        &self,
        group: &Group,
        tip: &str,
        by: &UserId,
        users: &[UserId],
        changes: &TipChanges,
    ) -> Result<()> {
        MessageService::post_tip(self, group, tip, by, users, changes)
            .await
            .map(|_| ())
    }
}
