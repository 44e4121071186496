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

use crate::error::StoreError;
use crate::rows::{prefix_end, seq_param};
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::group::{Group, JoinRequest, Member};
use cirrus_core::ids::{GroupId, UserId};
use cirrus_core::ports::GroupStore;
use rusqlite::params;

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

/// How many groups user `?1` belongs to, live rooms left out (they do not count towards the
/// groups-per-user limit): the user's index range, each membership's group looked up by key.
pub(crate) const COUNT_GROUPS_OF: &str = "SELECT count(*) FROM group_members AS m \
     JOIN groups AS g ON g.id = m.group_id WHERE m.user_id = ?1 AND g.kind <> 'live'";

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

// Declared after the column macros above, which the child modules use.
mod rows;
mod writes;

use rows::{group_from, member_from, request_from, request_kind_name};
use writes::{GroupRow, MemberRow, add_members, create, put_group, remove_members};

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
                    .prepare_cached(COUNT_GROUPS_OF)?
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;
    use cirrus_core::group::{GroupType, Rule};
    use rusqlite::Connection;

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
