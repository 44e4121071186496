//! Blacklists: blocking ends the friendship and any pending request, and keeps the blocked user
//! from messaging, befriending or asking the blocker. Only the blocker's side hears the word
//! "blocked"; the blocked user's attempts get `peer_refused` or `friend_add_denied`, as for anyone
//! who does not take messages or friends.

use crate::callbacks::CallbackCommand;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::limits::Limits;
use crate::ports::{BlockStore, RelationStore};
use crate::protocol::events;
use crate::protocol::social::{BlockView, PageRequest, PeerEvent, UserIdsRequest};
use crate::service::callback_hooks::{CallbackHooks, pair_list};
use crate::service::{Caller, FriendService, Ports, ProfileService, StoreSource, page_size};
use crate::social::Block;
use std::sync::Arc;

/// Block management over the ports.
#[derive(Clone)]
pub struct BlockService {
    ports: BlockPorts,
    friends: Arc<FriendService>,
}

/// What blacklists use.
#[derive(Clone)]
pub struct BlockPorts {
    /// Blacklists.
    pub blocks: Arc<dyn BlockStore>,
    /// Friend lists and requests (a block ends both).
    pub relations: Arc<dyn RelationStore>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The blacklist limit.
    pub limits: Limits,
    /// The app's `Sns.CallbackBlackList*` callbacks.
    pub callbacks: CallbackHooks,
}

impl BlockPorts {
    /// The blacklists' ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            blocks: ports.stores.blocks(),
            relations: ports.stores.relations(),
            clock: ports.clock.clone(),
            limits: ports.limits.clone(),
            callbacks: CallbackHooks::of(ports),
        }
    }
}

impl BlockService {
    /// A block service over `ports`, ending friendships through `friends`.
    pub fn new(ports: BlockPorts, friends: Arc<FriendService>) -> Self {
        Self { ports, friends }
    }

    /// A block service over the process's ports.
    pub fn from_ports<S: StoreSource>(ports: &Ports<S>, friends: Arc<FriendService>) -> Self {
        Self::new(BlockPorts::of(ports), friends)
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
        let added: Vec<&UserId> = peers
            .iter()
            .filter(|peer| !already.iter().any(|block| &block.peer == *peer))
            .collect();
        if !added.is_empty() {
            self.ports
                .callbacks
                .after(CallbackCommand::BlackListAdd, || {
                    pair_list(
                        added.iter().map(|peer| (&caller.user, *peer)),
                        None,
                        "blacklist_add",
                        now,
                    )
                })
                .await;
        }
        Ok(stored.iter().map(view).collect())
    }

    /// `block.remove`: unblocks users; returns per user whether they were blocked.
    pub async fn remove(&self, caller: &Caller, request: UserIdsRequest) -> Result<Vec<(UserId, bool)>> {
        let peers = ProfileService::user_ids(request.user_ids)?;
        let existed = self.ports.blocks.delete_blocks(&caller.user, &peers).await?;
        let removed: Vec<&UserId> = peers
            .iter()
            .zip(&existed)
            .filter(|(_, gone)| **gone)
            .map(|(p, _)| p)
            .collect();
        if !removed.is_empty() {
            let now = self.ports.clock.now_ms();
            self.ports
                .callbacks
                .after(CallbackCommand::BlackListDelete, || {
                    pair_list(
                        removed.iter().map(|peer| (&caller.user, *peer)),
                        None,
                        "blacklist_delete",
                        now,
                    )
                })
                .await;
        }
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
        let limit = page_size(request.limit, 100)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::service::fakes::{START_MS, World, caller, ids};
    use serde_json::json;

    fn users(users: &[&str]) -> UserIdsRequest {
        UserIdsRequest { user_ids: ids(users) }
    }

    fn views(views: &[BlockView]) -> Vec<(&str, i64)> {
        views.iter().map(|v| (v.user_id.as_str(), v.blocked_at)).collect()
    }

    #[tokio::test]
    async fn given_a_friend_when_blocked_then_the_friendship_ends_both_ways_and_each_side_is_told() {
        // GIVEN alice and bob friends, a request from carol to alice and one from alice to dave
        let world = World::new();
        world.relations.befriend("alice", "bob", START_MS);
        world.relations.ask("carol", "alice", START_MS);
        world.relations.ask("alice", "dave", START_MS);
        world.online("alice", "a1", Some("web"));
        world.online("bob", "b1", Some("ios"));
        world.online("carol", "c1", Some("ios"));
        let service = world.services().blocks;
        // WHEN alice blocks bob and carol a minute on
        let now = world.clock.advance(60_000);
        let added = service
            .add(&caller("alice", "a1"), users(&["bob", "carol"]))
            .await
            .unwrap();
        // THEN both are blocked from now
        assert_eq!(views(&added), [("bob", now), ("carol", now)]);
        // AND the friendship is gone from both lists, and so is carol's request (dave's stays)
        assert!(world.relations.friends_of("alice").is_empty());
        assert!(world.relations.friends_of("bob").is_empty());
        assert_eq!(
            world.relations.requests(),
            [("alice".to_owned(), "dave".to_owned())]
        );
        // AND each side of the friendship is told, live and as a kept notification; carol, who
        // was no friend, hears nothing
        let lost = |peer: &str| (events::FRIEND_DELETED.to_owned(), json!({"userId": peer}));
        assert_eq!(world.gateway.events_to("a1"), [lost("bob")]);
        assert_eq!(world.gateway.events_to("b1"), [lost("alice")]);
        assert!(world.gateway.events_to("c1").is_empty());
        assert_eq!(world.notifications.of("alice"), [lost("bob")]);
        assert_eq!(world.notifications.of("bob"), [lost("alice")]);
    }

    #[tokio::test]
    async fn given_oneself_or_a_bad_id_when_blocked_then_refused_and_nothing_stored() {
        let world = World::new();
        let service = world.services().blocks;
        let alice = caller("alice", "a1");
        for (peers, code) in [
            (vec!["bob", "alice"], ErrorCode::InvalidField),
            (vec!["bob", "not valid"], ErrorCode::InvalidUserId),
            (vec![], ErrorCode::InvalidField),
        ] {
            let err = service.add(&alice, users(&peers)).await.unwrap_err();
            assert_eq!(err.code(), code, "{peers:?}");
        }
        assert!(world.blocks.of("alice").is_empty());
    }

    #[tokio::test]
    async fn given_a_blacklist_limit_when_blocking_past_it_then_refused_while_repeats_do_not_count() {
        // GIVEN at most three blocks, and alice blocking bob and carol since the start
        let world = World::new().with_limits(|l| l.max_blocks = 3);
        world.blocks.block("alice", &["bob", "carol"], START_MS);
        let service = world.services().blocks;
        let alice = caller("alice", "a1");
        // WHEN she blocks carol again and dave, later THEN that is three: carol keeps her time
        let now = world.clock.advance(1_000);
        let added = service.add(&alice, users(&["carol", "dave"])).await.unwrap();
        assert_eq!(views(&added), [("carol", START_MS), ("dave", now)]);
        // WHEN she blocks a fourth THEN it is refused and nothing is added
        let err = service.add(&alice, users(&["erin"])).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded);
        let blocked: Vec<_> = world
            .blocks
            .of("alice")
            .into_iter()
            .map(|(peer, _)| peer)
            .collect();
        assert_eq!(blocked, ["bob", "carol", "dave"]);
    }

    #[tokio::test]
    async fn given_blocks_both_ways_when_checked_and_removed_then_only_the_callers_own_show() {
        // GIVEN alice blocked bob, and dave blocked alice
        let world = World::new();
        world.blocks.block("alice", &["bob"], START_MS);
        world.blocks.block("dave", &["alice"], START_MS);
        let service = world.services().blocks;
        let alice = caller("alice", "a1");
        // WHEN alice checks THEN she sees her block of bob, never dave's of her
        let checked = service.check(&alice, users(&["bob", "dave"])).await.unwrap();
        let checked: Vec<_> = checked.iter().map(|(u, is)| (u.as_str(), *is)).collect();
        assert_eq!(checked, [("bob", true), ("dave", false)]);
        // WHEN she unblocks bob and carol THEN only bob was blocked, and is no longer
        let removed = service.remove(&alice, users(&["bob", "carol"])).await.unwrap();
        let removed: Vec<_> = removed.iter().map(|(u, was)| (u.as_str(), *was)).collect();
        assert_eq!(removed, [("bob", true), ("carol", false)]);
        assert!(world.blocks.of("alice").is_empty());
        assert_eq!(world.blocks.of("dave"), [("alice".to_owned(), START_MS)]);
    }

    #[tokio::test]
    async fn given_three_blocks_when_listed_two_a_page_then_the_cursor_leads_to_the_last() {
        // GIVEN alice blocking bob, carol and dave
        let world = World::new();
        world.blocks.block("alice", &["dave", "bob", "carol"], START_MS);
        let service = world.services().blocks;
        let alice = caller("alice", "a1");
        // WHEN she lists two
        let page = |cursor: Option<&str>| PageRequest {
            cursor: cursor.map(str::to_owned),
            limit: Some(2),
        };
        let (first, cursor) = service.list(&alice, page(None)).await.unwrap();
        // THEN the first two by id come with a cursor at carol
        assert_eq!(views(&first), [("bob", START_MS), ("carol", START_MS)]);
        assert_eq!(cursor.as_deref(), Some("carol"));
        // WHEN she follows it THEN dave comes alone, with no cursor
        let (second, cursor) = service.list(&alice, page(cursor.as_deref())).await.unwrap();
        assert_eq!(views(&second), [("dave", START_MS)]);
        assert_eq!(cursor, None);
        // AND a cursor that is no user id is refused
        let err = service
            .list(&alice, page(Some("not a cursor")))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidField);
    }
}
