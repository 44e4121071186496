//! The group store port: groups, their members and pending join requests.

use crate::error::Result;
use crate::group::{Group, JoinRequest, Member};
use crate::ids::{GroupId, UserId};
use async_trait::async_trait;

/// Groups, memberships (indexed both by group and by user) and pending join requests.
///
/// Nothing here is per message: a group send touches the message stream only.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Creates the group with its first members (the owner among them) and a member count to
    /// match, unless the id is taken (even by a dismissed group); returns whether it was created.
    async fn create_group(&self, group: &Group, members: &[Member]) -> Result<bool>;

    /// The group, dismissed or not, if the id was ever created.
    async fn get_group(&self, id: &GroupId) -> Result<Option<Group>>;

    /// Replaces an existing group's profile and settings (every field but the member count,
    /// which only adding and removing members changes); `false` if there is no such group.
    async fn put_group(&self, group: &Group) -> Result<bool>;

    /// Adds the members not in the group yet and raises the member count by as many, all at
    /// once, unless the count would then pass `cap` (`None`: no cap), in which case nothing is
    /// added and the result is `None`. Otherwise returns, for each input in order, whether it
    /// was added (an existing member is left as is).
    async fn add_members(
        &self,
        group: &GroupId,
        members: &[Member],
        cap: Option<u32>,
    ) -> Result<Option<Vec<bool>>>;

    /// Removes these members and lowers the count; returns, for each in order, whether they
    /// were members.
    async fn remove_members(&self, group: &GroupId, users: &[UserId]) -> Result<Vec<bool>>;

    /// The members among `users`, in the order asked (non-members left out).
    async fn get_members(&self, group: &GroupId, users: &[UserId]) -> Result<Vec<Member>>;

    /// Replaces a member's record (role, name card, mute, custom fields); `false` if they are
    /// not a member (nothing is written).
    async fn put_member(&self, member: &Member) -> Result<bool>;

    /// One page of a group's members in user id order, starting after `after`.
    async fn list_members(&self, group: &GroupId, after: Option<&UserId>, limit: u32) -> Result<Vec<Member>>;

    /// One page of the memberships of `user` in group id order, starting after `after`.
    async fn groups_of(&self, user: &UserId, after: Option<&GroupId>, limit: u32) -> Result<Vec<Member>>;

    /// How many groups `user` belongs to.
    async fn count_groups_of(&self, user: &UserId) -> Result<u32>;

    /// Up to `limit` groups, not dismissed, whose lower-cased name starts with `prefix` (already
    /// lower-cased, not empty) and whose type is searchable, ordered by lower-cased name, then id.
    /// Served from an index, never a scan.
    async fn search_groups(&self, prefix: &str, limit: u32) -> Result<Vec<Group>>;

    /// Records a pending request, replacing one for the same group and user.
    async fn put_join_request(&self, request: &JoinRequest) -> Result<()>;

    /// The pending request of `user` for `group`, if any.
    async fn get_join_request(&self, group: &GroupId, user: &UserId) -> Result<Option<JoinRequest>>;

    /// Deletes and returns the pending request of `user` for `group`, if any.
    async fn take_join_request(&self, group: &GroupId, user: &UserId) -> Result<Option<JoinRequest>>;

    /// One page of a group's pending requests in user id order, starting after `after`.
    async fn list_join_requests(
        &self,
        group: &GroupId,
        after: Option<&UserId>,
        limit: u32,
    ) -> Result<Vec<JoinRequest>>;
}
