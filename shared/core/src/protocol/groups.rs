//! Data of the `group.*` actions and the group events.

use crate::group::{Group, GroupType, JoinPolicy, JoinRequest, Member, RequestKind, Role};
use crate::ids::{GroupId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `group.create` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRequest {
    /// `private`, `public`, `chatroom` or `live`.
    pub r#type: GroupType,
    /// A custom id (validated); a generated one when absent.
    #[serde(default)]
    pub group_id: Option<String>,
    /// Display name (1 to 100 bytes).
    pub name: String,
    /// Introduction.
    #[serde(default)]
    pub introduction: Option<String>,
    /// Notice.
    #[serde(default)]
    pub notice: Option<String>,
    /// Avatar URL or media id.
    #[serde(default)]
    pub avatar: Option<String>,
    /// How people may join (the type's default when absent).
    #[serde(default)]
    pub join_policy: Option<JoinPolicy>,
    /// A lower member cap than the app's.
    #[serde(default)]
    pub max_members: Option<u32>,
    /// Initial members besides the creator.
    #[serde(default)]
    pub members: Vec<String>,
    /// App-defined group fields.
    #[serde(default)]
    pub custom: BTreeMap<String, String>,
}

/// A request naming one group.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupRequest {
    /// The group.
    pub group_id: String,
}

/// `group.info` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InfoRequest {
    /// 1 to 50 groups.
    pub group_ids: Vec<String>,
}

/// `group.update` request: only the fields given change; `null` clears an optional one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateRequest {
    /// The group.
    pub group_id: String,
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New introduction (`null` clears).
    #[serde(default, with = "double_option")]
    pub introduction: Option<Option<String>>,
    /// New notice (`null` clears).
    #[serde(default, with = "double_option")]
    pub notice: Option<Option<String>>,
    /// New avatar (`null` clears).
    #[serde(default, with = "double_option")]
    pub avatar: Option<Option<String>>,
    /// New join policy (owner and admins only).
    #[serde(default)]
    pub join_policy: Option<JoinPolicy>,
    /// Custom fields to set; an empty value removes one.
    #[serde(default)]
    pub custom: BTreeMap<String, String>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// A request naming a group and users (invite, kick).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsersRequest {
    /// The group.
    pub group_id: String,
    /// 1 to 100 users.
    pub user_ids: Vec<String>,
    /// Shown to them.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `group.apply` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplyRequest {
    /// The group.
    pub group_id: String,
    /// Shown to the owner and admins.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `group.respond` request: decides an application (owner, admins) or an invitation (the
/// invitee).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RespondRequest {
    /// The group.
    pub group_id: String,
    /// The applicant or invitee.
    pub user_id: String,
    /// Accept or reject.
    pub accept: bool,
    /// Shown to the other side.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A request naming a group and one member.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberRequest {
    /// The group.
    pub group_id: String,
    /// The member.
    pub user_id: String,
}

/// `group.set_role` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRoleRequest {
    /// The group.
    pub group_id: String,
    /// The member.
    pub user_id: String,
    /// `admin` or `member`.
    pub role: Role,
}

/// `group.mute` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MuteRequest {
    /// The group.
    pub group_id: String,
    /// The member.
    pub user_id: String,
    /// How long, in seconds; 0 lifts a mute.
    pub seconds: u32,
}

/// `group.mute_all` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MuteAllRequest {
    /// The group.
    pub group_id: String,
    /// Whether only the owner and admins may speak.
    pub muted: bool,
}

/// `group.member_update` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberUpdateRequest {
    /// The group.
    pub group_id: String,
    /// The member (the caller by default).
    #[serde(default)]
    pub user_id: Option<String>,
    /// New name card (`null` clears).
    #[serde(default, with = "double_option")]
    pub name_card: Option<Option<String>>,
    /// Custom member fields to set; an empty value removes one.
    #[serde(default)]
    pub custom: BTreeMap<String, String>,
}

/// A paged request over one group (members, pending requests).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupPageRequest {
    /// The group.
    pub group_id: String,
    /// The last user id of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `group.joined` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinedRequest {
    /// The last group id of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `group.search` request: by exact id, or by name prefix (searchable types only).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchRequest {
    /// An exact group id.
    #[serde(default)]
    pub group_id: Option<String>,
    /// A name prefix.
    #[serde(default)]
    pub name: Option<String>,
    /// At most this many (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A group as shown to its members (and the app administrator).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupView<'a> {
    /// Id.
    pub group_id: &'a GroupId,
    /// Type.
    pub r#type: GroupType,
    /// Name.
    pub name: &'a str,
    /// Introduction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introduction: Option<&'a str>,
    /// Notice (members only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'a str>,
    /// Avatar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<&'a str>,
    /// Owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<&'a UserId>,
    /// Who created it (创建人): unlike the owner, it never changes.
    pub creator: &'a UserId,
    /// Created, ms.
    pub created_at: i64,
    /// Join policy.
    pub join_policy: JoinPolicy,
    /// Members now.
    pub member_count: u32,
    /// The cap, where it applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_members: Option<u32>,
    /// Whether only the owner and admins may speak (members only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mute_all: bool,
    /// Custom fields (members only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: &'a BTreeMap<String, String>,
    /// The caller's role, if a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl<'a> GroupView<'a> {
    /// The full view (members), or the public one (`notice`, `muteAll` and custom fields left
    /// out) for non-members.
    pub fn of(group: &'a Group, role: Option<Role>, full: bool) -> Self {
        let cap = group.kind.allows(crate::group::Rule::MemberCap);
        Self {
            group_id: &group.id,
            r#type: group.kind,
            name: &group.name,
            introduction: group.introduction.as_deref(),
            notice: group.notice.as_deref().filter(|_| full),
            avatar: group.avatar.as_deref(),
            owner: group.owner.as_ref(),
            creator: &group.creator,
            created_at: group.created_at,
            join_policy: group.join_policy,
            member_count: group.member_count,
            max_members: cap.then_some(group.max_members),
            mute_all: full && group.mute_all,
            custom: if full { &group.custom } else { &EMPTY },
            role,
        }
    }
}

static EMPTY: BTreeMap<String, String> = BTreeMap::new();

/// A member as listed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView<'a> {
    /// The member.
    pub user_id: &'a UserId,
    /// Their role.
    pub role: Role,
    /// Joined, ms.
    pub joined_at: i64,
    /// Name card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_card: Option<&'a str>,
    /// Muted until, ms (absent: not muted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<i64>,
    /// Custom member fields.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: &'a BTreeMap<String, String>,
}

impl<'a> MemberView<'a> {
    /// The member as listed at `now`.
    pub fn of(member: &'a Member, now: i64) -> Self {
        Self {
            user_id: &member.user,
            role: member.role,
            joined_at: member.joined_at,
            name_card: member.name_card.as_deref(),
            muted_until: (member.muted_until > now).then_some(member.muted_until),
            custom: &member.custom,
        }
    }
}

/// A pending request as listed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequestView<'a> {
    /// The group.
    pub group_id: &'a GroupId,
    /// Who would join.
    pub user_id: &'a UserId,
    /// `application` or `invitation`.
    pub kind: RequestKind,
    /// Who made it.
    pub by: &'a UserId,
    /// Their message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// When, ms.
    pub created_at: i64,
}

impl<'a> From<&'a JoinRequest> for JoinRequestView<'a> {
    fn from(request: &'a JoinRequest) -> Self {
        Self {
            group_id: &request.group,
            user_id: &request.user,
            kind: request.kind,
            by: &request.by,
            reason: request.reason.as_deref(),
            created_at: request.created_at,
        }
    }
}

/// The data of a `group.system` event (and the kept notification): something happened to the
/// user in a group.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupNotice<'a> {
    /// What: `invited`, `application`, `application_accepted`, `application_rejected`,
    /// `invitation_rejected`, `kicked`, `dismissed`, `role_changed`, `muted`.
    pub r#type: &'static str,
    /// The group.
    pub group_id: &'a GroupId,
    /// Who did it.
    pub by: &'a UserId,
    /// Whom it concerns, where that is not the receiver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a UserId>,
    /// The message that came with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}
