//! Standing inside a group: admins, muting, and member profiles (name card, custom fields).

use super::*;

impl GroupService {
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
    /// members; nobody the owner). In a live room, a viewer (any user who is not a member) is
    /// muted in the room's store, per user: the mute outlasts their seat.
    pub async fn mute(&self, caller: &Caller, request: MuteRequest) -> Result<i64> {
        let group = self.group(&request.group_id).await?;
        let actor = self.actor(caller, &group).await?;
        if !actor.manages() {
            return Err(Error::Forbidden("only the owner and admins may mute members"));
        }
        let user = UserId::parse(request.user_id)?;
        let now = self.ports.clock.now_ms();
        let until = if request.seconds == 0 {
            0
        } else {
            now + i64::from(request.seconds) * 1000
        };
        match self.member(&group, &user).await? {
            Some(mut member) => {
                if member.role == Role::Owner || (member.role == Role::Admin && !actor.is_owner()) {
                    return Err(Error::Forbidden(
                        "admins may mute ordinary members only, and nobody the owner",
                    ));
                }
                member.muted_until = until;
                self.ports.groups.put_member(&member).await?;
            }
            // A live room's viewers are seats, not members: whoever is not a member is one (or
            // may become one), so the mute need not wait for a seat to exist.
            None if group.kind.audience() == Audience::Seats => {
                if user == caller.user {
                    return Err(Error::Forbidden("you may not mute yourself"));
                }
                self.ports
                    .audience
                    .seats
                    .rooms
                    .mute_viewer(&group.id, &user, until)
                    .await?;
            }
            None => return Err(Error::NotFound("member")),
        }
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
        Ok(until)
    }

    /// `group.mute_all`: only the owner and admins may speak while it is on.
    pub async fn mute_all(&self, caller: &Caller, request: MuteAllRequest) -> Result<()> {
        let mut group = self.group(&request.group_id).await?;
        if !self.actor(caller, &group).await?.manages() {
            return Err(Error::Forbidden("only the owner and admins may mute the group"));
        }
        if group.mute_all == request.muted {
            // Already so: nothing to store or announce.
            return Ok(());
        }
        group.mute_all = request.muted;
        self.ports.groups.put_group(&group).await?;
        let changes = TipChanges::from_iter([("muteAll".to_owned(), serde_json::json!(request.muted))]);
        self.tip_changes(
            &group,
            if request.muted { "muted_all" } else { "unmuted_all" },
            &caller.user,
            changes,
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
        self.member_field_callback(&group, &caller.user, &member).await;
        Ok(member)
    }
}
