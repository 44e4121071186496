//! The members table's writes that move a group's `memberCount`: creating a group with its first
//! members, adding and removing members in transactions, and the reads they decide on.

use super::items::{group_fields, member_item, member_key};
use super::{CONFLICT_BACKOFF, MEMBERS_PER_TRANSACTION};
use crate::accounts::first_occurrences;
use crate::error::{Result, StoreError, written};
use crate::item::{Item, get_id, get_n, get_s, n, s};
use crate::store::DynamoStore;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use cirrus_core::group::{Group, GroupType, Member};
use cirrus_core::ids::{GroupId, UserId};
use std::collections::HashSet;

/// How a transaction ended, other than in an error.
pub(super) enum Transacted {
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
    pub(super) fn members_lock(&self, group: &GroupId) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        self.stream_lock(&format!("members:{group}"))
    }

    /// The group's item (on condition that the id was never taken) with the first
    /// [`MEMBERS_PER_TRANSACTION`] distinct members and their count in one transaction; members
    /// past those are added after it as [`DynamoStore::add`] adds them (so a group created with
    /// more than 99 members is briefly seen with only some of them). Without members, one
    /// conditional `PutItem`.
    pub(super) async fn create(&self, group: &Group, members: &[Member]) -> Result<bool> {
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
                .set_item(Some(member_item(
                    &group.id,
                    &members[index],
                    group.kind == GroupType::Live,
                )))
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
    pub(super) async fn add(
        &self,
        group: &GroupId,
        members: &[Member],
        cap: Option<u32>,
    ) -> Result<Option<Vec<bool>>> {
        let mut answers = vec![false; members.len()];
        let firsts = first_occurrences(members.iter().map(|member| &member.user));
        if firsts.is_empty() {
            return Ok(Some(answers));
        }
        let Some((count, live)) = self.member_count(group).await? else {
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
                    .set_item(Some(member_item(group, &members[index], live)))
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
    pub(super) async fn remove(&self, group: &GroupId, users: &[&UserId]) -> Result<Vec<bool>> {
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
    pub(super) fn count_update(
        &self,
        group: &GroupId,
        delta: i64,
        cap: Option<u32>,
    ) -> Result<TransactWriteItem> {
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
    pub(super) async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<Transacted> {
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

    /// The group's member count and whether it is a live room (its members' items are marked
    /// so), or `None` if there is no such group: a consistent `GetItem`.
    pub(super) async fn member_count(&self, group: &GroupId) -> Result<Option<(u32, bool)>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.groups_table)
            .key("groupId", s(group.as_str()))
            .projection_expression("memberCount, #kind")
            .expression_attribute_names("#kind", "kind")
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        got.item
            .as_ref()
            .map(|item| {
                let live = get_s(item, "kind")? == GroupType::Live.name();
                Ok((get_n(item, "memberCount")?, live))
            })
            .transpose()
    }

    /// Which of `users` are members of `group`: a consistent `BatchGetItem` of their keys.
    pub(super) async fn existing_members(
        &self,
        group: &GroupId,
        users: &[&UserId],
    ) -> Result<HashSet<UserId>> {
        let keys = users.iter().map(|user| member_key(group, user)).collect();
        self.batch_get(&self.config.members_table, keys, Some("userId"), &[], true)
            .await?
            .iter()
            .map(|item| get_id(item, "userId", UserId::parse))
            .collect()
    }
}
