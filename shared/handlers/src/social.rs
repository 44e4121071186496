//! The profile and relationship routes (`profile.*`, `user.search`, `friend.*`), served by the
//! `social` function; the dispatch is shared with the message routes' handler.

use crate::deps::Deps;
use cirrus_core::error::Result;
use cirrus_core::protocol::social::{FriendAddReply, RelationView};
use cirrus_core::protocol::{Action, ClientFrame, reply_ok};
use cirrus_core::service::Caller;
use serde_json::json;

/// Runs one social action and returns its reply frame.
pub(crate) async fn dispatch(
    deps: &Deps,
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
        other => crate::group::dispatch(deps, caller, other, frame).await,
    }
}

/// `[{"userId": …, "<flag>": true|false}]` from per-user outcomes.
fn per_user(outcomes: Vec<(cirrus_core::ids::UserId, bool)>, flag: &str) -> Vec<serde_json::Value> {
    outcomes
        .into_iter()
        .map(|(user, value)| json!({"userId": user.as_str(), flag: value}))
        .collect()
}
