//! Friend recommendations (filled by the app server, dismissed by the user) and the list of
//! kept system notifications.

use super::*;

impl FriendService {
    /// Puts suggestions in `owner`'s recommendation buffer (the app server's call); users who
    /// are already friends or do not exist are skipped. Returns, per peer, whether it was added.
    pub async fn recommend(
        &self,
        owner: &UserId,
        items: Vec<(UserId, Option<String>)>,
    ) -> Result<Vec<(UserId, bool)>> {
        let now = self.ports.clock.now_ms();
        let peers: Vec<UserId> = items.iter().map(|(peer, _)| peer.clone()).collect();
        let friends = self.ports.relations.get_friends(owner, &peers).await?;
        let known = self.ports.accounts.get_accounts(&peers).await?;
        let mut results = Vec::new();
        let mut wanted = Vec::new();
        for (peer, reason) in items {
            let reason = bounded("reason", reason, MAX_REASON)?;
            let ok = &peer != owner
                && known.iter().any(|a| a.user == peer)
                && !friends.iter().any(|f| f.peer == peer);
            if ok {
                wanted.push(Recommendation {
                    owner: owner.clone(),
                    peer: peer.clone(),
                    reason,
                    added_at: now,
                });
            }
            results.push((peer, ok));
        }
        self.ports.recommendations.put_recommendations(&wanted).await?;
        Ok(results)
    }

    /// `friend.recommendations`: one page of the caller's recommendation buffer by user id.
    pub async fn recommendations(
        &self,
        caller: &Caller,
        request: PageRequest,
    ) -> Result<(Vec<RecommendationView>, Option<String>)> {
        let after = cursor(request.cursor)?;
        let limit = page_size(request.limit, MAX_PAGE)?;
        let mut page = self
            .ports
            .recommendations
            .list_recommendations(&caller.user, after.as_ref(), limit + 1)
            .await?;
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        let next = if more {
            page.last().map(|r| r.peer.to_string())
        } else {
            None
        };
        let views = page
            .into_iter()
            .map(|r| RecommendationView {
                user_id: r.peer.to_string(),
                reason: r.reason,
                added_at: r.added_at,
            })
            .collect();
        Ok((views, next))
    }

    /// `friend.dismiss`: removes suggestions from the caller's buffer; per user, whether it was
    /// there.
    pub async fn dismiss(&self, caller: &Caller, request: UserIdsRequest) -> Result<Vec<(UserId, bool)>> {
        let peers = ProfileService::user_ids(request.user_ids)?;
        let existed = self
            .ports
            .recommendations
            .delete_recommendations(&caller.user, &peers)
            .await?;
        Ok(peers.into_iter().zip(existed).collect())
    }

    /// `notify.list`: the caller's kept relationship notifications after an id, oldest first.
    pub async fn notifications(
        &self,
        caller: &Caller,
        request: NotifyListRequest,
    ) -> Result<NotifyListReply> {
        if let Some(after) = &request.after
            && (after.is_empty() || after.len() > 64)
        {
            return Err(Error::InvalidField("after is not a notification id".to_owned()));
        }
        let limit = page_size(request.limit, MAX_PAGE)?;
        let now = self.ports.clock.now_ms();
        let mut page = self
            .ports
            .notifications
            .list_notifications(&caller.user, request.after.as_deref(), limit + 1, now)
            .await?;
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        Ok(NotifyListReply {
            cursor: if more {
                page.last().map(|n| n.id.clone())
            } else {
                None
            },
            notifications: page
                .into_iter()
                .map(|n| NotificationView {
                    data: serde_json::from_str(&n.data).unwrap_or(serde_json::Value::Null),
                    id: n.id,
                    event: n.event,
                    time: n.time,
                })
                .collect(),
        })
    }
}
