//! Reading group, member and join request rows back, and the wire names stored for enums.

use crate::error::{Result, StoreError};
use crate::rows::user_at;
use cirrus_core::group::{Group, GroupType, JoinPolicy, JoinRequest, Member, RequestKind, Role};
use cirrus_core::ids::{GroupId, UserId};
use rusqlite::Row;
use std::collections::BTreeMap;

pub(super) fn join_policy_name(policy: JoinPolicy) -> &'static str {
    match policy {
        JoinPolicy::Free => "free",
        JoinPolicy::NeedApproval => "need_approval",
        JoinPolicy::Forbidden => "forbidden",
    }
}

pub(super) fn request_kind_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Application => "application",
        RequestKind::Invitation => "invitation",
    }
}

pub(super) fn bool_at(row: &Row<'_>, index: usize, column: &'static str) -> Result<bool> {
    match row.get::<_, i64>(index)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(StoreError::BadValue { column }),
    }
}

pub(super) fn u32_at(row: &Row<'_>, index: usize, column: &'static str) -> Result<u32> {
    let raw: i64 = row.get(index)?;
    u32::try_from(raw).map_err(|_| StoreError::BadValue { column })
}

pub(super) fn group_id_at(row: &Row<'_>, index: usize, column: &'static str) -> Result<GroupId> {
    GroupId::parse(row.get::<_, String>(index)?).map_err(|_| StoreError::BadValue { column })
}

pub(super) fn custom_at(row: &Row<'_>, index: usize) -> Result<BTreeMap<String, String>> {
    let raw = row.get_ref(index)?.as_str().map_err(rusqlite::Error::from)?;
    serde_json::from_str(raw).map_err(|source| StoreError::BadJson {
        column: "custom",
        source,
    })
}

/// The stored text of a column whose values are names from a fixed list; `None` for one outside.
pub(super) fn named<T: Copy>(
    row: &Row<'_>,
    index: usize,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Option<T>> {
    let raw = row.get_ref(index)?.as_str().map_err(rusqlite::Error::from)?;
    Ok(all.iter().copied().find(|value| name(*value) == raw))
}

pub(super) fn group_from(row: &Row<'_>) -> Result<Group> {
    let kind =
        named(row, 1, &GroupType::ALL, GroupType::name)?.ok_or(StoreError::BadValue { column: "kind" })?;
    let policies = [JoinPolicy::Free, JoinPolicy::NeedApproval, JoinPolicy::Forbidden];
    let join_policy = named(row, 9, &policies, join_policy_name)?.ok_or(StoreError::BadValue {
        column: "join_policy",
    })?;
    let owner = row
        .get::<_, Option<String>>(6)?
        .map(UserId::parse)
        .transpose()
        .map_err(|_| StoreError::BadValue { column: "owner" })?;
    Ok(Group {
        id: group_id_at(row, 0, "id")?,
        kind,
        name: row.get(2)?,
        introduction: row.get(3)?,
        notice: row.get(4)?,
        avatar: row.get(5)?,
        owner,
        creator: user_at(row, 7, "creator")?,
        created_at: row.get(8)?,
        join_policy,
        mute_all: bool_at(row, 10, "mute_all")?,
        max_members: u32_at(row, 11, "max_members")?,
        custom: custom_at(row, 12)?,
        member_count: u32_at(row, 13, "member_count")?,
        dismissed: bool_at(row, 14, "dismissed")?,
    })
}

pub(super) fn member_from(row: &Row<'_>) -> Result<Member> {
    let roles = [Role::Owner, Role::Admin, Role::Member];
    let role = named(row, 2, &roles, Role::name)?.ok_or(StoreError::BadValue { column: "role" })?;
    let joined_seq: i64 = row.get(4)?;
    Ok(Member {
        group: group_id_at(row, 0, "group_id")?,
        user: user_at(row, 1, "user_id")?,
        role,
        joined_at: row.get(3)?,
        joined_seq: u64::try_from(joined_seq).map_err(|_| StoreError::BadValue { column: "joined_seq" })?,
        name_card: row.get(5)?,
        muted_until: row.get(6)?,
        custom: custom_at(row, 7)?,
    })
}

pub(super) fn request_from(row: &Row<'_>) -> Result<JoinRequest> {
    let kinds = [RequestKind::Application, RequestKind::Invitation];
    let kind = named(row, 2, &kinds, request_kind_name)?.ok_or(StoreError::BadValue { column: "kind" })?;
    Ok(JoinRequest {
        group: group_id_at(row, 0, "group_id")?,
        user: user_at(row, 1, "user_id")?,
        kind,
        by: user_at(row, 3, "by_user")?,
        reason: row.get(4)?,
        created_at: row.get(5)?,
    })
}
