//! Fan-out of large groups through the queue: a message to a group with more members than
//! `Limits::group_fanout_page` is posted page by page, each page of members one queued job that
//! first queues the next page (so pages are worked on in parallel) and then posts to its own.

use crate::error::Result;
use crate::ids::{ConnectionId, GroupId, UserId};
use crate::ports::{GroupStore, Queue, QueueName};
use crate::service::Delivery;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

/// Members' connection lookups and posts in flight at once per page.
const IN_FLIGHT: usize = 64;

/// One page of a group fan-out, as queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupFanout {
    /// The group.
    pub group: GroupId,
    /// The page starts after this member (`None`: the first page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<UserId>,
    /// Members per page.
    pub page: u32,
    /// The sender, whose own connections the send path already covered.
    pub sender: UserId,
    /// The frame to post, as text.
    pub frame: String,
    /// A connection not to post to (the one the message came on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<ConnectionId>,
}

/// Queues the first page of a group fan-out.
pub(crate) async fn start(queue: &dyn Queue, job: GroupFanout) -> Result<()> {
    queue
        .enqueue(
            QueueName::Fanout,
            vec![crate::service::push::PushJob::Group(job).to_job()],
        )
        .await
}

/// Works one page: queues the next page if there is one, then posts the frame to every
/// connection of this page's members. Returns how many connections took it.
pub async fn deliver_page(
    groups: &dyn GroupStore,
    delivery: &Delivery,
    queue: Option<&dyn Queue>,
    now: i64,
    job: &GroupFanout,
) -> Result<usize> {
    let page = job.page.max(1);
    let mut members = groups
        .list_members(&job.group, job.after.as_ref(), page + 1)
        .await?;
    if members.len() > page as usize {
        members.truncate(page as usize);
        let next = GroupFanout {
            after: members.last().map(|m| m.user.clone()),
            ..job.clone()
        };
        match queue {
            Some(queue) => start(queue, next).await?,
            // Without a queue the pages are worked here, one after the other.
            None => {
                Box::pin(deliver_page(groups, delivery, None, now, &next)).await?;
            }
        }
    }
    let frame = bytes::Bytes::from(job.frame.clone());
    let delivered = futures_util::stream::iter(members.into_iter().filter(|m| m.user != job.sender))
        .map(|member| {
            let frame = frame.clone();
            async move {
                delivery
                    .to_user(&member.user, frame, job.skip.as_ref(), now)
                    .await
                    .unwrap_or_else(|err| {
                        tracing::warn!(user = %member.user, error = %err, "group fan-out lookup failed");
                        0
                    })
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<usize>>()
        .await;
    Ok(delivered.into_iter().sum())
}
