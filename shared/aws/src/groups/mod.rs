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

use crate::backoff::Backoff;
use crate::error::{Result, StoreError, written};
use crate::item::s;
use crate::relations::MAX_TRANSACTION_ITEMS;
use crate::store::DynamoStore;
use crate::tables::MEMBERS_BY_USER;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use cirrus_core::group::{Group, JoinRequest, Member};
use cirrus_core::ids::{GroupId, UserId};
use cirrus_core::ports::GroupStore;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

mod items;
mod names;
mod transactions;

use items::{
    Assignments, group_fields, group_from, member_fields, member_from, member_key, request_from,
    request_item, request_key,
};

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
        // An update, not a put: the item's `live` marker (set when the member was added) stays.
        let update = Assignments::of(member_fields(member));
        let put = self
            .client
            .update_item()
            .table_name(&self.config.members_table)
            .set_key(Some(member_key(&member.group, &member.user)))
            .update_expression(update.expression())
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
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

#[cfg(test)]
mod tests {
    use super::items::{join_policy_name, member_item, parse_join_policy, request_kind_name};
    use super::names::index_keys;
    use super::*;
    use crate::item::{Item, n};
    use cirrus_core::group::{GroupType, JoinPolicy, RequestKind, Role};
    use std::collections::BTreeMap;

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
        assert_eq!(member_from(&member_item(&g, &member, false)).unwrap(), member);
        let plain = Member {
            name_card: None,
            custom: BTreeMap::new(),
            muted_until: 0,
            role: Role::Member,
            ..member
        };
        assert_eq!(member_from(&member_item(&g, &plain, true)).unwrap(), plain);
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
