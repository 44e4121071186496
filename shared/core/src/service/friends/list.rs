//! The friend list: deleting friends, listing them with their profiles, checking relations,
//! remarks and friend groups.

use super::*;

impl FriendService {
    /// `friend.delete`: removes each user from the caller's list and, with `both`, the caller
    /// from theirs; returns, per user, whether they were in the caller's list.
    pub async fn delete(&self, caller: &Caller, request: FriendDeleteRequest) -> Result<Vec<(UserId, bool)>> {
        let peers = ProfileService::user_ids(request.user_ids)?;
        let mut pairs: Vec<(UserId, UserId)> =
            peers.iter().map(|p| (caller.user.clone(), p.clone())).collect();
        if request.both {
            pairs.extend(peers.iter().map(|p| (p.clone(), caller.user.clone())));
        }
        let existed = self.ports.relations.delete_friends(&pairs).await?;
        let removed: Vec<(&UserId, &UserId)> = pairs
            .iter()
            .zip(&existed)
            .filter(|(_, gone)| **gone)
            .map(|((owner, peer), _)| (owner, peer))
            .collect();
        for (owner, peer) in &removed {
            self.tell(
                owner,
                events::FRIEND_DELETED,
                &PeerEvent {
                    user_id: peer.as_str(),
                },
            )
            .await;
        }
        if !removed.is_empty() {
            let now = self.ports.clock.now_ms();
            self.ports
                .callbacks
                .after(CallbackCommand::FriendDelete, || {
                    pair_list(removed.iter().copied(), None, "friend_delete", now)
                })
                .await;
        }
        Ok(peers.into_iter().zip(existed).collect())
    }

    /// `friend.list`: one page of the caller's friends by user id, with profiles if asked.
    pub async fn list(&self, caller: &Caller, request: FriendListRequest) -> Result<FriendListReply> {
        let after = cursor(request.cursor)?;
        let limit = page_size(request.limit, MAX_PAGE)?;
        let mut page = self
            .ports
            .relations
            .list_friends(&caller.user, after.as_ref(), limit + 1)
            .await?;
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        let mut friends: Vec<FriendView> = page.iter().map(FriendView::from).collect();
        if request.with_profiles && !page.is_empty() {
            let peers: Vec<UserId> = page.iter().map(|f| f.peer.clone()).collect();
            let (profiles, _) = self.profiles.profiles_of(&peers).await?;
            for view in &mut friends {
                view.profile = profiles
                    .iter()
                    .find(|p| p.user.as_str() == view.user_id)
                    .map(|p| ProfileView::new(p.user.as_str(), &p.profile));
            }
        }
        Ok(FriendListReply {
            cursor: if more {
                page.last().map(|f| f.peer.to_string())
            } else {
                None
            },
            friends,
        })
    }

    /// Up to `limit` (at most 100) of `owner`'s friends from position `start` in peer id order,
    /// and how many friends they have: the REST API's `StartIndex` paging. The entries before
    /// `start` are read to find it, so a page costs reads in proportion to its position (a list
    /// holds at most the friend limit).
    pub async fn page_at(&self, owner: &UserId, start: u32, limit: u32) -> Result<(Vec<FriendView>, u32)> {
        let limit = page_size(Some(limit), MAX_PAGE)?;
        let relations = &self.ports.relations;
        let total = relations.count_friends(owner).await?;
        let (mut skip, mut after, mut friends) = (start as usize, None::<UserId>, Vec::new());
        while friends.len() < limit as usize {
            let page = relations.list_friends(owner, after.as_ref(), MAX_PAGE).await?;
            let full = page.len() == MAX_PAGE as usize;
            after = page.last().map(|f| f.peer.clone());
            let skipped = page.len().min(skip);
            skip -= skipped;
            let wanted = limit as usize - friends.len();
            friends.extend(page.iter().skip(skipped).take(wanted).map(FriendView::from));
            if !full {
                break;
            }
        }
        Ok((friends, total))
    }

    /// `friend.check`: how the caller and each user are related.
    pub async fn check(&self, caller: &Caller, request: UserIdsRequest) -> Result<Vec<RelationView>> {
        let peers = ProfileService::user_ids(request.user_ids)?;
        let relations = &self.ports.relations;
        let (mine, theirs) = futures_util::future::try_join(
            relations.get_friends(&caller.user, &peers),
            relations.friended_by(&caller.user, &peers),
        )
        .await?;
        Ok(peers
            .iter()
            .map(|peer| {
                let relation = match (mine.iter().any(|f| &f.peer == peer), theirs.contains(peer)) {
                    (true, true) => Relation::Both,
                    (true, false) => Relation::OneWay,
                    (false, true) => Relation::ReverseOneWay,
                    (false, false) => Relation::None,
                };
                RelationView {
                    user_id: peer.to_string(),
                    relation,
                }
            })
            .collect())
    }

    /// `friend.remark`: changes the caller's remark and groups for a friend.
    pub async fn remark(&self, caller: &Caller, request: FriendRemarkRequest) -> Result<FriendView> {
        let peer = UserId::parse(request.user_id)?;
        let mut entry = self
            .ports
            .relations
            .get_friends(&caller.user, std::slice::from_ref(&peer))
            .await?
            .pop()
            .ok_or(Error::NotFound("friend"))?;
        if let Some(remark) = request.remark {
            entry.remark = bounded("remark", remark, MAX_REMARK)?;
        }
        if request.groups.is_some() {
            entry.groups = groups(request.groups)?;
        }
        self.ports
            .relations
            .put_friends(std::slice::from_ref(&entry))
            .await?;
        Ok(FriendView::from(&entry))
    }
}
