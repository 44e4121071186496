//! [`AccountStore`] for [`DynamoStore`]: one item per account in the users table, and the
//! failed-login counters beside them in the same table.
//!
//! An account is the item `userId = <user id>` with `kind`, `createdAt` (ms), `tokensValidAfter`
//! (s) and, when set, `nickname`, `faceUrl`, `passwordHash`, `lastLoginAt` (ms) and
//! `lastLogoutAt` (ms). A counter is the item `userId = "fail#<key>"` with `failures`,
//! `windowStart` (ms) and `expiresAt` (epoch seconds, the table's TTL attribute, at the window's
//! end). User ids cannot contain `#`, so the two never share a key. Every operation is one
//! single-item write or read per item (two writes in the rarer cases below); the costs are in this
//! crate's `README.md`.
//!
//! The user's profile (`profiles.rs`, attributes named `p…`) lives on the same item, and may be
//! there without an account. So an item is an account when it has `kind`: creating one sets the
//! account's attributes with an `UpdateItem` (a `PutItem` would drop the profile), and the
//! conditions test `kind`, not the key. Deleting an account replaces the whole item, profile
//! included, with a tombstone: `userId`, `tokensValidAfter` and `deletedAt` (ms), no `kind`, so
//! the tokens issued before the deletion stay refused; creating the account again keeps that
//! `tokensValidAfter`.

use crate::connections::ttl_seconds;
use crate::error::{Result, StoreError, applied, written};
use crate::item::{Item, get_id, get_n, get_s, n, opt_n, opt_s, s};
use crate::store::DynamoStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use cirrus_core::accounts::{Account, AccountKind};
use cirrus_core::ids::UserId;
use cirrus_core::ports::AccountStore;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use tokio::task::JoinSet;

/// The key prefix of failed-login counters (`#` never occurs in a user id).
const FAILURES_PREFIX: &str = "fail#";

/// Single-item writes of one `create_accounts` / `delete_accounts` call in flight at once.
const IN_FLIGHT: usize = 16;

/// Rounds of "count, else start a new window" before `note_login_failure` gives up. Each lost
/// round means another writer changed the window in between; more than one is already unlikely.
const MAX_COUNT_ROUNDS: u32 = 5;

#[async_trait]
impl AccountStore for DynamoStore {
    async fn create_accounts(&self, accounts: &[Account]) -> cirrus_core::Result<Vec<bool>> {
        Ok(self.create_accounts_once(accounts).await?)
    }

    async fn get_accounts(&self, users: &[UserId]) -> cirrus_core::Result<Vec<Account>> {
        Ok(self.read_accounts(users).await?)
    }

    async fn delete_accounts(&self, users: &[UserId], revoke_through: i64) -> cirrus_core::Result<Vec<bool>> {
        Ok(self.delete_accounts_once(users, revoke_through).await?)
    }

    async fn tokens_valid_after(&self, user: &UserId) -> cirrus_core::Result<i64> {
        Ok(self.revocation_of(user).await?.unwrap_or(0))
    }

    async fn record_login(&self, user: &UserId, now: i64) -> cirrus_core::Result<Account> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.config.users_table)
            .key("userId", s(user.as_str()))
            .update_expression(
                "SET kind = if_not_exists(kind, :kind), createdAt = if_not_exists(createdAt, :now), \
                 tokensValidAfter = if_not_exists(tokensValidAfter, :zero), lastLoginAt = :now \
                 REMOVE deletedAt",
            )
            .expression_attribute_values(":kind", s(AccountKind::FirstLogin.as_str()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":zero", n(0))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(account_from(updated.attributes.as_ref())?)
    }

    async fn record_logout(
        &self,
        user: &UserId,
        now: i64,
        revoke_through: Option<i64>,
    ) -> cirrus_core::Result<Option<Account>> {
        let logout = self
            .update_raising(user, "lastLogoutAt = :now", &[(":now", n(now))], revoke_through)
            .await?;
        Ok(logout)
    }

    async fn set_password(
        &self,
        user: &UserId,
        hash: &str,
        now: i64,
        revoke_through: i64,
    ) -> cirrus_core::Result<bool> {
        let changed = self
            .update_raising(
                user,
                "passwordHash = :hash, lastLogoutAt = :now",
                &[(":hash", s(hash)), (":now", n(now))],
                Some(revoke_through),
            )
            .await?;
        Ok(changed.is_some())
    }

    async fn note_login_failure(&self, key: &str, now: i64, window_ms: i64) -> cirrus_core::Result<u32> {
        Ok(self.count_failure(key, now, window_ms).await?)
    }

    async fn login_failures(&self, key: &str, now: i64, window_ms: i64) -> cirrus_core::Result<u32> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.users_table)
            .key("userId", s(failures_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let Some(item) = got.item else {
            return Ok(0);
        };
        let start: i64 = get_n(&item, "windowStart")?;
        if in_window(start, now, window_ms) {
            Ok(get_n(&item, "failures")?)
        } else {
            Ok(0)
        }
    }

    async fn clear_login_failures(&self, key: &str) -> cirrus_core::Result<()> {
        self.client
            .delete_item()
            .table_name(&self.config.users_table)
            .key("userId", s(failures_key(key)))
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(())
    }
}

impl DynamoStore {
    /// One `UpdateItem` per distinct user setting the account's attributes on condition
    /// `attribute_not_exists(kind)` (a profile already on the item stays), concurrently; a repeat
    /// of a user later in the call is not sent and reports `false` (the first wins, as if the calls
    /// ran in order).
    async fn create_accounts_once(&self, accounts: &[Account]) -> Result<Vec<bool>> {
        let firsts = first_occurrences(accounts.iter().map(|account| &account.user));
        let puts = firsts
            .iter()
            .map(|&index| {
                let mut item = to_item(&accounts[index]);
                item.remove("userId");
                // A tombstone's revocation second is kept (a new account revokes nothing itself).
                let mut set: Vec<String> = item
                    .keys()
                    .map(|name| match name.as_str() {
                        "tokensValidAfter" => format!("{name} = if_not_exists({name}, :{name})"),
                        _ => format!("{name} = :{name}"),
                    })
                    .collect();
                set.sort_unstable();
                let values = item
                    .into_iter()
                    .map(|(name, value)| (format!(":{name}"), value))
                    .collect();
                let put = self
                    .client
                    .update_item()
                    .table_name(&self.config.users_table)
                    .key("userId", s(accounts[index].user.as_str()))
                    .update_expression(format!("SET {} REMOVE deletedAt", set.join(", ")))
                    .set_expression_attribute_values(Some(values))
                    .condition_expression("attribute_not_exists(kind)");
                async move { written(put.send().await) }
            })
            .collect();
        let created = in_order(puts).await?;
        let mut answers = vec![false; accounts.len()];
        for (index, made) in firsts.into_iter().zip(created) {
            answers[index] = made;
        }
        Ok(answers)
    }

    /// Strongly consistent `BatchGetItem`s (100 keys per call, unprocessed keys retried), then the
    /// accounts in the order asked.
    async fn read_accounts(&self, users: &[UserId]) -> Result<Vec<Account>> {
        // BatchGetItem refuses repeated keys.
        let distinct: HashSet<&str> = users.iter().map(UserId::as_str).collect();
        let keys = distinct
            .into_iter()
            .map(|user| Item::from([("userId".to_owned(), s(user))]))
            .collect();
        let mut found = HashMap::new();
        for item in self
            .batch_get(&self.config.users_table, keys, None, &[], true)
            .await?
        {
            // An item with a profile but no account is not an account.
            if !item.contains_key("kind") {
                continue;
            }
            let account = from_item(&item)?;
            found.insert(account.user.as_str().to_owned(), account);
        }
        Ok(users
            .iter()
            .filter_map(|user| found.get(user.as_str()).cloned())
            .collect())
    }

    /// Per distinct user, concurrently, [`DynamoStore::bury`]: it existed if the old item had
    /// `kind` (an item with only a profile is replaced too, and reports `false`); a repeat reports
    /// `false` (the account was gone by then).
    async fn delete_accounts_once(&self, users: &[UserId], revoke_through: i64) -> Result<Vec<bool>> {
        let firsts = first_occurrences(users.iter());
        let deletes = firsts
            .iter()
            .map(|&index| {
                // The calls run as tasks of their own: each takes its own handle and user.
                let (store, user) = (self.clone(), users[index].clone());
                async move { store.bury(&user, revoke_through).await }
            })
            .collect();
        let existed = in_order(deletes).await?;
        let mut answers = vec![false; users.len()];
        for (index, was) in firsts.into_iter().zip(existed) {
            answers[index] = was;
        }
        Ok(answers)
    }

    /// One `PutItem` replacing the user's whole item (account and profile) with a tombstone
    /// revoking through `revoke_through`, on condition that the item exists and that this does not
    /// lower the revocation second. When it would (a later revocation, from a clock ahead of ours), the stored second
    /// is read and the tombstone written with it; a revocation racing in between those two could
    /// be lowered to the one read, which is already after the deletion. Returns whether the old
    /// item was an account.
    async fn bury(&self, user: &UserId, revoke_through: i64) -> Result<bool> {
        let put = |through: i64| {
            self.client
                .put_item()
                .table_name(&self.config.users_table)
                .item("userId", s(user.as_str()))
                .item("tokensValidAfter", n(through))
                .item("deletedAt", n(revoke_through.saturating_mul(1000)))
                .return_values(ReturnValue::AllOld)
        };
        // An item that is not there stays so: a user who never had one gets no tombstone.
        let raised = put(revoke_through)
            .condition_expression(
                "attribute_exists(userId) AND \
                 (attribute_not_exists(tokensValidAfter) OR tokensValidAfter <= :through)",
            )
            .expression_attribute_values(":through", n(revoke_through))
            .send()
            .await;
        let old = match applied(raised)? {
            Some(done) => done.attributes,
            None => {
                let Some(stored) = self.revocation_of(user).await? else {
                    return Ok(false);
                };
                let kept = put(stored.max(revoke_through))
                    .send()
                    .await
                    .map_err(StoreError::sdk)?;
                kept.attributes
            }
        };
        Ok(old.is_some_and(|old| old.contains_key("kind")))
    }

    /// The `tokensValidAfter` of the user's item (account or tombstone), strongly consistent.
    async fn revocation_of(&self, user: &UserId) -> Result<Option<i64>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.users_table)
            .key("userId", s(user.as_str()))
            .projection_expression("tokensValidAfter")
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        got.item
            .as_ref()
            .and_then(|item| {
                item.get("tokensValidAfter")
                    .map(|_| get_n(item, "tokensValidAfter"))
            })
            .transpose()
    }

    /// Applies `assignment` (`SET` clauses, with their placeholders and values) to an existing
    /// account and, with `revoke_through`, raises `tokensValidAfter` to it; returns the account
    /// afterwards, `None` if the user has no account.
    ///
    /// DynamoDB has no `max()`, so raising takes the condition `tokensValidAfter < :revoke`; when
    /// it fails (the account is missing, or already revoked at least that far) a second update sets
    /// the attribute alone, on condition that the account exists. Concurrent raises cannot lower the
    /// value: each write checks the value it replaces.
    async fn update_raising(
        &self,
        user: &UserId,
        assignment: &str,
        values: &[(&str, AttributeValue)],
        revoke_through: Option<i64>,
    ) -> Result<Option<Account>> {
        let update = || {
            let mut update = self
                .client
                .update_item()
                .table_name(&self.config.users_table)
                .key("userId", s(user.as_str()))
                .return_values(ReturnValue::AllNew);
            for (placeholder, value) in values {
                update = update.expression_attribute_values(*placeholder, value.clone());
            }
            update
        };
        if let Some(revoke) = revoke_through {
            let raised = update()
                .update_expression(format!("SET {assignment}, tokensValidAfter = :revoke"))
                .condition_expression("attribute_exists(kind) AND tokensValidAfter < :revoke")
                .expression_attribute_values(":revoke", n(revoke))
                .send()
                .await;
            if let Some(raised) = applied(raised)? {
                return Ok(Some(account_from(raised.attributes.as_ref())?));
            }
        }
        let set = update()
            .update_expression(format!("SET {assignment}"))
            .condition_expression("attribute_exists(kind)")
            .send()
            .await;
        match applied(set)? {
            Some(set) => Ok(Some(account_from(set.attributes.as_ref())?)),
            None => Ok(None),
        }
    }

    /// Counts one failure against `key`: while the window lasts, an atomic `ADD` (which also
    /// creates a missing counter with its window starting `now`); once it has lapsed, a reset to 1
    /// on condition that it still has (so of racing resets one wins and the others count in the
    /// window it started). A counter cleared between the two is created on the next round.
    async fn count_failure(&self, key: &str, now: i64, window_ms: i64) -> Result<u32> {
        let key = failures_key(key);
        let since = now.saturating_sub(window_ms);
        let expires = ttl_seconds(now.saturating_add(window_ms));
        for _ in 0..MAX_COUNT_ROUNDS {
            let counted = self
                .client
                .update_item()
                .table_name(&self.config.users_table)
                .key("userId", s(&key))
                .update_expression(
                    "SET windowStart = if_not_exists(windowStart, :now), \
                     expiresAt = if_not_exists(expiresAt, :expires) ADD failures :one",
                )
                .condition_expression("attribute_not_exists(windowStart) OR windowStart > :since")
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":expires", n(expires))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":since", n(since))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            if let Some(counted) = applied(counted)? {
                let attributes = counted.attributes.unwrap_or_default();
                return get_n(&attributes, "failures");
            }
            let restarted = self
                .client
                .update_item()
                .table_name(&self.config.users_table)
                .key("userId", s(&key))
                .update_expression("SET failures = :one, windowStart = :now, expiresAt = :expires")
                .condition_expression("windowStart <= :since")
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":expires", n(expires))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":since", n(since))
                .send()
                .await;
            if written(restarted)? {
                return Ok(1);
            }
        }
        Err(StoreError::CounterContention(MAX_COUNT_ROUNDS))
    }
}

/// The counter item's key for `key`.
fn failures_key(key: &str) -> String {
    format!("{FAILURES_PREFIX}{key}")
}

/// Whether `now` falls in the window of `window_ms` that started at `start`
/// (`start .. start + window_ms`).
fn in_window(start: i64, now: i64, window_ms: i64) -> bool {
    now.saturating_sub(start) < window_ms
}

/// The index of each value's first mention, in order.
pub(crate) fn first_occurrences<T: Eq + std::hash::Hash>(values: impl Iterator<Item = T>) -> Vec<usize> {
    let mut seen = HashSet::new();
    values
        .enumerate()
        .filter_map(|(index, value)| seen.insert(value).then_some(index))
        .collect()
}

/// Runs `calls`, at most [`IN_FLIGHT`] at a time, and answers in their order; the first error
/// ends the run (calls still in flight are dropped: they may or may not have been made).
pub(crate) async fn in_order<T, F>(calls: Vec<F>) -> Result<Vec<T>>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let mut answers: Vec<Option<T>> = std::iter::repeat_with(|| None).take(calls.len()).collect();
    let mut pending = calls.into_iter().enumerate();
    let mut running = JoinSet::new();
    loop {
        while running.len() < IN_FLIGHT {
            let Some((index, call)) = pending.next() else {
                break;
            };
            running.spawn(async move { (index, call.await) });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        // Nothing aborts these tasks, so a join error is a panic: pass it on.
        let (index, answer) = joined.unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));
        answers[index] = Some(answer?);
    }
    Ok(answers.into_iter().flatten().collect())
}

fn to_item(account: &Account) -> Item {
    let mut item = Item::from([
        ("userId".to_owned(), s(account.user.as_str())),
        ("kind".to_owned(), s(account.kind.as_str())),
        ("createdAt".to_owned(), n(account.created_at)),
        ("tokensValidAfter".to_owned(), n(account.tokens_valid_after)),
    ]);
    let texts = [
        ("nickname", &account.nickname),
        ("faceUrl", &account.face_url),
        ("passwordHash", &account.password_hash),
    ];
    for (name, value) in texts {
        if let Some(value) = value {
            item.insert(name.to_owned(), s(value));
        }
    }
    let times = [
        ("lastLoginAt", account.last_login_at),
        ("lastLogoutAt", account.last_logout_at),
    ];
    for (name, value) in times {
        if let Some(value) = value {
            item.insert(name.to_owned(), n(value));
        }
    }
    item
}

fn from_item(item: &Item) -> Result<Account> {
    let kind = get_s(item, "kind")?;
    Ok(Account {
        user: get_id(item, "userId", UserId::parse)?,
        kind: AccountKind::parse(kind).ok_or(StoreError::BadAttribute("kind"))?,
        created_at: get_n(item, "createdAt")?,
        nickname: opt_s(item, "nickname")?.map(str::to_owned),
        face_url: opt_s(item, "faceUrl")?.map(str::to_owned),
        password_hash: opt_s(item, "passwordHash")?.map(str::to_owned),
        tokens_valid_after: get_n(item, "tokensValidAfter")?,
        last_login_at: opt_n(item, "lastLoginAt")?,
        last_logout_at: opt_n(item, "lastLogoutAt")?,
    })
}

/// The account an update returned (`ReturnValues = ALL_NEW` always returns the item).
fn account_from(attributes: Option<&Item>) -> Result<Account> {
    from_item(attributes.ok_or(StoreError::MissingAttribute("userId"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_round_trips_through_its_item() {
        // GIVEN an account with every field set, and one with none of the optional ones
        let user = UserId::parse("alice").unwrap();
        let full = Account {
            nickname: Some("Ålice".to_owned()),
            face_url: Some("https://example.com/a.png".to_owned()),
            password_hash: Some("$argon2id$v=19$x".to_owned()),
            tokens_valid_after: 1_700_000_000,
            last_login_at: Some(1_700_000_000_001),
            last_logout_at: Some(1_700_000_000_002),
            ..Account::new(user.clone(), AccountKind::Registered, 1_700_000_000_000)
        };
        let bare = Account::new(user, AccountKind::Imported, 7);
        for account in [full, bare] {
            // WHEN it is written to an item and read back THEN nothing is lost
            assert_eq!(from_item(&to_item(&account)).unwrap(), account);
        }
    }

    #[test]
    fn an_item_of_an_unknown_kind_is_refused() {
        let mut item = to_item(&Account::new(
            UserId::parse("bob").unwrap(),
            AccountKind::Imported,
            1,
        ));
        item.insert("kind".to_owned(), s("guest"));
        assert!(matches!(from_item(&item), Err(StoreError::BadAttribute("kind"))));
    }

    #[test]
    fn counter_keys_never_meet_user_ids() {
        // A counter key always holds '#', which no user id may contain.
        let key = failures_key("alice");
        assert_eq!(key, "fail#alice");
        assert!(UserId::parse(&key).is_err());
    }

    #[test]
    fn a_window_covers_window_ms_from_its_start() {
        assert!(in_window(1_000, 1_000, 60_000));
        assert!(in_window(1_000, 60_999, 60_000));
        assert!(!in_window(1_000, 61_000, 60_000), "lapsed at start + window_ms");
        assert!(in_window(1_000, 500, 60_000), "a clock behind the window's start");
    }

    #[test]
    fn repeats_keep_only_their_first_mention() {
        let users: Vec<UserId> = ["a", "b", "a", "c", "b"]
            .into_iter()
            .map(|u| UserId::parse(u).unwrap())
            .collect();
        assert_eq!(first_occurrences(users.iter()), vec![0, 1, 3]);
    }
}
