//! [`RelationStore`] for [`SqliteStore`]: friend lists and pending friend requests.
//!
//! Each call that changes anything is one job on the writer thread, so a `put_friends` writes its
//! entries and deletes the requests they settle in one transaction. Reads run on the read pool: a
//! friend list and a user's outgoing requests through the primary keys, incoming requests through
//! the `(to_user, from_user)` index, each already in the other side's user id order (the text's
//! byte order, SQLite's `BINARY` collation); who has a user in their list through the
//! `(peer, owner)` index.

use crate::error::{Result, StoreError};
use crate::rows::user_at;
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::UserId;
use cirrus_core::ports::RelationStore;
use cirrus_core::social::{Friend, FriendRequest, RequestDirection};
use rusqlite::{Connection, Row, params};

/// The friend columns, in the order [`friend_from`] reads them.
macro_rules! friend_columns {
    () => {
        "owner, peer, remark, groups, added_at"
    };
}

/// The request columns, in the order [`request_from`] reads them.
macro_rules! request_columns {
    () => {
        "from_user, to_user, reason, remark, created_at"
    };
}

/// A page of requests where `$side` is the user (`?1`) and `$other` the other side, in the other
/// side's order, after `?2` (`''` sorts before every id), at most `?3`.
macro_rules! requests_query {
    ($side:literal, $other:literal) => {
        concat!(
            "SELECT ",
            request_columns!(),
            " FROM friend_requests WHERE ",
            $side,
            " = ?1 AND ",
            $other,
            " > ?2 ORDER BY ",
            $other,
            " LIMIT ?3"
        )
    };
}

/// One page of `?1`'s friends after `?2`, at most `?3`.
pub(crate) const LIST_FRIENDS: &str = concat!(
    "SELECT ",
    friend_columns!(),
    " FROM friends WHERE owner = ?1 AND peer > ?2 ORDER BY peer LIMIT ?3"
);

/// One page of the requests made to `?1`.
pub(crate) const LIST_INCOMING: &str = requests_query!("to_user", "from_user");

/// One page of the requests `?1` made.
pub(crate) const LIST_OUTGOING: &str = requests_query!("from_user", "to_user");

/// A friend entry with its groups encoded, ready for the writer thread.
struct FriendRow {
    friend: Friend,
    groups: String,
}

#[async_trait]
impl RelationStore for SqliteStore {
    async fn get_friends(&self, owner: &UserId, peers: &[UserId]) -> cirrus_core::Result<Vec<Friend>> {
        if peers.is_empty() {
            return Ok(Vec::new());
        }
        let (owner, peers) = (owner.clone(), peers.to_vec());
        Ok(self
            .read(move |conn| {
                let mut select = conn.prepare_cached(concat!(
                    "SELECT ",
                    friend_columns!(),
                    " FROM friends WHERE owner = ?1 AND peer = ?2"
                ))?;
                let mut found = Vec::with_capacity(peers.len());
                for peer in &peers {
                    if let Some(friend) = select
                        .query_and_then([owner.as_str(), peer.as_str()], friend_from)?
                        .next()
                        .transpose()?
                    {
                        found.push(friend);
                    }
                }
                Ok(found)
            })
            .await?)
    }

    async fn friended_by(&self, peer: &UserId, owners: &[UserId]) -> cirrus_core::Result<Vec<UserId>> {
        if owners.is_empty() {
            return Ok(Vec::new());
        }
        let (peer, owners) = (peer.clone(), owners.to_vec());
        Ok(self
            .read(move |conn| {
                let mut probe =
                    conn.prepare_cached("SELECT 1 FROM friends WHERE owner = ?1 AND peer = ?2")?;
                let mut found = Vec::new();
                for owner in &owners {
                    if probe.exists([owner.as_str(), peer.as_str()])? {
                        found.push(owner.clone());
                    }
                }
                Ok(found)
            })
            .await?)
    }

    async fn list_friended_by(
        &self,
        peer: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<UserId>> {
        Ok(self
            .owners_of(
                "SELECT owner FROM friends WHERE peer = ?1 AND owner > ?2 ORDER BY owner LIMIT ?3",
                peer,
                after,
                limit,
            )
            .await?)
    }

    async fn list_friends(
        &self,
        owner: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<Friend>> {
        let owner = owner.clone();
        let after = after.map_or_else(String::new, |after| after.as_str().to_owned());
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(LIST_FRIENDS)?
                    .query_and_then(params![owner.as_str(), after, limit], friend_from)?
                    .collect()
            })
            .await?)
    }

    async fn count_friends(&self, owner: &UserId) -> cirrus_core::Result<u32> {
        let owner = owner.clone();
        Ok(self
            .read(move |conn| {
                let count: i64 = conn
                    .prepare_cached("SELECT count(*) FROM friends WHERE owner = ?1")?
                    .query_row([owner.as_str()], |row| row.get(0))?;
                u32::try_from(count).map_err(|_| StoreError::BadValue { column: "count(*)" })
            })
            .await?)
    }

    async fn put_friends(&self, entries: &[Friend]) -> cirrus_core::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // Encode on the caller's task; the writer thread only binds ready-made values.
        let rows = entries
            .iter()
            .map(|friend| {
                let groups = serde_json::to_string(&friend.groups).map_err(|source| StoreError::BadJson {
                    column: "groups",
                    source,
                })?;
                Ok(FriendRow {
                    friend: friend.clone(),
                    groups,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self.write(move |conn| put_friends(conn, &rows)).await?)
    }

    async fn delete_friends(&self, pairs: &[(UserId, UserId)]) -> cirrus_core::Result<Vec<bool>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let pairs = pairs.to_vec();
        Ok(self
            .write(move |conn| {
                let mut delete = conn.prepare_cached("DELETE FROM friends WHERE owner = ?1 AND peer = ?2")?;
                pairs
                    .iter()
                    .map(|(owner, peer)| Ok(delete.execute([owner.as_str(), peer.as_str()])? > 0))
                    .collect()
            })
            .await?)
    }

    async fn put_request(&self, request: &FriendRequest) -> cirrus_core::Result<()> {
        let request = request.clone();
        Ok(self
            .write(move |conn| {
                conn.prepare_cached(concat!(
                    "INSERT OR REPLACE INTO friend_requests (",
                    request_columns!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5)"
                ))?
                .execute(params![
                    request.from.as_str(),
                    request.to.as_str(),
                    request.reason,
                    request.remark,
                    request.created_at,
                ])?;
                Ok(())
            })
            .await?)
    }

    async fn get_request(&self, from: &UserId, to: &UserId) -> cirrus_core::Result<Option<FriendRequest>> {
        let (from, to) = (from.clone(), to.clone());
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(concat!(
                    "SELECT ",
                    request_columns!(),
                    " FROM friend_requests WHERE from_user = ?1 AND to_user = ?2"
                ))?
                .query_and_then([from.as_str(), to.as_str()], request_from)?
                .next()
                .transpose()
            })
            .await?)
    }

    async fn delete_request(&self, from: &UserId, to: &UserId) -> cirrus_core::Result<bool> {
        let (from, to) = (from.clone(), to.clone());
        Ok(self
            .write(move |conn| {
                let deleted = conn
                    .prepare_cached("DELETE FROM friend_requests WHERE from_user = ?1 AND to_user = ?2")?
                    .execute([from.as_str(), to.as_str()])?;
                Ok(deleted > 0)
            })
            .await?)
    }

    async fn list_requests(
        &self,
        user: &UserId,
        direction: RequestDirection,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<FriendRequest>> {
        let user = user.clone();
        let after = after.map_or_else(String::new, |after| after.as_str().to_owned());
        Ok(self
            .read(move |conn| {
                let sql = match direction {
                    RequestDirection::Incoming => LIST_INCOMING,
                    RequestDirection::Outgoing => LIST_OUTGOING,
                };
                conn.prepare_cached(sql)?
                    .query_and_then(params![user.as_str(), after, limit], request_from)?
                    .collect()
            })
            .await?)
    }
}

impl SqliteStore {
    /// One page of owners read by `sql`, which takes the peer (`?1`), the owner to start after
    /// (`?2`, `''` sorting before every id) and the limit (`?3`): the reverse side of a friend
    /// list or blacklist, through its `(peer, owner)` index.
    pub(crate) async fn owners_of(
        &self,
        sql: &'static str,
        peer: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>> {
        let peer = peer.clone();
        let after = after.map_or_else(String::new, |after| after.as_str().to_owned());
        self.read(move |conn| {
            conn.prepare_cached(sql)?
                .query_and_then(params![peer.as_str(), after, limit], |row| {
                    user_at(row, 0, "owner")
                })?
                .collect()
        })
        .await
    }
}

/// Upserts each entry and deletes the pending requests between its owner and peer, both ways.
fn put_friends(conn: &Connection, rows: &[FriendRow]) -> Result<()> {
    let mut upsert = conn.prepare_cached(concat!(
        "INSERT OR REPLACE INTO friends (",
        friend_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5)"
    ))?;
    let mut settle =
        conn.prepare_cached("DELETE FROM friend_requests WHERE from_user = ?1 AND to_user = ?2")?;
    for FriendRow { friend, groups } in rows {
        upsert.execute(params![
            friend.owner.as_str(),
            friend.peer.as_str(),
            friend.remark,
            groups,
            friend.added_at,
        ])?;
        settle.execute([friend.owner.as_str(), friend.peer.as_str()])?;
        settle.execute([friend.peer.as_str(), friend.owner.as_str()])?;
    }
    Ok(())
}

fn friend_from(row: &Row<'_>) -> Result<Friend> {
    let groups: String = row.get(3)?;
    Ok(Friend {
        owner: user_at(row, 0, "owner")?,
        peer: user_at(row, 1, "peer")?,
        remark: row.get(2)?,
        groups: serde_json::from_str(&groups).map_err(|source| StoreError::BadJson {
            column: "groups",
            source,
        })?,
        added_at: row.get(4)?,
    })
}

fn request_from(row: &Row<'_>) -> Result<FriendRequest> {
    Ok(FriendRequest {
        from: user_at(row, 0, "from_user")?,
        to: user_at(row, 1, "to_user")?,
        reason: row.get(2)?,
        remark: row.get(3)?,
        created_at: row.get(4)?,
    })
}
