//! Creating groups, their profile and ownership, dismissing them, and reading them (info,
//! members, joined groups, search).

use super::*;

impl GroupService {
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
        // A cap above the app's, or one on a type without a cap, could not apply: refused, not
        // quietly changed.
        let max_members = match request.max_members {
            Some(_) if !kind.allows(Rule::MemberCap) => {
                return Err(Error::InvalidField(format!(
                    "maxMembers does not apply to a {} group: it has no member cap",
                    kind.name()
                )));
            }
            Some(0) => return Err(Error::InvalidField("maxMembers must be positive".to_owned())),
            Some(max) if max > cap => {
                return Err(Error::InvalidField(format!("maxMembers may be at most {cap}")));
            }
            Some(max) => max,
            None => cap,
        };
        let join_policy = request.join_policy.unwrap_or(kind.default_join_policy());
        check_join_policy(kind, join_policy)?;
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
            join_policy,
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
        self.before_create(&group, &caller.user, &founders).await?;
        if !self.ports.groups.create_group(&group, &founders).await? {
            return Err(Error::InvalidField(format!("group id {id} is taken")));
        }
        let stream = StreamKey::group(&id);
        for founder in &founders {
            self.open(&founder.user, &id, &stream).await?;
        }
        // A live room's audience is connections: the creator's joins it.
        if kind == GroupType::Live && caller.connection.is_some() {
            self.ports.audience.seats.seat(&id, caller).await?;
        }
        // A private group shows in lists with its first message; the others at once, with the
        // creation tip.
        if !kind.allows(Rule::ActivatedByFirstMessage) {
            self.tip(&group, "created", &caller.user, &[]).await;
        }
        self.created_callback(&group, &caller.user, &founders).await;
        Ok(Group {
            member_count: founders.len() as u32,
            ..group
        })
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

    pub(super) async fn dissolve(&self, mut group: Group, by: &UserId) -> Result<()> {
        let members = Self::all_members(&self.ports, &group.id).await?;
        group.dismissed = true;
        self.ports.groups.put_group(&group).await?;
        let users: Vec<UserId> = members.iter().map(|m| m.user.clone()).collect();
        for chunk in users.chunks(MAX_BATCH) {
            self.ports.groups.remove_members(&group.id, chunk).await?;
        }
        self.destroyed_callback(&group, by, &users).await;
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
            if let Err(err) = self.ports.audience.seats.fan_out(&group.id, &frame, None).await {
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
        let size = self.ports.audience.size(&group).await?;
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
        let before = group.clone();
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
            check_join_policy(group.kind, policy)?;
            group.join_policy = policy;
        }
        group.custom = custom(std::mem::take(&mut group.custom), request.custom)?;
        let changes = profile_changes(&before, &group);
        if changes.is_empty() {
            // Nothing to store or announce: the request named the values the group has.
            return Ok(group);
        }
        if !self.ports.groups.put_group(&group).await? {
            return Err(Error::NotFound("group"));
        }
        self.info_changed_callback(&group, &caller.user, &changes).await;
        self.tip_changes(&group, "profile_changed", &caller.user, changes)
            .await;
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
        let old_owner = group.owner.clone();
        if let Some(old) = old_owner.clone()
            && let Some(mut previous) = self.member(&group, &old).await?
        {
            previous.role = Role::Member;
            self.ports.groups.put_member(&previous).await?;
        }
        heir.role = Role::Owner;
        self.ports.groups.put_member(&heir).await?;
        group.owner = Some(target.clone());
        self.ports.groups.put_group(&group).await?;
        self.tip(
            &group,
            "owner_changed",
            &caller.user,
            std::slice::from_ref(&target),
        )
        .await;
        self.owner_changed_callback(&group, old_owner.as_ref(), &target)
            .await;
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
        let limit = page_size(request.limit, 100)?;
        let mut page = self
            .ports
            .groups
            .list_members(&group.id, after.as_ref(), limit + 1)
            .await?;
        let cursor = next_cursor(&mut page, limit, |m| m.user.to_string());
        Ok((page, cursor))
    }

    /// Whether a group id was ever used (a dismissed group's id stays taken).
    pub async fn id_taken(&self, raw: &str) -> Result<bool> {
        let id = GroupId::parse(raw)?;
        Ok(self.ports.groups.get_group(&id).await?.is_some())
    }

    /// The members among `users`, in no set order (members and the app administrator only).
    pub async fn members_named(
        &self,
        caller: &Caller,
        group_id: &str,
        users: &[UserId],
    ) -> Result<Vec<Member>> {
        let group = self.group(group_id).await?;
        self.actor(caller, &group).await?.require_member()?;
        let mut found = Vec::new();
        for chunk in users.chunks(MAX_BATCH) {
            found.extend(self.ports.groups.get_members(&group.id, chunk).await?);
        }
        Ok(found)
    }

    /// `group.joined`: one page of the caller's groups in group id order.
    pub async fn joined(
        &self,
        caller: &Caller,
        request: JoinedRequest,
    ) -> Result<(Vec<(Group, Member)>, Option<String>)> {
        let after = request.cursor.map(GroupId::parse).transpose()?;
        let limit = page_size(request.limit, 100)?;
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
                let limit = page_size(request.limit, 100)?;
                self.ports.groups.search_groups(&prefix, limit).await
            }
            _ => Err(Error::InvalidField(
                "give exactly one of groupId and name".to_owned(),
            )),
        }
    }
}

/// Refuses a join policy the type cannot apply: where people do not apply (private groups are
/// joined by invitation, live rooms freely), the type's own policy is the only one.
fn check_join_policy(kind: GroupType, policy: JoinPolicy) -> Result<()> {
    let fixed = kind.default_join_policy();
    if !kind.allows(Rule::JoinByApplication) && policy != fixed {
        return Err(Error::InvalidField(format!(
            "a {} group's joinPolicy can only be {}",
            kind.name(),
            join_policy_name(fixed)
        )));
    }
    Ok(())
}

/// The wire name of a join policy.
fn join_policy_name(policy: JoinPolicy) -> &'static str {
    match policy {
        JoinPolicy::Free => "free",
        JoinPolicy::NeedApproval => "need_approval",
        JoinPolicy::Forbidden => "forbidden",
    }
}

/// The profile fields that differ from `before` to `after`, each with its new value (`null`:
/// cleared), by wire name; custom fields under `custom`, each changed key with its new value
/// (`null`: removed).
fn profile_changes(before: &Group, after: &Group) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{Value, json};
    let mut changes = serde_json::Map::new();
    if before.name != after.name {
        changes.insert("name".to_owned(), json!(after.name));
    }
    for (field, old, new) in [
        ("introduction", &before.introduction, &after.introduction),
        ("notice", &before.notice, &after.notice),
        ("avatar", &before.avatar, &after.avatar),
    ] {
        if old != new {
            changes.insert(field.to_owned(), json!(new));
        }
    }
    if before.join_policy != after.join_policy {
        changes.insert("joinPolicy".to_owned(), json!(after.join_policy));
    }
    let mut custom = serde_json::Map::new();
    for key in before.custom.keys().chain(after.custom.keys()) {
        let new = after.custom.get(key);
        if before.custom.get(key) != new {
            custom.insert(key.clone(), new.map_or(Value::Null, |v| json!(v)));
        }
    }
    if !custom.is_empty() {
        changes.insert("custom".to_owned(), Value::Object(custom));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn group(kind: GroupType) -> Group {
        Group {
            id: GroupId::parse("g1").unwrap(),
            kind,
            name: "before".to_owned(),
            introduction: Some("intro".to_owned()),
            notice: None,
            avatar: None,
            owner: Some(UserId::parse("ann").unwrap()),
            creator: UserId::parse("ann").unwrap(),
            created_at: 1,
            join_policy: kind.default_join_policy(),
            mute_all: false,
            max_members: 100,
            custom: BTreeMap::from([("a".to_owned(), "1".to_owned())]),
            member_count: 1,
            dismissed: false,
        }
    }

    #[test]
    fn given_each_type_when_a_join_policy_is_checked_then_only_the_applicable_ones_pass() {
        // GIVEN every type and policy
        for kind in GroupType::ALL {
            for policy in [JoinPolicy::Free, JoinPolicy::NeedApproval, JoinPolicy::Forbidden] {
                // WHEN the policy is checked
                let checked = check_join_policy(kind, policy);
                // THEN types people apply to take all; the others only their own
                let applies = kind.allows(Rule::JoinByApplication) || policy == kind.default_join_policy();
                assert_eq!(checked.is_ok(), applies, "{} {policy:?}", kind.name());
            }
        }
        assert!(check_join_policy(GroupType::Private, JoinPolicy::Free).is_err());
        assert!(check_join_policy(GroupType::Live, JoinPolicy::NeedApproval).is_err());
    }

    #[test]
    fn given_an_edited_group_when_its_changes_are_taken_then_only_changed_fields_show_with_new_values() {
        // GIVEN a group and a copy with a new name, a cleared introduction, a new notice, a
        // custom key removed and one added, and the avatar left as it was
        let before = group(GroupType::Public);
        let mut after = before.clone();
        after.name = "after".to_owned();
        after.introduction = None;
        after.notice = Some("hello".to_owned());
        after.join_policy = JoinPolicy::Free;
        after.custom = BTreeMap::from([("b".to_owned(), "2".to_owned())]);
        // WHEN the changes are taken
        let changes = profile_changes(&before, &after);
        // THEN they name exactly those fields, null where cleared or removed
        assert_eq!(
            serde_json::Value::Object(changes),
            json!({"name": "after", "introduction": null, "notice": "hello", "joinPolicy": "free",
                   "custom": {"a": null, "b": "2"}})
        );
        // AND an unchanged group has none
        assert!(profile_changes(&before, &before.clone()).is_empty());
    }
}
