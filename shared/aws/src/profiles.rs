//! [`ProfileStore`] for [`DynamoStore`]: each profile on its user's item of the users table, beside
//! the account, and the users table's `byNickname` index for prefix searches.
//!
//! A profile is a set of attributes of the item `userId = <user id>`, all named `p…` so they never
//! meet the account's: `pGender`, `pAllow`, `pUpdatedAt` (ms) always, and when set `pNick`,
//! `pFace`, `pBirthday` (N, `YYYYMMDD`), `pSignature`, `pLocation` and `pCustom` (a map of strings).
//! An item with `pUpdatedAt` has a profile; one without has only an account (or is a failed-login
//! counter). With a non-empty nickname the item also carries the index keys `nickShard` (the
//! first character of the lower-cased nickname, so a prefix search reads one index partition) and
//! `nickSort` (the lower-cased nickname, cut at [`NICK_SORT_ROOM`] bytes, [`NICK_SEPARATOR`], the
//! user id). `put_profile` writes all of that with one `UpdateItem` (`SET` what is set, `REMOVE`
//! what is not), so the account's attributes are never touched; `AccountStore::delete_accounts`
//! deletes the whole item, profile included. The costs are in this crate's `README.md`.

use crate::error::{Result, StoreError};
use crate::item::{Item, get_id, n, opt_n, opt_s, s};
use crate::store::DynamoStore;
use crate::tables::{NICKNAME_INDEX_ATTRIBUTES, USERS_BY_NICKNAME};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use cirrus_core::ids::UserId;
use cirrus_core::ports::ProfileStore;
use cirrus_core::social::{AllowType, Gender, Profile, UserProfile, nickname_key};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Ends the nickname in `nickSort`: `\0` sorts below every other character, and no user id holds
/// it, so entries order by nickname, then user id, and a nickname that extends another sorts after
/// it.
const NICK_SEPARATOR: char = '\0';

/// DynamoDB's limit on a sort key, in bytes.
const MAX_SORT_KEY: usize = 1024;

/// Bytes of the lower-cased nickname `nickSort` keeps: what is left of [`MAX_SORT_KEY`] after the
/// separator and the longest user id. A longer nickname is cut there (at a character boundary) in
/// the index key only; searches cut their prefix the same way and check the whole nickname.
const NICK_SORT_ROOM: usize = MAX_SORT_KEY - NICK_SEPARATOR.len_utf8() - UserId::MAX_LEN;

#[async_trait]
impl ProfileStore for DynamoStore {
    async fn get_profiles(&self, users: &[UserId]) -> cirrus_core::Result<Vec<UserProfile>> {
        Ok(self.read_profiles(users).await?)
    }

    async fn put_profile(&self, user: &UserId, profile: &Profile) -> cirrus_core::Result<()> {
        let update = ProfileUpdate::of(user, profile);
        self.client
            .update_item()
            .table_name(&self.config.users_table)
            .key("userId", s(user.as_str()))
            .update_expression(update.expression())
            .set_expression_attribute_values(Some(update.values))
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(())
    }

    async fn search_nickname(&self, prefix: &str, limit: u32) -> cirrus_core::Result<Vec<UserProfile>> {
        Ok(self.search(prefix, limit).await?)
    }
}

impl DynamoStore {
    /// Strongly consistent `BatchGetItem`s of the distinct users' items (the profile attributes
    /// only), then those with a profile in the order asked.
    async fn read_profiles(&self, users: &[UserId]) -> Result<Vec<UserProfile>> {
        let distinct: HashSet<&str> = users.iter().map(UserId::as_str).collect();
        let keys = distinct
            .into_iter()
            .map(|user| Item::from([("userId".to_owned(), s(user))]))
            .collect();
        let projection = std::iter::once("userId")
            .chain(NICKNAME_INDEX_ATTRIBUTES)
            .collect::<Vec<_>>()
            .join(", ");
        let mut found = HashMap::new();
        for item in self
            .batch_get(&self.config.users_table, keys, Some(&projection), &[], true)
            .await?
        {
            if let Some(profile) = profile_from_item(&item)? {
                found.insert(profile.user.as_str().to_owned(), profile);
            }
        }
        Ok(users
            .iter()
            .filter_map(|user| found.get(user.as_str()).cloned())
            .collect())
    }

    /// `Query`s of the nickname index (eventually consistent: an index cannot be read otherwise)
    /// on the prefix's shard with `begins_with(nickSort, prefix)`, `Limit` = what is still
    /// missing, following `LastEvaluatedKey` until `limit` are found or there are no more.
    async fn search(&self, prefix: &str, limit: u32) -> Result<Vec<UserProfile>> {
        let Some(shard) = prefix.chars().next() else {
            return Ok(Vec::new());
        };
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut found = Vec::new();
        let mut start = None;
        while found.len() < wanted {
            let missing = i32::try_from(wanted - found.len()).unwrap_or(i32::MAX);
            let page = self
                .client
                .query()
                .table_name(&self.config.users_table)
                .index_name(USERS_BY_NICKNAME)
                .key_condition_expression("nickShard = :shard AND begins_with(nickSort, :prefix)")
                .expression_attribute_values(":shard", s(shard))
                .expression_attribute_values(":prefix", s(cut(prefix)))
                .limit(missing)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            for item in page.items() {
                let Some(profile) = profile_from_item(item)? else {
                    continue;
                };
                // The index holds cut nicknames: check the whole one.
                let matches = profile
                    .profile
                    .nickname
                    .as_deref()
                    .is_some_and(|nick| nickname_key(nick).starts_with(prefix));
                if matches {
                    found.push(profile);
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

/// The `UpdateItem` that replaces a profile: what to set (with its values) and what to remove.
struct ProfileUpdate {
    set: Vec<&'static str>,
    remove: Vec<&'static str>,
    values: HashMap<String, AttributeValue>,
}

impl ProfileUpdate {
    fn of(user: &UserId, profile: &Profile) -> Self {
        let mut update = Self {
            set: Vec::new(),
            remove: Vec::new(),
            values: HashMap::new(),
        };
        update.put("pGender", Some(s(profile.gender.as_str())));
        update.put("pAllow", Some(s(profile.allow_type.as_str())));
        update.put("pUpdatedAt", Some(n(profile.updated_at)));
        update.put("pNick", profile.nickname.as_deref().map(s));
        update.put("pFace", profile.face_url.as_deref().map(s));
        update.put("pBirthday", profile.birthday.map(n));
        update.put("pSignature", profile.signature.as_deref().map(s));
        update.put("pLocation", profile.location.as_deref().map(s));
        let custom = (!profile.custom.is_empty()).then(|| {
            AttributeValue::M(
                profile
                    .custom
                    .iter()
                    .map(|(key, value)| (key.clone(), s(value)))
                    .collect(),
            )
        });
        update.put("pCustom", custom);
        let index = profile
            .nickname
            .as_deref()
            .and_then(|nick| index_keys(&nickname_key(nick), user));
        let (shard, sort) = index.map_or((None, None), |(shard, sort)| (Some(s(shard)), Some(s(sort))));
        update.put("nickShard", shard);
        update.put("nickSort", sort);
        update
    }

    /// `SET name = :name` with `value`, or `REMOVE name` without.
    fn put(&mut self, name: &'static str, value: Option<AttributeValue>) {
        match value {
            Some(value) => {
                self.values.insert(format!(":{name}"), value);
                self.set.push(name);
            }
            None => self.remove.push(name),
        }
    }

    fn expression(&self) -> String {
        let set: Vec<String> = self.set.iter().map(|name| format!("{name} = :{name}")).collect();
        let mut expression = format!("SET {}", set.join(", "));
        if !self.remove.is_empty() {
            expression.push_str(" REMOVE ");
            expression.push_str(&self.remove.join(", "));
        }
        expression
    }
}

/// The index keys (`nickShard`, `nickSort`) of a lower-cased nickname; `None` for an empty one
/// (a key attribute cannot be empty, and no search matches it).
fn index_keys(key: &str, user: &UserId) -> Option<(String, String)> {
    let shard = key.chars().next()?;
    Some((
        shard.to_string(),
        format!("{}{NICK_SEPARATOR}{}", cut(key), user.as_str()),
    ))
}

/// The first [`NICK_SORT_ROOM`] bytes of `text`, or less to end at a character boundary.
fn cut(text: &str) -> &str {
    let mut end = text.len().min(NICK_SORT_ROOM);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The profile on a users-table item (or its index entry); `None` if the item has none.
fn profile_from_item(item: &Item) -> Result<Option<UserProfile>> {
    let Some(updated_at) = opt_n(item, "pUpdatedAt")? else {
        return Ok(None);
    };
    let gender = match opt_s(item, "pGender")? {
        Some(raw) => Gender::parse(raw).ok_or(StoreError::BadAttribute("pGender"))?,
        None => Gender::default(),
    };
    let allow_type = match opt_s(item, "pAllow")? {
        Some(raw) => AllowType::parse(raw).ok_or(StoreError::BadAttribute("pAllow"))?,
        None => AllowType::default(),
    };
    let text = |name: &'static str| opt_s(item, name).map(|value| value.map(str::to_owned));
    Ok(Some(UserProfile {
        user: get_id(item, "userId", UserId::parse)?,
        profile: Profile {
            nickname: text("pNick")?,
            face_url: text("pFace")?,
            gender,
            birthday: opt_n(item, "pBirthday")?,
            signature: text("pSignature")?,
            location: text("pLocation")?,
            allow_type,
            custom: custom_from(item)?,
            updated_at,
        },
    }))
}

/// The custom fields (`pCustom`, a map of strings; absent when there are none).
fn custom_from(item: &Item) -> Result<BTreeMap<String, String>> {
    match item.get("pCustom") {
        None | Some(AttributeValue::Null(_)) => Ok(BTreeMap::new()),
        Some(AttributeValue::M(map)) => map
            .iter()
            .map(|(key, value)| match value {
                AttributeValue::S(text) => Ok((key.clone(), text.clone())),
                _ => Err(StoreError::BadAttribute("pCustom")),
            })
            .collect(),
        Some(_) => Err(StoreError::BadAttribute("pCustom")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    /// The item `put_profile` leaves on an empty key: the update's `SET` values under their names.
    fn written(user: &UserId, profile: &Profile) -> Item {
        let update = ProfileUpdate::of(user, profile);
        let mut item = Item::from([("userId".to_owned(), s(user.as_str()))]);
        for name in &update.set {
            item.insert((*name).to_owned(), update.values[&format!(":{name}")].clone());
        }
        item
    }

    #[test]
    fn a_profile_round_trips_through_its_attributes() {
        // GIVEN a profile with every field set, and one with none of the optional ones
        let alice = user("alice");
        let full = Profile {
            nickname: Some("Ålice".to_owned()),
            face_url: Some("https://example.com/a.png".to_owned()),
            gender: Gender::Female,
            birthday: Some(19_900_101),
            signature: Some("hi".to_owned()),
            location: Some("Paris".to_owned()),
            allow_type: AllowType::AllowAny,
            custom: BTreeMap::from([("Tag_Profile_Custom_x".to_owned(), "1".to_owned())]),
            updated_at: 1_700_000_000_000,
        };
        let bare = Profile::default();
        for profile in [full, bare] {
            // WHEN it is written and read back THEN nothing is lost
            let read = profile_from_item(&written(&alice, &profile)).unwrap().unwrap();
            assert_eq!(
                read,
                UserProfile {
                    user: alice.clone(),
                    profile
                }
            );
        }
    }

    #[test]
    fn unset_fields_and_the_index_keys_of_a_profile_without_nickname_are_removed() {
        let update = ProfileUpdate::of(&user("bob"), &Profile::default());
        assert_eq!(
            update.expression(),
            "SET pGender = :pGender, pAllow = :pAllow, pUpdatedAt = :pUpdatedAt \
             REMOVE pNick, pFace, pBirthday, pSignature, pLocation, pCustom, nickShard, nickSort"
        );
    }

    #[test]
    fn an_item_without_pupdatedat_has_no_profile() {
        let account = Item::from([
            ("userId".to_owned(), s("carol")),
            ("kind".to_owned(), s("imported")),
        ]);
        assert_eq!(profile_from_item(&account).unwrap(), None);
    }

    #[test]
    fn index_keys_shard_by_first_character_and_sort_by_nickname_then_user() {
        let (shard, sort) = index_keys("ålice", &user("u1")).unwrap();
        assert_eq!(shard, "å");
        assert_eq!(sort, "ålice\0u1");
        assert_eq!(index_keys("", &user("u1")), None);
        // A nickname that extends another sorts after it, whatever the user ids.
        let (_, short) = index_keys("ab", &user("zz")).unwrap();
        let (_, long) = index_keys("ab ", &user("aa")).unwrap();
        assert!(short < long);
    }

    #[test]
    fn a_nickname_too_long_for_a_sort_key_is_cut_at_a_character_boundary() {
        let long = "é".repeat(600);
        let id = user(&"u".repeat(UserId::MAX_LEN));
        let (_, sort) = index_keys(&long, &id).unwrap();
        assert!(sort.len() <= MAX_SORT_KEY, "{} bytes", sort.len());
        assert!(sort.ends_with(&format!("\0{id}")));
        assert!(long.starts_with(sort.split('\0').next().unwrap()));
    }
}
