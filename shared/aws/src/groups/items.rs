//! The items of the groups and members tables: a group's attributes and their update, members
//! and join requests, and their keys.

use super::REQUEST_PREFIX;
use super::names::index_keys;
use crate::error::{Result, StoreError};
use crate::item::{Item, get_id, get_n, get_s, n, opt_bool, opt_s, s};
use aws_sdk_dynamodb::types::AttributeValue;
use cirrus_core::group::{Group, GroupType, JoinPolicy, JoinRequest, Member, RequestKind, Role};
use cirrus_core::ids::{GroupId, UserId};
use std::collections::{BTreeMap, HashMap};

/// Every attribute of a group's item but its key and `memberCount`, each with its value or `None`
/// when unset (absent from the item): what `create_group` puts and `put_group` replaces.
pub(super) fn group_fields(group: &Group) -> Vec<(&'static str, Option<AttributeValue>)> {
    let (shard, sort) =
        index_keys(group).map_or((None, None), |(shard, sort)| (Some(s(shard)), Some(s(sort))));
    vec![
        ("kind", Some(s(group.kind.name()))),
        ("name", Some(s(&group.name))),
        ("introduction", group.introduction.as_deref().map(s)),
        ("notice", group.notice.as_deref().map(s)),
        ("avatar", group.avatar.as_deref().map(s)),
        ("owner", group.owner.as_ref().map(|owner| s(owner.as_str()))),
        ("creator", Some(s(group.creator.as_str()))),
        ("createdAt", Some(n(group.created_at))),
        ("joinPolicy", Some(s(join_policy_name(group.join_policy)))),
        ("muteAll", group.mute_all.then_some(AttributeValue::Bool(true))),
        ("maxMembers", Some(n(group.max_members))),
        ("custom", custom_value(&group.custom)),
        ("dismissed", group.dismissed.then_some(AttributeValue::Bool(true))),
        ("nameShard", shard),
        ("nameSort", sort),
    ]
}

/// An `UpdateItem` that sets the attributes with a value and removes the others, every name
/// behind a placeholder (`name`, `owner` and others are reserved words).
pub(super) struct Assignments {
    pub(super) set: Vec<String>,
    pub(super) remove: Vec<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl Assignments {
    pub(super) fn of(fields: Vec<(&'static str, Option<AttributeValue>)>) -> Self {
        let mut assignments = Self {
            set: Vec::new(),
            remove: Vec::new(),
            names: HashMap::new(),
            values: HashMap::new(),
        };
        for (name, value) in fields {
            let alias = format!("#{name}");
            assignments.names.insert(alias.clone(), name.to_owned());
            match value {
                Some(value) => {
                    assignments.values.insert(format!(":{name}"), value);
                    assignments.set.push(format!("{alias} = :{name}"));
                }
                None => assignments.remove.push(alias),
            }
        }
        assignments
    }

    pub(super) fn expression(&self) -> String {
        let mut expression = format!("SET {}", self.set.join(", "));
        if !self.remove.is_empty() {
            expression.push_str(" REMOVE ");
            expression.push_str(&self.remove.join(", "));
        }
        expression
    }
}

pub(super) fn group_from(item: &Item) -> Result<Group> {
    let text = |name: &'static str| opt_s(item, name).map(|value| value.map(str::to_owned));
    let kind = get_s(item, "kind")?;
    let join_policy = get_s(item, "joinPolicy")?;
    Ok(Group {
        id: get_id(item, "groupId", GroupId::parse)?,
        kind: GroupType::ALL
            .into_iter()
            .find(|candidate| candidate.name() == kind)
            .ok_or(StoreError::BadAttribute("kind"))?,
        name: get_s(item, "name")?.to_owned(),
        introduction: text("introduction")?,
        notice: text("notice")?,
        avatar: text("avatar")?,
        owner: opt_s(item, "owner")?
            .map(|owner| UserId::parse(owner).map_err(|_| StoreError::BadAttribute("owner")))
            .transpose()?,
        creator: get_id(item, "creator", UserId::parse)?,
        created_at: get_n(item, "createdAt")?,
        join_policy: parse_join_policy(join_policy).ok_or(StoreError::BadAttribute("joinPolicy"))?,
        mute_all: opt_bool(item, "muteAll")?,
        max_members: get_n(item, "maxMembers")?,
        custom: custom_from(item)?,
        member_count: get_n(item, "memberCount")?,
        dismissed: opt_bool(item, "dismissed")?,
    })
}

pub(super) fn join_policy_name(policy: JoinPolicy) -> &'static str {
    match policy {
        JoinPolicy::Free => "free",
        JoinPolicy::NeedApproval => "need_approval",
        JoinPolicy::Forbidden => "forbidden",
    }
}

pub(super) fn parse_join_policy(raw: &str) -> Option<JoinPolicy> {
    [JoinPolicy::Free, JoinPolicy::NeedApproval, JoinPolicy::Forbidden]
        .into_iter()
        .find(|policy| join_policy_name(*policy) == raw)
}

pub(super) fn request_kind_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Application => "application",
        RequestKind::Invitation => "invitation",
    }
}

/// App-defined fields as a map of strings, absent when there are none.
pub(super) fn custom_value(custom: &BTreeMap<String, String>) -> Option<AttributeValue> {
    (!custom.is_empty()).then(|| {
        AttributeValue::M(
            custom
                .iter()
                .map(|(key, value)| (key.clone(), s(value)))
                .collect(),
        )
    })
}

/// The app-defined fields of an item (`custom`; absent when there are none).
pub(super) fn custom_from(item: &Item) -> Result<BTreeMap<String, String>> {
    match item.get("custom") {
        None | Some(AttributeValue::Null(_)) => Ok(BTreeMap::new()),
        Some(AttributeValue::M(map)) => map
            .iter()
            .map(|(key, value)| match value {
                AttributeValue::S(text) => Ok((key.clone(), text.clone())),
                _ => Err(StoreError::BadAttribute("custom")),
            })
            .collect(),
        Some(_) => Err(StoreError::BadAttribute("custom")),
    }
}

/// The key of `user`'s member item in `group`.
pub(super) fn member_key(group: &GroupId, user: &UserId) -> Item {
    Item::from([
        ("groupId".to_owned(), s(group.as_str())),
        ("userId".to_owned(), s(user.as_str())),
    ])
}

/// The key of `user`'s pending join request for `group`.
pub(super) fn request_key(group: &GroupId, user: &UserId) -> Item {
    Item::from([
        ("groupId".to_owned(), s(group.as_str())),
        ("userId".to_owned(), s(format!("{REQUEST_PREFIX}{user}"))),
    ])
}

/// A member's item under `group` (the port's calls name the group; `member.group` is the same).
/// A membership of a live room carries `live` (BOOL, only `true`), which the groups-per-user
/// count leaves out; it is set when the member is added and kept by [`member_fields`]' updates.
pub(super) fn member_item(group: &GroupId, member: &Member, live: bool) -> Item {
    let mut item = member_key(group, &member.user);
    for (name, value) in member_fields(member) {
        if let Some(value) = value {
            item.insert(name.to_owned(), value);
        }
    }
    if live {
        item.insert("live".to_owned(), AttributeValue::Bool(true));
    }
    item
}

/// Every attribute of a member's item but its key and `live`, each with its value or `None` when
/// unset: what `put_member` replaces.
pub(super) fn member_fields(member: &Member) -> Vec<(&'static str, Option<AttributeValue>)> {
    vec![
        ("role", Some(s(member.role.name()))),
        ("joinedAt", Some(n(member.joined_at))),
        ("joinedSeq", Some(n(member.joined_seq))),
        ("mutedUntil", Some(n(member.muted_until))),
        ("nameCard", member.name_card.as_deref().map(s)),
        ("custom", custom_value(&member.custom)),
    ]
}

pub(super) fn member_from(item: &Item) -> Result<Member> {
    let role = get_s(item, "role")?;
    Ok(Member {
        group: get_id(item, "groupId", GroupId::parse)?,
        user: get_id(item, "userId", UserId::parse)?,
        role: [Role::Owner, Role::Admin, Role::Member]
            .into_iter()
            .find(|candidate| candidate.name() == role)
            .ok_or(StoreError::BadAttribute("role"))?,
        joined_at: get_n(item, "joinedAt")?,
        joined_seq: get_n(item, "joinedSeq")?,
        name_card: opt_s(item, "nameCard")?.map(str::to_owned),
        muted_until: get_n(item, "mutedUntil")?,
        custom: custom_from(item)?,
    })
}

pub(super) fn request_item(request: &JoinRequest) -> Item {
    let mut item = request_key(&request.group, &request.user);
    item.insert("requestKind".to_owned(), s(request_kind_name(request.kind)));
    item.insert("requestedBy".to_owned(), s(request.by.as_str()));
    item.insert("createdAt".to_owned(), n(request.created_at));
    if let Some(reason) = &request.reason {
        item.insert("reason".to_owned(), s(reason));
    }
    item
}

pub(super) fn request_from(item: &Item) -> Result<JoinRequest> {
    let kind = get_s(item, "requestKind")?;
    Ok(JoinRequest {
        group: get_id(item, "groupId", GroupId::parse)?,
        user: get_s(item, "userId")?
            .strip_prefix(REQUEST_PREFIX)
            .and_then(|user| UserId::parse(user).ok())
            .ok_or(StoreError::BadAttribute("userId"))?,
        kind: [RequestKind::Application, RequestKind::Invitation]
            .into_iter()
            .find(|candidate| request_kind_name(*candidate) == kind)
            .ok_or(StoreError::BadAttribute("requestKind"))?,
        by: get_id(item, "requestedBy", UserId::parse)?,
        reason: opt_s(item, "reason")?.map(str::to_owned),
        created_at: get_n(item, "createdAt")?,
    })
}
