//! Sending messages, reading history and sync, recall and delete-for-me.

use crate::element::Element;
use crate::element::validate_body;
use crate::error::{Error, Result};
use crate::group::{Audience, Group, Rule};
use crate::ids::{ClientMsgId, ConversationId, GroupId, StreamKey, UserId};
use crate::message::{Recall, StoredMessage, Target};
use crate::ports::{Appended, InboxUpdate, NewMessage, QueueName, SeqRange};
use crate::protocol::messages::{DeleteRequest, RecallRequest, Recalled, SyncRequest};
use crate::protocol::{HistoryRequest, SendAck, SendRequest, event, events};
use crate::service::media::verify_media;
use crate::service::push::offline_push_job;
use crate::service::sender_cache::SenderProfiles;
use crate::service::{Caller, Delivery, GroupTips, Ports, audience, page_size};
use bytes::Bytes;
use futures_util::future::join_all;
use std::collections::HashMap;

/// Most seqs one `msg.delete` may name.
pub const MAX_DELETE_BATCH: usize = 100;

/// Sends messages and reads conversation history.
pub struct MessageService {
    ports: Ports,
    delivery: Delivery,
    senders: SenderProfiles,
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
}

impl MessageService {
    /// A message service over `ports`.
    pub fn new(ports: Ports) -> Self {
        Self {
            delivery: Delivery::from_ports(&ports),
            senders: SenderProfiles::new(ports.profiles.clone()),
            ports,
        }
    }

    /// Validates and stores a message, then delivers it to every live connection of the recipient
    /// and to the sender's other connections; a recipient with none gets an offline-push job.
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
            })
            .await?;
        Ok(SendAck {
            conversation_id: stored.to.conversation_for(&stored.from, &caller.user),
            msg_id: stored.msg_id,
            seq: stored.seq,
            time: stored.time,
        })
    }

    /// Sends on the app server's behalf (the REST API): as `from` if given, otherwise as a
    /// system notice from the administrator (`msg.system`, no blacklist check). Stored, synced
    /// and pushed like any message; idempotent on (sender, `client_msg_id`).
    pub async fn send_as_server(
        &self,
        from: Option<UserId>,
        to: UserId,
        client_msg_id: ClientMsgId,
        body: Vec<crate::element::Element>,
        cloud_custom_data: Option<String>,
    ) -> Result<StoredMessage> {
        let system = from.is_none();
        let from = from.unwrap_or_else(|| self.ports.limits.accounts.admin.clone());
        self.submit(Submission {
            from,
            to: Target::C2c(to),
            client_msg_id,
            body,
            cloud_custom_data,
            origin: None,
            system,
            guest: false,
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
        } = submission;
        validate_body(&body, &self.ports.limits)?;
        let mut body = body;
        if let Some(filter) = &self.ports.filter {
            filter.apply(&mut body)?;
        }
        if let Some(data) = &cloud_custom_data
            && data.len() > self.ports.limits.max_body_bytes
        {
            return Err(Error::BodyTooLarge {
                size: data.len(),
                limit: self.ports.limits.max_body_bytes,
            });
        }

        let now = self.ports.clock.now_ms();
        let peer = match &to {
            Target::C2c(peer) => peer.clone(),
            Target::Group(group) => {
                let found = self
                    .ports
                    .groups
                    .get_group(group)
                    .await?
                    .filter(|g| !g.dismissed)
                    .ok_or(Error::NotFound("group"))?;
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
                    })
                    .await;
            }
        };
        let blocked = async {
            Ok::<_, Error>(
                !system
                    && from != peer
                    && !self
                        .ports
                        .blocks
                        .get_blocks(&peer, std::slice::from_ref(&from))
                        .await?
                        .is_empty(),
            )
        };
        let media = verify_media(self.ports.media.as_deref(), &from, &body);
        let (blocked, sender, media) = futures_util::join!(blocked, self.sender_profile(&from, now), media);
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
                let seated = match origin {
                    Some(connection) => self.ports.rooms.get_seat(group, connection, now).await?,
                    None => None,
                };
                return match seated {
                    Some(_) if !found.mute_all => Ok(Vec::new()),
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
    /// element, `data` `{"tip", "by", "users"}` and a readable `desc`.
    pub async fn post_tip(
        &self,
        group: &Group,
        tip: &str,
        by: &UserId,
        users: &[UserId],
    ) -> Result<StoredMessage> {
        let data = serde_json::json!({"tip": tip, "by": by, "users": users}).to_string();
        let names: Vec<&str> = users.iter().map(UserId::as_str).collect();
        let desc = if names.is_empty() {
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

    /// Appends a message (idempotently) and, if it is new, delivers it.
    async fn store_and_deliver(&self, outgoing: Outgoing) -> Result<StoredMessage> {
        let now = outgoing.message.time;
        match self.ports.messages.append(outgoing.message).await? {
            Appended::New(message) => {
                tracing::debug!(seq = message.seq, "message stored");
                self.deliver(
                    &message,
                    outgoing.origin.as_ref(),
                    outgoing.event,
                    now,
                    outgoing.group.as_ref(),
                )
                .await;
                Ok(message)
            }
            Appended::Duplicate(message) => {
                tracing::debug!(seq = message.seq, "duplicate send answered with the first ack");
                Ok(message)
            }
        }
    }

    /// Pushes the message to the recipient's connections and the sender's other connections;
    /// queues an offline push for a recipient none of whose connections took it.
    async fn deliver(
        &self,
        message: &StoredMessage,
        origin: Option<&crate::ids::ConnectionId>,
        name: &str,
        now: i64,
        group: Option<&Group>,
    ) {
        let sender_frame = Bytes::from(event(name, &message.view(&message.from)));
        // A group tip's sender is the administrator account, whose connections (an operator's
        // console) would otherwise get every group's tips.
        let tip = message.system && matches!(message.to, Target::Group(_));
        let own = async {
            if tip {
                Ok(0)
            } else {
                self.delivery
                    .to_user(&message.from, sender_frame, origin, now)
                    .await
            }
        };
        let peer = async {
            match &message.to {
                Target::C2c(peer) if peer != &message.from => {
                    let frame = Bytes::from(event(name, &message.view(peer)));
                    let delivered = self.delivery.to_user(peer, frame, None, now).await;
                    if matches!(delivered, Ok(0)) {
                        self.push_offline(message, peer).await;
                    }
                    delivered
                }
                _ => Ok(0),
            }
        };
        let members = async {
            match group {
                Some(group) => self.deliver_to_group(message, group, name, origin, now).await,
                None => Ok(0),
            }
        };
        let (own, peer, members) = futures_util::join!(own, peer, members);
        if let Err(err) = members {
            tracing::warn!(error = %err, "group delivery failed; members will sync from history");
        }
        for result in [own, peer] {
            if let Err(err) = result {
                tracing::warn!(error = %err, "delivery lookup failed; recipients will sync from history");
            }
        }
    }

    /// Posts a group message to every member's connections but the sender's (whose other
    /// connections the sender path already covers) and `origin`.
    async fn deliver_to_group(
        &self,
        message: &StoredMessage,
        found: &Group,
        name: &str,
        origin: Option<&crate::ids::ConnectionId>,
        now: i64,
    ) -> Result<usize> {
        let text = event(name, &message.view(&message.from));
        audience::post(
            &self.ports,
            &self.delivery,
            found,
            text,
            &message.from,
            origin,
            now,
        )
        .await
    }

    /// Queues the offline-push job for `recipient` (best effort: the message is stored).
    async fn push_offline(&self, message: &StoredMessage, recipient: &UserId) {
        let Some(queue) = &self.ports.queue else {
            return;
        };
        let job = offline_push_job(message, recipient);
        if let Err(err) = queue.enqueue(QueueName::Push, vec![job]).await {
            tracing::warn!(error = %err, "could not queue an offline push");
        }
    }

    /// A page of a conversation's history, by seq.
    pub async fn history(&self, caller: &Caller, request: HistoryRequest) -> Result<HistoryPage> {
        let access = self.access(&caller.user, &request.conversation_id).await?;
        if let (Some(before), Some(after)) = (request.before_seq, request.after_seq)
            && before <= after
        {
            return Err(Error::InvalidField(
                "beforeSeq must be greater than afterSeq".to_owned(),
            ));
        }
        let limit = page_size(request.limit, self.ports.limits.max_history_page);
        self.page(
            &access,
            &caller.user,
            request.before_seq,
            request.after_seq,
            limit,
        )
        .await
    }

    /// What `viewer` may read of a conversation: one-to-one ones entirely; a group only as a
    /// member (or the app administrator), and from their joining on where the type hides
    /// earlier history.
    async fn access(&self, viewer: &UserId, raw: &str) -> Result<Access> {
        let conversation_id = ConversationId::parse(raw)?;
        let stream = conversation_id.stream(viewer);
        let floor = match &conversation_id {
            ConversationId::C2c(_) => 0,
            ConversationId::Group(group) => self.group_floor(viewer, group).await?,
        };
        Ok(Access {
            conversation_id,
            stream,
            floor,
        })
    }

    /// The last seq `viewer` may not see of a group's history (0: all of it).
    async fn group_floor(&self, viewer: &UserId, group: &GroupId) -> Result<u64> {
        let found = self
            .ports
            .groups
            .get_group(group)
            .await?
            .filter(|g| !g.dismissed)
            .ok_or(Error::NotFound("group"))?;
        // A live room is a broadcast: anyone may read its history, guests included.
        if viewer == &self.ports.limits.accounts.admin || found.kind.allows(Rule::GuestsReceive) {
            return Ok(0);
        }
        let member = self
            .ports
            .groups
            .get_members(group, std::slice::from_ref(viewer))
            .await?
            .pop()
            .ok_or(Error::Forbidden("only members may read this group"))?;
        Ok(if found.kind.allows(Rule::HistoryBeforeJoin) {
            0
        } else {
            member.joined_seq
        })
    }

    /// Reads one page of `stream` as `viewer` sees it: one more than `limit` is read to learn
    /// whether the page is the last one in its direction.
    async fn page(
        &self,
        access: &Access,
        viewer: &UserId,
        before: Option<u64>,
        after: Option<u64>,
        limit: u32,
    ) -> Result<HistoryPage> {
        // Paging forward starts no lower than the floor; a backward page is cut at it below.
        let after = after.map(|after| after.max(access.floor));
        let range = SeqRange {
            before,
            after,
            limit: limit + 1,
            now: self.ports.clock.now_ms(),
            keep_last: self.ports.limits.max_stream_messages,
        };
        let mut messages = self
            .ports
            .messages
            .history(&access.stream, range, Some(viewer))
            .await?;
        let read = messages.len();
        messages.retain(|m| m.seq > access.floor);
        let complete = read <= limit as usize || messages.len() < read;
        if messages.len() > limit as usize {
            // Drop the extra from the far end of the paging direction.
            if after.is_some() && before.is_none() {
                messages.pop();
            } else {
                messages.remove(0);
            }
        }
        Ok(HistoryPage { messages, complete })
    }

    /// What the caller's client lacks after being offline: for each of the caller's most recently
    /// active conversations, the messages after the seq the client names for it, or the newest
    /// page of one it does not name. Conversations with nothing new are left out.
    pub async fn sync(&self, caller: &Caller, request: SyncRequest) -> Result<Vec<SyncedConversation>> {
        let max = self.ports.limits.max_sync_conversations;
        if request.cursors.len() > max as usize * 10 {
            return Err(Error::InvalidField(format!(
                "cursors names more than {} conversations",
                max as usize * 10
            )));
        }
        let mut cursors = HashMap::with_capacity(request.cursors.len());
        for cursor in request.cursors {
            cursors.insert(ConversationId::parse(&cursor.conversation_id)?, cursor.seq);
        }
        let limit = page_size(request.limit, self.ports.limits.max_sync_messages);
        let entries = self
            .ports
            .conversations
            .list_conversations(&caller.user, None, max)
            .await?;
        let pages = entries
            .into_iter()
            .filter(|entry| {
                cursors
                    .get(&entry.conversation_id)
                    .is_none_or(|&seq| entry.last_seq > seq)
            })
            .map(|entry| {
                let after = cursors.get(&entry.conversation_id).copied();
                async move {
                    let access = match self
                        .access(&caller.user, &entry.conversation_id.to_string())
                        .await
                    {
                        Ok(access) => access,
                        // A group the caller left (or that was dismissed) has nothing to sync.
                        Err(Error::Forbidden(_) | Error::NotFound(_)) => return Ok(None),
                        Err(err) => return Err(err),
                    };
                    let page = self.page(&access, &caller.user, None, after, limit).await?;
                    Ok::<_, Error>(Some(SyncedConversation {
                        conversation_id: entry.conversation_id,
                        last_seq: entry.last_seq,
                        read_seq: entry.read_seq,
                        page,
                    }))
                }
            });
        Ok(join_all(pages)
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Recalls a message of one of the caller's conversations: its sender may within the recall
    /// window, the administrator any time. The message becomes a tombstone and every connection
    /// of both sides gets `msg.recalled`. Recalling a recalled message answers as the first
    /// recall did.
    pub async fn recall(&self, caller: &Caller, request: RecallRequest) -> Result<StoredMessage> {
        let access = self.access(&caller.user, &request.conversation_id).await?;
        if request.seq <= access.floor {
            return Err(Error::NotFound("message"));
        }
        let manager = match &access.conversation_id {
            ConversationId::Group(group) => self
                .ports
                .groups
                .get_members(group, std::slice::from_ref(&caller.user))
                .await?
                .first()
                .is_some_and(|m| m.role.manages()),
            ConversationId::C2c(_) => false,
        };
        self.recall_in(
            &access.stream,
            request.seq,
            &caller.user,
            manager,
            caller.connection.as_ref(),
        )
        .await
    }

    /// Recalls a message between `from` and `to` for the app server (the REST API): as the
    /// administrator, whatever its age.
    pub async fn recall_as_admin(&self, from: &UserId, to: &UserId, seq: u64) -> Result<StoredMessage> {
        let stream = StreamKey::c2c(from, to);
        let admin = self.ports.limits.accounts.admin.clone();
        self.recall_in(&stream, seq, &admin, true, None).await
    }

    /// Recalls as `by`; `privileged` (the app administrator, a group's owner or admin) may
    /// recall anyone's message at any age.
    async fn recall_in(
        &self,
        stream: &StreamKey,
        seq: u64,
        by: &UserId,
        privileged: bool,
        origin: Option<&crate::ids::ConnectionId>,
    ) -> Result<StoredMessage> {
        let now = self.ports.clock.now_ms();
        let message = self
            .ports
            .messages
            .get_message(stream, seq, now)
            .await?
            .ok_or(Error::NotFound("message"))?;
        if message.recalled.is_some() {
            return Ok(message);
        }
        if !privileged && by != &self.ports.limits.accounts.admin {
            if &message.from != by {
                return Err(Error::Forbidden("only the sender may recall a message"));
            }
            if now - message.time > self.ports.limits.recall_window_ms {
                return Err(Error::RecallExpired);
            }
        }
        let recall = Recall {
            by: by.clone(),
            time: now,
        };
        let recalled = self
            .ports
            .messages
            .recall(stream, seq, &recall)
            .await?
            .ok_or(Error::NotFound("message"))?;
        self.announce_recall(&recalled, origin, now).await;
        Ok(recalled)
    }

    /// Tells every connection of the message's sender and recipient (but `origin`) about a recall.
    async fn announce_recall(
        &self,
        message: &StoredMessage,
        origin: Option<&crate::ids::ConnectionId>,
        now: i64,
    ) {
        let Some(recall) = &message.recalled else {
            return;
        };
        let mut viewers = vec![message.from.clone()];
        match &message.to {
            Target::C2c(peer) if peer != &message.from => viewers.push(peer.clone()),
            Target::C2c(_) => {}
            Target::Group(group) => {
                let frame = event(
                    events::MSG_RECALLED,
                    &Recalled {
                        conversation_id: message.to.conversation_for(&message.from, &message.from),
                        msg_id: &message.msg_id,
                        seq: message.seq,
                        recalled_by: &recall.by,
                        time: recall.time,
                    },
                );
                let posted = match self.ports.groups.get_group(group).await {
                    Ok(Some(found)) => {
                        audience::post(
                            &self.ports,
                            &self.delivery,
                            &found,
                            frame,
                            &message.from,
                            origin,
                            now,
                        )
                        .await
                    }
                    Ok(None) => Ok(0),
                    Err(err) => Err(err),
                };
                if let Err(err) = posted {
                    tracing::warn!(error = %err, "could not announce a recall to the group");
                }
            }
        }
        let posts = viewers.iter().map(|viewer| {
            let frame = Bytes::from(event(
                events::MSG_RECALLED,
                &Recalled {
                    conversation_id: message.to.conversation_for(&message.from, viewer),
                    msg_id: &message.msg_id,
                    seq: message.seq,
                    recalled_by: &recall.by,
                    time: recall.time,
                },
            ));
            self.delivery.to_user(viewer, frame, origin, now)
        });
        for result in join_all(posts).await {
            if let Err(err) = result {
                tracing::warn!(error = %err, "could not announce a recall; clients see it in history");
            }
        }
    }

    /// Deletes messages from the caller's own history on every device (the other side keeps
    /// them); the caller's other connections get `msg.deleted`. Returns the seqs, ascending.
    pub async fn delete(
        &self,
        caller: &Caller,
        request: DeleteRequest,
    ) -> Result<(ConversationId, Vec<u64>)> {
        let access = self.access(&caller.user, &request.conversation_id).await?;
        let conversation_id = access.conversation_id.clone();
        let mut seqs = request.seqs;
        if seqs.is_empty() || seqs.len() > MAX_DELETE_BATCH {
            return Err(Error::InvalidField(format!(
                "seqs must name 1 to {MAX_DELETE_BATCH} messages"
            )));
        }
        if seqs.contains(&0) {
            return Err(Error::InvalidField("seqs start at 1".to_owned()));
        }
        seqs.sort_unstable();
        seqs.dedup();
        let now = self.ports.clock.now_ms();
        self.ports
            .messages
            .hide_messages(
                &caller.user,
                &access.stream,
                &seqs,
                now + self.ports.limits.roaming_ttl_ms,
            )
            .await?;
        let frame = Bytes::from(event(
            events::MSG_DELETED,
            &crate::protocol::messages::Deleted {
                conversation_id: &conversation_id,
                seqs: &seqs,
            },
        ));
        if let Err(err) = self
            .delivery
            .to_user(&caller.user, frame, caller.connection.as_ref(), now)
            .await
        {
            tracing::warn!(error = %err, "could not sync a delete to other devices");
        }
        Ok((conversation_id, seqs))
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
    async fn post_tip(&self, group: &Group, tip: &str, by: &UserId, users: &[UserId]) -> Result<()> {
        MessageService::post_tip(self, group, tip, by, users)
            .await
            .map(|_| ())
    }
}
