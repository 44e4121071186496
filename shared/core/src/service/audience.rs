//! A group's audience: who receives its messages, tips, recalls and notices. Its members (the
//! member list, posted page by page) or, in live rooms, its seated connections (posted shard by
//! shard), chosen once per type by [`GroupType::audience`](crate::group::GroupType::audience).
//! Sends, tips, recalls and dismissals all post through [`AudiencePorts::post`], so no caller
//! branches on the type.

use crate::error::Result;
use crate::group::{Audience, Group};
use crate::ids::{ConnectionId, UserId};
use crate::ports::{GroupStore, Queue};
use crate::service::fanout::{self, GroupFanout};
use crate::service::rooms::Seats;
use crate::service::{Delivery, Ports, StoreSource};
use std::sync::Arc;

/// What reaching a group's audience uses.
#[derive(Clone)]
pub struct AudiencePorts {
    /// Members, paged.
    pub groups: Arc<dyn GroupStore>,
    /// Live rooms' seats.
    pub seats: Seats,
    /// Posting to members' connections.
    pub delivery: Delivery,
    /// Fan-out pages for the push function, where it runs.
    pub queue: Option<Arc<dyn Queue>>,
    /// Members per fan-out page.
    pub fanout_page: u32,
}

impl AudiencePorts {
    /// The audience's ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            groups: ports.stores.groups(),
            seats: Seats::of(ports),
            delivery: ports.delivery(),
            queue: ports.queue.clone(),
            fanout_page: ports.limits.group_fanout_page,
        }
    }

    /// Posts `frame` to the group's audience but `sender` and `origin`; returns the connections
    /// reached here (0 where the posting went to the queue).
    ///
    /// Members: where a queue consumer runs and the group is larger than one fan-out page, the
    /// first page is queued and each page queues the next; otherwise every page is posted here,
    /// with the same bounded concurrency. Seats: one job per shard ([`Seats::fan_out`]).
    pub(crate) async fn post(
        &self,
        group: &Group,
        frame: String,
        sender: &UserId,
        origin: Option<&ConnectionId>,
        now: i64,
    ) -> Result<usize> {
        match group.kind.audience() {
            Audience::Seats => {
                self.seats.fan_out(&group.id, &frame, origin).await?;
                Ok(0)
            }
            Audience::Members => {
                let job = GroupFanout {
                    group: group.id.clone(),
                    after: None,
                    page: self.fanout_page,
                    sender: sender.clone(),
                    frame,
                    skip: origin.cloned(),
                };
                match &self.queue {
                    Some(queue) if group.member_count > job.page => {
                        fanout::start(queue.as_ref(), job).await?;
                        Ok(0)
                    }
                    _ => fanout::deliver_page(self.groups.as_ref(), &self.delivery, None, now, &job).await,
                }
            }
        }
    }

    /// How many are in the audience now: the member count, or the seated connections.
    pub(crate) async fn size(&self, group: &Group) -> Result<u64> {
        Ok(match group.kind.audience() {
            Audience::Members => u64::from(group.member_count),
            Audience::Seats => self.seats.rooms.audience(&group.id).await?,
        })
    }
}
