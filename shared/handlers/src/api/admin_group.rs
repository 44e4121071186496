//! The server REST API's group commands, in Tencent IM's shape (`group_open_http_svc/*`): the
//! app server creating, reading, editing and dismissing groups, all as the app administrator,
//! who has every right in every group. The membership commands (and who belongs where) are in
//! [`super::admin_group_members`]; where Cirrus differs from Tencent is in docs/rest-api.md.
//!
//! Tencent's group types map onto Cirrus's: `Private` and `Work` are private groups, `Public`
//! public ones, `ChatRoom` and `Meeting` chat rooms, `AVChatRoom` live rooms.

use super::Shared;
use super::admin::{Admin, Failure, Refusal, Reply, failure, failure_with, ok, parse, user_id};
use axum::body::Bytes;
use axum::extract::State;
use cirrus_core::Error;
use cirrus_core::group::{Group, GroupType, JoinPolicy, Member, Role, Rule};
use cirrus_core::ids::{GroupId, UserId};
use cirrus_core::protocol::groups::{
    CreateRequest, GroupPageRequest, GroupRequest, InfoRequest, MuteAllRequest, SetRoleRequest, UpdateRequest,
};
use cirrus_core::service::Caller;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Groups one `get_group_info` may name (Tencent: 50).
const MAX_INFO: usize = 50;
/// Members or groups read per page while walking a whole list.
pub(super) const WALK_PAGE: u32 = 100;

/// The app administrator as the caller of a group operation.
pub(super) fn as_admin(api: &Shared) -> Caller {
    as_user(api.deps.limits.accounts.admin.clone())
}

/// A user as the caller, for what the REST API does on their behalf.
pub(super) fn as_user(user: UserId) -> Caller {
    Caller {
        user,
        connection: None,
        guest: false,
    }
}

/// A group id from the body: a malformed one is Tencent's 10015.
pub(super) fn group_id(raw: &str) -> Result<GroupId, Refusal> {
    GroupId::parse(raw).map_err(|err| failure_with(Failure::GroupIdInvalid, &err.to_string()))
}

/// Maps a group service error to Tencent's group error codes.
pub(super) fn group_error(err: &Error) -> Refusal {
    match err {
        Error::NotFound("group") => failure(Failure::GroupNotFound),
        Error::NotFound(what) => failure_with(Failure::GroupInvalidParameter, &format!("{what} not found")),
        Error::Forbidden(why) => failure_with(Failure::GroupNoPermission, why),
        Error::CallbackRefused(_) | Error::CallbackFailed => {
            failure_with(Failure::GroupCallbackRefused, &err.client_message())
        }
        err if err.is_internal() => {
            tracing::error!(error = ?err, "admin group request failed");
            failure(Failure::Internal)
        }
        err => failure_with(Failure::GroupInvalidParameter, &err.client_message()),
    }
}

/// A group command's invalid parameter (10004) with its reason.
pub(super) fn invalid(reason: &str) -> Refusal {
    failure_with(Failure::GroupInvalidParameter, reason)
}

/// Tencent's name of a role.
pub(super) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Admin => "Admin",
        Role::Member => "Member",
    }
}

pub(super) fn type_of(raw: &str) -> Result<GroupType, Refusal> {
    match raw {
        "Private" | "Work" => Ok(GroupType::Private),
        "Public" => Ok(GroupType::Public),
        "ChatRoom" | "Meeting" => Ok(GroupType::Chatroom),
        "AVChatRoom" => Ok(GroupType::Live),
        other => Err(invalid(&format!(
            "Type {other} is not supported (Private, Work, Public, ChatRoom, Meeting, AVChatRoom)"
        ))),
    }
}

/// The join policy asked for, where the type takes applications: Tencent ignores
/// `ApplyJoinOption` on types people cannot apply to, and so does Cirrus.
fn join_policy_of(raw: Option<&str>, kind: GroupType) -> Result<Option<JoinPolicy>, Refusal> {
    let policy = match raw {
        None => return Ok(None),
        Some("FreeAccess") => JoinPolicy::Free,
        Some("NeedPermission") => JoinPolicy::NeedApproval,
        Some("DisableApply") => JoinPolicy::Forbidden,
        Some(other) => {
            return Err(invalid(&format!(
                "ApplyJoinOption {other} is not one of FreeAccess, NeedPermission, DisableApply"
            )));
        }
    };
    Ok(kind.allows(Rule::JoinByApplication).then_some(policy))
}

fn join_policy_name(policy: JoinPolicy) -> &'static str {
    match policy {
        JoinPolicy::Free => "FreeAccess",
        JoinPolicy::NeedApproval => "NeedPermission",
        JoinPolicy::Forbidden => "DisableApply",
    }
}

/// One of Tencent's `AppDefinedData` / `AppMemberDefinedData` items.
#[derive(Deserialize)]
pub(super) struct DefinedData {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value")]
    value: String,
}

/// Custom fields from Tencent's key-value list (an empty value removes the key).
pub(super) fn defined_map(items: Vec<DefinedData>) -> BTreeMap<String, String> {
    items.into_iter().map(|item| (item.key, item.value)).collect()
}

/// Custom fields as Tencent's key-value list.
pub(super) fn defined_list(custom: &BTreeMap<String, String>) -> Vec<Value> {
    custom
        .iter()
        .map(|(key, value)| json!({"Key": key, "Value": value}))
        .collect()
}

/// A member as Tencent's `MemberList` item: times in seconds, 0 for no mute.
pub(super) fn member_item(member: &Member, now_ms: i64) -> Value {
    let muted_until = if member.muted_until > now_ms {
        member.muted_until.div_euclid(1000)
    } else {
        0
    };
    json!({
        "Member_Account": member.user.as_str(),
        "Role": role_name(member.role),
        "JoinTime": member.joined_at.div_euclid(1000),
        "NameCard": member.name_card.as_deref().unwrap_or_default(),
        "ShutUpUntil": muted_until,
        "AppMemberDefinedData": defined_list(&member.custom),
    })
}

/// The group as the administrator sees it (its audience counted), or why not.
pub(super) async fn group_info(api: &Shared, id: &GroupId) -> Result<Group, Refusal> {
    let request = InfoRequest {
        group_ids: vec![id.to_string()],
    };
    let found = api
        .deps
        .services
        .groups
        .info(&as_admin(api), request)
        .await
        .map_err(|e| group_error(&e))?;
    found
        .into_iter()
        .next()
        .map(|(group, _, _)| group)
        .ok_or_else(|| failure(Failure::GroupNotFound))
}

/// Every member of the group, read page by page as the administrator.
pub(super) async fn all_members(api: &Shared, id: &GroupId) -> Result<Vec<Member>, Refusal> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let request = GroupPageRequest {
            group_id: id.to_string(),
            cursor,
            limit: Some(WALK_PAGE),
        };
        let (page, next) = api
            .deps
            .services
            .groups
            .members(&as_admin(api), request)
            .await
            .map_err(|e| group_error(&e))?;
        all.extend(page);
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

#[derive(Deserialize)]
struct NewMember {
    #[serde(rename = "Member_Account")]
    account: String,
    #[serde(rename = "Role", default)]
    role: Option<String>,
}

#[derive(Deserialize)]
struct CreateGroup {
    #[serde(rename = "Owner_Account", default)]
    owner: Option<String>,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "GroupId", default)]
    group_id: Option<String>,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Introduction", default)]
    introduction: Option<String>,
    #[serde(rename = "Notification", default)]
    notification: Option<String>,
    #[serde(rename = "FaceUrl", default)]
    face_url: Option<String>,
    #[serde(rename = "MaxMemberCount", default)]
    max_members: Option<u32>,
    #[serde(rename = "ApplyJoinOption", default)]
    apply_join_option: Option<String>,
    #[serde(rename = "AppDefinedData", default)]
    defined: Vec<DefinedData>,
    #[serde(rename = "MemberList", default)]
    members: Vec<NewMember>,
}

/// # POST /v4/group_open_http_svc/create_group
/// A group owned by `Owner_Account` (created as them), or by the app when absent; the
/// `MemberList` joins at once, those with `Role: "Admin"` as admins. Replies the `GroupId`.
pub(super) async fn create_group(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: CreateGroup = parse(&body)?;
    let kind = type_of(&body.kind)?;
    let owner = body.owner.as_deref().map(user_id).transpose()?;
    let mut admins = Vec::new();
    let mut members = Vec::with_capacity(body.members.len());
    for member in &body.members {
        let user = user_id(&member.account)?;
        match member.role.as_deref() {
            None | Some("Member") => {}
            // The owner is the owner whatever the list says.
            Some("Admin") if owner.as_ref() == Some(&user) => {}
            Some("Admin") if kind.allows(Rule::HasAdmins) => admins.push(user.clone()),
            Some("Admin") => return Err(invalid("this type of group has no admins")),
            Some(other) => return Err(invalid(&format!("Role {other} is not Admin or Member"))),
        }
        members.push(user.to_string());
    }
    if let Some(raw) = &body.group_id {
        group_id(raw)?;
    }
    let request = CreateRequest {
        r#type: kind,
        group_id: body.group_id.clone(),
        name: body.name,
        introduction: body.introduction,
        notice: body.notification,
        avatar: body.face_url,
        join_policy: join_policy_of(body.apply_join_option.as_deref(), kind)?,
        max_members: body.max_members,
        members,
        custom: defined_map(body.defined),
    };
    let creator = owner.map_or_else(|| as_admin(&api), as_user);
    let groups = &api.deps.services.groups;
    let group = match groups.create(&creator, request).await {
        Ok(group) => group,
        Err(err) => {
            // A custom id already used (a dismissed group's included) is Tencent's 10021.
            if let Some(raw) = &body.group_id
                && matches!(err, Error::InvalidField(_))
                && groups.id_taken(raw).await.map_err(|e| group_error(&e))?
            {
                return Err(failure(Failure::GroupIdTaken));
            }
            return Err(group_error(&err));
        }
    };
    for admin in admins {
        let request = SetRoleRequest {
            group_id: group.id.to_string(),
            user_id: admin.to_string(),
            role: Role::Admin,
        };
        groups
            .set_role(&as_admin(&api), request)
            .await
            .map_err(|e| group_error(&e))?;
    }
    Ok(ok(json!({ "GroupId": group.id.as_str() })))
}

#[derive(Deserialize)]
struct GetGroupInfo {
    #[serde(rename = "GroupIdList")]
    group_ids: Vec<String>,
}

fn group_item(group: &Group) -> Value {
    json!({
        "GroupId": group.id.as_str(),
        "ErrorCode": 0,
        "ErrorInfo": "",
        "Type": group.kind.tencent_name(),
        "Name": group.name,
        "Introduction": group.introduction.as_deref().unwrap_or_default(),
        "Notification": group.notice.as_deref().unwrap_or_default(),
        "FaceUrl": group.avatar.as_deref().unwrap_or_default(),
        "Owner_Account": group.owner.as_ref().map_or("", UserId::as_str),
        "CreateTime": group.created_at.div_euclid(1000),
        "MemberNum": group.member_count,
        "MaxMemberNum": if group.kind.allows(Rule::MemberCap) { group.max_members } else { 0 },
        "ApplyJoinOption": join_policy_name(group.join_policy),
        "ShutUpAllMember": if group.mute_all { "On" } else { "Off" },
        "AppDefinedData": defined_list(&group.custom),
    })
}

/// # POST /v4/group_open_http_svc/get_group_info
/// Up to 50 groups' profiles in `GroupInfo`, in the order asked; an unknown or dismissed group
/// has its own `ErrorCode` 10010 (10015 for a malformed id).
pub(super) async fn get_group_info(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: GetGroupInfo = parse(&body)?;
    if body.group_ids.is_empty() || body.group_ids.len() > MAX_INFO {
        return Err(invalid(&format!(
            "GroupIdList must hold 1 to {MAX_INFO} group ids"
        )));
    }
    let valid: Vec<String> = body
        .group_ids
        .iter()
        .filter(|raw| GroupId::parse(raw.as_str()).is_ok())
        .cloned()
        .collect();
    let found = if valid.is_empty() {
        Vec::new()
    } else {
        api.deps
            .services
            .groups
            .info(&as_admin(&api), InfoRequest { group_ids: valid })
            .await
            .map_err(|e| group_error(&e))?
    };
    let items: Vec<Value> = body
        .group_ids
        .iter()
        .map(
            |raw| match found.iter().find(|(group, _, _)| group.id.as_str() == raw) {
                Some((group, _, _)) => group_item(group),
                None => {
                    let failed = if GroupId::parse(raw.as_str()).is_ok() {
                        Failure::GroupNotFound
                    } else {
                        Failure::GroupIdInvalid
                    };
                    json!({"GroupId": raw, "ErrorCode": failed.code(), "ErrorInfo": failed.info()})
                }
            },
        )
        .collect();
    Ok(ok(json!({ "GroupInfo": items })))
}

#[derive(Deserialize)]
struct GetMembers {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Limit", default)]
    limit: Option<u32>,
    #[serde(rename = "Offset", default)]
    offset: Option<usize>,
    #[serde(rename = "Next", default)]
    next: Option<String>,
    #[serde(rename = "MemberRoleFilter", default)]
    roles: Vec<String>,
}

/// # POST /v4/group_open_http_svc/get_group_member_info
/// `MemberNum` and one page of `MemberList`, in user id order: `Limit`/`Offset` (every member
/// when `Limit` is absent), or with `Next` a cursor (`""` for the first page) and the next one
/// in the reply (`""` after the last). `MemberRoleFilter` keeps the roles named.
pub(super) async fn get_group_member_info(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: GetMembers = parse(&body)?;
    let id = group_id(&body.group_id)?;
    let mut roles = Vec::with_capacity(body.roles.len());
    for raw in &body.roles {
        roles.push(match raw.as_str() {
            "Owner" => Role::Owner,
            "Admin" => Role::Admin,
            "Member" => Role::Member,
            other => {
                return Err(invalid(&format!(
                    "MemberRoleFilter {other} is not Owner, Admin or Member"
                )));
            }
        });
    }
    let keep = |member: &Member| roles.is_empty() || roles.contains(&member.role);
    let group = group_info(&api, &id).await?;
    let now = api.deps.clock.now_ms();
    if let Some(next) = body.next {
        let request = GroupPageRequest {
            group_id: id.to_string(),
            cursor: (!next.is_empty()).then_some(next),
            limit: body.limit,
        };
        let (page, cursor) = api
            .deps
            .services
            .groups
            .members(&as_admin(&api), request)
            .await
            .map_err(|e| group_error(&e))?;
        let items: Vec<Value> = page
            .iter()
            .filter(|m| keep(m))
            .map(|m| member_item(m, now))
            .collect();
        return Ok(ok(json!({
            "MemberNum": group.member_count,
            "MemberList": items,
            "Next": cursor.unwrap_or_default(),
        })));
    }
    if body.limit == Some(0) {
        return Err(invalid("Limit must be at least 1"));
    }
    let members = all_members(&api, &id).await?;
    let items: Vec<Value> = members
        .iter()
        .filter(|m| keep(m))
        .skip(body.offset.unwrap_or(0))
        .take(body.limit.map_or(usize::MAX, |limit| limit as usize))
        .map(|m| member_item(m, now))
        .collect();
    Ok(ok(
        json!({ "MemberNum": group.member_count, "MemberList": items }),
    ))
}

#[derive(Deserialize)]
struct ModifyGroup {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Introduction", default)]
    introduction: Option<String>,
    #[serde(rename = "Notification", default)]
    notification: Option<String>,
    #[serde(rename = "FaceUrl", default)]
    face_url: Option<String>,
    #[serde(rename = "MaxMemberNum", default)]
    max_members: Option<u32>,
    #[serde(rename = "ApplyJoinOption", default)]
    apply_join_option: Option<String>,
    #[serde(rename = "ShutUpAllMember", default)]
    mute_all: Option<String>,
    #[serde(rename = "AppDefinedData", default)]
    defined: Vec<DefinedData>,
}

/// # POST /v4/group_open_http_svc/modify_group_base_info
/// Changes the fields given (an empty text clears it, an empty `AppDefinedData` value removes
/// the key); `ShutUpAllMember` `On`/`Off` mutes or unmutes every ordinary member.
pub(super) async fn modify_group_base_info(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: ModifyGroup = parse(&body)?;
    let id = group_id(&body.group_id)?;
    let group = group_info(&api, &id).await?;
    if let Some(max) = body.max_members
        && max != group.max_members
    {
        return Err(invalid("MaxMemberNum cannot be changed after creation"));
    }
    let muted = match body.mute_all.as_deref() {
        None => None,
        Some("On") => Some(true),
        Some("Off") => Some(false),
        Some(other) => return Err(invalid(&format!("ShutUpAllMember {other} is not On or Off"))),
    };
    let request = UpdateRequest {
        group_id: id.to_string(),
        name: body.name,
        introduction: body.introduction.map(Some),
        notice: body.notification.map(Some),
        avatar: body.face_url.map(Some),
        join_policy: join_policy_of(body.apply_join_option.as_deref(), group.kind)?,
        custom: defined_map(body.defined),
    };
    let groups = &api.deps.services.groups;
    groups
        .update(&as_admin(&api), request)
        .await
        .map_err(|e| group_error(&e))?;
    if let Some(muted) = muted {
        let request = MuteAllRequest {
            group_id: id.to_string(),
            muted,
        };
        groups
            .mute_all(&as_admin(&api), request)
            .await
            .map_err(|e| group_error(&e))?;
    }
    Ok(ok(json!({})))
}

/// A body naming one group: `destroy_group`, `get_group_muted_account`.
#[derive(Deserialize)]
pub(super) struct GroupOnly {
    #[serde(rename = "GroupId")]
    pub(super) group_id: String,
}

/// # POST /v4/group_open_http_svc/destroy_group
/// Dismisses the group: every member is told and removed; the id stays taken.
pub(super) async fn destroy_group(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: GroupOnly = parse(&body)?;
    let id = group_id(&body.group_id)?;
    api.deps
        .services
        .groups
        .dismiss(
            &as_admin(&api),
            GroupRequest {
                group_id: id.to_string(),
            },
        )
        .await
        .map_err(|e| group_error(&e))?;
    Ok(ok(json!({})))
}
