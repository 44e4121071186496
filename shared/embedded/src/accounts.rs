//! [`AccountStore`] for [`SqliteStore`]: account records and failed-login windows.
//!
//! Every change is one job on the writer thread, and every read-modify-write (an upsert, a raise
//! with `max`, a window roll-over) is a single statement, so concurrent callers cannot interleave
//! inside one. Reads run on the read pool.
//!
//! A deleted account stays as a tombstone row (`deleted_at` set, everything but
//! `tokens_valid_after` cleared) so that its old tokens stay refused: every account read and
//! update skips tombstones, and creating the account again (import, first login) revives the row
//! with the revocation second kept.

use crate::error::{Result, StoreError};
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::accounts::{Account, AccountKind};
use cirrus_core::ids::UserId;
use cirrus_core::ports::AccountStore;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// The account columns, in the order [`account_from`] reads them.
macro_rules! account_columns {
    () => {
        "user_id, kind, created_at, nickname, face_url, password_hash, tokens_valid_after, \
         last_login_at, last_logout_at"
    };
}

/// Whether the window that opened at `window_start` is still current at `?2` (now) for a window
/// length of `?3`: it covers `window_start .. window_start + window_ms`.
macro_rules! in_window {
    () => {
        "?2 - window_start < ?3"
    };
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_accounts(&self, accounts: &[Account]) -> cirrus_core::Result<Vec<bool>> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let accounts = accounts.to_vec();
        Ok(self.write(move |conn| create(conn, &accounts)).await?)
    }

    async fn get_accounts(&self, users: &[UserId]) -> cirrus_core::Result<Vec<Account>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let users = users.to_vec();
        Ok(self.read(move |conn| get(conn, &users)).await?)
    }

    async fn delete_accounts(&self, users: &[UserId], revoke_through: i64) -> cirrus_core::Result<Vec<bool>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let users = users.to_vec();
        Ok(self
            .write(move |conn| delete(conn, &users, revoke_through))
            .await?)
    }

    async fn tokens_valid_after(&self, user: &UserId) -> cirrus_core::Result<i64> {
        let user = user.clone();
        Ok(self
            .read(move |conn| {
                let through: Option<i64> = conn
                    .prepare_cached("SELECT tokens_valid_after FROM accounts WHERE user_id = ?1")?
                    .query_row([user.as_str()], |row| row.get(0))
                    .optional()?;
                Ok(through.unwrap_or(0))
            })
            .await?)
    }

    async fn record_login(&self, user: &UserId, now: i64) -> cirrus_core::Result<Account> {
        let user = user.clone();
        Ok(self
            .write(move |conn| {
                conn.prepare_cached(concat!(
                    "INSERT INTO accounts (user_id, kind, created_at, tokens_valid_after, last_login_at) \
                     VALUES (?1, ?2, ?3, 0, ?3) \
                     ON CONFLICT (user_id) DO UPDATE SET last_login_at = excluded.last_login_at, \
                     kind = CASE WHEN deleted_at IS NULL THEN kind ELSE excluded.kind END, \
                     created_at = CASE WHEN deleted_at IS NULL THEN created_at ELSE excluded.created_at END, \
                     deleted_at = NULL \
                     RETURNING ",
                    account_columns!()
                ))?
                .query_row(
                    params![user.as_str(), AccountKind::FirstLogin.as_str(), now],
                    |row| Ok(account_from(row)),
                )?
            })
            .await?)
    }

    async fn record_logout(
        &self,
        user: &UserId,
        now: i64,
        revoke_through: Option<i64>,
    ) -> cirrus_core::Result<Option<Account>> {
        let user = user.clone();
        Ok(self
            .write(move |conn| {
                conn.prepare_cached(concat!(
                    "UPDATE accounts SET last_logout_at = ?2, \
                     tokens_valid_after = max(tokens_valid_after, COALESCE(?3, tokens_valid_after)) \
                     WHERE user_id = ?1 AND deleted_at IS NULL RETURNING ",
                    account_columns!()
                ))?
                .query_and_then(params![user.as_str(), now, revoke_through], account_from)?
                .next()
                .transpose()
            })
            .await?)
    }

    async fn set_password(
        &self,
        user: &UserId,
        hash: &str,
        now: i64,
        revoke_through: i64,
    ) -> cirrus_core::Result<bool> {
        let (user, hash) = (user.clone(), hash.to_owned());
        Ok(self
            .write(move |conn| {
                let changed = conn
                    .prepare_cached(
                        "UPDATE accounts SET password_hash = ?2, last_logout_at = ?4, \
                         tokens_valid_after = max(tokens_valid_after, ?3) \
                         WHERE user_id = ?1 AND deleted_at IS NULL",
                    )?
                    .execute(params![user.as_str(), hash, revoke_through, now])?;
                Ok(changed > 0)
            })
            .await?)
    }

    async fn note_login_failure(&self, key: &str, now: i64, window_ms: i64) -> cirrus_core::Result<u32> {
        let key = key.to_owned();
        Ok(self
            .write(move |conn| {
                let failures: i64 = conn
                    .prepare_cached(concat!(
                        "INSERT INTO login_failures (key, window_start, failures) VALUES (?1, ?2, 1) \
                         ON CONFLICT (key) DO UPDATE SET \
                         window_start = CASE WHEN ",
                        in_window!(),
                        " THEN window_start ELSE ?2 END, \
                         failures = CASE WHEN ",
                        in_window!(),
                        " THEN failures + 1 ELSE 1 END \
                         RETURNING failures"
                    ))?
                    .query_row(params![key, now, window_ms], |row| row.get(0))?;
                failure_count(failures)
            })
            .await?)
    }

    async fn login_failures(&self, key: &str, now: i64, window_ms: i64) -> cirrus_core::Result<u32> {
        let key = key.to_owned();
        Ok(self
            .read(move |conn| {
                let failures: Option<i64> = conn
                    .prepare_cached(concat!(
                        "SELECT failures FROM login_failures WHERE key = ?1 AND ",
                        in_window!()
                    ))?
                    .query_row(params![key, now, window_ms], |row| row.get(0))
                    .optional()?;
                failures.map_or(Ok(0), failure_count)
            })
            .await?)
    }

    async fn clear_login_failures(&self, key: &str) -> cirrus_core::Result<()> {
        let key = key.to_owned();
        Ok(self
            .write(move |conn| {
                conn.prepare_cached("DELETE FROM login_failures WHERE key = ?1")?
                    .execute([key.as_str()])?;
                Ok(())
            })
            .await?)
    }
}

/// Inserts each account unless its user has one (an earlier input of the same call included);
/// a tombstone is revived in place, keeping its revocation second.
fn create(conn: &Connection, accounts: &[Account]) -> Result<Vec<bool>> {
    let mut insert = conn.prepare_cached(concat!(
        "INSERT INTO accounts (",
        account_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (user_id) DO UPDATE SET \
         kind = excluded.kind, created_at = excluded.created_at, nickname = excluded.nickname, \
         face_url = excluded.face_url, password_hash = excluded.password_hash, \
         tokens_valid_after = max(tokens_valid_after, excluded.tokens_valid_after), \
         last_login_at = excluded.last_login_at, last_logout_at = excluded.last_logout_at, \
         deleted_at = NULL \
         WHERE deleted_at IS NOT NULL"
    ))?;
    accounts
        .iter()
        .map(|account| {
            let inserted = insert.execute(params![
                account.user.as_str(),
                account.kind.as_str(),
                account.created_at,
                account.nickname,
                account.face_url,
                account.password_hash,
                account.tokens_valid_after,
                account.last_login_at,
                account.last_logout_at,
            ])?;
            Ok(inserted > 0)
        })
        .collect()
}

fn get(conn: &Connection, users: &[UserId]) -> Result<Vec<Account>> {
    let mut select = conn.prepare_cached(concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts WHERE user_id = ?1 AND deleted_at IS NULL"
    ))?;
    let mut found = Vec::with_capacity(users.len());
    for user in users {
        if let Some(account) = select
            .query_and_then([user.as_str()], account_from)?
            .next()
            .transpose()?
        {
            found.push(account);
        }
    }
    Ok(found)
}

/// Turns each account into a tombstone and deletes its profile, in the writer's one transaction.
fn delete(conn: &Connection, users: &[UserId], revoke_through: i64) -> Result<Vec<bool>> {
    let mut tombstone = conn.prepare_cached(
        "UPDATE accounts SET deleted_at = ?2 * 1000, nickname = NULL, face_url = NULL, \
         password_hash = NULL, last_login_at = NULL, last_logout_at = NULL, \
         tokens_valid_after = max(tokens_valid_after, ?2) \
         WHERE user_id = ?1 AND deleted_at IS NULL",
    )?;
    let mut profile = conn.prepare_cached("DELETE FROM profiles WHERE user_id = ?1")?;
    users
        .iter()
        .map(|user| {
            let existed = tombstone.execute(params![user.as_str(), revoke_through])? > 0;
            profile.execute([user.as_str()])?;
            Ok(existed)
        })
        .collect()
}

fn account_from(row: &Row<'_>) -> Result<Account> {
    let kind: String = row.get(1)?;
    Ok(Account {
        user: UserId::parse(row.get::<_, String>(0)?)
            .map_err(|_| StoreError::BadValue { column: "user_id" })?,
        kind: AccountKind::parse(&kind).ok_or(StoreError::BadValue { column: "kind" })?,
        created_at: row.get(2)?,
        nickname: row.get(3)?,
        face_url: row.get(4)?,
        password_hash: row.get(5)?,
        tokens_valid_after: row.get(6)?,
        last_login_at: row.get(7)?,
        last_logout_at: row.get(8)?,
    })
}

fn failure_count(stored: i64) -> Result<u32> {
    u32::try_from(stored).map_err(|_| StoreError::BadValue { column: "failures" })
}
