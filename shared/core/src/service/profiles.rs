//! Profiles: reading them (batched), changing one's own (the users who have the changer in their
//! friend list are told), and finding users by id or nickname prefix.

use crate::callbacks::CallbackCommand;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::limits::Limits;
use crate::ports::{AccountStore, ProfileStore, RelationStore};
use crate::protocol::events;
use crate::protocol::social::{
    ProfileGetRequest, ProfileSetRequest, ProfileView, ProfilesReply, UserSearchRequest,
};
use crate::service::callback_hooks::{CallbackHooks, Fields};
use crate::service::notifier::Notifier;
use crate::service::{Caller, Ports, StoreSource, page_size};
use crate::social::{Profile, UserProfile, nickname_key};
use crate::tim::profile_tags;
use futures_util::future::join_all;
use serde_json::json;
use std::sync::Arc;

/// Longest nickname and location, in bytes.
const MAX_SHORT_FIELD: usize = 100;
/// Longest avatar and signature, in bytes.
const MAX_LONG_FIELD: usize = 500;
/// Custom fields one profile may hold.
const MAX_CUSTOM_FIELDS: usize = 20;
/// Longest custom key (letters, digits, `_`), in bytes.
const MAX_CUSTOM_KEY: usize = 16;
/// Longest custom value, in bytes.
const MAX_CUSTOM_VALUE: usize = 500;
/// Most users one lookup or search may name or return.
const MAX_BATCH: usize = 100;

/// Profile reads, writes and searches.
#[derive(Clone)]
pub struct ProfileService {
    ports: ProfilePorts,
}

/// What profiles use.
#[derive(Clone)]
pub struct ProfilePorts {
    /// Accounts (a profile exists only for an account).
    pub accounts: Arc<dyn AccountStore>,
    /// Profiles and the nickname index.
    pub profiles: Arc<dyn ProfileStore>,
    /// Friend lists (who has the changer in theirs hears of a change).
    pub relations: Arc<dyn RelationStore>,
    /// Telling them.
    pub notifier: Notifier,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The friend limit, which also bounds how many are told of one change.
    pub limits: Limits,
    /// The app's `Profile.CallbackPortraitSet`.
    pub callbacks: CallbackHooks,
}

impl ProfilePorts {
    /// The profiles' ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            accounts: ports.stores.accounts(),
            profiles: ports.stores.profiles(),
            relations: ports.stores.relations(),
            notifier: Notifier::of(ports),
            clock: ports.clock.clone(),
            limits: ports.limits.clone(),
            callbacks: CallbackHooks::of(ports),
        }
    }
}

/// Checks an optional text field's length; empty text counts as cleared.
fn text(name: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    match value {
        Some(text) if text.len() > max => Err(Error::InvalidField(format!(
            "{name} may hold at most {max} bytes"
        ))),
        Some(text) if text.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// A `YYYYMMDD` that names a plausible day.
fn birthday(value: u32) -> Result<u32> {
    let (year, month, day) = (value / 10_000, value / 100 % 100, value % 100);
    if (1900..=2200).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day) {
        Ok(value)
    } else {
        Err(Error::InvalidField("birthday must be YYYYMMDD".to_owned()))
    }
}

impl ProfileService {
    /// A profile service over `ports`.
    pub fn new(ports: ProfilePorts) -> Self {
        Self { ports }
    }

    /// A profile service over the process's ports.
    pub fn from_ports<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self::new(ProfilePorts::of(ports))
    }

    /// Parses 1 to 100 ids, dropping repeats.
    pub fn user_ids(raw: Vec<String>) -> Result<Vec<UserId>> {
        crate::service::unique_user_ids(raw, MAX_BATCH)
    }

    /// The profiles of users with an account (a default profile for those who never set one), in
    /// the order asked; ids of users without one are listed apart.
    pub async fn profiles_of(&self, users: &[UserId]) -> Result<(Vec<UserProfile>, Vec<UserId>)> {
        let (accounts, stored) = futures_util::future::try_join(
            self.ports.accounts.get_accounts(users),
            self.ports.profiles.get_profiles(users),
        )
        .await?;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for user in users {
            let profile = stored.iter().find(|p| &p.user == user).map(|p| p.profile.clone());
            match profile {
                Some(profile) => found.push(UserProfile {
                    user: user.clone(),
                    profile,
                }),
                None if accounts.iter().any(|a| &a.user == user) => found.push(UserProfile {
                    user: user.clone(),
                    profile: Profile::default(),
                }),
                None => missing.push(user.clone()),
            }
        }
        Ok((found, missing))
    }

    /// `profile.get`: profiles of up to 100 users, the caller's own by default.
    pub async fn get(&self, caller: &Caller, request: ProfileGetRequest) -> Result<ProfilesReply> {
        let users = match request.user_ids {
            Some(ids) => Self::user_ids(ids)?,
            None => vec![caller.user.clone()],
        };
        let (found, missing) = self.profiles_of(&users).await?;
        Ok(ProfilesReply {
            profiles: found
                .iter()
                .map(|p| ProfileView::new(p.user.as_str(), &p.profile))
                .collect(),
            not_found: missing.iter().map(ToString::to_string).collect(),
        })
    }

    /// `profile.set`: applies the fields present to the caller's profile and tells the users who
    /// have the caller in their friend list (`profile.changed`). Nothing changes if any field is
    /// invalid.
    pub async fn set(&self, caller: &Caller, request: ProfileSetRequest) -> Result<ProfileView> {
        let current = self
            .ports
            .profiles
            .get_profiles(std::slice::from_ref(&caller.user))
            .await?
            .pop()
            .map(|p| p.profile)
            .unwrap_or_default();
        let mut profile = current.clone();
        if let Some(nickname) = request.nickname {
            profile.nickname = text("nickname", nickname, MAX_SHORT_FIELD)?;
        }
        if let Some(face_url) = request.face_url {
            profile.face_url = text("faceUrl", face_url, MAX_LONG_FIELD)?;
        }
        if let Some(gender) = request.gender {
            profile.gender = gender;
        }
        if let Some(value) = request.birthday {
            profile.birthday = value.map(birthday).transpose()?;
        }
        if let Some(signature) = request.signature {
            profile.signature = text("signature", signature, MAX_LONG_FIELD)?;
        }
        if let Some(location) = request.location {
            profile.location = text("location", location, MAX_SHORT_FIELD)?;
        }
        if let Some(allow_type) = request.allow_type {
            profile.allow_type = allow_type;
        }
        for (key, value) in request.custom.unwrap_or_default() {
            let valid_key = !key.is_empty()
                && key.len() <= MAX_CUSTOM_KEY
                && key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
            if !valid_key {
                return Err(Error::InvalidField(format!(
                    "custom keys are 1 to {MAX_CUSTOM_KEY} letters, digits or _"
                )));
            }
            match text("a custom value", value, MAX_CUSTOM_VALUE)? {
                Some(value) => profile.custom.insert(key, value),
                None => profile.custom.remove(&key),
            };
        }
        if profile.custom.len() > MAX_CUSTOM_FIELDS {
            return Err(Error::LimitExceeded(format!(
                "at most {MAX_CUSTOM_FIELDS} custom profile fields"
            )));
        }
        profile.updated_at = self.ports.clock.now_ms();
        self.ports.profiles.put_profile(&caller.user, &profile).await?;
        let view = ProfileView::new(caller.user.as_str(), &profile);
        self.tell_followers(&caller.user, &view).await;
        self.portrait_set_callback(&caller.user, &current, &profile).await;
        Ok(view)
    }

    /// Queues `Profile.CallbackPortraitSet` with the tags that changed (a tag cleared is there
    /// with an empty value).
    async fn portrait_set_callback(&self, user: &UserId, before: &Profile, after: &Profile) {
        let (old, new) = (profile_tags(before), profile_tags(after));
        let tag = |item: &serde_json::Value| item["Tag"].as_str().unwrap_or_default().to_owned();
        let mut changed: Vec<serde_json::Value> =
            new.iter().filter(|item| !old.contains(item)).cloned().collect();
        changed.extend(
            old.iter()
                .filter(|item| !new.iter().any(|n| tag(n) == tag(item)))
                .map(|item| json!({"Tag": tag(item), "Value": ""})),
        );
        if changed.is_empty() {
            return;
        }
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(CallbackCommand::PortraitSet, || {
                let mut fields = Fields::new();
                fields.insert("From_Account".into(), json!(user.as_str()));
                fields.insert("To_Account".into(), json!(user.as_str()));
                fields.insert("ProfileItem".into(), json!(changed));
                fields.insert("EventTime".into(), json!(now));
                fields
            })
            .await;
    }

    /// Tells each user who has `user` in their friend list (`profile.changed`, kept and pushed):
    /// the ones who show `user`'s profile in their list, whether or not `user` has them in theirs.
    /// At most the friend limit are told, so one change costs bounded work however many added
    /// `user` one way. Failures are logged: the profile is stored either way.
    pub async fn tell_followers(&self, user: &UserId, view: &ProfileView) {
        let max = usize::try_from(self.ports.limits.max_friends).unwrap_or(usize::MAX);
        let mut told = 0;
        let mut after: Option<UserId> = None;
        while told < max {
            let want = (max - told).min(MAX_BATCH);
            let page = match self
                .ports
                .relations
                .list_friended_by(user, after.as_ref(), want as u32)
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(user = %user, error = %err, "could not list whom to tell of a profile change");
                    return;
                }
            };
            let tells = page
                .iter()
                .map(|owner| self.ports.notifier.tell(owner, events::PROFILE_CHANGED, view));
            join_all(tells).await;
            told += page.len();
            if page.len() < want {
                return;
            }
            after = page.last().cloned();
        }
        tracing::info!(user = %user, told, "profile change told to the first users only (the friend limit)");
    }

    /// `user.search`: a user by exact id, or users whose nickname starts with a prefix
    /// (case-insensitive), served from an index.
    pub async fn search(&self, request: UserSearchRequest) -> Result<Vec<ProfileView>> {
        let found = match (request.user_id, request.nickname) {
            (Some(id), None) => self.profiles_of(&[UserId::parse(id)?]).await?.0,
            (None, Some(prefix)) => {
                let prefix = nickname_key(prefix.trim());
                if prefix.is_empty() || prefix.len() > MAX_SHORT_FIELD {
                    return Err(Error::InvalidField("nickname must be 1 to 100 bytes".to_owned()));
                }
                let limit = page_size(request.limit, MAX_BATCH as u32)?;
                self.ports.profiles.search_nickname(&prefix, limit).await?
            }
            _ => {
                return Err(Error::InvalidField(
                    "give exactly one of userId and nickname".to_owned(),
                ));
            }
        };
        Ok(found
            .iter()
            .map(|p| ProfileView::new(p.user.as_str(), &p.profile))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::service::fakes::{START_MS, World, caller};
    use crate::social::Gender;
    use serde_json::json;

    /// A `profile.set` as the client sends it: absent fields stay, `null` clears.
    fn request(value: serde_json::Value) -> ProfileSetRequest {
        serde_json::from_value(value).unwrap()
    }

    fn alices() -> Profile {
        Profile {
            nickname: Some("Alice".to_owned()),
            signature: Some("hi".to_owned()),
            birthday: Some(19_900_101),
            gender: Gender::Female,
            custom: [("level".to_owned(), "3".to_owned())].into(),
            updated_at: START_MS,
            ..Profile::default()
        }
    }

    #[tokio::test]
    async fn given_a_profile_when_one_field_is_set_then_the_others_stay() {
        // GIVEN alice's profile
        let world = World::new();
        world.profiles.insert("alice", alices());
        let service = world.services().profiles;
        // WHEN she sets her location a minute on
        let now = world.clock.advance(60_000);
        let view = service
            .set(&caller("alice", "a1"), request(json!({"location": "Paris"})))
            .await
            .unwrap();
        // THEN only the location and the change time differ, and the reply is what is stored
        let expected = Profile {
            location: Some("Paris".to_owned()),
            updated_at: now,
            ..alices()
        };
        assert_eq!(world.profiles.get("alice"), Some(expected.clone()));
        assert_eq!(view, ProfileView::new("alice", &expected));
    }

    #[tokio::test]
    async fn given_a_profile_when_fields_are_set_to_null_or_empty_then_they_are_cleared() {
        let world = World::new();
        world.profiles.insert("alice", alices());
        let service = world.services().profiles;
        // WHEN she clears her nickname, birthday and a custom key, empties her signature and
        // adds a custom key
        service
            .set(
                &caller("alice", "a1"),
                request(json!({
                    "nickname": null, "birthday": null, "signature": "",
                    "custom": {"level": null, "team": "red"},
                })),
            )
            .await
            .unwrap();
        // THEN those are gone, the new key is there and the gender is untouched
        let stored = world.profiles.get("alice").unwrap();
        assert_eq!(
            (stored.nickname, stored.birthday, stored.signature),
            (None, None, None)
        );
        assert_eq!(stored.custom, [("team".to_owned(), "red".to_owned())].into());
        assert_eq!(stored.gender, Gender::Female);
    }

    #[tokio::test]
    async fn given_a_field_out_of_bounds_when_set_then_refused_and_nothing_changes() {
        let world = World::new();
        world.profiles.insert("alice", alices());
        world.relations.befriend("alice", "bob", START_MS);
        world.online("bob", "b1", Some("web"));
        let service = world.services().profiles;
        let many: serde_json::Map<String, serde_json::Value> =
            (0..20).map(|i| (format!("k{i}"), json!("v"))).collect();
        let cases = [
            (json!({"nickname": "n".repeat(101)}), ErrorCode::InvalidField),
            (json!({"faceUrl": "u".repeat(501)}), ErrorCode::InvalidField),
            (json!({"location": "l".repeat(101)}), ErrorCode::InvalidField),
            (json!({"birthday": 20_231_301}), ErrorCode::InvalidField),
            (json!({"birthday": 18_991_231}), ErrorCode::InvalidField),
            (json!({"custom": {"bad-key": "x"}}), ErrorCode::InvalidField),
            (json!({"custom": {"k".repeat(17): "x"}}), ErrorCode::InvalidField),
            (
                json!({"custom": {"long": "v".repeat(501)}}),
                ErrorCode::InvalidField,
            ),
            // 20 new keys and the stored `level` make 21
            (json!({"custom": many}), ErrorCode::LimitExceeded),
            // a valid field first does not get through either
            (json!({"nickname": "ok", "birthday": 0}), ErrorCode::InvalidField),
        ];
        for (change, code) in cases {
            // WHEN she sets it
            let err = service
                .set(&caller("alice", "a1"), request(change.clone()))
                .await
                .unwrap_err();
            // THEN it is refused with its code
            assert_eq!(err.code(), code, "{change}");
        }
        // AND her profile is as it was, and no friend was told anything
        assert_eq!(world.profiles.get("alice"), Some(alices()));
        assert!(world.gateway.sent().is_empty());
        // AND the longest values are accepted
        let longest =
            json!({"nickname": "n".repeat(100), "birthday": 22_001_231, "custom": {"k".repeat(16): "v"}});
        service
            .set(&caller("alice", "a1"), request(longest))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn given_friends_when_the_profile_changes_then_each_friend_is_told_and_no_one_else() {
        // GIVEN alice friends with bob (online) and carol (offline); dave, no friend, online
        let world = World::new();
        world.relations.befriend("alice", "bob", START_MS);
        world.relations.befriend("alice", "carol", START_MS);
        world.online("alice", "a1", Some("web"));
        world.online("bob", "b1", Some("web"));
        world.online("dave", "d1", Some("web"));
        let service = world.services().profiles;
        // WHEN alice takes a nickname
        let view = service
            .set(&caller("alice", "a1"), request(json!({"nickname": "Al"})))
            .await
            .unwrap();
        // THEN bob is told live, carol finds it kept for later, dave and alice hear nothing
        let changed = || {
            let data = serde_json::to_value(&view).unwrap();
            (events::PROFILE_CHANGED.to_owned(), data)
        };
        assert_eq!(world.gateway.events_to("b1"), [changed()]);
        assert_eq!(world.gateway.sent().len(), 1);
        assert_eq!(world.notifications.of("carol"), [changed()]);
        assert_eq!(world.notifications.of("bob"), [changed()]);
        assert!(world.notifications.of("dave").is_empty());
    }

    #[tokio::test]
    async fn given_users_with_and_without_accounts_when_profiles_are_read_then_unknown_ones_are_listed_apart()
    {
        // GIVEN alice with a profile, bob with an account only, zed with neither
        let world = World::new();
        world.profiles.insert("alice", alices());
        world.accounts.seen("bob", None, None);
        let service = world.services().profiles;
        // WHEN asked for the three
        let asked = ProfileGetRequest {
            user_ids: Some(crate::service::fakes::ids(&["zed", "bob", "alice"])),
        };
        let reply = service.get(&caller("carol", "c1"), asked).await.unwrap();
        // THEN bob has the default profile, alice hers, and zed is not found
        assert_eq!(
            reply.profiles,
            [
                ProfileView::new("bob", &Profile::default()),
                ProfileView::new("alice", &alices()),
            ]
        );
        assert_eq!(reply.not_found, ["zed"]);
        // AND with no ids the caller's own profile is read
        let own = service
            .get(&caller("alice", "a1"), ProfileGetRequest::default())
            .await
            .unwrap();
        assert_eq!(own.profiles, [ProfileView::new("alice", &alices())]);
    }

    #[tokio::test]
    async fn given_nicknames_when_searched_by_prefix_then_case_is_ignored_and_one_key_is_required() {
        // GIVEN Alice, alfred and bob
        let world = World::new();
        world.profiles.insert("alice", alices());
        let named = |nickname: &str| Profile {
            nickname: Some(nickname.to_owned()),
            ..Profile::default()
        };
        world.profiles.insert("alfred", named("alfred"));
        world.profiles.insert("bob", named("Bob"));
        let service = world.services().profiles;
        let search = |user_id: Option<&str>, nickname: Option<&str>| UserSearchRequest {
            user_id: user_id.map(str::to_owned),
            nickname: nickname.map(str::to_owned),
            limit: None,
        };
        // WHEN searching for "AL" THEN both al- nicknames come, by nickname
        let found = service.search(search(None, Some(" AL "))).await.unwrap();
        let found: Vec<_> = found.iter().map(|v| v.user_id.as_str()).collect();
        assert_eq!(found, ["alfred", "alice"]);
        // WHEN searching by exact id THEN that user comes
        let found = service.search(search(Some("bob"), None)).await.unwrap();
        assert_eq!(found[0].nickname.as_deref(), Some("Bob"));
        // AND neither key, both keys or a blank prefix are refused
        for (id, nickname) in [(None, None), (Some("bob"), Some("b")), (None, Some("   "))] {
            let err = service.search(search(id, nickname)).await.unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidField, "{id:?} {nickname:?}");
        }
    }

    #[tokio::test]
    async fn given_one_way_relations_when_the_profile_changes_then_those_who_have_the_changer_are_told() {
        use crate::social::Friend;
        // GIVEN alice has bob in her list (one way) and carol has alice in hers (one way); both
        // online
        let world = World::new();
        let entry = |owner: &str, peer: &str| Friend {
            owner: crate::service::fakes::user(owner),
            peer: crate::service::fakes::user(peer),
            remark: None,
            groups: Vec::new(),
            added_at: START_MS,
        };
        world
            .relations
            .put_friends(&[entry("alice", "bob"), entry("carol", "alice")])
            .await
            .unwrap();
        world.online("bob", "b1", Some("web"));
        world.online("carol", "c1", Some("web"));
        let service = world.services().profiles;
        // WHEN alice takes a nickname
        let view = service
            .set(&caller("alice", "a1"), request(json!({"nickname": "Al"})))
            .await
            .unwrap();
        // THEN carol, whose list shows alice, is told; bob, whose list does not, is not
        let changed = (
            events::PROFILE_CHANGED.to_owned(),
            serde_json::to_value(&view).unwrap(),
        );
        assert_eq!(world.gateway.events_to("c1"), std::slice::from_ref(&changed));
        assert_eq!(world.notifications.of("carol"), [changed]);
        assert!(world.gateway.events_to("b1").is_empty());
        assert!(world.notifications.of("bob").is_empty());
    }

    #[tokio::test]
    async fn given_more_followers_than_the_friend_limit_when_the_profile_changes_then_only_that_many_are_told()
     {
        // GIVEN a friend limit of 2 and three users who have alice in their list
        let world = World::new().with_limits(|l| l.max_friends = 2);
        for peer in ["u1", "u2", "u3"] {
            world.relations.befriend("alice", peer, START_MS);
        }
        let service = world.services().profiles;
        // WHEN alice changes her profile
        service
            .set(&caller("alice", "a1"), request(json!({"signature": "hi"})))
            .await
            .unwrap();
        // THEN the first two (by id) are told, the work bounded by the limit
        let told: Vec<usize> = ["u1", "u2", "u3"]
            .iter()
            .map(|u| world.notifications.of(u).len())
            .collect();
        assert_eq!(told, [1, 1, 0]);
    }
}
