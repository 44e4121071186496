//! A group's audience: who receives its messages, tips, recalls and notices. Its members (the
//! member list, posted page by page) or, in live rooms, its seated connections (posted shard by
//! shard), chosen once per type by [`GroupType::audience`](crate::group::GroupType::audience).
//! Sends, tips, recalls and dismissals all post through [`post`], so no caller branches on the
//! type.

use crate::error::Result;
use crate::group::{Audience, Group};
use crate::ids::{ConnectionId, UserId};
use crate::service::fanout::{self, GroupFanout};
use crate::service::{Delivery, Ports, rooms};

/// Posts `frame` to the group's audience but `sender` and `origin`; returns the connections
/// reached here (0 where the posting went to the queue).
///
/// Members: where a queue consumer runs and the group is larger than one fan-out page, the first
/// page is queued and each page queues the next; otherwise every page is posted here, with the
/// same bounded concurrency. Seats: one job per shard ([`rooms::fan_out`]).
pub(crate) async fn post(
    ports: &Ports,
    delivery: &Delivery,
    group: &Group,
    frame: String,
    sender: &UserId,
    origin: Option<&ConnectionId>,
    now: i64,
) -> Result<usize> {
    match group.kind.audience() {
        Audience::Seats => {
            rooms::fan_out(ports, &group.id, &frame, origin).await?;
            Ok(0)
        }
        Audience::Members => {
            let job = GroupFanout {
                group: group.id.clone(),
                after: None,
                page: ports.limits.group_fanout_page,
                sender: sender.clone(),
                frame,
                skip: origin.cloned(),
            };
            match &ports.queue {
                Some(queue) if group.member_count > job.page => {
                    fanout::start(queue.as_ref(), job).await?;
                    Ok(0)
                }
                _ => fanout::deliver_page(ports.groups.as_ref(), delivery, None, now, &job).await,
            }
        }
    }
}

/// How many are in the audience now: the member count, or the seated connections.
pub(crate) async fn size(ports: &Ports, group: &Group) -> Result<u64> {
    Ok(match group.kind.audience() {
        Audience::Members => u64::from(group.member_count),
        Audience::Seats => ports.rooms.audience(&group.id).await?,
    })
}
