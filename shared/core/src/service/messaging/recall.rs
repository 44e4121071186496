//! Undoing messages: recall (a tombstone for everyone) and delete for me (hidden on the caller's
//! devices).

use super::*;

impl MessageService {
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
        callbacks::after_recall(&self.ports.callbacks, &recalled, by, now).await;
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
                self.announce_to_group(&message.from, group, frame, origin, now, "recall")
                    .await;
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
            self.ports.delivery.to_user(viewer, frame, origin, now)
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
            .ports
            .delivery
            .to_user(&caller.user, frame, caller.connection.as_ref(), now)
            .await
        {
            tracing::warn!(error = %err, "could not sync a delete to other devices");
        }
        Ok((conversation_id, seqs))
    }
}
