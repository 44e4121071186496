//! [`GroupStore`] for [`DynamoStore`]: groups in the groups table, memberships and pending join
//! requests in the members table.
//!
//! - Groups table, key `groupId`: one item per group, its profile and settings, `memberCount`,
//!   and, while the group is searchable (its type allows [`Rule::Searchable`]), not dismissed and
//!   named, the name index keys `nameShard` (the first character of the lower-cased name) and
//!   `nameSort` (the lower-cased name cut at [`NAME_SORT_ROOM`] bytes, NUL, the group id) of the
//!   keys-only index `byName`, sharded as the users table's `byNickname` is. A dismissed group
//!   keeps its item (the id stays taken) and leaves the index.
//! - Members table, key `groupId` + `userId`: one item per member under the user id, and one per
//!   pending join request under [`REQUEST_PREFIX`] and the user id (`#REQ#<user>`). User ids start
//!   with a character above [`MEMBER_FLOOR`] (`$`) and `#` is below it, so `userId > "$"` reads
//!   members only and `begins_with(userId, "#REQ#")` requests only. The index `byUser` (`userId`
//!   HASH, `groupId` RANGE, every attribute projected) lists a user's groups; request items land
//!   in its partition `#REQ#<user>`, apart from the user's memberships (a user's own pending
//!   requests across groups, should a use case want them).
//!
//! Adding and removing members are `TransactWriteItems` of the member puts (on condition
//! `attribute_not_exists`) or deletes (`attribute_exists`) and one update of the group's
//! `memberCount`, at most [`MEMBERS_PER_TRANSACTION`] members each; with a cap, the update's
//! condition keeps the count at or under it. Nothing here is per message. The costs are in this
//! crate's `README.md`.

use crate::accounts::first_occurrences;
use crate::backoff::Backoff;
use crate::error::{Result, StoreError, written};
use crate::item::{Item, get_id, get_n, get_s, n, opt_bool, opt_s, s};
use crate::relations::MAX_TRANSACTION_ITEMS;
use crate::store::DynamoStore;
use crate::tables::{GROUPS_BY_NAME, MEMBERS_BY_USER};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, Select, TransactWriteItem, Update};
use cirrus_core::group::{Group, GroupType, JoinPolicy, JoinRequest, Member, RequestKind, Role, Rule};
use cirrus_core::ids::{GroupId, UserId};
use cirrus_core::ports::GroupStore;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// The sort key prefix of a pending join request in the members table. It starts with `#`, below
/// every character of a user id, so requests sort before all members.
const REQUEST_PREFIX: &str = "#REQ#";

/// Every member's sort key (a user id) is above this, every request's below.
const MEMBER_FLOOR: &str = "$";

/// Ends the name in `nameSort`: NUL sorts below every other character and no group id holds it,
/// so entries order by name, then group id, and a name that extends another sorts after it.
const NAME_SEPARATOR: char = '\0';

/// DynamoDB's limit on a sort key, in bytes.
const MAX_SORT_KEY: usize = 1024;

/// Bytes of the lower-cased name `nameSort` keeps: what is left of [`MAX_SORT_KEY`] after the
/// separator and the longest group id. A longer name is cut there (at a character boundary) in the
/// index key only; searches cut their prefix the same way and check the whole name.
const NAME_SORT_ROOM: usize = MAX_SORT_KEY - NAME_SEPARATOR.len_utf8() - GroupId::MAX_LEN;

/// Members written (or deleted) per transaction: the rest of DynamoDB's 100 items is the update
/// of the group's count.
const MEMBERS_PER_TRANSACTION: usize = MAX_TRANSACTION_ITEMS - 1;

/// How often and how patiently a transaction cancelled by a conflict (another transaction on the
/// same group item at the same moment: concurrent joins) or throttling is sent again: 8 calls in
/// all, about 20, 40, 80 … ms apart, at most 500 ms.
const CONFLICT_BACKOFF: Backoff = Backoff {
    attempts: 8,
    base: Duration::from_millis(20),
    max: Duration::from_millis(500),
};

#[async_trait]
impl GroupStore for DynamoStore {
    async fn create_group(&self, group: &Group, members: &[Member]) -> cirrus_core::Result<bool> {
        Ok(self.create(group, members).await?)
    }

    async fn get_group(&self, id: &GroupId) -> cirrus_core::Result<Option<Group>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.groups_table)
            .key("groupId", s(id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(got.item.as_ref().map(group_from).transpose()?)
    }

    async fn put_group(&self, group: &Group) -> cirrus_core::Result<bool> {
        let update = Assignments::of(group_fields(group));
        let put = self
            .client
            .update_item()
            .table_name(&self.config.groups_table)
            .key("groupId", s(group.id.as_str()))
            .update_expression(update.expression())
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .condition_expression("attribute_exists(groupId)")
            .send()
            .await;
        Ok(written(put)?)
    }

    async fn add_members(
        &self,
        group: &GroupId,
        members: &[Member],
        cap: Option<u32>,
    ) -> cirrus_core::Result<Option<Vec<bool>>> {
        let lock = self.members_lock(group);
        let _turn = lock.lock().await;
        Ok(self.add(group, members, cap).await?)
    }

    async fn remove_members(&self, group: &GroupId, users: &[UserId]) -> cirrus_core::Result<Vec<bool>> {
        let users: Vec<&UserId> = users.iter().collect();
        let lock = self.members_lock(group);
        let _turn = lock.lock().await;
        Ok(self.remove(group, &users).await?)
    }

    async fn get_members(&self, group: &GroupId, users: &[UserId]) -> cirrus_core::Result<Vec<Member>> {
        let distinct: HashSet<&UserId> = users.iter().collect();
        let keys = distinct.into_iter().map(|user| member_key(group, user)).collect();
        let mut found = HashMap::new();
        for item in self
            .batch_get(&self.config.members_table, keys, None, &[], true)
            .await?
        {
            let member = member_from(&item)?;
            found.insert(member.user.clone(), member);
        }
        Ok(users.iter().filter_map(|user| found.get(user).cloned()).collect())
    }

    async fn put_member(&self, member: &Member) -> cirrus_core::Result<bool> {
        let put = self
            .client
            .put_item()
            .table_name(&self.config.members_table)
            .set_item(Some(member_item(&member.group, member)))
            .condition_expression("attribute_exists(userId)")
            .send()
            .await;
        Ok(written(put)?)
    }

    async fn list_members(
        &self,
        group: &GroupId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<Member>> {
        let floor = after.map_or(MEMBER_FLOOR, UserId::as_str);
        let items = self
            .query_pages(limit, None, |query| {
                query
                    .table_name(&self.config.members_table)
                    .key_condition_expression("groupId = :group AND userId > :floor")
                    .expression_attribute_values(":group", s(group.as_str()))
                    .expression_attribute_values(":floor", s(floor))
                    .consistent_read(true)
            })
            .await?;
        Ok(items.iter().map(member_from).collect::<Result<_>>()?)
    }

    async fn groups_of(
        &self,
        user: &UserId,
        after: Option<&GroupId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<Member>> {
        let items = self
            .query_pages(limit, None, |query| {
                let query = query
                    .table_name(&self.config.members_table)
                    .index_name(MEMBERS_BY_USER)
                    .expression_attribute_values(":user", s(user.as_str()));
                match after {
                    Some(after) => query
                        .key_condition_expression("userId = :user AND groupId > :after")
                        .expression_attribute_values(":after", s(after.as_str())),
                    None => query.key_condition_expression("userId = :user"),
                }
            })
            .await?;
        Ok(items.iter().map(member_from).collect::<Result<_>>()?)
    }

    async fn count_groups_of(&self, user: &UserId) -> cirrus_core::Result<u32> {
        Ok(self.count_memberships(user).await?)
    }

    async fn search_groups(&self, prefix: &str, limit: u32) -> cirrus_core::Result<Vec<Group>> {
        Ok(self.search_names(prefix, limit).await?)
    }

    async fn put_join_request(&self, request: &JoinRequest) -> cirrus_core::Result<()> {
        self.client
            .put_item()
            .table_name(&self.config.members_table)
            .set_item(Some(request_item(request)))
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(())
    }

    async fn get_join_request(
        &self,
        group: &GroupId,
        user: &UserId,
    ) -> cirrus_core::Result<Option<JoinRequest>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.members_table)
            .set_key(Some(request_key(group, user)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(got.item.as_ref().map(request_from).transpose()?)
    }

    async fn take_join_request(
        &self,
        group: &GroupId,
        user: &UserId,
    ) -> cirrus_core::Result<Option<JoinRequest>> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.config.members_table)
            .set_key(Some(request_key(group, user)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(deleted.attributes.as_ref().map(request_from).transpose()?)
    }

    async fn list_join_requests(
        &self,
        group: &GroupId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<JoinRequest>> {
        let start = after.map(|after| request_key(group, after));
        let items = self
            .query_pages(limit, start, |query| {
                query
                    .table_name(&self.config.members_table)
                    .key_condition_expression("groupId = :group AND begins_with(userId, :prefix)")
                    .expression_attribute_values(":group", s(group.as_str()))
                    .expression_attribute_values(":prefix", s(REQUEST_PREFIX))
                    .consistent_read(true)
            })
            .await?;
        Ok(items.iter().map(request_from).collect::<Result<_>>()?)
    }
}

/// How a transaction ended, other than in an error.
enum Transacted {
    /// Every write was made.
    Written,
    /// Nothing was written: the conditions of these items (positions in the transaction) failed.
    Refused(Vec<usize>),
}

impl DynamoStore {
    /// The in-process turn of changes to `group`'s members: this process's adds and removes of
    /// one group take turns, so they do not cancel each other's transactions (conflicts on the
    /// group item), and an emulator without isolated transactions (moto) counts right. Across
    /// processes the conditions do the work. The key cannot meet a stream key (`c2c:`, `group:`).
    fn members_lock(&self, group: &GroupId) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        self.stream_lock(&format!("members:{group}"))
    }

    /// The group's item (on condition that the id was never taken) with the first
    /// [`MEMBERS_PER_TRANSACTION`] distinct members and their count in one transaction; members
    /// past those are added after it as [`DynamoStore::add`] adds them (so a group created with
    /// more than 99 members is briefly seen with only some of them). Without members, one
    /// conditional `PutItem`.
    async fn create(&self, group: &Group, members: &[Member]) -> Result<bool> {
        let firsts = first_occurrences(members.iter().map(|member| &member.user));
        let (now, later) = firsts.split_at(firsts.len().min(MEMBERS_PER_TRANSACTION));
        let mut item = Item::from([
            ("groupId".to_owned(), s(group.id.as_str())),
            ("memberCount".to_owned(), n(now.len())),
        ]);
        for (name, value) in group_fields(group) {
            if let Some(value) = value {
                item.insert(name.to_owned(), value);
            }
        }
        if now.is_empty() {
            let put = self
                .client
                .put_item()
                .table_name(&self.config.groups_table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(groupId)")
                .send()
                .await;
            return written(put);
        }
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.config.groups_table)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(groupId)")
                        .build()?,
                )
                .build(),
        ];
        for &index in now {
            let put = Put::builder()
                .table_name(&self.config.members_table)
                .set_item(Some(member_item(&group.id, &members[index])))
                .build()?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        let lock = self.members_lock(&group.id);
        let _turn = lock.lock().await;
        match self.transact(writes).await? {
            Transacted::Written => {}
            // Only the group's put has a condition: the id is taken.
            Transacted::Refused(_) => return Ok(false),
        }
        if !later.is_empty() {
            let rest: Vec<Member> = later.iter().map(|&index| members[index].clone()).collect();
            self.add(&group.id, &rest, None).await?;
        }
        Ok(true)
    }

    /// Adds the members not in the group yet, all or none when `cap` would be passed.
    ///
    /// A consistent read of the group's count and a consistent `BatchGetItem` of the members'
    /// keys find who is new and whether they fit; then one transaction per
    /// [`MEMBERS_PER_TRANSACTION`] new members puts them on condition `attribute_not_exists` and
    /// raises `memberCount` by as many on condition that it stays at or under the cap. A member's
    /// condition failing means someone added them meanwhile: they are left as they are and the
    /// chunk is sent again without them. The count's condition failing means a concurrent add
    /// filled the group: the chunks this call already wrote are removed again and the answer is
    /// `None`. So every round either ends the call or drops a member from it. The caller holds
    /// [`DynamoStore::members_lock`].
    async fn add(&self, group: &GroupId, members: &[Member], cap: Option<u32>) -> Result<Option<Vec<bool>>> {
        let mut answers = vec![false; members.len()];
        let firsts = first_occurrences(members.iter().map(|member| &member.user));
        if firsts.is_empty() {
            return Ok(Some(answers));
        }
        let Some(count) = self.member_count(group).await? else {
            // No such group: nobody is added to it.
            return Ok(Some(answers));
        };
        let asked: Vec<&UserId> = firsts.iter().map(|&index| &members[index].user).collect();
        let existing = self.existing_members(group, &asked).await?;
        let mut pending: Vec<usize> = firsts
            .into_iter()
            .filter(|&index| !existing.contains(&members[index].user))
            .collect();
        let adding = u64::try_from(pending.len()).unwrap_or(u64::MAX);
        if cap.is_some_and(|cap| u64::from(count).saturating_add(adding) > u64::from(cap)) {
            return Ok(None);
        }
        let mut added: Vec<&UserId> = Vec::new();
        while !pending.is_empty() {
            let chunk: Vec<usize> = pending.iter().take(MEMBERS_PER_TRANSACTION).copied().collect();
            let mut writes =
                vec![self.count_update(group, i64::try_from(chunk.len()).unwrap_or(i64::MAX), cap)?];
            for &index in &chunk {
                let put = Put::builder()
                    .table_name(&self.config.members_table)
                    .set_item(Some(member_item(group, &members[index])))
                    .condition_expression("attribute_not_exists(userId)")
                    .build()?;
                writes.push(TransactWriteItem::builder().put(put).build());
            }
            match self.transact(writes).await? {
                Transacted::Written => {
                    for &index in &chunk {
                        answers[index] = true;
                        added.push(&members[index].user);
                    }
                    pending.drain(..chunk.len());
                }
                Transacted::Refused(refused) if refused.contains(&0) => {
                    // The count's condition: the group is full now (or gone). Take back what this
                    // call added, so that it adds nothing.
                    self.remove(group, &added).await?;
                    return Ok(cap.is_none().then(|| vec![false; members.len()]));
                }
                Transacted::Refused(refused) => {
                    let taken: HashSet<usize> = refused
                        .iter()
                        .filter_map(|&at| chunk.get(at.checked_sub(1)?).copied())
                        .collect();
                    pending.retain(|index| !taken.contains(index));
                }
            }
        }
        Ok(Some(answers))
    }

    /// Removes those of `users` who are members, and lowers the count by as many: a consistent
    /// `BatchGetItem` of their keys, then one transaction per [`MEMBERS_PER_TRANSACTION`] members
    /// deleting them on condition `attribute_exists` and lowering `memberCount`. A member's
    /// condition failing means someone removed them meanwhile (they report `false`); the chunk
    /// goes again without them. The caller holds [`DynamoStore::members_lock`].
    async fn remove(&self, group: &GroupId, users: &[&UserId]) -> Result<Vec<bool>> {
        let mut answers = vec![false; users.len()];
        let firsts = first_occurrences(users.iter());
        let asked: Vec<&UserId> = firsts.iter().map(|&index| users[index]).collect();
        let existing = self.existing_members(group, &asked).await?;
        let mut pending: Vec<usize> = firsts
            .into_iter()
            .filter(|&index| existing.contains(users[index]))
            .collect();
        while !pending.is_empty() {
            let chunk: Vec<usize> = pending.iter().take(MEMBERS_PER_TRANSACTION).copied().collect();
            let mut writes =
                vec![self.count_update(group, -i64::try_from(chunk.len()).unwrap_or(i64::MAX), None)?];
            for &index in &chunk {
                let delete = Delete::builder()
                    .table_name(&self.config.members_table)
                    .set_key(Some(member_key(group, users[index])))
                    .condition_expression("attribute_exists(userId)")
                    .build()?;
                writes.push(TransactWriteItem::builder().delete(delete).build());
            }
            match self.transact(writes).await? {
                Transacted::Written => {
                    for &index in &chunk {
                        answers[index] = true;
                    }
                    pending.drain(..chunk.len());
                }
                // No group item: its members cannot be counted off it.
                Transacted::Refused(refused) if refused.contains(&0) => return Ok(answers),
                Transacted::Refused(refused) => {
                    let gone: HashSet<usize> = refused
                        .iter()
                        .filter_map(|&at| chunk.get(at.checked_sub(1)?).copied())
                        .collect();
                    pending.retain(|index| !gone.contains(index));
                }
            }
        }
        Ok(answers)
    }

    /// The transaction item that moves the group's `memberCount` by `delta`, on condition that
    /// the group exists and, with `cap`, that the count stays at or under it.
    fn count_update(&self, group: &GroupId, delta: i64, cap: Option<u32>) -> Result<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.config.groups_table)
            .key("groupId", s(group.as_str()))
            .update_expression("SET memberCount = memberCount + :delta")
            .expression_attribute_values(":delta", n(delta));
        update = match cap {
            Some(cap) => update
                .condition_expression("attribute_exists(groupId) AND memberCount <= :room")
                .expression_attribute_values(":room", n(i64::from(cap) - delta)),
            None => update.condition_expression("attribute_exists(groupId)"),
        };
        Ok(TransactWriteItem::builder().update(update.build()?).build())
    }

    /// Sends a transaction; a cancellation for conflicts or throttling only is sent again with
    /// [`CONFLICT_BACKOFF`]. A cancellation naming failed conditions is [`Transacted::Refused`].
    async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<Transacted> {
        let mut delays = CONFLICT_BACKOFF.delays();
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes.clone()))
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(Transacted::Written),
                Err(err) => err,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                err.as_service_error()
            {
                let codes: Vec<&str> = cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|reason| reason.code().unwrap_or("None"))
                    .collect();
                let refused: Vec<usize> = codes
                    .iter()
                    .enumerate()
                    .filter(|(_, code)| **code == "ConditionalCheckFailed")
                    .map(|(at, _)| at)
                    .collect();
                if !refused.is_empty() {
                    return Ok(Transacted::Refused(refused));
                }
                let passing = codes.iter().all(|code| {
                    matches!(
                        *code,
                        "None" | "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                    )
                });
                if passing && let Some(delay) = delays.next() {
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return Err(StoreError::sdk(err));
        }
    }

    /// The group's member count, or `None` if there is no such group: a consistent `GetItem`.
    async fn member_count(&self, group: &GroupId) -> Result<Option<u32>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.groups_table)
            .key("groupId", s(group.as_str()))
            .projection_expression("memberCount")
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        got.item
            .as_ref()
            .map(|item| get_n(item, "memberCount"))
            .transpose()
    }

    /// Which of `users` are members of `group`: a consistent `BatchGetItem` of their keys.
    async fn existing_members(&self, group: &GroupId, users: &[&UserId]) -> Result<HashSet<UserId>> {
        let keys = users.iter().map(|user| member_key(group, user)).collect();
        self.batch_get(&self.config.members_table, keys, Some("userId"), &[], true)
            .await?
            .iter()
            .map(|item| get_id(item, "userId", UserId::parse))
            .collect()
    }

    /// Up to `limit` items of the `Query` `build` describes, from `start` (exclusive; which need
    /// not exist) on, `Limit` = what is still missing, following `LastEvaluatedKey` until `limit`
    /// are found or there are no more (`limit = 0` sends nothing).
    async fn query_pages(
        &self,
        limit: u32,
        start: Option<Item>,
        build: impl Fn(
            aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>> {
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut start = start;
        while items.len() < wanted {
            let missing = i32::try_from(wanted - items.len()).unwrap_or(i32::MAX);
            let page = build(self.client.query())
                .limit(missing)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        items.truncate(wanted);
        Ok(items)
    }

    /// `Query`s of the `byUser` index on the user with `Select = COUNT`, following
    /// `LastEvaluatedKey` (1 MB of index entries a page).
    async fn count_memberships(&self, user: &UserId) -> Result<u32> {
        let mut total: u32 = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.config.members_table)
                .index_name(MEMBERS_BY_USER)
                .key_condition_expression("userId = :user")
                .expression_attribute_values(":user", s(user.as_str()))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            total = total.saturating_add(u32::try_from(page.count).unwrap_or(0));
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }

    /// `Query`s of the keys-only `byName` index on the prefix's shard with
    /// `begins_with(nameSort, prefix)`, each followed by a consistent `BatchGetItem` of the groups
    /// it names, kept in index order when they still qualify (not dismissed, searchable, the whole
    /// lower-cased name starting with the prefix: the index is eventually consistent and holds cut
    /// names). `Limit` is what is still missing plus the entries left out so far.
    async fn search_names(&self, prefix: &str, limit: u32) -> Result<Vec<Group>> {
        let Some(shard) = prefix.chars().next() else {
            return Ok(Vec::new());
        };
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut found = Vec::new();
        let mut skipped: usize = 0;
        let mut start = None;
        while found.len() < wanted {
            let read = (wanted - found.len()).saturating_add(skipped);
            let page = self
                .client
                .query()
                .table_name(&self.config.groups_table)
                .index_name(GROUPS_BY_NAME)
                .key_condition_expression("nameShard = :shard AND begins_with(nameSort, :prefix)")
                .expression_attribute_values(":shard", s(shard))
                .expression_attribute_values(":prefix", s(cut(prefix)))
                .limit(i32::try_from(read).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            let ids: Vec<&str> = page
                .items()
                .iter()
                .map(|item| get_s(item, "groupId"))
                .collect::<Result<_>>()?;
            let distinct: HashSet<&str> = ids.iter().copied().collect();
            let keys = distinct
                .into_iter()
                .map(|id| Item::from([("groupId".to_owned(), s(id))]))
                .collect();
            let mut groups = HashMap::new();
            for item in self
                .batch_get(&self.config.groups_table, keys, None, &[], true)
                .await?
            {
                let group = group_from(&item)?;
                groups.insert(group.id.as_str().to_owned(), group);
            }
            for id in ids {
                match groups.remove(id) {
                    Some(group) if listed(&group, prefix) => found.push(group),
                    _ => skipped += 1,
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        found.truncate(wanted);
        Ok(found)
    }
}

/// Whether a search for `prefix` lists `group`.
fn listed(group: &Group, prefix: &str) -> bool {
    !group.dismissed && group.kind.allows(Rule::Searchable) && name_key(&group.name).starts_with(prefix)
}

/// The lower-cased name searches compare.
fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The name index keys (`nameShard`, `nameSort`) of a group, or `None` if searches do not list it
/// (not searchable, dismissed, or no name: a key attribute cannot be empty).
fn index_keys(group: &Group) -> Option<(String, String)> {
    if group.dismissed || !group.kind.allows(Rule::Searchable) {
        return None;
    }
    let key = name_key(&group.name);
    let shard = key.chars().next()?;
    Some((
        shard.to_string(),
        format!("{}{NAME_SEPARATOR}{}", cut(&key), group.id),
    ))
}

/// The first [`NAME_SORT_ROOM`] bytes of `text`, or less to end at a character boundary.
fn cut(text: &str) -> &str {
    let mut end = text.len().min(NAME_SORT_ROOM);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Every attribute of a group's item but its key and `memberCount`, each with its value or `None`
/// when unset (absent from the item): what `create_group` puts and `put_group` replaces.
fn group_fields(group: &Group) -> Vec<(&'static str, Option<AttributeValue>)> {
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
struct Assignments {
    set: Vec<String>,
    remove: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Assignments {
    fn of(fields: Vec<(&'static str, Option<AttributeValue>)>) -> Self {
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

    fn expression(&self) -> String {
        let mut expression = format!("SET {}", self.set.join(", "));
        if !self.remove.is_empty() {
            expression.push_str(" REMOVE ");
            expression.push_str(&self.remove.join(", "));
        }
        expression
    }
}

fn group_from(item: &Item) -> Result<Group> {
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

fn join_policy_name(policy: JoinPolicy) -> &'static str {
    match policy {
        JoinPolicy::Free => "free",
        JoinPolicy::NeedApproval => "need_approval",
        JoinPolicy::Forbidden => "forbidden",
    }
}

fn parse_join_policy(raw: &str) -> Option<JoinPolicy> {
    [JoinPolicy::Free, JoinPolicy::NeedApproval, JoinPolicy::Forbidden]
        .into_iter()
        .find(|policy| join_policy_name(*policy) == raw)
}

fn request_kind_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Application => "application",
        RequestKind::Invitation => "invitation",
    }
}

/// App-defined fields as a map of strings, absent when there are none.
fn custom_value(custom: &BTreeMap<String, String>) -> Option<AttributeValue> {
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
fn custom_from(item: &Item) -> Result<BTreeMap<String, String>> {
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
fn member_key(group: &GroupId, user: &UserId) -> Item {
    Item::from([
        ("groupId".to_owned(), s(group.as_str())),
        ("userId".to_owned(), s(user.as_str())),
    ])
}

/// The key of `user`'s pending join request for `group`.
fn request_key(group: &GroupId, user: &UserId) -> Item {
    Item::from([
        ("groupId".to_owned(), s(group.as_str())),
        ("userId".to_owned(), s(format!("{REQUEST_PREFIX}{user}"))),
    ])
}

/// A member's item under `group` (the port's calls name the group; `member.group` is the same).
fn member_item(group: &GroupId, member: &Member) -> Item {
    let mut item = member_key(group, &member.user);
    item.insert("role".to_owned(), s(member.role.name()));
    item.insert("joinedAt".to_owned(), n(member.joined_at));
    item.insert("joinedSeq".to_owned(), n(member.joined_seq));
    item.insert("mutedUntil".to_owned(), n(member.muted_until));
    if let Some(card) = &member.name_card {
        item.insert("nameCard".to_owned(), s(card));
    }
    if let Some(custom) = custom_value(&member.custom) {
        item.insert("custom".to_owned(), custom);
    }
    item
}

fn member_from(item: &Item) -> Result<Member> {
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

fn request_item(request: &JoinRequest) -> Item {
    let mut item = request_key(&request.group, &request.user);
    item.insert("requestKind".to_owned(), s(request_kind_name(request.kind)));
    item.insert("requestedBy".to_owned(), s(request.by.as_str()));
    item.insert("createdAt".to_owned(), n(request.created_at));
    if let Some(reason) = &request.reason {
        item.insert("reason".to_owned(), s(reason));
    }
    item
}

fn request_from(item: &Item) -> Result<JoinRequest> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn group(kind: GroupType, name: &str) -> Group {
        Group {
            id: GroupId::parse("g1").unwrap(),
            kind,
            name: name.to_owned(),
            introduction: None,
            notice: None,
            avatar: None,
            owner: Some(user("alice")),
            creator: user("alice"),
            created_at: 1_700_000_000_000,
            join_policy: kind.default_join_policy(),
            mute_all: false,
            max_members: 200,
            custom: BTreeMap::new(),
            member_count: 0,
            dismissed: false,
        }
    }

    /// The item `create_group` writes for `group` with `count` members.
    fn item_of(group: &Group, count: u32) -> Item {
        let mut item = Item::from([
            ("groupId".to_owned(), s(group.id.as_str())),
            ("memberCount".to_owned(), n(count)),
        ]);
        for (name, value) in group_fields(group) {
            if let Some(value) = value {
                item.insert(name.to_owned(), value);
            }
        }
        item
    }

    #[test]
    fn a_group_round_trips_through_its_item() {
        // GIVEN a group with every field set, and one with none of the optional ones
        let mut full = group(GroupType::Public, "Rust Fans");
        full.introduction = Some("about".to_owned());
        full.notice = Some("be nice".to_owned());
        full.avatar = Some("https://example.com/g.png".to_owned());
        full.mute_all = true;
        full.custom = BTreeMap::from([("Tag".to_owned(), "1".to_owned())]);
        full.member_count = 3;
        full.dismissed = true;
        let mut bare = group(GroupType::Private, "");
        bare.owner = None;
        for group in [full, bare] {
            // WHEN it is written and read back THEN nothing is lost
            let read = group_from(&item_of(&group, group.member_count)).unwrap();
            assert_eq!(read, group);
        }
    }

    #[test]
    fn only_searchable_live_named_groups_carry_the_name_index_keys() {
        let public = group(GroupType::Public, "Ålpha Team");
        let (shard, sort) = index_keys(&public).unwrap();
        assert_eq!(shard, "å");
        assert_eq!(sort, "ålpha team\0g1");
        assert_eq!(
            index_keys(&group(GroupType::Chatroom, "x")).map(|k| k.0),
            Some("x".to_owned())
        );
        assert_eq!(index_keys(&group(GroupType::Private, "x")), None);
        assert_eq!(index_keys(&group(GroupType::Live, "x")), None);
        assert_eq!(index_keys(&group(GroupType::Public, "")), None);
        let mut dismissed = public.clone();
        dismissed.dismissed = true;
        assert_eq!(index_keys(&dismissed), None);
        // A put of a group that stopped qualifying removes the keys.
        let update = Assignments::of(group_fields(&dismissed));
        assert!(update.expression().contains("REMOVE"), "{}", update.expression());
        assert!(update.remove.contains(&"#nameShard".to_owned()));
        assert!(update.remove.contains(&"#nameSort".to_owned()));
    }

    #[test]
    fn a_name_too_long_for_a_sort_key_is_cut_at_a_character_boundary() {
        let mut long = group(GroupType::Public, &"é".repeat(600));
        long.id = GroupId::parse("g".repeat(GroupId::MAX_LEN)).unwrap();
        let (_, sort) = index_keys(&long).unwrap();
        assert!(sort.len() <= MAX_SORT_KEY, "{} bytes", sort.len());
        assert!(sort.ends_with(&format!("\0{}", long.id)));
    }

    #[test]
    fn every_attribute_of_a_group_update_is_behind_a_placeholder() {
        let update = Assignments::of(group_fields(&group(GroupType::Public, "n")));
        for clause in update.set.iter().chain(&update.remove) {
            assert!(clause.starts_with('#'), "{clause}");
        }
        assert_eq!(update.names["#name"], "name");
        assert_eq!(update.names["#owner"], "owner");
    }

    #[test]
    fn members_and_requests_round_trip_through_their_items() {
        let g = GroupId::parse("g1").unwrap();
        let member = Member {
            group: g.clone(),
            user: user("bob"),
            role: Role::Admin,
            joined_at: 5,
            joined_seq: 7,
            name_card: Some("Bobby".to_owned()),
            muted_until: 9,
            custom: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        };
        assert_eq!(member_from(&member_item(&g, &member)).unwrap(), member);
        let plain = Member {
            name_card: None,
            custom: BTreeMap::new(),
            muted_until: 0,
            role: Role::Member,
            ..member
        };
        assert_eq!(member_from(&member_item(&g, &plain)).unwrap(), plain);
        for kind in [RequestKind::Application, RequestKind::Invitation] {
            let request = JoinRequest {
                group: g.clone(),
                user: user("carol"),
                kind,
                by: user("dave"),
                reason: Some("hi".to_owned()),
                created_at: 11,
            };
            let item = request_item(&request);
            assert_eq!(item["userId"], s("#REQ#carol"));
            assert_eq!(request_from(&item).unwrap(), request);
        }
    }

    #[test]
    fn request_keys_sort_below_the_member_floor_and_every_user_id_above_it() {
        // GIVEN every one-character user id WHEN compared with the floor THEN each is above it
        for byte in 0u8..=0x7f {
            let raw = char::from(byte).to_string();
            if UserId::parse(raw.as_str()).is_ok() {
                assert!(raw.as_str() > MEMBER_FLOOR, "{raw:?}");
            }
        }
        // AND every request key is below it
        assert!(format!("{REQUEST_PREFIX}zzz").as_str() < MEMBER_FLOOR);
        assert!(UserId::parse(format!("{REQUEST_PREFIX}x")).is_err());
    }

    #[test]
    fn join_policies_have_their_wire_names() {
        for policy in [JoinPolicy::Free, JoinPolicy::NeedApproval, JoinPolicy::Forbidden] {
            let wire = serde_json::to_string(&policy).unwrap();
            assert_eq!(wire, format!("\"{}\"", join_policy_name(policy)));
            assert_eq!(parse_join_policy(join_policy_name(policy)), Some(policy));
        }
        for kind in [RequestKind::Application, RequestKind::Invitation] {
            let wire = serde_json::to_string(&kind).unwrap();
            assert_eq!(wire, format!("\"{}\"", request_kind_name(kind)));
        }
    }
}
