//! Group management and membership: every operation asks the group type's matrix
//! ([`crate::group::Rule`]) and the caller's role before it changes anything.
//!
//! This module holds the service, its standing checks and the steps operations share; the
//! operations are in [`manage`] (create, profile, dismiss, info, search), [`membership`]
//! (invitations, applications, quit, kick) and [`roles`] (admins, mute, member profiles).

mod callbacks;
mod manage;
mod membership;
mod roles;

use callbacks::Viewers;

use crate::clock::{Clock, IdGen};
use crate::error::{Error, Result};
use crate::group::{Audience, Group, GroupType, JoinPolicy, JoinRequest, Member, RequestKind, Role, Rule};
use crate::ids::{ConversationId, GroupId, StreamKey, UserId};
use crate::limits::Limits;
use crate::ports::SeqRange;
use crate::ports::{ConversationStore, GroupStore, MessageStore};
use crate::protocol::event;
use crate::protocol::groups::{
    ApplyRequest, CreateRequest, GroupNotice, GroupPageRequest, GroupRequest, InfoRequest, JoinedRequest,
    MemberRequest, MemberUpdateRequest, MuteAllRequest, MuteRequest, RespondRequest, SearchRequest,
    SetRoleRequest, UpdateRequest, UsersRequest,
};
use crate::service::callback_hooks::CallbackHooks;
use crate::service::notifier::Notifier;
use crate::service::{AudiencePorts, Caller, Ports, StoreSource, page_size, unique_user_ids};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Longest group name, in bytes.
const MAX_NAME: usize = 100;
/// Longest introduction or notice, in bytes.
const MAX_TEXT: usize = 400;
/// Longest avatar reference, in bytes.
const MAX_AVATAR: usize = 500;
/// Longest name card, in bytes.
const MAX_NAME_CARD: usize = 50;
/// Custom fields per group or member.
const MAX_CUSTOM: usize = 20;
/// Longest custom key and value, in bytes.
const MAX_CUSTOM_KEY: usize = 32;
const MAX_CUSTOM_VALUE: usize = 512;
/// Users one invite or kick may name.
const MAX_BATCH: usize = 100;
/// Groups one `group.info` may name.
const MAX_INFO: usize = 50;
/// Members read per page while walking a whole group.
const WALK_PAGE: u32 = 1000;

/// How an invited user ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteOutcome {
    /// Added at once (private groups).
    Added,
    /// Invited; they accept or reject with `group.respond`.
    Invited,
    /// Already a member.
    AlreadyMember,
    /// The app's server refused this user (`Group.CallbackBeforeInviteJoinGroup`).
    Refused,
}

/// How a user the app administrator added ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmitOutcome {
    /// Now a member.
    Added,
    /// Already a member.
    AlreadyMember,
    /// Left out: they already belong to as many groups as the app allows.
    AtGroupLimit,
}

/// How an application ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyOutcome {
    /// Joined at once (free join policy).
    Joined,
    /// Waiting for an owner or admin.
    Pending,
    /// Already a member.
    AlreadyMember,
}

/// A change of a group's members that members are told of (a tip) and the app too (a callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemberChange {
    /// Users were pulled in, by an invitation or the administrator.
    Invited,
    /// A user joined by asking (or entered a live room).
    Applied,
    /// A user left.
    Quit,
    /// Users were removed.
    Kicked,
}

impl MemberChange {
    /// The tip's name in the group's stream.
    fn tip(self) -> &'static str {
        match self {
            Self::Invited => "members_invited",
            Self::Applied => "member_joined",
            Self::Quit => "member_quit",
            Self::Kicked => "members_kicked",
        }
    }
}

/// Who is acting on a group, and with what standing.
struct Actor {
    /// Their membership, if any.
    member: Option<Member>,
    /// The app administrator may do everything.
    app_admin: bool,
}

impl Actor {
    fn role(&self) -> Option<Role> {
        self.member.as_ref().map(|m| m.role)
    }

    fn manages(&self) -> bool {
        self.app_admin || self.role().is_some_and(Role::manages)
    }

    fn is_owner(&self) -> bool {
        self.app_admin || self.role() == Some(Role::Owner)
    }

    fn require_member(&self) -> Result<()> {
        if self.app_admin || self.member.is_some() {
            Ok(())
        } else {
            Err(Error::Forbidden("only members may do this"))
        }
    }
}

/// What a profile tip says changed: each changed field's wire name with its new value.
pub type TipChanges = serde_json::Map<String, serde_json::Value>;

/// The one effect of the message system the group service needs: posting a group tip (a system
/// message in the group's stream, delivered to its audience).
#[async_trait::async_trait]
pub trait GroupTips: Send + Sync {
    /// Posts `tip` about `users`, done by `by`, in `group`'s stream; a profile tip carries the
    /// fields that changed with their new values (`changes`, empty for other tips).
    async fn post_tip(
        &self,
        group: &Group,
        tip: &str,
        by: &UserId,
        users: &[UserId],
        changes: &TipChanges,
    ) -> Result<()>;
}

/// Creates and manages groups and their membership.
pub struct GroupService {
    ports: GroupPorts,
    tips: Arc<dyn GroupTips>,
}

/// What groups use.
#[derive(Clone)]
pub struct GroupPorts {
    /// Groups, members and join requests.
    pub groups: Arc<dyn GroupStore>,
    /// Conversation lists (a joined group shows up in them).
    pub conversations: Arc<dyn ConversationStore>,
    /// Message streams (a new member's history starts where they joined).
    pub messages: Arc<dyn MessageStore>,
    /// Seating, unseating and telling live rooms' viewers; every group's audience size.
    pub audience: AudiencePorts,
    /// Telling users of invitations and requests.
    pub notifier: Notifier,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Group ids.
    pub ids: Arc<dyn IdGen>,
    /// Member and group limits.
    pub limits: Limits,
    /// The app's group after-callbacks.
    pub callbacks: CallbackHooks,
}

impl GroupPorts {
    /// The groups' ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            groups: ports.stores.groups(),
            conversations: ports.stores.conversations(),
            messages: ports.stores.messages(),
            audience: AudiencePorts::of(ports),
            notifier: Notifier::of(ports),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
            limits: ports.limits.clone(),
            callbacks: CallbackHooks::of(ports),
        }
    }
}

impl GroupService {
    /// A group service over `ports`, posting its tips through `tips`.
    pub fn new(ports: GroupPorts, tips: Arc<dyn GroupTips>) -> Self {
        Self { ports, tips }
    }

    /// A group service over the process's ports.
    pub fn from_ports<S: StoreSource>(ports: &Ports<S>, tips: Arc<dyn GroupTips>) -> Self {
        Self::new(GroupPorts::of(ports), tips)
    }

    /// The group, unless it does not exist or was dismissed.
    async fn group(&self, raw: &str) -> Result<Group> {
        let id = GroupId::parse(raw)?;
        match self.ports.groups.get_group(&id).await? {
            Some(group) if !group.dismissed => Ok(group),
            _ => Err(Error::NotFound("group")),
        }
    }

    async fn actor(&self, caller: &Caller, group: &Group) -> Result<Actor> {
        let member = self.member(group, &caller.user).await?;
        Ok(Actor {
            member,
            app_admin: caller.user == self.ports.limits.accounts.admin,
        })
    }

    async fn member(&self, group: &Group, user: &UserId) -> Result<Option<Member>> {
        Ok(self
            .ports
            .groups
            .get_members(&group.id, std::slice::from_ref(user))
            .await?
            .pop())
    }

    fn new_member(&self, group: &Group, user: &UserId, role: Role, now: i64, joined_seq: u64) -> Member {
        Member {
            group: group.id.clone(),
            user: user.clone(),
            role,
            joined_at: now,
            joined_seq,
            name_card: None,
            muted_until: 0,
            custom: BTreeMap::new(),
        }
    }

    /// Refuses a user who already belongs to as many groups as the app allows (live rooms are
    /// not counted).
    async fn check_group_count(&self, user: &UserId, kind: GroupType) -> Result<()> {
        if kind == GroupType::Live {
            return Ok(());
        }
        let max = self.ports.limits.max_groups_per_user;
        if self.ports.groups.count_groups_of(user).await? >= max {
            return Err(Error::LimitExceeded(format!(
                "{user} already belongs to {max} groups"
            )));
        }
        Ok(())
    }

    /// Puts the group in `user`'s conversation list with everything so far read. Someone who
    /// left and comes back keeps their old entry: its read pointer moves up to now, so what was
    /// said while they were away does not count as unread.
    async fn open(&self, user: &UserId, group: &GroupId, stream: &StreamKey) -> Result<()> {
        let conversation = ConversationId::Group(group.clone());
        let entry = self
            .ports
            .conversations
            .open_conversation(user, &conversation, stream)
            .await?;
        if entry.read_seq < entry.last_seq {
            self.ports
                .conversations
                .mark_read(user, &conversation, entry.last_seq)
                .await?;
        }
        Ok(())
    }

    /// The group stream's last seq now (what a member joining now has not seen).
    async fn last_seq(&self, group: &GroupId) -> Result<u64> {
        let newest = self
            .ports
            .messages
            .history(
                &StreamKey::group(group),
                SeqRange {
                    before: None,
                    after: None,
                    limit: 1,
                    now: i64::MIN,
                    keep_last: u64::MAX,
                },
                None,
            )
            .await?;
        Ok(newest.last().map_or(0, |m| m.seq))
    }

    /// Adds `users` (not yet members) as ordinary members, within the cap; returns who was
    /// added. Each gets the group in their conversation list, counted as read so far.
    async fn admit(&self, group: &Group, users: &[UserId]) -> Result<Vec<UserId>> {
        for user in users {
            self.check_group_count(user, group.kind).await?;
        }
        let now = self.ports.clock.now_ms();
        let joined_seq = self.last_seq(&group.id).await?;
        let members: Vec<Member> = users
            .iter()
            .map(|user| self.new_member(group, user, Role::Member, now, joined_seq))
            .collect();
        let cap = group.kind.allows(Rule::MemberCap).then_some(group.max_members);
        let added = self
            .ports
            .groups
            .add_members(&group.id, &members, cap)
            .await?
            .ok_or_else(|| {
                Error::LimitExceeded(format!(
                    "the group has room for at most {} members",
                    group.max_members
                ))
            })?;
        let added: Vec<UserId> = users
            .iter()
            .zip(added)
            .filter(|(_, added)| *added)
            .map(|(user, _)| user.clone())
            .collect();
        let stream = StreamKey::group(&group.id);
        for user in &added {
            self.open(user, &group.id, &stream).await?;
        }
        self.full_callback(group, added.len()).await;
        Ok(added)
    }

    /// Posts a group tip (a system message in the group's stream) where the type tells members
    /// about member changes, and queues the app's callback of the change; failures are logged
    /// (the change is already stored).
    async fn member_tip(&self, group: &Group, change: MemberChange, by: &UserId, users: &[UserId]) {
        if group.kind.allows(Rule::MemberNotifications) {
            self.tip(group, change.tip(), by, users).await;
        }
        self.member_callback(group, change, by, users).await;
    }

    /// A live room's tip that `caller` joined or left. Only while the room is small: past
    /// `live_tip_audience`, a tip per viewer would cost a fan-out to the whole audience per viewer.
    async fn seat_tip(&self, group: &Group, change: MemberChange, caller: &Caller) -> Result<()> {
        if !caller.guest && self.ports.audience.size(group).await? <= self.ports.limits.live_tip_audience {
            self.member_tip(group, change, &caller.user, std::slice::from_ref(&caller.user))
                .await;
        }
        Ok(())
    }

    async fn tip(&self, group: &Group, tip: &str, by: &UserId, users: &[UserId]) {
        if let Err(err) = self
            .tips
            .post_tip(group, tip, by, users, &TipChanges::new())
            .await
        {
            tracing::warn!(group = %group.id, tip, error = %err, "could not post a group tip");
        }
    }

    /// Posts a tip that profile fields changed, with their new values.
    async fn tip_changes(&self, group: &Group, tip: &str, by: &UserId, changes: TipChanges) {
        if let Err(err) = self.tips.post_tip(group, tip, by, &[], &changes).await {
            tracing::warn!(group = %group.id, tip, error = %err, "could not post a group tip");
        }
    }

    async fn notify(&self, user: &UserId, notice: &GroupNotice<'_>) {
        self.ports
            .notifier
            .tell(user, crate::protocol::events::GROUP_SYSTEM, notice)
            .await;
    }

    /// Every member of the group, walked in pages.
    pub(crate) async fn all_members(ports: &GroupPorts, group: &GroupId) -> Result<Vec<Member>> {
        let mut all = Vec::new();
        let mut after: Option<UserId> = None;
        loop {
            let page = ports
                .groups
                .list_members(group, after.as_ref(), WALK_PAGE)
                .await?;
            let done = page.len() < WALK_PAGE as usize;
            after = page.last().map(|m| m.user.clone());
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// The owner and admins of a group.
    async fn managers(&self, group: &Group) -> Result<Vec<UserId>> {
        Ok(Self::all_members(&self.ports, &group.id)
            .await?
            .into_iter()
            .filter(|m| m.role.manages())
            .map(|m| m.user)
            .collect())
    }
}

/// Trims a page read with one extra item and returns the cursor of the next page, if any.
fn next_cursor<T>(page: &mut Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Option<String> {
    if page.len() > limit as usize {
        page.truncate(limit as usize);
        page.last().map(key)
    } else {
        None
    }
}

fn bounded(field: &str, value: String, max: usize) -> Result<String> {
    if value.len() > max {
        return Err(Error::InvalidField(format!("{field} is longer than {max} bytes")));
    }
    Ok(value)
}

fn optional(field: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    value
        .map(|v| bounded(field, v, max))
        .transpose()
        .map(|v| v.filter(|v| !v.is_empty()))
}

/// Applies custom-field changes: an empty value removes the key.
fn custom(
    mut current: BTreeMap<String, String>,
    changes: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    for (key, value) in changes {
        if key.is_empty() || key.len() > MAX_CUSTOM_KEY {
            return Err(Error::InvalidField(format!(
                "custom keys must be 1 to {MAX_CUSTOM_KEY} bytes"
            )));
        }
        if value.len() > MAX_CUSTOM_VALUE {
            return Err(Error::InvalidField(format!(
                "custom values must be at most {MAX_CUSTOM_VALUE} bytes"
            )));
        }
        if value.is_empty() {
            current.remove(&key);
        } else {
            current.insert(key, value);
        }
    }
    if current.len() > MAX_CUSTOM {
        return Err(Error::LimitExceeded(format!(
            "at most {MAX_CUSTOM} custom fields"
        )));
    }
    Ok(current)
}
