//! Group management and membership: every operation asks the group type's matrix
//! ([`crate::group::Rule`]) and the caller's role before it changes anything.

use crate::error::{Error, Result};
use crate::group::{Audience, Group, GroupType, JoinPolicy, JoinRequest, Member, RequestKind, Role, Rule};
use crate::ids::{ConversationId, GroupId, StreamKey, UserId};
use crate::ports::SeqRange;
use crate::protocol::event;
use crate::protocol::groups::{
    ApplyRequest, CreateRequest, GroupNotice, GroupPageRequest, GroupRequest, InfoRequest, JoinedRequest,
    MemberRequest, MemberUpdateRequest, MuteAllRequest, MuteRequest, RespondRequest, SearchRequest,
    SetRoleRequest, UpdateRequest, UsersRequest,
};
use crate::service::notifier::Notifier;
use crate::service::{Caller, Ports, audience, page_size, rooms, unique_user_ids};
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

/// The one effect of the message system the group service needs: posting a group tip (a system
/// message in the group's stream, delivered to its audience).
#[async_trait::async_trait]
pub trait GroupTips: Send + Sync {
    /// Posts `tip` about `users`, done by `by`, in `group`'s stream.
    async fn post_tip(&self, group: &Group, tip: &str, by: &UserId, users: &[UserId]) -> Result<()>;
}

/// Creates and manages groups and their membership.
pub struct GroupService {
    ports: Ports,
    notifier: Notifier,
    tips: Arc<dyn GroupTips>,
}

impl GroupService {
    /// A group service over `ports`, posting its tips through `tips`.
    pub fn new(ports: Ports, tips: Arc<dyn GroupTips>) -> Self {
        Self {
            notifier: Notifier::new(ports.clone()),
            tips,
            ports,
        }
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

    /// `group.create`: a new group with the caller as owner (the app administrator creates
    /// groups without joining them) and the initial members.
    pub async fn create(&self, caller: &Caller, request: CreateRequest) -> Result<Group> {
        let kind = request.r#type;
        let id = match request.group_id {
            Some(raw) => {
                let id = GroupId::parse(raw)?;
                if id.as_str().starts_with('@') {
                    return Err(Error::InvalidField(
                        "groupId may not start with @ (generated ids do)".to_owned(),
                    ));
                }
                id
            }
            None => GroupId::parse(format!("@{}", self.ports.ids.msg_id()))?,
        };
        let app_admin = caller.user == self.ports.limits.accounts.admin;
        let mut others = if request.members.is_empty() {
            Vec::new()
        } else {
            unique_user_ids(request.members, MAX_BATCH)?
        };
        others.retain(|user| user != &caller.user);
        if kind == GroupType::Live && !others.is_empty() {
            return Err(Error::InvalidField(
                "live rooms take no initial members: people join them".to_owned(),
            ));
        }
        let cap = self.ports.limits.max_group_members;
        let max_members = match request.max_members {
            Some(0) => return Err(Error::InvalidField("maxMembers must be positive".to_owned())),
            Some(max) => max.min(cap),
            None => cap,
        };
        let now = self.ports.clock.now_ms();
        let group = Group {
            id: id.clone(),
            kind,
            name: bounded("name", request.name, MAX_NAME)?,
            introduction: optional("introduction", request.introduction, MAX_TEXT)?,
            notice: optional("notice", request.notice, MAX_TEXT)?,
            avatar: optional("avatar", request.avatar, MAX_AVATAR)?,
            owner: (!app_admin).then(|| caller.user.clone()),
            creator: caller.user.clone(),
            created_at: now,
            join_policy: request.join_policy.unwrap_or(kind.default_join_policy()),
            mute_all: false,
            max_members,
            custom: custom(BTreeMap::new(), request.custom)?,
            member_count: 0,
            dismissed: false,
        };
        if group.name.is_empty() {
            return Err(Error::InvalidField("name must not be empty".to_owned()));
        }
        let mut founders = Vec::with_capacity(others.len() + 1);
        if !app_admin {
            founders.push(self.new_member(&group, &caller.user, Role::Owner, now, 0));
        }
        founders.extend(
            others
                .iter()
                .map(|user| self.new_member(&group, user, Role::Member, now, 0)),
        );
        if kind.allows(Rule::MemberCap) && founders.len() > max_members as usize {
            return Err(Error::LimitExceeded(format!(
                "a group of this type has at most {max_members} members"
            )));
        }
        for founder in &founders {
            self.check_group_count(&founder.user, kind).await?;
        }
        if !self.ports.groups.create_group(&group, &founders).await? {
            return Err(Error::InvalidField(format!("group id {id} is taken")));
        }
        let stream = StreamKey::group(&id);
        for founder in &founders {
            self.open(&founder.user, &id, &stream).await?;
        }
        // A live room's audience is connections: the creator's joins it.
        if kind == GroupType::Live && caller.connection.is_some() {
            rooms::seat(&self.ports, &id, caller).await?;
        }
        // A private group shows in lists with its first message; the others at once, with the
        // creation tip.
        if !kind.allows(Rule::ActivatedByFirstMessage) {
            self.tip(&group, "created", &caller.user, &[]).await;
        }
        Ok(Group {
            member_count: founders.len() as u32,
            ..group
        })
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
        Ok(added)
    }

    /// Posts a group tip (a system message in the group's stream) where the type tells members
    /// about member changes; failures are logged (the change is already stored).
    async fn member_tip(&self, group: &Group, tip: &str, by: &UserId, users: &[UserId]) {
        if group.kind.allows(Rule::MemberNotifications) {
            self.tip(group, tip, by, users).await;
        }
    }

    /// A live room's tip that `caller` joined or left. Only while the room is small: past
    /// `live_tip_audience`, a tip per viewer would cost a fan-out to the whole audience per viewer.
    async fn seat_tip(&self, group: &Group, tip: &str, caller: &Caller) -> Result<()> {
        if !caller.guest && audience::size(&self.ports, group).await? <= self.ports.limits.live_tip_audience {
            self.member_tip(group, tip, &caller.user, std::slice::from_ref(&caller.user))
                .await;
        }
        Ok(())
    }

    async fn tip(&self, group: &Group, tip: &str, by: &UserId, users: &[UserId]) {
        if let Err(err) = self.tips.post_tip(group, tip, by, users).await {
            tracing::warn!(group = %group.id, tip, error = %err, "could not post a group tip");
        }
    }

    async fn notify(&self, user: &UserId, notice: &GroupNotice<'_>) {
        self.notifier
            .tell(user, crate::protocol::events::GROUP_SYSTEM, notice)
            .await;
    }

    /// Every member of the group, walked in pages.
    pub(crate) async fn all_members(ports: &Ports, group: &GroupId) -> Result<Vec<Member>> {
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

    /// `group.dismiss`: the owner where the type allows it, or the app administrator. Every
    /// member is told and removed; the id stays taken.
    pub async fn dismiss(&self, caller: &Caller, request: GroupRequest) -> Result<()> {
        let group = self.group(&request.group_id).await?;
        let actor = self.actor(caller, &group).await?;
        if !(actor.app_admin
            || (actor.role() == Some(Role::Owner) && group.kind.allows(Rule::OwnerDismisses)))
        {
            return Err(Error::Forbidden(
                "only the owner of a public group or chat room (or the app administrator) may dismiss it",
            ));
        }
        self.dissolve(group, &caller.user).await
    }

    async fn dissolve(&self, mut group: Group, by: &UserId) -> Result<()> {
        let members = Self::all_members(&self.ports, &group.id).await?;
        group.dismissed = true;
        self.ports.groups.put_group(&group).await?;
        let users: Vec<UserId> = members.iter().map(|m| m.user.clone()).collect();
        for chunk in users.chunks(MAX_BATCH) {
            self.ports.groups.remove_members(&group.id, chunk).await?;
        }
        let conversation = ConversationId::Group(group.id.clone());
        for user in &users {
            // The dead group leaves the members' conversation lists.
            self.ports
                .conversations
                .hide_conversation(user, &conversation)
                .await?;
            self.notify(
                user,
                &GroupNotice {
                    r#type: "dismissed",
                    group_id: &group.id,
                    by,
                    user_id: None,
                    reason: None,
                },
            )
            .await;
        }
        // An audience of seats is told too (viewers have no notification list: it is live only).
        if group.kind.audience() == Audience::Seats {
            let frame = event(
                crate::protocol::events::GROUP_SYSTEM,
                &GroupNotice {
                    r#type: "dismissed",
                    group_id: &group.id,
                    by,
                    user_id: None,
                    reason: None,
                },
            );
            if let Err(err) = rooms::fan_out(&self.ports, &group.id, &frame, None).await {
                tracing::warn!(group = %group.id, error = %err, "could not tell the audience of a dismissal");
            }
        }
        Ok(())
    }

    /// `group.info`: each group's profile; members (and the app administrator) see everything,
    /// others the public part. Unknown or dismissed groups are left out.
    pub async fn info(
        &self,
        caller: &Caller,
        request: InfoRequest,
    ) -> Result<Vec<(Group, Option<Role>, bool)>> {
        if request.group_ids.is_empty() || request.group_ids.len() > MAX_INFO {
            return Err(Error::InvalidField(format!(
                "groupIds must hold 1 to {MAX_INFO} group ids"
            )));
        }
        let mut found = Vec::new();
        for raw in request.group_ids {
            let id = GroupId::parse(raw)?;
            let Some(group) = self.ports.groups.get_group(&id).await?.filter(|g| !g.dismissed) else {
                continue;
            };
            let actor = self.actor(caller, &group).await?;
            let full = actor.app_admin || actor.member.is_some();
            let group = self.with_audience(group).await?;
            found.push((group, actor.role(), full));
        }
        Ok(found)
    }

    /// The group with its member count as its audience counts it (a live room's is its seated
    /// connections).
    async fn with_audience(&self, group: Group) -> Result<Group> {
        let size = audience::size(&self.ports, &group).await?;
        Ok(Group {
            member_count: u32::try_from(size).unwrap_or(u32::MAX),
            ..group
        })
    }

    /// `group.update`: the profile (ordinary members only in private groups) and the join
    /// policy (owner and admins).
    pub async fn update(&self, caller: &Caller, request: UpdateRequest) -> Result<Group> {
        let mut group = self.group(&request.group_id).await?;
        let actor = self.actor(caller, &group).await?;
        actor.require_member()?;
        if !actor.manages() && !group.kind.allows(Rule::MemberEditsProfile) {
            return Err(Error::Forbidden(
                "only the owner and admins may edit this group's profile",
            ));
        }
        if let Some(name) = request.name {
            group.name = bounded("name", name, MAX_NAME)?;
            if group.name.is_empty() {
                return Err(Error::InvalidField("name must not be empty".to_owned()));
            }
        }
        if let Some(value) = request.introduction {
            group.introduction = optional("introduction", value, MAX_TEXT)?;
        }
        if let Some(value) = request.notice {
            group.notice = optional("notice", value, MAX_TEXT)?;
        }
        if let Some(value) = request.avatar {
            group.avatar = optional("avatar", value, MAX_AVATAR)?;
        }
        if let Some(policy) = request.join_policy {
            if !actor.manages() {
                return Err(Error::Forbidden(
                    "only the owner and admins may set the join policy",
                ));
            }
            group.join_policy = policy;
        }
        group.custom = custom(std::mem::take(&mut group.custom), request.custom)?;
        if !self.ports.groups.put_group(&group).await? {
            return Err(Error::NotFound("group"));
        }
        self.tip(&group, "profile_changed", &caller.user, &[]).await;
        Ok(group)
    }

    /// `group.transfer`: the owner hands the group to another member.
    pub async fn transfer(&self, caller: &Caller, request: MemberRequest) -> Result<()> {
        let mut group = self.group(&request.group_id).await?;
        let actor = self.actor(caller, &group).await?;
        if !actor.is_owner() {
            return Err(Error::Forbidden("only the owner may transfer the group"));
        }
        let target = UserId::parse(request.user_id)?;
        let mut heir = self
            .member(&group, &target)
            .await?
            .ok_or(Error::NotFound("member"))?;
        if Some(&target) == group.owner.as_ref() {
            return Ok(());
        }
        if let Some(old) = group.owner.clone()
            && let Some(mut previous) = self.member(&group, &old).await?
        {
            previous.role = Role::Member;
            self.ports.groups.put_member(&previous).await?;
        }
        heir.role = Role::Owner;
        self.ports.groups.put_member(&heir).await?;
        group.owner = Some(target.clone());
        self.ports.groups.put_group(&group).await?;
        self.tip(&group, "owner_changed", &caller.user, &[target]).await;
        Ok(())
    }

    /// `group.members`: one page in user id order (members and the app administrator only).
    pub async fn members(
        &self,
        caller: &Caller,
        request: GroupPageRequest,
    ) -> Result<(Vec<Member>, Option<String>)> {
        let group = self.group(&request.group_id).await?;
        self.actor(caller, &group).await?.require_member()?;
        let after = request.cursor.map(UserId::parse).transpose()?;
        let limit = page_size(request.limit, 100);
        let mut page = self
            .ports
            .groups
            .list_members(&group.id, after.as_ref(), limit + 1)
            .await?;
        let cursor = next_cursor(&mut page, limit, |m| m.user.to_string());
        Ok((page, cursor))
    }

    /// `group.joined`: one page of the caller's groups in group id order.
    pub async fn joined(
        &self,
        caller: &Caller,
        request: JoinedRequest,
    ) -> Result<(Vec<(Group, Member)>, Option<String>)> {
        let after = request.cursor.map(GroupId::parse).transpose()?;
        let limit = page_size(request.limit, 100);
        let mut page = self
            .ports
            .groups
            .groups_of(&caller.user, after.as_ref(), limit + 1)
            .await?;
        let cursor = next_cursor(&mut page, limit, |m| m.group.to_string());
        let mut joined = Vec::with_capacity(page.len());
        for member in page {
            if let Some(group) = self.ports.groups.get_group(&member.group).await?
                && !group.dismissed
            {
                joined.push((group, member));
            }
        }
        Ok((joined, cursor))
    }

    /// `group.search`: by exact id (any type but live rooms' private details), or by name
    /// prefix among the searchable types.
    pub async fn search(&self, request: SearchRequest) -> Result<Vec<Group>> {
        match (request.group_id, request.name) {
            (Some(id), None) => {
                let id = GroupId::parse(id)?;
                Ok(self
                    .ports
                    .groups
                    .get_group(&id)
                    .await?
                    .filter(|g| !g.dismissed && g.kind.allows(Rule::Searchable))
                    .into_iter()
                    .collect())
            }
            (None, Some(name)) => {
                let prefix = name.trim().to_lowercase();
                if prefix.is_empty() || prefix.len() > MAX_NAME {
                    return Err(Error::InvalidField(format!("name must be 1 to {MAX_NAME} bytes")));
                }
                let limit = page_size(request.limit, 100);
                self.ports.groups.search_groups(&prefix, limit).await
            }
            _ => Err(Error::InvalidField(
                "give exactly one of groupId and name".to_owned(),
            )),
        }
    }

    /// `group.invite`: private groups take the users in at once (any member may pull others in);
    /// public groups and chat rooms send invitations (owner and admins), which the invitees
    /// accept or reject with `group.respond`. Live rooms take no invitations.
    pub async fn invite(
        &self,
        caller: &Caller,
        request: UsersRequest,
    ) -> Result<Vec<(UserId, InviteOutcome)>> {
        let group = self.group(&request.group_id).await?;
        let actor = self.actor(caller, &group).await?;
        actor.require_member()?;
        let users = unique_user_ids(request.user_ids, MAX_BATCH)?;
        let reason = optional("reason", request.reason, MAX_TEXT)?;
        let existing = self.ports.groups.get_members(&group.id, &users).await?;
        let newcomers: Vec<UserId> = users
            .iter()
            .filter(|u| !existing.iter().any(|m| &m.user == *u))
            .cloned()
            .collect();
        let outcome_of = |user: &UserId, fresh: InviteOutcome| {
            if newcomers.contains(user) {
                fresh
            } else {
                InviteOutcome::AlreadyMember
            }
        };
        if group.kind.allows(Rule::MembersInvite) {
            let added = self.admit(&group, &newcomers).await?;
            self.member_tip(&group, "members_invited", &caller.user, &added)
                .await;
            return Ok(users
                .iter()
                .map(|u| (u.clone(), outcome_of(u, InviteOutcome::Added)))
                .collect());
        }
        if group.kind == GroupType::Live {
            return Err(Error::Forbidden("people join live rooms themselves"));
        }
        if !actor.manages() {
            return Err(Error::Forbidden(
                "only the owner and admins may invite to this group",
            ));
        }
        let now = self.ports.clock.now_ms();
        for user in &newcomers {
            let invitation = JoinRequest {
                group: group.id.clone(),
                user: user.clone(),
                kind: RequestKind::Invitation,
                by: caller.user.clone(),
                reason: reason.clone(),
                created_at: now,
            };
            self.ports.groups.put_join_request(&invitation).await?;
            self.notify(
                user,
                &GroupNotice {
                    r#type: "invited",
                    group_id: &group.id,
                    by: &caller.user,
                    user_id: None,
                    reason: reason.as_deref(),
                },
            )
            .await;
        }
        Ok(users
            .iter()
            .map(|u| (u.clone(), outcome_of(u, InviteOutcome::Invited)))
            .collect())
    }

    /// `group.apply`: join a public group or chat room (at once with a free join policy, by
    /// approval otherwise), or enter a live room.
    pub async fn apply(&self, caller: &Caller, request: ApplyRequest) -> Result<ApplyOutcome> {
        let group = self.group(&request.group_id).await?;
        if group.kind == GroupType::Live {
            // Joining a live room seats this connection (guests too, to receive); it is no
            // membership.
            let new = rooms::seat(&self.ports, &group.id, caller).await?;
            if !new {
                return Ok(ApplyOutcome::AlreadyMember);
            }
            self.seat_tip(&group, "member_joined", caller).await?;
            return Ok(ApplyOutcome::Joined);
        }
        if caller.guest {
            return Err(Error::GuestNotAllowed("group.apply"));
        }
        if self.member(&group, &caller.user).await?.is_some() {
            return Ok(ApplyOutcome::AlreadyMember);
        }
        let reason = optional("reason", request.reason, MAX_TEXT)?;
        let free = group.kind.allows(Rule::JoinByApplication) && group.join_policy == JoinPolicy::Free;
        if free {
            let added = self.admit(&group, std::slice::from_ref(&caller.user)).await?;
            self.member_tip(&group, "member_joined", &caller.user, &added)
                .await;
            return Ok(ApplyOutcome::Joined);
        }
        if !group.kind.allows(Rule::JoinByApplication) || group.join_policy == JoinPolicy::Forbidden {
            return Err(Error::Forbidden("this group takes no applications"));
        }
        let application = JoinRequest {
            group: group.id.clone(),
            user: caller.user.clone(),
            kind: RequestKind::Application,
            by: caller.user.clone(),
            reason: reason.clone(),
            created_at: self.ports.clock.now_ms(),
        };
        self.ports.groups.put_join_request(&application).await?;
        for manager in self.managers(&group).await? {
            self.notify(
                &manager,
                &GroupNotice {
                    r#type: "application",
                    group_id: &group.id,
                    by: &caller.user,
                    user_id: Some(&caller.user),
                    reason: reason.as_deref(),
                },
            )
            .await;
        }
        Ok(ApplyOutcome::Pending)
    }

    /// `group.requests`: the pending applications and invitations of a group (owner and admins).
    pub async fn requests(
        &self,
        caller: &Caller,
        request: GroupPageRequest,
    ) -> Result<(Vec<JoinRequest>, Option<String>)> {
        let group = self.group(&request.group_id).await?;
        if !self.actor(caller, &group).await?.manages() {
            return Err(Error::Forbidden("only the owner and admins see pending requests"));
        }
        let after = request.cursor.map(UserId::parse).transpose()?;
        let limit = page_size(request.limit, 100);
        let mut page = self
            .ports
            .groups
            .list_join_requests(&group.id, after.as_ref(), limit + 1)
            .await?;
        let cursor = next_cursor(&mut page, limit, |r| r.user.to_string());
        Ok((page, cursor))
    }

    /// `group.respond`: an owner or admin decides an application; an invitee decides their
    /// invitation.
    pub async fn respond(&self, caller: &Caller, request: RespondRequest) -> Result<()> {
        let group = self.group(&request.group_id).await?;
        let user = UserId::parse(request.user_id)?;
        let reason = optional("reason", request.reason, MAX_TEXT)?;
        let actor = self.actor(caller, &group).await?;
        let pending = self
            .ports
            .groups
            .get_join_request(&group.id, &user)
            .await?
            .ok_or(Error::NotFound("request"))?;
        let allowed = match pending.kind {
            RequestKind::Application => actor.manages(),
            RequestKind::Invitation => caller.user == user,
        };
        if !allowed {
            return Err(Error::Forbidden(
                "applications are decided by the owner and admins, invitations by the invitee",
            ));
        }
        self.ports.groups.take_join_request(&group.id, &user).await?;
        let (tell, kind) = match (pending.kind, request.accept) {
            (RequestKind::Application, true) => (&user, "application_accepted"),
            (RequestKind::Application, false) => (&user, "application_rejected"),
            (RequestKind::Invitation, true) => (&pending.by, "invitation_accepted"),
            (RequestKind::Invitation, false) => (&pending.by, "invitation_rejected"),
        };
        if request.accept {
            let added = self.admit(&group, std::slice::from_ref(&user)).await?;
            self.member_tip(&group, "member_joined", &caller.user, &added)
                .await;
        }
        self.notify(
            tell,
            &GroupNotice {
                r#type: kind,
                group_id: &group.id,
                by: &caller.user,
                user_id: Some(&user),
                reason: reason.as_deref(),
            },
        )
        .await;
        Ok(())
    }

    /// `group.quit`: a member leaves. The owner may leave only a private group (ownership passes
    /// to the longest-standing member; the last one out dissolves it).
    pub async fn quit(&self, caller: &Caller, request: GroupRequest) -> Result<()> {
        let mut group = self.group(&request.group_id).await?;
        let member = self.member(&group, &caller.user).await?;
        if group.kind == GroupType::Live && member.is_none() {
            // Leaving a live room unseats the caller's connections.
            if !rooms::unseat_user(&self.ports, &group.id, &caller.user).await? {
                return Err(Error::NotFound("member"));
            }
            self.seat_tip(&group, "member_quit", caller).await?;
            return Ok(());
        }
        let member = member.ok_or(Error::NotFound("member"))?;
        if member.role == Role::Owner {
            if !group.kind.allows(Rule::OwnerQuits) {
                return Err(Error::Forbidden(
                    "the owner may not quit this group: transfer it or dismiss it",
                ));
            }
            let heir = Self::all_members(&self.ports, &group.id)
                .await?
                .into_iter()
                .filter(|m| m.user != caller.user)
                .min_by_key(|m| (m.joined_at, m.user.clone()));
            match heir {
                None => return self.dissolve(group, &caller.user).await,
                Some(mut heir) => {
                    heir.role = Role::Owner;
                    self.ports.groups.put_member(&heir).await?;
                    group.owner = Some(heir.user.clone());
                    self.ports.groups.put_group(&group).await?;
                }
            }
        }
        self.ports
            .groups
            .remove_members(&group.id, std::slice::from_ref(&caller.user))
            .await?;
        self.member_tip(
            &group,
            "member_quit",
            &caller.user,
            std::slice::from_ref(&caller.user),
        )
        .await;
        Ok(())
    }

    /// `group.kick`: private groups: the owner; public groups and chat rooms: the owner (anyone)
    /// and admins (ordinary members only); live rooms: the owner. Never ordinary members.
    pub async fn kick(&self, caller: &Caller, request: UsersRequest) -> Result<Vec<UserId>> {
        let group = self.group(&request.group_id).await?;
        let actor = self.actor(caller, &group).await?;
        let users = unique_user_ids(request.user_ids, MAX_BATCH)?;
        let reason = optional("reason", request.reason, MAX_TEXT)?;
        let may_kick =
            actor.is_owner() || (group.kind.allows(Rule::HasAdmins) && actor.role() == Some(Role::Admin));
        if !may_kick || users.contains(&caller.user) {
            return Err(Error::Forbidden("you may not remove members of this group"));
        }
        if group.kind == GroupType::Live {
            let mut gone = Vec::new();
            for user in &users {
                if rooms::unseat_user(&self.ports, &group.id, user).await? {
                    gone.push(user.clone());
                }
            }
            for user in &gone {
                self.notify(
                    user,
                    &GroupNotice {
                        r#type: "kicked",
                        group_id: &group.id,
                        by: &caller.user,
                        user_id: None,
                        reason: reason.as_deref(),
                    },
                )
                .await;
            }
            self.member_tip(&group, "members_kicked", &caller.user, &gone)
                .await;
            return Ok(gone);
        }
        let targets = self.ports.groups.get_members(&group.id, &users).await?;
        if targets
            .iter()
            .any(|m| m.role == Role::Owner || (m.role == Role::Admin && !actor.is_owner()))
        {
            return Err(Error::Forbidden(
                "admins may remove ordinary members only, and nobody the owner",
            ));
        }
        let gone: Vec<UserId> = targets.into_iter().map(|m| m.user).collect();
        self.ports.groups.remove_members(&group.id, &gone).await?;
        for user in &gone {
            self.notify(
                user,
                &GroupNotice {
                    r#type: "kicked",
                    group_id: &group.id,
                    by: &caller.user,
                    user_id: None,
                    reason: reason.as_deref(),
                },
            )
            .await;
        }
        self.member_tip(&group, "members_kicked", &caller.user, &gone)
            .await;
        Ok(gone)
    }

    /// `group.set_role`: the owner appoints or removes admins where the type has them.
    pub async fn set_role(&self, caller: &Caller, request: SetRoleRequest) -> Result<()> {
        let group = self.group(&request.group_id).await?;
        let actor = self.actor(caller, &group).await?;
        if !group.kind.allows(Rule::HasAdmins) {
            return Err(Error::Forbidden("this type of group has no admins"));
        }
        if !actor.is_owner() {
            return Err(Error::Forbidden("only the owner appoints admins"));
        }
        if request.role == Role::Owner {
            return Err(Error::InvalidField(
                "use group.transfer to change the owner".to_owned(),
            ));
        }
        let user = UserId::parse(request.user_id)?;
        let mut member = self
            .member(&group, &user)
            .await?
            .ok_or(Error::NotFound("member"))?;
        if member.role == Role::Owner {
            return Err(Error::Forbidden("the owner's role changes only by transfer"));
        }
        member.role = request.role;
        self.ports.groups.put_member(&member).await?;
        self.notify(
            &user,
            &GroupNotice {
                r#type: "role_changed",
                group_id: &group.id,
                by: &caller.user,
                user_id: None,
                reason: Some(request.role.name()),
            },
        )
        .await;
        Ok(())
    }

    /// `group.mute`: the owner and admins mute a member for a while (admins only ordinary
    /// members; nobody the owner).
    pub async fn mute(&self, caller: &Caller, request: MuteRequest) -> Result<i64> {
        let group = self.group(&request.group_id).await?;
        let actor = self.actor(caller, &group).await?;
        if !actor.manages() {
            return Err(Error::Forbidden("only the owner and admins may mute members"));
        }
        let user = UserId::parse(request.user_id)?;
        let mut member = self
            .member(&group, &user)
            .await?
            .ok_or(Error::NotFound("member"))?;
        if member.role == Role::Owner || (member.role == Role::Admin && !actor.is_owner()) {
            return Err(Error::Forbidden(
                "admins may mute ordinary members only, and nobody the owner",
            ));
        }
        let now = self.ports.clock.now_ms();
        member.muted_until = if request.seconds == 0 {
            0
        } else {
            now + i64::from(request.seconds) * 1000
        };
        self.ports.groups.put_member(&member).await?;
        self.notify(
            &user,
            &GroupNotice {
                r#type: "muted",
                group_id: &group.id,
                by: &caller.user,
                user_id: None,
                reason: None,
            },
        )
        .await;
        Ok(member.muted_until)
    }

    /// `group.mute_all`: only the owner and admins may speak while it is on.
    pub async fn mute_all(&self, caller: &Caller, request: MuteAllRequest) -> Result<()> {
        let mut group = self.group(&request.group_id).await?;
        if !self.actor(caller, &group).await?.manages() {
            return Err(Error::Forbidden("only the owner and admins may mute the group"));
        }
        group.mute_all = request.muted;
        self.ports.groups.put_group(&group).await?;
        self.tip(
            &group,
            if request.muted { "muted_all" } else { "unmuted_all" },
            &caller.user,
            &[],
        )
        .await;
        Ok(())
    }

    /// `group.member_update`: one's own name card and custom fields; the owner and admins may
    /// change others'.
    pub async fn member_update(&self, caller: &Caller, request: MemberUpdateRequest) -> Result<Member> {
        let group = self.group(&request.group_id).await?;
        let actor = self.actor(caller, &group).await?;
        let user = request
            .user_id
            .map(UserId::parse)
            .transpose()?
            .unwrap_or_else(|| caller.user.clone());
        if user != caller.user && !actor.manages() {
            return Err(Error::Forbidden(
                "only the owner and admins may change others' member profile",
            ));
        }
        let mut member = self
            .member(&group, &user)
            .await?
            .ok_or(Error::NotFound("member"))?;
        if let Some(card) = request.name_card {
            member.name_card = optional("nameCard", card, MAX_NAME_CARD)?;
        }
        member.custom = custom(std::mem::take(&mut member.custom), request.custom)?;
        if !self.ports.groups.put_member(&member).await? {
            return Err(Error::NotFound("member"));
        }
        Ok(member)
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
