//! The relationship chain: adding friends (directly, or by a request the other side accepts or
//! rejects), listing, checking, remarking and deleting them; each change is told to the online
//! connections of both sides.
//!
//! Adding and the request lifecycle are here; the friend list itself (delete, list, check,
//! remark) is in [`list`], recommendations and the notification list in [`recommendations`].

mod list;
mod recommendations;

use crate::callbacks::CallbackCommand;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::limits::Limits;
use crate::ports::{
    AccountStore, BlockStore, NotificationStore, ProfileStore, RecommendationStore, RelationStore,
};
use crate::protocol::events;
use crate::protocol::social::{
    AddOutcome, FriendAddRequest, FriendDeleteRequest, FriendListReply, FriendListRequest,
    FriendRemarkRequest, FriendRequestView, FriendRequestsReply, FriendRequestsRequest, FriendView,
    NotificationView, NotifyListReply, NotifyListRequest, PageRequest, PeerEvent, PeerRequest, ProfileView,
    RecommendationView, Relation, RelationView, UserIdsRequest,
};
use crate::service::callback_hooks::{CallbackHooks, Fields, check_result_item, pair_list};
use crate::service::notifier::Notifier;
use crate::service::{Caller, Ports, ProfileService, StoreSource, page_size};
use crate::social::{AllowType, Friend, FriendRequest, Recommendation, RequestDirection};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

/// Longest request reason, in bytes.
const MAX_REASON: usize = 256;
/// Longest remark, in bytes.
const MAX_REMARK: usize = 96;
/// Friend groups one friend may be in.
const MAX_GROUPS: usize = 16;
/// Longest friend group name, in bytes.
const MAX_GROUP_NAME: usize = 30;
/// Largest page.
const MAX_PAGE: u32 = 100;

/// Friend management over the ports.
#[derive(Clone)]
pub struct FriendService {
    ports: FriendPorts,
    profiles: Arc<ProfileService>,
}

/// What the relationship chain uses.
#[derive(Clone)]
pub struct FriendPorts {
    /// Friend lists and requests.
    pub relations: Arc<dyn RelationStore>,
    /// Blacklists (a block refuses a friendship).
    pub blocks: Arc<dyn BlockStore>,
    /// Accounts (recommendations name existing users).
    pub accounts: Arc<dyn AccountStore>,
    /// Profiles (the add policy).
    pub profiles: Arc<dyn ProfileStore>,
    /// Recommendation buffers.
    pub recommendations: Arc<dyn RecommendationStore>,
    /// Kept system notifications (`notify.list`).
    pub notifications: Arc<dyn NotificationStore>,
    /// Telling both sides.
    pub notifier: Notifier,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The friend list's limits.
    pub limits: Limits,
    /// The app's `Sns.*` callbacks.
    pub callbacks: CallbackHooks,
}

impl FriendPorts {
    /// The relationship chain's ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            relations: ports.stores.relations(),
            blocks: ports.stores.blocks(),
            accounts: ports.stores.accounts(),
            profiles: ports.stores.profiles(),
            recommendations: ports.stores.recommendations(),
            notifications: ports.stores.notifications(),
            notifier: Notifier::of(ports),
            clock: ports.clock.clone(),
            limits: ports.limits.clone(),
            callbacks: CallbackHooks::of(ports),
        }
    }
}

/// Tencent's `ResponseAction` of an accepted request (both become friends).
const RESPONSE_AGREE_AND_ADD: &str = "Response_Action_AgreeAndAdd";
/// Of a rejected one.
const RESPONSE_REJECT: &str = "Response_Action_Reject";

/// Tencent's `ClientCmd` of a friendship made by an add.
const FRIEND_ADD: &str = "friend_add";
/// Tencent's `ClientCmd` of a friendship made by answering a request.
const FRIEND_RESPONSE: &str = "friend_response";

fn bounded(name: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    match value {
        Some(text) if text.len() > max => Err(Error::InvalidField(format!(
            "{name} may hold at most {max} bytes"
        ))),
        Some(text) if text.is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn groups(value: Option<Vec<String>>) -> Result<Vec<String>> {
    let mut groups = value.unwrap_or_default();
    if groups.len() > MAX_GROUPS || groups.iter().any(|g| g.is_empty() || g.len() > MAX_GROUP_NAME) {
        return Err(Error::InvalidField(format!(
            "groups: at most {MAX_GROUPS} names of 1 to {MAX_GROUP_NAME} bytes"
        )));
    }
    groups.sort_unstable();
    groups.dedup();
    Ok(groups)
}

fn cursor(raw: Option<String>) -> Result<Option<UserId>> {
    raw.map(|c| {
        UserId::parse(c).map_err(|_| Error::InvalidField("cursor is not one this server issued".to_owned()))
    })
    .transpose()
}

impl FriendService {
    /// A friend service over `ports`.
    pub fn new(ports: FriendPorts, profiles: Arc<ProfileService>) -> Self {
        Self { ports, profiles }
    }

    /// A friend service over the process's ports.
    pub fn from_ports<S: StoreSource>(ports: &Ports<S>, profiles: Arc<ProfileService>) -> Self {
        Self::new(FriendPorts::of(ports), profiles)
    }

    /// Keeps and pushes a relationship event to `user` (see [`Notifier`]).
    pub(crate) async fn tell(&self, user: &UserId, name: &str, data: &impl Serialize) {
        self.ports.notifier.tell(user, name, data).await;
    }

    /// Refuses when either side blocked the other: `blocked` to a caller who blocked them,
    /// `friend_add_denied` (saying nothing of a block) to one they blocked.
    async fn not_blocked(&self, caller: &UserId, peer: &UserId) -> Result<()> {
        let blocks = &self.ports.blocks;
        if !blocks
            .get_blocks(caller, std::slice::from_ref(peer))
            .await?
            .is_empty()
        {
            return Err(Error::Blocked);
        }
        if !blocks
            .get_blocks(peer, std::slice::from_ref(caller))
            .await?
            .is_empty()
        {
            return Err(Error::FriendAddDenied);
        }
        Ok(())
    }

    /// The other user of a request: valid, not the caller, and known.
    async fn peer(&self, caller: &Caller, raw: String) -> Result<UserId> {
        let peer = UserId::parse(raw)?;
        if peer == caller.user {
            return Err(Error::InvalidField("that is the caller".to_owned()));
        }
        let known = self
            .ports
            .accounts
            .get_accounts(std::slice::from_ref(&peer))
            .await?;
        if known.is_empty() {
            return Err(Error::NotFound("user"));
        }
        Ok(peer)
    }

    /// Refuses if `owner` has no room for one more friend.
    async fn room_for_one(&self, owner: &UserId) -> Result<()> {
        let max = self.ports.limits.max_friends;
        if self.ports.relations.count_friends(owner).await? >= max {
            return Err(Error::LimitExceeded(format!("at most {max} friends per user")));
        }
        Ok(())
    }

    /// Makes `a` and `b` friends both ways (each side's remark and groups given), telling both.
    async fn befriend(&self, a: Friend, b: Friend, initiator: &UserId, client_cmd: &str) -> Result<()> {
        let (left, right) = (a.owner.clone(), b.owner.clone());
        for (owner, peer) in [(&left, &right), (&right, &left)] {
            let existing = self
                .ports
                .relations
                .get_friends(owner, std::slice::from_ref(peer))
                .await?;
            if existing.is_empty() {
                self.room_for_one(owner).await?;
            }
        }
        self.ports.relations.put_friends(&[a, b]).await?;
        // A suggestion of someone who is a friend now has served its purpose.
        for (owner, peer) in [(&left, &right), (&right, &left)] {
            if let Err(err) = self
                .ports
                .recommendations
                .delete_recommendations(owner, std::slice::from_ref(peer))
                .await
            {
                tracing::warn!(user = %owner, error = %err, "could not drop a recommendation");
            }
        }
        self.tell(
            &left,
            events::FRIEND_ADDED,
            &PeerEvent {
                user_id: right.as_str(),
            },
        )
        .await;
        self.tell(
            &right,
            events::FRIEND_ADDED,
            &PeerEvent {
                user_id: left.as_str(),
            },
        )
        .await;
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(CallbackCommand::FriendAdd, || {
                pair_list(
                    [(&left, &right), (&right, &left)],
                    Some(initiator),
                    client_cmd,
                    now,
                )
            })
            .await;
        Ok(())
    }

    /// Runs `Sns.CallbackPrevFriendAdd`: the app may refuse the add (`ErrorCode`, or the
    /// peer's `ResultItem`).
    async fn before_add(
        &self,
        from: &UserId,
        to: &UserId,
        remark: Option<&str>,
        wording: Option<&str>,
        groups: &[String],
    ) -> Result<()> {
        let now = self.ports.clock.now_ms();
        let reply = self
            .ports
            .callbacks
            .before(CallbackCommand::PrevFriendAdd, || {
                let item = json!({"To_Account": to.as_str(), "Remark": remark.unwrap_or_default(),
                                  "GroupName": groups.first().map(String::as_str).unwrap_or_default(),
                                  "AddSource": "", "AddWording": wording.unwrap_or_default()});
                let mut fields = Fields::new();
                fields.insert("Requester_Account".into(), json!(from.as_str()));
                fields.insert("From_Account".into(), json!(from.as_str()));
                fields.insert("FriendItem".into(), json!([item]));
                fields.insert("AddType".into(), json!("Add_Type_Both"));
                fields.insert("ForceAddFlags".into(), json!(0));
                fields.insert("EventTime".into(), json!(now));
                fields
            })
            .await?;
        reply.map_or(Ok(()), |reply| check_result_item(&reply, to))
    }

    /// Runs `Sns.CallbackPrevFriendResponse` for `responder` answering `requester`'s request.
    async fn before_response(
        &self,
        responder: &UserId,
        requester: &UserId,
        remark: Option<&str>,
        action: &str,
    ) -> Result<()> {
        let now = self.ports.clock.now_ms();
        let reply = self
            .ports
            .callbacks
            .before(CallbackCommand::PrevFriendResponse, || {
                let item = json!({"To_Account": requester.as_str(), "Remark": remark.unwrap_or_default(),
                                  "TagName": "", "ResponseAction": action});
                let mut fields = Fields::new();
                fields.insert("Requester_Account".into(), json!(responder.as_str()));
                fields.insert("From_Account".into(), json!(responder.as_str()));
                fields.insert("ResponseFriendItem".into(), json!([item]));
                fields.insert("EventTime".into(), json!(now));
                fields
            })
            .await?;
        reply.map_or(Ok(()), |reply| check_result_item(&reply, requester))
    }

    fn entry(&self, owner: &UserId, peer: &UserId, remark: Option<String>, groups: Vec<String>) -> Friend {
        Friend {
            owner: owner.clone(),
            peer: peer.clone(),
            remark,
            groups,
            added_at: self.ports.clock.now_ms(),
        }
    }

    /// `friend.add`: friends at once if they allow anyone (or had asked the caller already), a
    /// pending request if they want to confirm, `friend_add_denied` if they take nobody.
    pub async fn add(&self, caller: &Caller, request: FriendAddRequest) -> Result<AddOutcome> {
        let reason = bounded("reason", request.reason, MAX_REASON)?;
        let remark = bounded("remark", request.remark, MAX_REMARK)?;
        let groups = groups(request.groups)?;
        let peer = self.peer(caller, request.user_id).await?;
        self.not_blocked(&caller.user, &peer).await?;
        self.before_add(&caller.user, &peer, remark.as_deref(), reason.as_deref(), &groups)
            .await?;
        let relations = &self.ports.relations;
        let mine = relations
            .get_friends(&caller.user, std::slice::from_ref(&peer))
            .await?;
        let theirs = relations
            .get_friends(&peer, std::slice::from_ref(&caller.user))
            .await?;
        if !mine.is_empty() && !theirs.is_empty() {
            return Err(Error::AlreadyFriends);
        }
        // They asked first: adding them is accepting.
        if let Some(asked) = relations.get_request(&peer, &caller.user).await? {
            let ours = self.entry(&caller.user, &peer, remark, groups);
            let their_groups = Vec::new();
            let theirs = self.entry(&peer, &caller.user, asked.remark, their_groups);
            self.befriend(ours, theirs, &peer, FRIEND_RESPONSE).await?;
            self.tell(
                &peer,
                events::FRIEND_REQUEST_ACCEPTED,
                &PeerEvent {
                    user_id: caller.user.as_str(),
                },
            )
            .await;
            return Ok(AddOutcome::Added);
        }
        let allow = self
            .ports
            .profiles
            .get_profiles(std::slice::from_ref(&peer))
            .await?
            .pop()
            .map(|p| p.profile.allow_type)
            .unwrap_or_default();
        match allow {
            AllowType::DenyAny => Err(Error::FriendAddDenied),
            AllowType::AllowAny => {
                let ours = self.entry(&caller.user, &peer, remark, groups);
                let theirs = match theirs.into_iter().next() {
                    Some(kept) => kept,
                    None => self.entry(&peer, &caller.user, None, Vec::new()),
                };
                self.befriend(ours, theirs, &caller.user, FRIEND_ADD).await?;
                Ok(AddOutcome::Added)
            }
            AllowType::NeedConfirm => {
                let pending = FriendRequest {
                    from: caller.user.clone(),
                    to: peer.clone(),
                    reason,
                    remark,
                    created_at: self.ports.clock.now_ms(),
                };
                relations.put_request(&pending).await?;
                self.tell(&peer, events::FRIEND_REQUEST, &FriendRequestView::from(&pending))
                    .await;
                Ok(AddOutcome::Pending)
            }
        }
    }

    /// Adds `peer` to `owner`'s list without asking anyone (the app server's call), and `owner` to
    /// `peer`'s too with `both`; each side whose list changed is told. An existing entry keeps its
    /// remark and groups unless new ones are given. `added_at` (ms), when given, is when a new
    /// entry's friendship began (an import keeps the original time); an existing entry keeps its.
    pub async fn force_add(
        &self,
        owner: &UserId,
        peer: &UserId,
        both: bool,
        remark: Option<String>,
        groups_given: Option<Vec<String>>,
        added_at: Option<i64>,
    ) -> Result<()> {
        let remark = bounded("remark", remark, MAX_REMARK)?;
        let groups_given = groups_given.map(|g| groups(Some(g))).transpose()?;
        let caller = Caller {
            user: owner.clone(),
            connection: None,
            guest: false,
        };
        let peer = self.peer(&caller, peer.to_string()).await?;
        let mut entries = Vec::new();
        let sides: &[(&UserId, &UserId)] = if both {
            &[(owner, &peer), (&peer, owner)]
        } else {
            &[(owner, &peer)]
        };
        for (index, (from, to)) in sides.iter().enumerate() {
            let existing = self
                .ports
                .relations
                .get_friends(from, std::slice::from_ref(*to))
                .await?
                .pop();
            let new = existing.is_none();
            if new {
                self.room_for_one(from).await?;
            }
            let mut entry = existing.unwrap_or_else(|| self.entry(from, to, None, Vec::new()));
            if let Some(at) = added_at.filter(|_| new) {
                entry.added_at = at;
            }
            // The remark and groups given are the owner's, not the peer's.
            if index == 0 {
                if remark.is_some() {
                    entry.remark = remark.clone();
                }
                if let Some(groups) = &groups_given {
                    entry.groups = groups.clone();
                }
            }
            entries.push(entry);
        }
        self.ports.relations.put_friends(&entries).await?;
        for entry in &entries {
            self.tell(
                &entry.owner,
                events::FRIEND_ADDED,
                &PeerEvent {
                    user_id: entry.peer.as_str(),
                },
            )
            .await;
        }
        Ok(())
    }

    /// `friend.requests`: one page of pending requests to or from the caller.
    pub async fn requests(
        &self,
        caller: &Caller,
        request: FriendRequestsRequest,
    ) -> Result<FriendRequestsReply> {
        let after = cursor(request.cursor)?;
        let limit = page_size(request.limit, MAX_PAGE)?;
        let mut page = self
            .ports
            .relations
            .list_requests(&caller.user, request.direction, after.as_ref(), limit + 1)
            .await?;
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        let other = |r: &FriendRequest| match request.direction {
            RequestDirection::Incoming => r.from.to_string(),
            RequestDirection::Outgoing => r.to.to_string(),
        };
        Ok(FriendRequestsReply {
            cursor: if more { page.last().map(other) } else { None },
            requests: page.iter().map(FriendRequestView::from).collect(),
        })
    }

    /// `friend.accept`: accepts the request from `userId`; both become friends.
    pub async fn accept(&self, caller: &Caller, request: PeerRequest) -> Result<()> {
        let remark = bounded("remark", request.remark, MAX_REMARK)?;
        let from = UserId::parse(request.user_id)?;
        self.not_blocked(&caller.user, &from).await?;
        let asked = self
            .ports
            .relations
            .get_request(&from, &caller.user)
            .await?
            .ok_or(Error::NotFound("friend request"))?;
        self.before_response(&caller.user, &from, remark.as_deref(), RESPONSE_AGREE_AND_ADD)
            .await?;
        let ours = self.entry(&caller.user, &from, remark, Vec::new());
        let theirs = self.entry(&from, &caller.user, asked.remark, Vec::new());
        self.befriend(ours, theirs, &from, FRIEND_RESPONSE).await?;
        self.tell(
            &from,
            events::FRIEND_REQUEST_ACCEPTED,
            &PeerEvent {
                user_id: caller.user.as_str(),
            },
        )
        .await;
        Ok(())
    }

    /// `friend.reject`: rejects the request from `userId`.
    pub async fn reject(&self, caller: &Caller, request: PeerRequest) -> Result<()> {
        let from = UserId::parse(request.user_id)?;
        // The app hears of a rejection only of a request that exists; the read is made only for it.
        if self
            .ports
            .callbacks
            .is_on(CallbackCommand::PrevFriendResponse)
            .await
        {
            if self
                .ports
                .relations
                .get_request(&from, &caller.user)
                .await?
                .is_none()
            {
                return Err(Error::NotFound("friend request"));
            }
            self.before_response(&caller.user, &from, None, RESPONSE_REJECT)
                .await?;
        }
        if !self.ports.relations.delete_request(&from, &caller.user).await? {
            return Err(Error::NotFound("friend request"));
        }
        self.tell(
            &from,
            events::FRIEND_REQUEST_REJECTED,
            &PeerEvent {
                user_id: caller.user.as_str(),
            },
        )
        .await;
        Ok(())
    }

    /// `friend.withdraw`: withdraws the caller's request to `userId`.
    pub async fn withdraw(&self, caller: &Caller, request: PeerRequest) -> Result<()> {
        let to = UserId::parse(request.user_id)?;
        if !self.ports.relations.delete_request(&caller.user, &to).await? {
            return Err(Error::NotFound("friend request"));
        }
        self.tell(
            &to,
            events::FRIEND_REQUEST_DELETED,
            &PeerEvent {
                user_id: caller.user.as_str(),
            },
        )
        .await;
        Ok(())
    }
}
