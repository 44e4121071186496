//! The group function's routes (`group.*`).

use crate::rate_limit::RateLimiter;
use crate::routes::{Routes, unknown};
use cirrus_core::clock::Clock;
use cirrus_core::error::Result;
use cirrus_core::protocol::groups::{GroupView, JoinRequestView, MemberView};
use cirrus_core::protocol::{Action, ClientFrame, reply_ok};
use cirrus_core::service::{Caller, GroupService, MessageService, Ports, StoreSource};
use serde_json::json;
use std::sync::Arc;

/// The services the group function's actions call.
#[derive(Clone)]
pub struct GroupRoutes {
    /// Groups and their membership.
    pub groups: Arc<GroupService>,
    /// The time member views are rendered at (mute countdowns).
    pub clock: Arc<dyn Clock>,
    /// The rate limits' buckets.
    pub rate_limiter: Arc<RateLimiter>,
}

impl GroupRoutes {
    /// Builds the group service over `ports`, with the message service that posts its tips.
    pub fn build<S: StoreSource>(ports: &Ports<S>) -> Self {
        let tips = Arc::new(MessageService::from_ports(ports));
        Self {
            groups: Arc::new(GroupService::from_ports(ports, tips)),
            clock: ports.clock.clone(),
            rate_limiter: Arc::new(RateLimiter::new(&ports.limits.rates)),
        }
    }
}

impl Routes for GroupRoutes {
    /// Guests may only enter, leave and read live rooms, whatever the one-to-one setting.
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

/// Runs one group action and returns its reply frame.
async fn dispatch(
    deps: &GroupRoutes,
    caller: &Caller,
    action: Action,
    frame: &ClientFrame<'_>,
) -> Result<String> {
    let req_id = frame.req_id.as_deref();
    let groups = &deps.groups;
    let done = || Ok(reply_ok(req_id, &json!({})));
    match action {
        Action::GroupCreate => {
            let group = groups.create(caller, frame.data()?).await?;
            let role = group
                .owner
                .as_ref()
                .filter(|o| *o == &caller.user)
                .map(|_| cirrus_core::group::Role::Owner);
            Ok(reply_ok(req_id, &GroupView::of(&group, role, true)))
        }
        Action::GroupDismiss => {
            groups.dismiss(caller, frame.data()?).await?;
            done()
        }
        Action::GroupInfo => {
            let found = groups.info(caller, frame.data()?).await?;
            let views: Vec<GroupView<'_>> = found
                .iter()
                .map(|(group, role, full)| GroupView::of(group, *role, *full))
                .collect();
            Ok(reply_ok(req_id, &json!({ "groups": views })))
        }
        Action::GroupUpdate => {
            let group = groups.update(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &GroupView::of(&group, None, true)))
        }
        Action::GroupTransfer => {
            groups.transfer(caller, frame.data()?).await?;
            done()
        }
        Action::GroupMembers => {
            let (members, cursor) = groups.members(caller, frame.data()?).await?;
            let now = deps.clock.now_ms();
            let views: Vec<MemberView<'_>> = members.iter().map(|m| MemberView::of(m, now)).collect();
            Ok(reply_ok(req_id, &json!({ "members": views, "cursor": cursor })))
        }
        Action::GroupJoined => {
            let (joined, cursor) = groups.joined(caller, frame.data()?).await?;
            let views: Vec<GroupView<'_>> = joined
                .iter()
                .map(|(group, member)| GroupView::of(group, Some(member.role), true))
                .collect();
            Ok(reply_ok(req_id, &json!({ "groups": views, "cursor": cursor })))
        }
        Action::GroupSearch => {
            let found = groups.search(frame.data()?).await?;
            let views: Vec<GroupView<'_>> = found.iter().map(|g| GroupView::of(g, None, false)).collect();
            Ok(reply_ok(req_id, &json!({ "groups": views })))
        }
        Action::GroupInvite => {
            let outcomes = groups.invite(caller, frame.data()?).await?;
            let results: Vec<_> = outcomes
                .iter()
                .map(|(user, outcome)| json!({"userId": user, "result": outcome}))
                .collect();
            Ok(reply_ok(req_id, &json!({ "results": results })))
        }
        Action::GroupApply => {
            let outcome = groups.apply(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &json!({ "result": outcome })))
        }
        Action::GroupRequests => {
            let (requests, cursor) = groups.requests(caller, frame.data()?).await?;
            let views: Vec<JoinRequestView<'_>> = requests.iter().map(JoinRequestView::from).collect();
            Ok(reply_ok(req_id, &json!({ "requests": views, "cursor": cursor })))
        }
        Action::GroupRespond => {
            groups.respond(caller, frame.data()?).await?;
            done()
        }
        Action::GroupQuit => {
            groups.quit(caller, frame.data()?).await?;
            done()
        }
        Action::GroupKick => {
            let removed = groups.kick(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &json!({ "removed": removed })))
        }
        Action::GroupSetRole => {
            groups.set_role(caller, frame.data()?).await?;
            done()
        }
        Action::GroupMute => {
            let until = groups.mute(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &json!({ "mutedUntil": until })))
        }
        Action::GroupMuteAll => {
            groups.mute_all(caller, frame.data()?).await?;
            done()
        }
        Action::GroupMemberUpdate => {
            let member = groups.member_update(caller, frame.data()?).await?;
            let now = deps.clock.now_ms();
            Ok(reply_ok(req_id, &MemberView::of(&member, now)))
        }
        other => Err(unknown(other.name())),
    }
}
