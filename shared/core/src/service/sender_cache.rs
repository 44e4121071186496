//! The message extension's source: senders' nicknames and avatars, cached per process so that
//! a send does not read the sender's profile every time.

use crate::error::Result;
use crate::ids::UserId;
use crate::message::SenderProfile;
use crate::ports::ProfileStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a cached profile is used: a nickname or avatar change shows on new messages within
/// this time (from another process; this process's own `profile.set` does not invalidate it).
pub const SENDER_PROFILE_TTL_MS: i64 = 60_000;

/// Entries kept before the cache starts over (bounds memory under many distinct senders).
const CAPACITY: usize = 10_000;

/// Senders' profiles as messages carry them, read through a short-lived cache.
pub struct SenderProfiles {
    profiles: Arc<dyn ProfileStore>,
    cache: Mutex<HashMap<UserId, (i64, Option<SenderProfile>)>>,
}

impl SenderProfiles {
    /// A cache over `profiles`.
    pub fn new(profiles: Arc<dyn ProfileStore>) -> Self {
        Self {
            profiles,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// `user`'s nickname and avatar at `now`, or `None` if they set neither.
    pub async fn get(&self, user: &UserId, now: i64) -> Result<Option<SenderProfile>> {
        if let Some((fetched, profile)) = self.lock().get(user)
            && now - fetched < SENDER_PROFILE_TTL_MS
        {
            return Ok(profile.clone());
        }
        let stored = self.profiles.get_profiles(std::slice::from_ref(user)).await?;
        let profile = stored
            .into_iter()
            .next()
            .map(|stored| SenderProfile {
                nickname: stored.profile.nickname,
                avatar: stored.profile.face_url,
            })
            .filter(|profile| !profile.is_empty());
        let mut cache = self.lock();
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(user.clone(), (now, profile.clone()));
        Ok(profile)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, (i64, Option<SenderProfile>)>> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts).
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
