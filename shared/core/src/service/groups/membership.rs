//! Who is in a group: invitations, applications and their answers, quitting and kicking.

use super::*;

impl GroupService {
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
        let fresh: Vec<UserId> = users
            .iter()
            .filter(|u| !existing.iter().any(|m| &m.user == *u))
            .cloned()
            .collect();
        if group.kind == GroupType::Live {
            return Err(Error::Forbidden("people join live rooms themselves"));
        }
        let allowed = group.kind.allows(Rule::MembersInvite) || actor.manages();
        let newcomers = if allowed {
            self.before_invite(&group, &caller.user, fresh.clone()).await?
        } else {
            Vec::new()
        };
        let outcome_of = |user: &UserId, outcome: InviteOutcome| {
            if newcomers.contains(user) {
                outcome
            } else if fresh.contains(user) {
                InviteOutcome::Refused
            } else {
                InviteOutcome::AlreadyMember
            }
        };
        if group.kind.allows(Rule::MembersInvite) {
            let added = self.admit(&group, &newcomers).await?;
            self.member_tip(&group, MemberChange::Invited, &caller.user, &added)
                .await;
            return Ok(users
                .iter()
                .map(|u| (u.clone(), outcome_of(u, InviteOutcome::Added)))
                .collect());
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

    /// The app administrator puts users straight into a group of any type but a live room
    /// (Tencent's `add_group_member`): no invitation, no approval. A user already at their
    /// groups limit is reported and left out; a group without room for the rest refuses them
    /// all. `silent` leaves out the member tip.
    pub async fn admin_add(
        &self,
        group_id: &str,
        users: Vec<String>,
        silent: bool,
    ) -> Result<Vec<(UserId, AdmitOutcome)>> {
        let group = self.group(group_id).await?;
        if group.kind == GroupType::Live {
            return Err(Error::Forbidden("people join live rooms themselves"));
        }
        let users = unique_user_ids(users, MAX_BATCH)?;
        let existing = self.ports.groups.get_members(&group.id, &users).await?;
        let mut outcomes = Vec::with_capacity(users.len());
        let mut newcomers = Vec::new();
        for user in &users {
            let outcome = if existing.iter().any(|m| &m.user == user) {
                AdmitOutcome::AlreadyMember
            } else {
                match self.check_group_count(user, group.kind).await {
                    Ok(()) => {
                        newcomers.push(user.clone());
                        AdmitOutcome::Added
                    }
                    Err(Error::LimitExceeded(_)) => AdmitOutcome::AtGroupLimit,
                    Err(err) => return Err(err),
                }
            };
            outcomes.push((user.clone(), outcome));
        }
        let added = self.admit(&group, &newcomers).await?;
        let admin = self.ports.limits.accounts.admin.clone();
        if silent {
            self.member_callback(&group, MemberChange::Invited, &admin, &added)
                .await;
        } else {
            self.member_tip(&group, MemberChange::Invited, &admin, &added)
                .await;
        }
        // Someone who joined between the read and the write was not added by this call.
        for (user, outcome) in &mut outcomes {
            if *outcome == AdmitOutcome::Added && !added.contains(user) {
                *outcome = AdmitOutcome::AlreadyMember;
            }
        }
        Ok(outcomes)
    }

    /// `group.apply`: join a public group or chat room (at once with a free join policy, by
    /// approval otherwise), or enter a live room.
    pub async fn apply(&self, caller: &Caller, request: ApplyRequest) -> Result<ApplyOutcome> {
        let group = self.group(&request.group_id).await?;
        if group.kind == GroupType::Live {
            // Joining a live room seats this connection (guests too, to receive); it is no
            // membership.
            let new = self.ports.audience.seats.seat(&group.id, caller).await?;
            if !new {
                return Ok(ApplyOutcome::AlreadyMember);
            }
            if !caller.guest {
                self.viewer_callback(&group, Viewers::Entered, std::slice::from_ref(&caller.user))
                    .await;
            }
            self.seat_tip(&group, MemberChange::Applied, caller).await?;
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
        // Only an application the group takes is the app's to refuse.
        if group.kind.allows(Rule::JoinByApplication) && group.join_policy != JoinPolicy::Forbidden {
            self.before_apply(&group, &caller.user).await?;
        }
        if free {
            let added = self.admit(&group, std::slice::from_ref(&caller.user)).await?;
            self.member_tip(&group, MemberChange::Applied, &caller.user, &added)
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
        let limit = page_size(request.limit, 100)?;
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
        let (tell, kind) = match (pending.kind, request.accept) {
            (RequestKind::Application, true) => (&user, "application_accepted"),
            (RequestKind::Application, false) => (&user, "application_rejected"),
            (RequestKind::Invitation, true) => (&pending.by, "invitation_accepted"),
            (RequestKind::Invitation, false) => (&pending.by, "invitation_rejected"),
        };
        // Admit first, take the request after: a refused admission (a full group, a joiner at
        // their groups limit) must leave the request pending, as every refusal changes nothing.
        let added = if request.accept {
            self.admit(&group, std::slice::from_ref(&user)).await?
        } else {
            Vec::new()
        };
        self.ports.groups.take_join_request(&group.id, &user).await?;
        if !added.is_empty() {
            self.member_tip(&group, MemberChange::Applied, &caller.user, &added)
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
            if !self
                .ports
                .audience
                .seats
                .unseat_user(&group.id, &caller.user)
                .await?
            {
                return Err(Error::NotFound("member"));
            }
            self.seat_tip(&group, MemberChange::Quit, caller).await?;
            if !caller.guest {
                self.viewer_callback(&group, Viewers::Left, std::slice::from_ref(&caller.user))
                    .await;
            }
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
            MemberChange::Quit,
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
                if self.ports.audience.seats.unseat_user(&group.id, user).await? {
                    gone.push(user.clone());
                }
            }
            self.tell_kicked(&group, &caller.user, &gone, reason.as_deref())
                .await;
            self.viewer_callback(&group, Viewers::Left, &gone).await;
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
        self.tell_kicked(&group, &caller.user, &gone, reason.as_deref())
            .await;
        Ok(gone)
    }

    /// Tells each of `gone` they were removed (`group.notice` of type `kicked`), and the audience
    /// the `members_kicked` tip.
    async fn tell_kicked(&self, group: &Group, by: &UserId, gone: &[UserId], reason: Option<&str>) {
        for user in gone {
            let notice = GroupNotice {
                r#type: "kicked",
                group_id: &group.id,
                by,
                user_id: None,
                reason,
            };
            self.notify(user, &notice).await;
        }
        self.member_tip(group, MemberChange::Kicked, by, gone).await;
    }
}
