//! The social function's routes: profiles and user search (`profile.*`, `user.search`), the
//! relationship chain (`friend.*`), blacklists (`block.*`) and `notify.list`.

use crate::rate_limit::RateLimiter;
use crate::routes::{Routes, unknown};
use cirrus_core::error::Result;
use cirrus_core::protocol::social::{FriendAddReply, RelationView};
use cirrus_core::protocol::{Action, ClientFrame, reply_ok};
use cirrus_core::service::{BlockService, Caller, FriendService, Ports, ProfileService, StoreSource};
use serde_json::json;
use std::sync::Arc;

/// The services the social function's actions call.
#[derive(Clone)]
pub struct SocialRoutes {
    /// Profiles and user search.
    pub profiles: Arc<ProfileService>,
    /// The relationship chain and notifications.
    pub friends: Arc<FriendService>,
    /// Blacklists.
    pub blocks: Arc<BlockService>,
    /// The rate limits' buckets.
    pub rate_limiter: Arc<RateLimiter>,
}

impl SocialRoutes {
    /// Builds the social function's services, and only those, over `ports`.
    pub fn build<S: StoreSource>(ports: &Ports<S>) -> Self {
        let profiles = Arc::new(ProfileService::from_ports(ports));
        let friends = Arc::new(FriendService::from_ports(ports, profiles.clone()));
        Self {
            blocks: Arc::new(BlockService::from_ports(ports, friends.clone())),
            profiles,
            friends,
            rate_limiter: Arc::new(RateLimiter::new(&ports.limits.rates)),
        }
    }
}

impl Routes for SocialRoutes {
    /// Guests have no profile and no friends: no social action is open to them anyway.
    fn guest_c2c(&self) -> bool {
        false
    }

    fn rate_limiter(&self) -> &RateLimiter {
        &self.rate_limiter
    }

    async fn dispatch(&self, caller: &Caller, action: Action, frame: &ClientFrame<'_>) -> Result<String> {
        dispatch(self, caller, action, frame).await
    }
}

/// Runs one social action and returns its reply frame.
async fn dispatch(
    deps: &SocialRoutes,
    caller: &Caller,
    action: Action,
    frame: &ClientFrame<'_>,
) -> Result<String> {
    let req_id = frame.req_id.as_deref();
    let friends = &deps.friends;
    match action {
        Action::ProfileGet => Ok(reply_ok(req_id, &deps.profiles.get(caller, frame.data()?).await?)),
        Action::ProfileSet => Ok(reply_ok(req_id, &deps.profiles.set(caller, frame.data()?).await?)),
        Action::UserSearch => {
            let users = deps.profiles.search(frame.data()?).await?;
            Ok(reply_ok(req_id, &json!({ "users": users })))
        }
        Action::FriendAdd => {
            let result = friends.add(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &FriendAddReply { result }))
        }
        Action::FriendRequests => Ok(reply_ok(req_id, &friends.requests(caller, frame.data()?).await?)),
        Action::FriendAccept => {
            friends.accept(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &json!({})))
        }
        Action::FriendReject => {
            friends.reject(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &json!({})))
        }
        Action::FriendWithdraw => {
            friends.withdraw(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &json!({})))
        }
        Action::FriendDelete => {
            let results: Vec<_> = friends
                .delete(caller, frame.data()?)
                .await?
                .into_iter()
                .map(|(user, deleted)| json!({"userId": user.as_str(), "deleted": deleted}))
                .collect();
            Ok(reply_ok(req_id, &json!({ "results": results })))
        }
        Action::FriendList => Ok(reply_ok(req_id, &friends.list(caller, frame.data()?).await?)),
        Action::FriendCheck => {
            let relations: Vec<RelationView> = friends.check(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &json!({ "relations": relations })))
        }
        Action::FriendRemark => Ok(reply_ok(req_id, &friends.remark(caller, frame.data()?).await?)),
        Action::FriendRecommendations => {
            let (recommendations, cursor) = friends.recommendations(caller, frame.data()?).await?;
            Ok(reply_ok(
                req_id,
                &json!({"recommendations": recommendations, "cursor": cursor}),
            ))
        }
        Action::FriendDismiss => {
            let results = per_user(friends.dismiss(caller, frame.data()?).await?, "dismissed");
            Ok(reply_ok(req_id, &json!({ "results": results })))
        }
        Action::BlockAdd => {
            let blocked = deps.blocks.add(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &json!({ "blocked": blocked })))
        }
        Action::BlockRemove => {
            let results = per_user(deps.blocks.remove(caller, frame.data()?).await?, "removed");
            Ok(reply_ok(req_id, &json!({ "results": results })))
        }
        Action::BlockList => {
            let (blocked, cursor) = deps.blocks.list(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &json!({"blocked": blocked, "cursor": cursor})))
        }
        Action::BlockCheck => {
            let results = per_user(deps.blocks.check(caller, frame.data()?).await?, "blocked");
            Ok(reply_ok(req_id, &json!({ "results": results })))
        }
        Action::NotifyList => Ok(reply_ok(
            req_id,
            &friends.notifications(caller, frame.data()?).await?,
        )),
        other => Err(unknown(other.name())),
    }
}

/// `[{"userId": …, "<flag>": true|false}]` from per-user outcomes.
fn per_user(outcomes: Vec<(cirrus_core::ids::UserId, bool)>, flag: &str) -> Vec<serde_json::Value> {
    outcomes
        .into_iter()
        .map(|(user, value)| json!({"userId": user.as_str(), flag: value}))
        .collect()
}
