//! The writer thread's jobs on groups: encoded group and member rows, creating a group, replacing
//! it, and adding and removing members with the count.

use super::INSERT_MEMBER;
use super::rows::join_policy_name;
use crate::error::{Result, StoreError};
use crate::rows::seq_param;
use cirrus_core::group::{Group, Member};
use cirrus_core::ids::{GroupId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, HashSet};

/// A group encoded for the writer thread.
pub(super) struct GroupRow {
    pub(super) group: Group,
    pub(super) name_key: String,
    pub(super) custom: String,
}

/// A member encoded for the writer thread.
pub(super) struct MemberRow {
    pub(super) member: Member,
    pub(super) custom: String,
}

impl GroupRow {
    /// Encodes on the caller's task; the writer thread only binds ready-made values.
    pub(super) fn encode(group: &Group) -> Result<Self> {
        Ok(Self {
            group: group.clone(),
            name_key: group.name.to_lowercase(),
            custom: custom_json(&group.custom)?,
        })
    }
}

impl MemberRow {
    pub(super) fn encode(member: &Member) -> Result<Self> {
        Ok(Self {
            member: member.clone(),
            custom: custom_json(&member.custom)?,
        })
    }

    pub(super) fn encode_all(members: &[Member]) -> Result<Vec<Self>> {
        members.iter().map(Self::encode).collect()
    }
}

pub(super) fn custom_json(custom: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(custom).map_err(|source| StoreError::BadJson {
        column: "custom",
        source,
    })
}

/// Creates the group with its members and their count, unless the id is taken. Member rows go
/// under the group's id (as in `add_members`, each [`Member::group`] is not consulted); a user
/// named twice is one member.
pub(super) fn create(conn: &Connection, row: &GroupRow, members: &[MemberRow]) -> Result<bool> {
    let id = row.group.id.as_str();
    if conn
        .prepare_cached("SELECT 1 FROM groups WHERE id = ?1")?
        .exists([id])?
    {
        return Ok(false);
    }
    let mut insert = conn.prepare_cached(INSERT_MEMBER)?;
    let mut count = 0_i64;
    for member in members {
        if insert_member(&mut insert, &row.group.id, member)? {
            count += 1;
        }
    }
    let GroupRow {
        group,
        name_key,
        custom,
    } = row;
    conn.prepare_cached(concat!(
        "INSERT INTO groups (",
        group_columns!(),
        ", name_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    ))?
    .execute(params![
        id,
        group.kind.name(),
        group.name,
        group.introduction,
        group.notice,
        group.avatar,
        group.owner.as_ref().map(UserId::as_str),
        group.creator.as_str(),
        group.created_at,
        join_policy_name(group.join_policy),
        group.mute_all,
        group.max_members,
        custom,
        count,
        group.dismissed,
        name_key,
    ])?;
    Ok(true)
}

/// Replaces every field of an existing group but its member count.
pub(super) fn put_group(conn: &Connection, row: &GroupRow) -> Result<bool> {
    let GroupRow {
        group,
        name_key,
        custom,
    } = row;
    let changed = conn
        .prepare_cached(
            "UPDATE groups SET kind = ?2, name = ?3, name_key = ?4, introduction = ?5, notice = ?6, \
             avatar = ?7, owner = ?8, creator = ?9, created_at = ?10, join_policy = ?11, \
             mute_all = ?12, max_members = ?13, custom = ?14, dismissed = ?15 WHERE id = ?1",
        )?
        .execute(params![
            group.id.as_str(),
            group.kind.name(),
            group.name,
            name_key,
            group.introduction,
            group.notice,
            group.avatar,
            group.owner.as_ref().map(UserId::as_str),
            group.creator.as_str(),
            group.created_at,
            join_policy_name(group.join_policy),
            group.mute_all,
            group.max_members,
            custom,
            group.dismissed,
        ])?;
    Ok(changed > 0)
}

/// Writes one member row of `group` unless the user is a member already; whether it was written.
pub(super) fn insert_member(
    insert: &mut rusqlite::CachedStatement<'_>,
    group: &GroupId,
    row: &MemberRow,
) -> Result<bool> {
    let MemberRow { member, custom } = row;
    let written = insert.execute(params![
        group.as_str(),
        member.user.as_str(),
        member.role.name(),
        member.joined_at,
        seq_param(member.joined_seq),
        member.name_card,
        member.muted_until,
        custom,
    ])?;
    Ok(written > 0)
}

/// Adds the members not in the group yet and raises the count by as many, unless that would pass
/// `cap`: then nothing is written. A group that does not exist gets nothing (every input `false`).
pub(super) fn add_members(
    conn: &Connection,
    group: &GroupId,
    members: &[MemberRow],
    cap: Option<u32>,
) -> Result<Option<Vec<bool>>> {
    let count: Option<i64> = conn
        .prepare_cached("SELECT member_count FROM groups WHERE id = ?1")?
        .query_row([group.as_str()], |row| row.get(0))
        .optional()?;
    let Some(count) = count else {
        return Ok(Some(vec![false; members.len()]));
    };
    // Which inputs are new: not members yet, and not named earlier in the same call.
    let mut probe =
        conn.prepare_cached("SELECT 1 FROM group_members WHERE group_id = ?1 AND user_id = ?2")?;
    let mut seen = HashSet::with_capacity(members.len());
    let mut fresh = Vec::with_capacity(members.len());
    for MemberRow { member, .. } in members {
        let new =
            seen.insert(member.user.as_str()) && !probe.exists([group.as_str(), member.user.as_str()])?;
        fresh.push(new);
    }
    let added = fresh.iter().filter(|&&new| new).count();
    let added = i64::try_from(added).unwrap_or(i64::MAX);
    if added > 0
        && let Some(cap) = cap
        && count.saturating_add(added) > i64::from(cap)
    {
        return Ok(None);
    }
    let mut insert = conn.prepare_cached(INSERT_MEMBER)?;
    for (row, _) in members.iter().zip(&fresh).filter(|(_, new)| **new) {
        insert_member(&mut insert, group, row)?;
    }
    if added > 0 {
        conn.prepare_cached("UPDATE groups SET member_count = member_count + ?2 WHERE id = ?1")?
            .execute(params![group.as_str(), added])?;
    }
    Ok(Some(fresh))
}

/// Deletes the member rows and lowers the count by as many as there were.
pub(super) fn remove_members(conn: &Connection, group: &GroupId, users: &[UserId]) -> Result<Vec<bool>> {
    let mut delete = conn.prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2")?;
    let removed = users
        .iter()
        .map(|user| Ok(delete.execute([group.as_str(), user.as_str()])? > 0))
        .collect::<Result<Vec<bool>>>()?;
    let count = removed.iter().filter(|&&gone| gone).count();
    if count > 0 {
        conn.prepare_cached("UPDATE groups SET member_count = max(member_count - ?2, 0) WHERE id = ?1")?
            .execute(params![group.as_str(), i64::try_from(count).unwrap_or(i64::MAX)])?;
    }
    Ok(removed)
}
