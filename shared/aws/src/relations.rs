//! [`RelationStore`] for [`DynamoStore`]: friend lists and pending friend requests in the
//! relations table, all under the user they belong to.
//!
//! The table's key is `userId` (S) + `key` (S), where `key` is a kind and the other user's id:
//!
//! - `FRIEND#<peer>`: `peer` is in `userId`'s friend list; `addedAt` (ms) and, when set, `remark`
//!   and `groups` (a list of strings, sorted, left out when empty);
//! - `REQ_OUT#<to>` under the requester and `REQ_IN#<from>` under the target: one pending request,
//!   stored on both sides (each copy with `createdAt` (ms) and, when set, `reason` and `remark`), so
//!   either side lists theirs with one `Query`. Both copies are written and deleted together by one
//!   `TransactWriteItems`.
//!
//! User ids cannot contain `#`, so a kind never runs into the id after it, and the sort key orders
//! each kind by the other user's id. The table's keys-only index [`RELATIONS_BY_KEY`] turns the
//! key around (`key`, then `userId`): a query of `key = FRIEND#<peer>` lists the users who have
//! `peer` in their friend list, in their id order, and `BLOCK#<peer>` those who blocked them. Blacklists (`BLOCK#`), recommendations (`RECOMMEND#`) and
//! notifications (`NOTE#`) share the table and the helpers here (`blocks.rs`,
//! `recommendations.rs`, `notifications.rs`). The costs are in this crate's `README.md`.

use crate::accounts::{first_occurrences, in_order};
use crate::error::{Result, StoreError};
use crate::item::{Item, get_n, get_s, n, opt_s, s};
use crate::store::DynamoStore;
use crate::tables::RELATIONS_BY_KEY;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, Select, TransactWriteItem};
use cirrus_core::ids::UserId;
use cirrus_core::ports::RelationStore;
use cirrus_core::social::{Friend, FriendRequest, RequestDirection};
use std::collections::{HashMap, HashSet};

/// The sort key prefix of friend entries.
const FRIEND: &str = "FRIEND#";
/// The sort key prefix of a request's copy under its target.
const REQ_IN: &str = "REQ_IN#";
/// The sort key prefix of a request's copy under its requester.
const REQ_OUT: &str = "REQ_OUT#";

/// Items per `TransactWriteItems` (DynamoDB's limit).
pub const MAX_TRANSACTION_ITEMS: usize = 100;

#[async_trait]
impl RelationStore for DynamoStore {
    async fn get_friends(&self, owner: &UserId, peers: &[UserId]) -> cirrus_core::Result<Vec<Friend>> {
        let items = self.read_entries(owner, FRIEND, peers).await?;
        Ok(items.iter().map(friend_from).collect::<Result<_>>()?)
    }

    async fn friended_by(&self, peer: &UserId, owners: &[UserId]) -> cirrus_core::Result<Vec<UserId>> {
        // One BatchGetItem over the owners' partitions: the (owner, FRIEND#peer) key of each.
        let distinct: HashSet<&UserId> = owners.iter().collect();
        let keys = distinct
            .into_iter()
            .map(|owner| relation_key(owner, FRIEND, peer))
            .collect();
        let mut found = HashSet::new();
        for item in self
            .batch_get(&self.config.relations_table, keys, None, &[], true)
            .await?
        {
            found.insert(friend_from(&item)?.owner);
        }
        Ok(owners
            .iter()
            .filter(|owner| found.contains(*owner))
            .cloned()
            .collect())
    }

    async fn list_friended_by(
        &self,
        peer: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<UserId>> {
        Ok(self.owners_of(FRIEND, peer, after, limit).await?)
    }

    async fn list_friends(
        &self,
        owner: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<Friend>> {
        let after = after.map(UserId::as_str);
        let items = self.page(owner, FRIEND, after, None, limit).await?;
        Ok(items.iter().map(friend_from).collect::<Result<_>>()?)
    }

    async fn count_friends(&self, owner: &UserId) -> cirrus_core::Result<u32> {
        Ok(self.count(owner, FRIEND).await?)
    }

    async fn put_friends(&self, entries: &[Friend]) -> cirrus_core::Result<()> {
        for transaction in friendship_transactions(&self.config.relations_table, entries)? {
            self.client
                .transact_write_items()
                .set_transact_items(Some(transaction))
                .send()
                .await
                .map_err(StoreError::sdk)?;
        }
        Ok(())
    }

    async fn delete_friends(&self, pairs: &[(UserId, UserId)]) -> cirrus_core::Result<Vec<bool>> {
        let pairs: Vec<(&UserId, &UserId)> = pairs.iter().map(|(owner, peer)| (owner, peer)).collect();
        Ok(self.delete_entries(FRIEND, &pairs).await?)
    }

    async fn put_request(&self, request: &FriendRequest) -> cirrus_core::Result<()> {
        let copy = |owner: &UserId, key: String| -> Result<TransactWriteItem> {
            let mut item = request_item(request);
            item.insert("userId".to_owned(), s(owner.as_str()));
            item.insert("key".to_owned(), s(key));
            let put = Put::builder()
                .table_name(&self.config.relations_table)
                .set_item(Some(item))
                .build()?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let outgoing = copy(&request.from, format!("{REQ_OUT}{}", request.to))?;
        let incoming = copy(&request.to, format!("{REQ_IN}{}", request.from))?;
        self.client
            .transact_write_items()
            .transact_items(outgoing)
            .transact_items(incoming)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(())
    }

    async fn get_request(&self, from: &UserId, to: &UserId) -> cirrus_core::Result<Option<FriendRequest>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.relations_table)
            .set_key(Some(relation_key(from, REQ_OUT, to)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let request = got
            .item
            .as_ref()
            .map(|item| request_from(item, RequestDirection::Outgoing))
            .transpose()?;
        Ok(request)
    }

    async fn delete_request(&self, from: &UserId, to: &UserId) -> cirrus_core::Result<bool> {
        Ok(self.delete_both_copies(from, to).await?)
    }

    async fn list_requests(
        &self,
        user: &UserId,
        direction: RequestDirection,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<FriendRequest>> {
        let after = after.map(UserId::as_str);
        let items = self
            .page(user, request_prefix(direction), after, None, limit)
            .await?;
        Ok(items
            .iter()
            .map(|item| request_from(item, direction))
            .collect::<Result<_>>()?)
    }
}

impl DynamoStore {
    /// `owner`'s items of kind `prefix` about each of `peers`, in the order asked (missing ones
    /// left out): a strongly consistent `BatchGetItem` of the distinct peers.
    pub(crate) async fn read_entries(
        &self,
        owner: &UserId,
        prefix: &str,
        peers: &[UserId],
    ) -> Result<Vec<Item>> {
        let distinct: HashSet<&UserId> = peers.iter().collect();
        let keys = distinct
            .into_iter()
            .map(|peer| relation_key(owner, prefix, peer))
            .collect();
        let mut found = HashMap::new();
        for item in self
            .batch_get(&self.config.relations_table, keys, None, &[], true)
            .await?
        {
            found.insert(peer_of(&item, prefix)?, item);
        }
        Ok(peers.iter().filter_map(|peer| found.get(peer).cloned()).collect())
    }

    /// Up to `limit` of `user`'s items whose key starts with `prefix`, after `prefix + after`
    /// (which need not exist), and with `live_at` only those whose `expiresAtMs` is after it:
    /// strongly consistent `Query`s with `begins_with`, `ExclusiveStartKey` at `after`, following
    /// `LastEvaluatedKey` until `limit` are found or there are no more.
    ///
    /// `Limit` is what is still missing plus the items a filter has skipped so far: it counts the
    /// items read, before the filter, so a run of expired items (TTL deletes them only eventually)
    /// grows the pages instead of costing a round trip per `limit` items.
    pub(crate) async fn page(
        &self,
        user: &UserId,
        prefix: &str,
        after: Option<&str>,
        live_at: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Item>> {
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut skipped: usize = 0;
        let mut start = after.map(|after| keyed(user, format!("{prefix}{after}")));
        while items.len() < wanted {
            let read = (wanted - items.len()).saturating_add(skipped);
            let mut query = self
                .client
                .query()
                .table_name(&self.config.relations_table)
                .key_condition_expression("userId = :user AND begins_with(#key, :prefix)")
                .expression_attribute_names("#key", "key")
                .expression_attribute_values(":user", s(user.as_str()))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .limit(i32::try_from(read).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start);
            if let Some(now) = live_at {
                query = query
                    .filter_expression("expiresAtMs > :now")
                    .expression_attribute_values(":now", n(now));
            }
            let page = query.send().await.map_err(StoreError::sdk)?;
            let scanned = usize::try_from(page.scanned_count).unwrap_or(0);
            let kept = usize::try_from(page.count).unwrap_or(0);
            skipped = skipped.saturating_add(scanned.saturating_sub(kept));
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        items.truncate(wanted);
        Ok(items)
    }

    /// Up to `limit` users who have an item of kind `prefix` about `peer`, in their id order,
    /// after `after`: `Query`s of the [`RELATIONS_BY_KEY`] index (eventually consistent, as every
    /// global secondary index), following `LastEvaluatedKey`.
    pub(crate) async fn owners_of(
        &self,
        prefix: &str,
        peer: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>> {
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        let key = format!("{prefix}{peer}");
        let mut owners = Vec::new();
        let mut start = after.map(|after| keyed(after, key.clone()));
        while owners.len() < wanted {
            let page = self
                .client
                .query()
                .table_name(&self.config.relations_table)
                .index_name(RELATIONS_BY_KEY)
                .key_condition_expression("#key = :key")
                .expression_attribute_names("#key", "key")
                .expression_attribute_values(":key", s(&key))
                .limit(i32::try_from(wanted - owners.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            for item in page.items.unwrap_or_default() {
                owners.push(owner_of(&item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        owners.truncate(wanted);
        Ok(owners)
    }

    /// How many of `user`'s items have a key starting with `prefix`: strongly consistent
    /// `Query`s with `Select = COUNT`, following `LastEvaluatedKey` (a page counts up to 1 MB of
    /// items).
    pub(crate) async fn count(&self, user: &UserId, prefix: &str) -> Result<u32> {
        let mut total: u32 = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.config.relations_table)
                .key_condition_expression("userId = :user AND begins_with(#key, :prefix)")
                .expression_attribute_names("#key", "key")
                .expression_attribute_values(":user", s(user.as_str()))
                .expression_attribute_values(":prefix", s(prefix))
                .select(Select::Count)
                .consistent_read(true)
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

    /// One `DeleteItem` (returning the old item) of the item of kind `prefix` per distinct
    /// (owner, peer) pair, concurrently; whether each existed, in order. A repeat reports `false`
    /// (the item was gone by then).
    pub(crate) async fn delete_entries(
        &self,
        prefix: &str,
        pairs: &[(&UserId, &UserId)],
    ) -> Result<Vec<bool>> {
        let firsts = first_occurrences(pairs.iter());
        let deletes = firsts
            .iter()
            .map(|&index| {
                let (owner, peer) = pairs[index];
                let delete = self
                    .client
                    .delete_item()
                    .table_name(&self.config.relations_table)
                    .set_key(Some(relation_key(owner, prefix, peer)))
                    .return_values(ReturnValue::AllOld);
                async move {
                    let deleted = delete.send().await.map_err(StoreError::sdk)?;
                    Ok(deleted.attributes.is_some())
                }
            })
            .collect();
        let existed = in_order(deletes).await?;
        let mut answers = vec![false; pairs.len()];
        for (index, was) in firsts.into_iter().zip(existed) {
            answers[index] = was;
        }
        Ok(answers)
    }

    /// One `TransactWriteItems` deleting both copies of the request, the requester's on condition
    /// that it exists: a failed condition means there was no request (both copies are always
    /// written and deleted together), and deletes nothing.
    async fn delete_both_copies(&self, from: &UserId, to: &UserId) -> Result<bool> {
        let outgoing = Delete::builder()
            .table_name(&self.config.relations_table)
            .set_key(Some(relation_key(from, REQ_OUT, to)))
            .condition_expression("attribute_exists(userId)")
            .build()?;
        let incoming = Delete::builder()
            .table_name(&self.config.relations_table)
            .set_key(Some(relation_key(to, REQ_IN, from)))
            .build()?;
        let deleted = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(outgoing).build())
            .transact_items(TransactWriteItem::builder().delete(incoming).build())
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(err.as_service_error()) => Ok(false),
            Err(err) => Err(StoreError::sdk(err)),
        }
    }
}

/// Whether a transaction was cancelled only because a condition failed (not a conflict,
/// throttling or a validation error).
fn condition_failed(err: Option<&TransactWriteItemsError>) -> bool {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err else {
        return false;
    };
    let reasons = cancelled.cancellation_reasons();
    reasons
        .iter()
        .any(|reason| reason.code() == Some("ConditionalCheckFailed"))
        && reasons
            .iter()
            .all(|reason| matches!(reason.code(), None | Some("None" | "ConditionalCheckFailed")))
}

/// The transactions of `put_friends`: per unordered pair of users, the puts of the pair's entries
/// (the last of repeated ones) and the deletes of the pair's request copies (`REQ_OUT#` and
/// `REQ_IN#` on both sides: 4 items, 2 for a user paired with themself), with the pairs packed
/// into transactions of at most [`MAX_TRANSACTION_ITEMS`] items, each pair whole in one.
fn friendship_transactions(table: &str, entries: &[Friend]) -> Result<Vec<Vec<TransactWriteItem>>> {
    // The last entry of each (owner, peer) wins, as if written in order.
    let mut latest: HashMap<(&UserId, &UserId), &Friend> = HashMap::new();
    for entry in entries {
        latest.insert((&entry.owner, &entry.peer), entry);
    }
    // Pairs in the order first named, each with its entries.
    let mut pairs: Vec<((&UserId, &UserId), Vec<&Friend>)> = Vec::new();
    let mut slot: HashMap<(&UserId, &UserId), usize> = HashMap::new();
    for index in first_occurrences(entries.iter().map(|e| (&e.owner, &e.peer))) {
        let entry = latest[&(&entries[index].owner, &entries[index].peer)];
        let pair = if entry.owner <= entry.peer {
            (&entry.owner, &entry.peer)
        } else {
            (&entry.peer, &entry.owner)
        };
        let at = *slot.entry(pair).or_insert_with(|| {
            pairs.push((pair, Vec::new()));
            pairs.len() - 1
        });
        pairs[at].1.push(entry);
    }

    let mut transactions: Vec<Vec<TransactWriteItem>> = Vec::new();
    let mut current: Vec<TransactWriteItem> = Vec::new();
    for ((a, b), friends) in pairs {
        let mut writes = Vec::new();
        for friend in friends {
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(friend_item(friend)))
                .build()?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        let mut requests = vec![relation_key(a, REQ_OUT, b), relation_key(a, REQ_IN, b)];
        if a != b {
            requests.extend([relation_key(b, REQ_OUT, a), relation_key(b, REQ_IN, a)]);
        }
        for key in requests {
            let delete = Delete::builder().table_name(table).set_key(Some(key)).build()?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        if current.len() + writes.len() > MAX_TRANSACTION_ITEMS {
            transactions.push(std::mem::take(&mut current));
        }
        current.extend(writes);
    }
    if !current.is_empty() {
        transactions.push(current);
    }
    Ok(transactions)
}

/// The key of `owner`'s item of kind `prefix` about `peer`.
pub(crate) fn relation_key(owner: &UserId, prefix: &str, peer: &UserId) -> Item {
    keyed(owner, format!("{prefix}{peer}"))
}

/// The key of `user`'s item with sort key `key`.
pub(crate) fn keyed(user: &UserId, key: String) -> Item {
    Item::from([
        ("userId".to_owned(), s(user.as_str())),
        ("key".to_owned(), s(key)),
    ])
}

/// The sort key prefix of `direction`'s copies.
fn request_prefix(direction: RequestDirection) -> &'static str {
    match direction {
        RequestDirection::Incoming => REQ_IN,
        RequestDirection::Outgoing => REQ_OUT,
    }
}

/// The other user's id in an item's key of kind `prefix`.
pub(crate) fn peer_of(item: &Item, prefix: &str) -> Result<UserId> {
    get_s(item, "key")?
        .strip_prefix(prefix)
        .and_then(|peer| UserId::parse(peer).ok())
        .ok_or(StoreError::BadAttribute("key"))
}

/// The user an item is under.
pub(crate) fn owner_of(item: &Item) -> Result<UserId> {
    UserId::parse(get_s(item, "userId")?).map_err(|_| StoreError::BadAttribute("userId"))
}

fn friend_item(friend: &Friend) -> Item {
    let mut item = relation_key(&friend.owner, FRIEND, &friend.peer);
    item.insert("addedAt".to_owned(), n(friend.added_at));
    if let Some(remark) = &friend.remark {
        item.insert("remark".to_owned(), s(remark));
    }
    if !friend.groups.is_empty() {
        item.insert(
            "groups".to_owned(),
            AttributeValue::L(friend.groups.iter().map(s).collect()),
        );
    }
    item
}

fn friend_from(item: &Item) -> Result<Friend> {
    let groups = match item.get("groups") {
        None | Some(AttributeValue::Null(_)) => Vec::new(),
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|value| match value {
                AttributeValue::S(group) => Ok(group.clone()),
                _ => Err(StoreError::BadAttribute("groups")),
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(StoreError::BadAttribute("groups")),
    };
    Ok(Friend {
        owner: owner_of(item)?,
        peer: peer_of(item, FRIEND)?,
        remark: opt_s(item, "remark")?.map(str::to_owned),
        groups,
        added_at: get_n(item, "addedAt")?,
    })
}

/// The attributes both copies of a request carry (without their keys).
fn request_item(request: &FriendRequest) -> Item {
    let mut item = Item::from([("createdAt".to_owned(), n(request.created_at))]);
    if let Some(reason) = &request.reason {
        item.insert("reason".to_owned(), s(reason));
    }
    if let Some(remark) = &request.remark {
        item.insert("remark".to_owned(), s(remark));
    }
    item
}

/// The request a copy stands for: the copy under the requester (`Outgoing`) or the target
/// (`Incoming`).
fn request_from(item: &Item, direction: RequestDirection) -> Result<FriendRequest> {
    let owner = owner_of(item)?;
    let peer = peer_of(item, request_prefix(direction))?;
    let (from, to) = match direction {
        RequestDirection::Outgoing => (owner, peer),
        RequestDirection::Incoming => (peer, owner),
    };
    Ok(FriendRequest {
        from,
        to,
        reason: opt_s(item, "reason")?.map(str::to_owned),
        remark: opt_s(item, "remark")?.map(str::to_owned),
        created_at: get_n(item, "createdAt")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn friend(owner: &str, peer: &str, added_at: i64) -> Friend {
        Friend {
            owner: user(owner),
            peer: user(peer),
            remark: None,
            groups: Vec::new(),
            added_at,
        }
    }

    /// (puts, deletes) of each transaction.
    fn shape(transactions: &[Vec<TransactWriteItem>]) -> Vec<(usize, usize)> {
        transactions
            .iter()
            .map(|t| {
                let puts = t.iter().filter(|w| w.put().is_some()).count();
                (puts, t.len() - puts)
            })
            .collect()
    }

    #[test]
    fn a_friend_entry_round_trips_through_its_item() {
        let full = Friend {
            remark: Some("Bobby".to_owned()),
            groups: vec!["family".to_owned(), "work".to_owned()],
            ..friend("alice", "bob", 1_700_000_000_000)
        };
        for entry in [full, friend("alice", "bob", 7)] {
            assert_eq!(friend_from(&friend_item(&entry)).unwrap(), entry);
        }
    }

    #[test]
    fn both_copies_of_a_request_read_back_as_the_same_request() {
        let request = FriendRequest {
            from: user("alice"),
            to: user("bob"),
            reason: Some("hi".to_owned()),
            remark: None,
            created_at: 5,
        };
        let mut outgoing = request_item(&request);
        outgoing.extend(relation_key(&request.from, REQ_OUT, &request.to));
        let mut incoming = request_item(&request);
        incoming.extend(relation_key(&request.to, REQ_IN, &request.from));
        assert_eq!(
            request_from(&outgoing, RequestDirection::Outgoing).unwrap(),
            request
        );
        assert_eq!(
            request_from(&incoming, RequestDirection::Incoming).unwrap(),
            request
        );
    }

    #[test]
    fn a_friendship_both_ways_is_one_transaction_of_two_puts_and_four_deletes() {
        let entries = [friend("alice", "bob", 1), friend("bob", "alice", 1)];
        let transactions = friendship_transactions("t", &entries).unwrap();
        assert_eq!(shape(&transactions), vec![(2, 4)]);
    }

    #[test]
    fn a_repeated_entry_is_written_once_the_last_one_winning() {
        let entries = [friend("alice", "bob", 1), friend("alice", "bob", 2)];
        let transactions = friendship_transactions("t", &entries).unwrap();
        assert_eq!(shape(&transactions), vec![(1, 4)]);
        let put = transactions[0][0].put().unwrap();
        assert_eq!(put.item().get("addedAt"), Some(&n(2)));
    }

    #[test]
    fn a_user_paired_with_themself_deletes_their_two_request_copies() {
        let transactions = friendship_transactions("t", &[friend("alice", "alice", 1)]).unwrap();
        assert_eq!(shape(&transactions), vec![(1, 2)]);
    }

    #[test]
    fn many_pairs_are_split_into_transactions_of_at_most_100_items_keeping_each_pair_whole() {
        // 20 pairs both ways: 6 items each, 16 pairs (96 items) fit in a transaction
        let mut entries = Vec::new();
        for i in 0..20 {
            let peer = format!("p{i:02}");
            entries.push(friend("alice", &peer, 1));
            entries.push(friend(&peer, "alice", 1));
        }
        let transactions = friendship_transactions("t", &entries).unwrap();
        assert_eq!(shape(&transactions), vec![(32, 64), (8, 16)]);
        assert!(friendship_transactions("t", &[]).unwrap().is_empty());
    }
}
