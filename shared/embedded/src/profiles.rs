//! [`ProfileStore`] for [`SqliteStore`]: profiles and the nickname index.
//!
//! A profile is one row; `put_profile` replaces it in one writer job, with the lower-cased
//! nickname ([`nickname_key`]) beside the nickname. A prefix search is a range scan of the
//! `(nickname_key, user_id)` index from the prefix up to the first text past every string starting
//! with it ([`prefix_end`]), so the rows come out in result order and no `LIKE` pattern (with its
//! `%` and `_`) is involved. Text compares by bytes (SQLite's `BINARY` collation), which for UTF-8
//! is code point order.

use crate::error::{Result, StoreError};
use crate::rows::prefix_end;
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::UserId;
use cirrus_core::ports::ProfileStore;
use cirrus_core::social::{AllowType, Gender, Profile, UserProfile, nickname_key};
use rusqlite::{Connection, Row, params};
use std::collections::BTreeMap;

/// The profile columns, in the order [`profile_from`] reads them.
macro_rules! profile_columns {
    () => {
        "user_id, nickname, face_url, gender, birthday, signature, location, allow_type, custom, updated_at"
    };
}

/// A search query: profiles whose key is at least `?1` and, when `$upper` adds it, below `?3`,
/// in key then user id order, at most `?2` of them.
macro_rules! search_query {
    ($upper:literal) => {
        concat!(
            "SELECT ",
            profile_columns!(),
            " FROM profiles WHERE nickname_key >= ?1",
            $upper,
            " ORDER BY nickname_key, user_id LIMIT ?2"
        )
    };
}

/// The search for a prefix with an upper bound ([`prefix_end`]) in `?3`.
pub(crate) const SEARCH_RANGE: &str = search_query!(" AND nickname_key < ?3");

/// The search for a prefix without an upper bound.
pub(crate) const SEARCH_FROM: &str = search_query!("");

#[async_trait]
impl ProfileStore for SqliteStore {
    async fn get_profiles(&self, users: &[UserId]) -> cirrus_core::Result<Vec<UserProfile>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let users = users.to_vec();
        Ok(self.read(move |conn| get(conn, &users)).await?)
    }

    async fn put_profile(&self, user: &UserId, profile: &Profile) -> cirrus_core::Result<()> {
        // Encode on the caller's task; the writer thread only binds ready-made values.
        let custom = serde_json::to_string(&profile.custom).map_err(|source| StoreError::BadJson {
            column: "custom",
            source,
        })?;
        let key = profile.nickname.as_deref().map(nickname_key);
        let (user, profile) = (user.clone(), profile.clone());
        Ok(self
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO profiles (user_id, nickname, nickname_key, face_url, gender, \
                     birthday, signature, location, allow_type, custom, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(params![
                    user.as_str(),
                    profile.nickname,
                    key,
                    profile.face_url,
                    profile.gender.as_str(),
                    profile.birthday,
                    profile.signature,
                    profile.location,
                    profile.allow_type.as_str(),
                    custom,
                    profile.updated_at,
                ])?;
                Ok(())
            })
            .await?)
    }

    async fn search_nickname(&self, prefix: &str, limit: u32) -> cirrus_core::Result<Vec<UserProfile>> {
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
                rows.and_then(profile_from).collect()
            })
            .await?)
    }
}

fn get(conn: &Connection, users: &[UserId]) -> Result<Vec<UserProfile>> {
    let mut select = conn.prepare_cached(concat!(
        "SELECT ",
        profile_columns!(),
        " FROM profiles WHERE user_id = ?1"
    ))?;
    let mut found = Vec::with_capacity(users.len());
    for user in users {
        if let Some(profile) = select
            .query_and_then([user.as_str()], profile_from)?
            .next()
            .transpose()?
        {
            found.push(profile);
        }
    }
    Ok(found)
}

fn profile_from(row: &Row<'_>) -> Result<UserProfile> {
    let gender: String = row.get(3)?;
    let birthday: Option<i64> = row.get(4)?;
    let allow_type: String = row.get(7)?;
    let custom: String = row.get(8)?;
    Ok(UserProfile {
        user: UserId::parse(row.get::<_, String>(0)?)
            .map_err(|_| StoreError::BadValue { column: "user_id" })?,
        profile: Profile {
            nickname: row.get(1)?,
            face_url: row.get(2)?,
            gender: Gender::parse(&gender).ok_or(StoreError::BadValue { column: "gender" })?,
            birthday: birthday
                .map(u32::try_from)
                .transpose()
                .map_err(|_| StoreError::BadValue { column: "birthday" })?,
            signature: row.get(5)?,
            location: row.get(6)?,
            allow_type: AllowType::parse(&allow_type).ok_or(StoreError::BadValue { column: "allow_type" })?,
            custom: serde_json::from_str::<BTreeMap<String, String>>(&custom).map_err(|source| {
                StoreError::BadJson {
                    column: "custom",
                    source,
                }
            })?,
            updated_at: row.get(9)?,
        },
    })
}
