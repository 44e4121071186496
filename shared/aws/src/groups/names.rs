//! Paged queries of the members table and the name index: listing pages, counting a user's
//! memberships, searching groups by name, and the name index keys of a group.

use super::items::group_from;
use super::{NAME_SEPARATOR, NAME_SORT_ROOM};
use crate::error::{Result, StoreError};
use crate::item::{Item, get_s, s};
use crate::store::DynamoStore;
use crate::tables::{GROUPS_BY_NAME, MEMBERS_BY_USER};
use aws_sdk_dynamodb::types::Select;
use cirrus_core::group::{Group, Rule};
use cirrus_core::ids::UserId;
use std::collections::{HashMap, HashSet};

impl DynamoStore {
    /// Up to `limit` items of the `Query` `build` describes, from `start` (exclusive; which need
    /// not exist) on, `Limit` = what is still missing, following `LastEvaluatedKey` until `limit`
    /// are found or there are no more (`limit = 0` sends nothing).
    pub(super) async fn query_pages(
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
    /// `LastEvaluatedKey` (1 MB of index entries a page). Live-room memberships (marked `live`)
    /// are filtered out of the count: live rooms do not count towards the groups-per-user limit.
    pub(super) async fn count_memberships(&self, user: &UserId) -> Result<u32> {
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
                .filter_expression("attribute_not_exists(live)")
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
    pub(super) async fn search_names(&self, prefix: &str, limit: u32) -> Result<Vec<Group>> {
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
pub(super) fn listed(group: &Group, prefix: &str) -> bool {
    !group.dismissed && group.kind.allows(Rule::Searchable) && name_key(&group.name).starts_with(prefix)
}

/// The lower-cased name searches compare.
pub(super) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The name index keys (`nameShard`, `nameSort`) of a group, or `None` if searches do not list it
/// (not searchable, dismissed, or no name: a key attribute cannot be empty).
pub(super) fn index_keys(group: &Group) -> Option<(String, String)> {
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
pub(super) fn cut(text: &str) -> &str {
    let mut end = text.len().min(NAME_SORT_ROOM);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
