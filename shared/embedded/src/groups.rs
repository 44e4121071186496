//! [`GroupStore`] for [`SqliteStore`]: groups, their members and pending join requests.
//!
//! A group is one row of `groups`, a member one row of `group_members` (keyed by group then user,
//! with an index by user then group), a pending request one row of `group_join_requests`. The
//! member count lives in the group row and changes in the same writer job as the member rows:
//! jobs run one at a time on the writer thread, so the cap check of `add_members` sees every
//! earlier add and concurrent adds can never pass the cap together. Adds that would pass it write
//! nothing.
//!
//! A name search is a range scan of the partial index `groups_by_name`, which holds only the
//! groups a search may find (not dismissed, of a searchable type), by lower-cased name then id: the
//! rows come out in result order and the prefix is matched by range, not by a `LIKE` pattern. Text
//! compares by bytes (SQLite's `BINARY` collation), which for UTF-8 is code point order.

use crate::error::{Result, StoreError};
use crate::rows::{prefix_end, seq_param, user_at};
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::group::{Group, GroupType, JoinPolicy, JoinRequest, Member, RequestKind, Role};
use cirrus_core::ids::{GroupId, UserId};
use cirrus_core::ports::GroupStore;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::{BTreeMap, HashSet};

/// The group columns, in the order [`group_from`] reads them.
macro_rules! group_columns {
    () => {
        "id, kind, name, introduction, notice, avatar, owner, creator, created_at, join_policy, \
         mute_all, max_members, custom, member_count, dismissed"
    };
}

/// The member columns, in the order [`member_from`] reads them.
macro_rules! member_columns {
    () => {
        "group_id, user_id, role, joined_at, joined_seq, name_card, muted_until, custom"
    };
}

/// The join request columns, in the order [`request_from`] reads them.
macro_rules! request_columns {
    () => {
        "group_id, user_id, kind, by_user, reason, created_at"
    };
}

/// The wire names of the searchable group types ([`cirrus_core::group::Rule::Searchable`]), as
/// the `groups_by_name` index of migration 8 lists them: a search must say exactly this for
/// SQLite to use that index. (A test checks it against the matrix; a change there needs a
/// migration that rebuilds the index.)
macro_rules! searchable_kinds {
    () => {
        "'public', 'chatroom'"
    };
}

/// A search query: groups a search may find whose key is at least `?1` and, when `$upper` adds
/// it, below `?3`, in key then id order, at most `?2` of them.
macro_rules! search_query {
    ($upper:literal) => {
        concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups WHERE dismissed = 0 AND kind IN (",
            searchable_kinds!(),
            ") AND name_key >= ?1",
            $upper,
            " ORDER BY name_key, id LIMIT ?2"
        )
    };
}

/// The search for a prefix with an upper bound ([`prefix_end`]) in `?3`.
pub(crate) const SEARCH_RANGE: &str = search_query!(" AND name_key < ?3");

/// The search for a prefix without an upper bound.
pub(crate) const SEARCH_FROM: &str = search_query!("");

/// One page of group `?1`'s members after user `?2` (`''` sorts before every id), at most `?3`.
pub(crate) const LIST_MEMBERS: &str = concat!(
    "SELECT ",
    member_columns!(),
    " FROM group_members WHERE group_id = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3"
);

/// One page of user `?1`'s memberships after group `?2` (`''` sorts before every id), at most `?3`.
pub(crate) const GROUPS_OF: &str = concat!(
    "SELECT ",
    member_columns!(),
    " FROM group_members WHERE user_id = ?1 AND group_id > ?2 ORDER BY group_id LIMIT ?3"
);

/// One page of group `?1`'s pending requests after user `?2`, at most `?3`.
pub(crate) const LIST_REQUESTS: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM group_join_requests WHERE group_id = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3"
);

/// Member `?2` of group `?1`.
const GET_MEMBER: &str = concat!(
    "SELECT ",
    member_columns!(),
    " FROM group_members WHERE group_id = ?1 AND user_id = ?2"
);

/// Inserts a member row (the values in [`member_columns`] order).
const INSERT_MEMBER: &str = concat!(
    "INSERT INTO group_members (",
    member_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (group_id, user_id) DO NOTHING"
);

/// A group encoded for the writer thread.
struct GroupRow {
    group: Group,
    name_key: String,
    custom: String,
}

/// A member encoded for the writer thread.
struct MemberRow {
    member: Member,
    custom: String,
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn create_group(&self, group: &Group, members: &[Member]) -> cirrus_core::Result<bool> {
        let row = GroupRow::encode(group)?;
        let members = MemberRow::encode_all(members)?;
        Ok(self.write(move |conn| create(conn, &row, &members)).await?)
    }

    async fn get_group(&self, id: &GroupId) -> cirrus_core::Result<Option<Group>> {
        let id = id.clone();
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(concat!("SELECT ", group_columns!(), " FROM groups WHERE id = ?1"))?
                    .query_and_then([id.as_str()], group_from)?
                    .next()
                    .transpose()
            })
            .await?)
    }

    async fn put_group(&self, group: &Group) -> cirrus_core::Result<bool> {
        let row = GroupRow::encode(group)?;
        Ok(self.write(move |conn| put_group(conn, &row)).await?)
    }

    async fn add_members(
        &self,
        group: &GroupId,
        members: &[Member],
        cap: Option<u32>,
    ) -> cirrus_core::Result<Option<Vec<bool>>> {
        if members.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let group = group.clone();
        let members = MemberRow::encode_all(members)?;
        Ok(self
            .write(move |conn| add_members(conn, &group, &members, cap))
            .await?)
    }

    async fn remove_members(&self, group: &GroupId, users: &[UserId]) -> cirrus_core::Result<Vec<bool>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let (group, users) = (group.clone(), users.to_vec());
        Ok(self
            .write(move |conn| remove_members(conn, &group, &users))
            .await?)
    }

    async fn get_members(&self, group: &GroupId, users: &[UserId]) -> cirrus_core::Result<Vec<Member>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let (group, users) = (group.clone(), users.to_vec());
        Ok(self
            .read(move |conn| {
                let mut select = conn.prepare_cached(GET_MEMBER)?;
                let mut found = Vec::with_capacity(users.len());
                for user in &users {
                    if let Some(member) = select
                        .query_and_then([group.as_str(), user.as_str()], member_from)?
                        .next()
                        .transpose()?
                    {
                        found.push(member);
                    }
                }
                Ok(found)
            })
            .await?)
    }

    async fn put_member(&self, member: &Member) -> cirrus_core::Result<bool> {
        let row = MemberRow::encode(member)?;
        Ok(self
            .write(move |conn| {
                let MemberRow { member, custom } = &row;
                let changed = conn
                    .prepare_cached(
                        "UPDATE group_members SET role = ?3, joined_at = ?4, joined_seq = ?5, \
                         name_card = ?6, muted_until = ?7, custom = ?8 \
                         WHERE group_id = ?1 AND user_id = ?2",
                    )?
                    .execute(params![
                        member.group.as_str(),
                        member.user.as_str(),
                        member.role.name(),
                        member.joined_at,
                        seq_param(member.joined_seq),
                        member.name_card,
                        member.muted_until,
                        custom,
                    ])?;
                Ok(changed > 0)
            })
            .await?)
    }

    async fn list_members(
        &self,
        group: &GroupId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<Member>> {
        let group = group.clone();
        let after = after.map_or_else(String::new, |after| after.as_str().to_owned());
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(LIST_MEMBERS)?
                    .query_and_then(params![group.as_str(), after, limit], member_from)?
                    .collect()
            })
            .await?)
    }

    async fn groups_of(
        &self,
        user: &UserId,
        after: Option<&GroupId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<Member>> {
        let user = user.clone();
        let after = after.map_or_else(String::new, |after| after.as_str().to_owned());
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(GROUPS_OF)?
                    .query_and_then(params![user.as_str(), after, limit], member_from)?
                    .collect()
            })
            .await?)
    }

    async fn count_groups_of(&self, user: &UserId) -> cirrus_core::Result<u32> {
        let user = user.clone();
        Ok(self
            .read(move |conn| {
                let count: i64 = conn
                    .prepare_cached("SELECT count(*) FROM group_members WHERE user_id = ?1")?
                    .query_row([user.as_str()], |row| row.get(0))?;
                u32::try_from(count).map_err(|_| StoreError::BadValue { column: "count(*)" })
            })
            .await?)
    }

    async fn search_groups(&self, prefix: &str, limit: u32) -> cirrus_core::Result<Vec<Group>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (prefix, end) = (prefix.to_owned(), prefix_end(prefix));
        Ok(self
            .read(move |conn| {
                let mut query =
                    conn.prepare_cached(if end.is_some() { SEARCH_RANGE } else { SEARCH_FROM })?;
                let rows = match &end {
                    Some(end) => query.query(params![prefix, limit, end])?,
                    None => query.query(params![prefix, limit])?,
                };
                rows.and_then(group_from).collect()
            })
            .await?)
    }

    async fn put_join_request(&self, request: &JoinRequest) -> cirrus_core::Result<()> {
        let request = request.clone();
        Ok(self
            .write(move |conn| {
                conn.prepare_cached(concat!(
                    "INSERT OR REPLACE INTO group_join_requests (",
                    request_columns!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ))?
                .execute(params![
                    request.group.as_str(),
                    request.user.as_str(),
                    request_kind_name(request.kind),
                    request.by.as_str(),
                    request.reason,
                    request.created_at,
                ])?;
                Ok(())
            })
            .await?)
    }

    async fn get_join_request(
        &self,
        group: &GroupId,
        user: &UserId,
    ) -> cirrus_core::Result<Option<JoinRequest>> {
        let (group, user) = (group.clone(), user.clone());
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(concat!(
                    "SELECT ",
                    request_columns!(),
                    " FROM group_join_requests WHERE group_id = ?1 AND user_id = ?2"
                ))?
                .query_and_then([group.as_str(), user.as_str()], request_from)?
                .next()
                .transpose()
            })
            .await?)
    }

    async fn take_join_request(
        &self,
        group: &GroupId,
        user: &UserId,
    ) -> cirrus_core::Result<Option<JoinRequest>> {
        let (group, user) = (group.clone(), user.clone());
        Ok(self
            .write(move |conn| {
                conn.prepare_cached(concat!(
                    "DELETE FROM group_join_requests WHERE group_id = ?1 AND user_id = ?2 RETURNING ",
                    request_columns!()
                ))?
                .query_and_then([group.as_str(), user.as_str()], request_from)?
                .next()
                .transpose()
            })
            .await?)
    }

    async fn list_join_requests(
        &self,
        group: &GroupId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<JoinRequest>> {
        let group = group.clone();
        let after = after.map_or_else(String::new, |after| after.as_str().to_owned());
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(LIST_REQUESTS)?
                    .query_and_then(params![group.as_str(), after, limit], request_from)?
                    .collect()
            })
            .await?)
    }
}

impl GroupRow {
    /// Encodes on the caller's task; the writer thread only binds ready-made values.
    fn encode(group: &Group) -> Result<Self> {
        Ok(Self {
            group: group.clone(),
            name_key: group.name.to_lowercase(),
            custom: custom_json(&group.custom)?,
        })
    }
}

impl MemberRow {
    fn encode(member: &Member) -> Result<Self> {
        Ok(Self {
            member: member.clone(),
            custom: custom_json(&member.custom)?,
        })
    }

    fn encode_all(members: &[Member]) -> Result<Vec<Self>> {
        members.iter().map(Self::encode).collect()
    }
}

fn custom_json(custom: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(custom).map_err(|source| StoreError::BadJson {
        column: "custom",
        source,
    })
}

/// Creates the group with its members and their count, unless the id is taken. Member rows go
/// under the group's id (as in `add_members`, each [`Member::group`] is not consulted); a user
/// named twice is one member.
fn create(conn: &Connection, row: &GroupRow, members: &[MemberRow]) -> Result<bool> {
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
fn put_group(conn: &Connection, row: &GroupRow) -> Result<bool> {
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
fn insert_member(
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
fn add_members(
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
fn remove_members(conn: &Connection, group: &GroupId, users: &[UserId]) -> Result<Vec<bool>> {
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

fn join_policy_name(policy: JoinPolicy) -> &'static str {
    match policy {
        JoinPolicy::Free => "free",
        JoinPolicy::NeedApproval => "need_approval",
        JoinPolicy::Forbidden => "forbidden",
    }
}

fn request_kind_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Application => "application",
        RequestKind::Invitation => "invitation",
    }
}

fn bool_at(row: &Row<'_>, index: usize, column: &'static str) -> Result<bool> {
    match row.get::<_, i64>(index)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(StoreError::BadValue { column }),
    }
}

fn u32_at(row: &Row<'_>, index: usize, column: &'static str) -> Result<u32> {
    let raw: i64 = row.get(index)?;
    u32::try_from(raw).map_err(|_| StoreError::BadValue { column })
}

fn group_id_at(row: &Row<'_>, index: usize, column: &'static str) -> Result<GroupId> {
    GroupId::parse(row.get::<_, String>(index)?).map_err(|_| StoreError::BadValue { column })
}

fn custom_at(row: &Row<'_>, index: usize) -> Result<BTreeMap<String, String>> {
    let raw = row.get_ref(index)?.as_str().map_err(rusqlite::Error::from)?;
    serde_json::from_str(raw).map_err(|source| StoreError::BadJson {
        column: "custom",
        source,
    })
}

/// The stored text of a column whose values are names from a fixed list; `None` for one outside.
fn named<T: Copy>(row: &Row<'_>, index: usize, all: &[T], name: fn(T) -> &'static str) -> Result<Option<T>> {
    let raw = row.get_ref(index)?.as_str().map_err(rusqlite::Error::from)?;
    Ok(all.iter().copied().find(|value| name(*value) == raw))
}

fn group_from(row: &Row<'_>) -> Result<Group> {
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

fn member_from(row: &Row<'_>) -> Result<Member> {
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

fn request_from(row: &Row<'_>) -> Result<JoinRequest> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;
    use cirrus_core::group::Rule;

    /// The plan SQLite picks for `sql`, its steps joined by `; `.
    fn plan(conn: &Connection, sql: &str) -> String {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let texts = vec!["a"; explain.parameter_count()];
        explain
            .query_map(rusqlite::params_from_iter(texts), |row| row.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn searchable_kinds_are_the_matrix_searchable_types() {
        // GIVEN the group-type matrix
        // WHEN the types it makes searchable are written as the search and the index list them
        let from_matrix = GroupType::ALL
            .into_iter()
            .filter(|kind| kind.allows(Rule::Searchable))
            .map(|kind| format!("'{}'", kind.name()))
            .collect::<Vec<_>>()
            .join(", ");
        // THEN they are the list in the search (and in migration 8's index)
        assert_eq!(from_matrix, searchable_kinds!());
        assert!(
            schema::MIGRATIONS[7].contains(concat!("kind IN (", searchable_kinds!(), ")")),
            "migration 8's index lists the same types"
        );
    }

    #[test]
    fn group_reads_are_index_ranges_in_result_order() {
        // GIVEN the current schema
        let mut conn = Connection::open_in_memory().unwrap();
        schema::migrate(&mut conn).unwrap();
        // WHEN SQLite plans the search and the paged lists
        // THEN each is a search of one index range, already in result order (no scan, no sort)
        for (sql, index) in [
            (SEARCH_RANGE, "groups_by_name (name_key>? AND name_key<?)"),
            (SEARCH_FROM, "groups_by_name (name_key>?)"),
            (LIST_MEMBERS, "PRIMARY KEY (group_id=? AND user_id>?)"),
            (GROUPS_OF, "group_members_by_user (user_id=? AND group_id>?)"),
            (LIST_REQUESTS, "PRIMARY KEY (group_id=? AND user_id>?)"),
        ] {
            let plan = plan(&conn, sql);
            assert!(
                plan.starts_with("SEARCH") && plan.contains(index),
                "{sql}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
        }
    }
}
