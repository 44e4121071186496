//! Blacklists: blocking ends the friendship and any pending request, and keeps the blocked user
//! from messaging, befriending or asking the blocker. Only the blocker's side hears the word
//! "blocked"; the blocked user's attempts get `peer_refused` or `friend_add_denied`, as for anyone
//! who does not take messages or friends.

use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::protocol::events;
use crate::protocol::social::{BlockView, PageRequest, PeerEvent, UserIdsRequest};
use crate::service::{Caller, FriendService, Ports, ProfileService, page_size};
use crate::social::Block;

/// Block management over the ports.
#[derive(Clone)]
pub struct BlockService {
    ports: Ports,
    friends: FriendService,
}

impl BlockService {
    /// A block service over `ports`.
    pub fn new(ports: Ports) -> Self {
        Self {
            friends: FriendService::new(ports.clone()),
            ports,
        }
    }

    /// `block.add`: blocks up to 100 users (within the blacklist limit), removing friendships
    /// both ways (each side told with `friend.deleted`) and pending requests between them.
    pub async fn add(&self, caller: &Caller, request: UserIdsRequest) -> Result<Vec<BlockView>> {
        let peers = ProfileService::user_ids(request.user_ids)?;
        if peers.contains(&caller.user) {
            return Err(Error::InvalidField("cannot block oneself".to_owned()));
        }
        let blocks = &self.ports.blocks;
        let already = blocks.get_blocks(&caller.user, &peers).await?;
        let new = peers.len() - already.len();
        let max = self.ports.limits.max_blocks;
        if blocks.count_blocks(&caller.user).await? as usize + new > max as usize {
            return Err(Error::LimitExceeded(format!("at most {max} blocked users")));
        }
        let now = self.ports.clock.now_ms();
        let wanted: Vec<Block> = peers
            .iter()
            .map(|peer| Block {
                owner: caller.user.clone(),
                peer: peer.clone(),
                blocked_at: now,
            })
            .collect();
        blocks.put_blocks(&wanted).await?;
        let relations = &self.ports.relations;
        let pairs: Vec<(UserId, UserId)> = peers
            .iter()
            .flat_map(|peer| {
                [
                    (caller.user.clone(), peer.clone()),
                    (peer.clone(), caller.user.clone()),
                ]
            })
            .collect();
        let removed = relations.delete_friends(&pairs).await?;
        for ((owner, peer), gone) in pairs.iter().zip(removed) {
            if gone {
                self.friends
                    .tell(
                        owner,
                        events::FRIEND_DELETED,
                        &PeerEvent {
                            user_id: peer.as_str(),
                        },
                    )
                    .await;
            }
        }
        for peer in &peers {
            relations.delete_request(&caller.user, peer).await?;
            relations.delete_request(peer, &caller.user).await?;
        }
        let stored = blocks.get_blocks(&caller.user, &peers).await?;
        Ok(stored.iter().map(view).collect())
    }

    /// `block.remove`: unblocks users; returns per user whether they were blocked.
    pub async fn remove(&self, caller: &Caller, request: UserIdsRequest) -> Result<Vec<(UserId, bool)>> {
        let peers = ProfileService::user_ids(request.user_ids)?;
        let existed = self.ports.blocks.delete_blocks(&caller.user, &peers).await?;
        Ok(peers.into_iter().zip(existed).collect())
    }

    /// `block.list`: one page of the caller's blocks by user id.
    pub async fn list(
        &self,
        caller: &Caller,
        request: PageRequest,
    ) -> Result<(Vec<BlockView>, Option<String>)> {
        let after = request
            .cursor
            .map(|c| {
                UserId::parse(c)
                    .map_err(|_| Error::InvalidField("cursor is not one this server issued".to_owned()))
            })
            .transpose()?;
        let limit = page_size(request.limit, 100);
        let mut page = self
            .ports
            .blocks
            .list_blocks(&caller.user, after.as_ref(), limit + 1)
            .await?;
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        let cursor = if more {
            page.last().map(|b| b.peer.to_string())
        } else {
            None
        };
        Ok((page.iter().map(view).collect(), cursor))
    }

    /// `block.check`: whether the caller blocked each user (never whether they blocked the
    /// caller).
    pub async fn check(&self, caller: &Caller, request: UserIdsRequest) -> Result<Vec<(UserId, bool)>> {
        let peers = ProfileService::user_ids(request.user_ids)?;
        let blocked = self.ports.blocks.get_blocks(&caller.user, &peers).await?;
        Ok(peers
            .into_iter()
            .map(|peer| {
                let is = blocked.iter().any(|b| b.peer == peer);
                (peer, is)
            })
            .collect())
    }
}

fn view(block: &Block) -> BlockView {
    BlockView {
        user_id: block.peer.to_string(),
        blocked_at: block.blocked_at,
    }
}
