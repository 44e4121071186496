//! Reading messages: a conversation's history by seq, with what the viewer may see of a group,
//! and the gap fill after a reconnect (`msg.sync`).

use super::*;

impl MessageService {
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
        let limit = page_size(request.limit, self.ports.limits.max_history_page)?;
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
    pub(super) async fn access(&self, viewer: &UserId, raw: &str) -> Result<Access> {
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
        let found = self.live_group(group).await?;
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
        let limit = page_size(request.limit, self.ports.limits.max_sync_messages)?;
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
}
