//! Profiles: reading them (batched), changing one's own (friends are told), and finding users by
//! id or nickname prefix.

use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::protocol::events;
use crate::protocol::social::{
    ProfileGetRequest, ProfileSetRequest, ProfileView, ProfilesReply, UserSearchRequest,
};
use crate::service::notifier::Notifier;
use crate::service::{Caller, Ports, page_size};
use crate::social::{Profile, UserProfile, nickname_key};
use futures_util::future::join_all;

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
    ports: Ports,
    notifier: Notifier,
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
    pub fn new(ports: Ports) -> Self {
        Self {
            notifier: Notifier::new(ports.clone()),
            ports,
        }
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

    /// `profile.set`: applies the fields present to the caller's profile and tells their friends
    /// (`profile.changed`). Nothing changes if any field is invalid.
    pub async fn set(&self, caller: &Caller, request: ProfileSetRequest) -> Result<ProfileView> {
        let current = self
            .ports
            .profiles
            .get_profiles(std::slice::from_ref(&caller.user))
            .await?
            .pop()
            .map(|p| p.profile)
            .unwrap_or_default();
        let mut profile = current;
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
        self.tell_friends(&caller.user, &view).await;
        Ok(view)
    }

    /// Tells each of `user`'s friends (`profile.changed`, kept and pushed), at most the friend
    /// limit. Failures are logged: the profile is stored either way.
    async fn tell_friends(&self, user: &UserId, view: &ProfileView) {
        let mut after: Option<UserId> = None;
        loop {
            let page = match self
                .ports
                .relations
                .list_friends(user, after.as_ref(), MAX_BATCH as u32)
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(user = %user, error = %err, "could not list friends to tell");
                    return;
                }
            };
            let tells = page
                .iter()
                .map(|friend| self.notifier.tell(&friend.peer, events::PROFILE_CHANGED, view));
            join_all(tells).await;
            if page.len() < MAX_BATCH {
                return;
            }
            after = page.last().map(|f| f.peer.clone());
        }
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
                let limit = page_size(request.limit, MAX_BATCH as u32);
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
