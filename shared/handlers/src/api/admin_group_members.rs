//! The server REST API's group membership commands, in Tencent IM's shape
//! (`group_open_http_svc/*`): adding and removing members, muting them, their role and member
//! profile, ownership, and the groups a user belongs to, all as the app administrator. Each call checks the whole request before it
//! changes anything.

use super::Shared;
use super::admin::{Admin, Failure, Reply, failure_with, ok, parse, user_id};
use super::admin_group::{
    DefinedData, GroupOnly, WALK_PAGE, all_members, as_admin, as_user, defined_map, group_error, group_id,
    group_info, invalid, role_name, type_of,
};
use axum::body::Bytes;
use axum::extract::State;
use cirrus_core::Error;
use cirrus_core::group::{GroupType, Role, Rule};
use cirrus_core::ids::UserId;
use cirrus_core::protocol::groups::{
    JoinedRequest, MemberRequest, MemberUpdateRequest, MuteRequest, SetRoleRequest, UsersRequest,
};
use cirrus_core::service::AdmitOutcome;
use serde::Deserialize;
use serde_json::{Value, json};

/// Users one mute may name (Tencent: 500).
const MAX_MUTE: usize = 500;
/// Users one `get_role_in_group` may name (Tencent: 500).
const MAX_ROLE_USERS: usize = 500;
/// Tencent's one message flag Cirrus has: every member receives and is notified.
const ACCEPT_AND_NOTIFY: &str = "AcceptAndNotify";

fn users_of(raw: &[String], field: &str, max: usize) -> Result<Vec<UserId>, super::admin::Refusal> {
    if raw.is_empty() || raw.len() > max {
        return Err(invalid(&format!("{field} must hold 1 to {max} users")));
    }
    raw.iter().map(|raw| user_id(raw)).collect()
}

#[derive(Deserialize)]
struct MemberItem {
    #[serde(rename = "Member_Account")]
    account: String,
}

#[derive(Deserialize)]
struct AddMembers {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "MemberList")]
    members: Vec<MemberItem>,
    #[serde(rename = "Silence", default)]
    silence: u8,
}

/// # POST /v4/group_open_http_svc/add_group_member
/// Adds up to 100 users at once, whatever the group type but a live room (10007). Each gets a
/// `Result`: 1 added, 2 already a member, 0 not added (no such account, or at their groups
/// limit). A group without room for them all takes none (10014). `Silence: 1` posts no tip.
pub(super) async fn add_group_member(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: AddMembers = parse(&body)?;
    let id = group_id(&body.group_id)?;
    let raw: Vec<String> = body.members.into_iter().map(|m| m.account).collect();
    let users = users_of(&raw, "MemberList", 100)?;
    let accounts = api
        .deps
        .services
        .accounts
        .check(&users)
        .await
        .map_err(|e| group_error(&e))?;
    let known: Vec<String> = users
        .iter()
        .zip(&accounts)
        .filter(|(_, account)| account.is_some())
        .map(|(user, _)| user.to_string())
        .collect();
    let outcomes = if known.is_empty() {
        // Nothing to add, but the group must still exist and take members.
        let group = group_info(&api, &id).await?;
        if group.kind == GroupType::Live {
            return Err(failure_with(
                Failure::GroupNoPermission,
                "people join live rooms themselves",
            ));
        }
        Vec::new()
    } else {
        api.deps
            .services
            .groups
            .admin_add(id.as_str(), known, body.silence == 1)
            .await
            .map_err(|err| match err {
                Error::LimitExceeded(why) => failure_with(Failure::GroupFull, &why),
                err => group_error(&err),
            })?
    };
    let items: Vec<Value> = users
        .iter()
        .map(|user| {
            let result = match outcomes.iter().find(|(u, _)| u == user) {
                Some((_, AdmitOutcome::Added)) => 1,
                Some((_, AdmitOutcome::AlreadyMember)) => 2,
                Some((_, AdmitOutcome::AtGroupLimit)) | None => 0,
            };
            json!({"Member_Account": user.as_str(), "Result": result})
        })
        .collect();
    Ok(ok(json!({ "MemberList": items })))
}

#[derive(Deserialize)]
struct DeleteMembers {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "MemberToDel_Account")]
    accounts: Vec<String>,
    #[serde(rename = "Reason", default)]
    reason: Option<String>,
    /// Tencent's quiet removal: accepted; the removed are told all the same.
    #[serde(rename = "Silence", default)]
    #[expect(
        dead_code,
        reason = "Cirrus always tells removed members; see docs/rest-api.md"
    )]
    silence: u8,
}

/// # POST /v4/group_open_http_svc/delete_group_member
/// Removes up to 100 members (the owner cannot be removed: 10007); each is told, with
/// `Reason`. Users who are not members are passed over.
pub(super) async fn delete_group_member(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: DeleteMembers = parse(&body)?;
    let id = group_id(&body.group_id)?;
    let users = users_of(&body.accounts, "MemberToDel_Account", 100)?;
    let request = UsersRequest {
        group_id: id.to_string(),
        user_ids: users.iter().map(ToString::to_string).collect(),
        reason: body.reason,
    };
    api.deps
        .services
        .groups
        .kick(&as_admin(&api), request)
        .await
        .map_err(|e| group_error(&e))?;
    Ok(ok(json!({})))
}

#[derive(Deserialize)]
struct ForbidSend {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Members_Account")]
    accounts: Vec<String>,
    #[serde(rename = "MuteTime")]
    seconds: u32,
}

/// # POST /v4/group_open_http_svc/forbid_send_msg
/// Mutes up to 500 members for `MuteTime` seconds (0 lifts the mute). Every one named must be
/// a member other than the owner (in a live room, anyone): otherwise nobody is muted.
pub(super) async fn forbid_send_msg(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: ForbidSend = parse(&body)?;
    let id = group_id(&body.group_id)?;
    let users = users_of(&body.accounts, "Members_Account", MAX_MUTE)?;
    let group = group_info(&api, &id).await?;
    let groups = &api.deps.services.groups;
    if group.kind != GroupType::Live {
        let members = groups
            .members_named(&as_admin(&api), id.as_str(), &users)
            .await
            .map_err(|e| group_error(&e))?;
        for user in &users {
            match members.iter().find(|m| &m.user == user) {
                None => return Err(invalid(&format!("{user} is not a member of the group"))),
                Some(m) if m.role == Role::Owner => {
                    return Err(failure_with(
                        Failure::GroupNoPermission,
                        "the owner cannot be muted",
                    ));
                }
                Some(_) => {}
            }
        }
    }
    for user in users {
        let request = MuteRequest {
            group_id: id.to_string(),
            user_id: user.to_string(),
            seconds: body.seconds,
        };
        groups
            .mute(&as_admin(&api), request)
            .await
            .map_err(|e| group_error(&e))?;
    }
    Ok(ok(json!({})))
}

/// # POST /v4/group_open_http_svc/get_group_muted_account (and `get_group_shutted_uin`)
/// The members muted now, with when each mute ends (seconds), in `ShuttedUinList`.
pub(super) async fn get_group_muted_account(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: GroupOnly = parse(&body)?;
    let id = group_id(&body.group_id)?;
    let now = api.deps.clock.now_ms();
    let items: Vec<Value> = all_members(&api, &id)
        .await?
        .iter()
        .filter(|m| m.muted_until > now)
        .map(|m| json!({"Member_Account": m.user.as_str(), "ShuttedUntil": m.muted_until.div_euclid(1000)}))
        .collect();
    Ok(ok(json!({ "ShuttedUinList": items })))
}

#[derive(Deserialize)]
struct ModifyMember {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Member_Account")]
    account: String,
    #[serde(rename = "Role", default)]
    role: Option<String>,
    #[serde(rename = "MsgFlag", default)]
    msg_flag: Option<String>,
    #[serde(rename = "NameCard", default)]
    name_card: Option<String>,
    #[serde(rename = "ShutUpTime", default)]
    mute_seconds: Option<u32>,
    #[serde(rename = "AppMemberDefinedData", default)]
    defined: Vec<DefinedData>,
}

/// # POST /v4/group_open_http_svc/modify_group_member_info
/// A member's `Role` (`Admin` or `Member`), `NameCard` (empty clears it), `ShutUpTime`
/// (seconds, 0 lifts) and `AppMemberDefinedData` (an empty value removes the key). `MsgFlag`
/// takes only `AcceptAndNotify`: Cirrus keeps no per-member message flag.
pub(super) async fn modify_group_member_info(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: ModifyMember = parse(&body)?;
    let id = group_id(&body.group_id)?;
    let user = user_id(&body.account)?;
    if let Some(flag) = body.msg_flag.as_deref()
        && flag != ACCEPT_AND_NOTIFY
    {
        return Err(invalid(&format!(
            "MsgFlag {flag} is not supported: only {ACCEPT_AND_NOTIFY}"
        )));
    }
    let role = match body.role.as_deref() {
        None => None,
        Some("Admin") => Some(Role::Admin),
        Some("Member") => Some(Role::Member),
        Some(other) => return Err(invalid(&format!("Role {other} is not Admin or Member"))),
    };
    let group = group_info(&api, &id).await?;
    let groups = &api.deps.services.groups;
    let member = groups
        .members_named(&as_admin(&api), id.as_str(), std::slice::from_ref(&user))
        .await
        .map_err(|e| group_error(&e))?
        .pop()
        .ok_or_else(|| invalid(&format!("{user} is not a member of the group")))?;
    let role = role.filter(|role| *role != member.role);
    if role.is_some() {
        if !group.kind.allows(Rule::HasAdmins) {
            return Err(failure_with(
                Failure::GroupNoPermission,
                "this type of group has no admins",
            ));
        }
        if member.role == Role::Owner {
            return Err(failure_with(
                Failure::GroupNoPermission,
                "the owner's role changes only by change_group_owner",
            ));
        }
    }
    if body.mute_seconds.is_some_and(|s| s > 0) && member.role == Role::Owner {
        return Err(failure_with(
            Failure::GroupNoPermission,
            "the owner cannot be muted",
        ));
    }
    let custom = defined_map(body.defined);
    if body.name_card.is_some() || !custom.is_empty() {
        let request = MemberUpdateRequest {
            group_id: id.to_string(),
            user_id: Some(user.to_string()),
            name_card: body.name_card.map(Some),
            custom,
        };
        groups
            .member_update(&as_admin(&api), request)
            .await
            .map_err(|e| group_error(&e))?;
    }
    if let Some(role) = role {
        let request = SetRoleRequest {
            group_id: id.to_string(),
            user_id: user.to_string(),
            role,
        };
        groups
            .set_role(&as_admin(&api), request)
            .await
            .map_err(|e| group_error(&e))?;
    }
    if let Some(seconds) = body.mute_seconds {
        let request = MuteRequest {
            group_id: id.to_string(),
            user_id: user.to_string(),
            seconds,
        };
        groups
            .mute(&as_admin(&api), request)
            .await
            .map_err(|e| group_error(&e))?;
    }
    Ok(ok(json!({})))
}

#[derive(Deserialize)]
struct JoinedGroups {
    #[serde(rename = "Member_Account")]
    account: String,
    #[serde(rename = "Limit", default)]
    limit: Option<usize>,
    #[serde(rename = "Offset", default)]
    offset: Option<usize>,
    #[serde(rename = "GroupType", default)]
    kind: Option<String>,
}

/// # POST /v4/group_open_http_svc/get_joined_group_list
/// The groups a user belongs to, in group id order: `TotalCount` and one `Limit`/`Offset`
/// page of `GroupIdList`, optionally of one `GroupType`.
pub(super) async fn get_joined_group_list(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: JoinedGroups = parse(&body)?;
    let user = user_id(&body.account)?;
    let kind = body.kind.as_deref().map(type_of).transpose()?;
    if body.limit == Some(0) {
        return Err(invalid("Limit must be at least 1"));
    }
    let mut groups = Vec::new();
    let mut cursor = None;
    loop {
        let request = JoinedRequest {
            cursor,
            limit: Some(WALK_PAGE),
        };
        let (page, next) = api
            .deps
            .services
            .groups
            .joined(&as_user(user.clone()), request)
            .await
            .map_err(|e| group_error(&e))?;
        groups.extend(
            page.into_iter()
                .map(|(group, _)| group)
                .filter(|group| kind.is_none_or(|kind| group.kind == kind)),
        );
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let items: Vec<Value> = groups
        .iter()
        .skip(body.offset.unwrap_or(0))
        .take(body.limit.unwrap_or(usize::MAX))
        .map(|group| json!({"GroupId": group.id.as_str(), "Type": group.kind.tencent_name(), "Name": group.name}))
        .collect();
    Ok(ok(json!({ "TotalCount": groups.len(), "GroupIdList": items })))
}

#[derive(Deserialize)]
struct RoleInGroup {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "User_Account")]
    accounts: Vec<String>,
}

/// # POST /v4/group_open_http_svc/get_role_in_group
/// Each user's role in `UserIdList`: `Owner`, `Admin`, `Member` or `NotMember`.
pub(super) async fn get_role_in_group(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: RoleInGroup = parse(&body)?;
    let id = group_id(&body.group_id)?;
    if body.accounts.is_empty() || body.accounts.len() > MAX_ROLE_USERS {
        return Err(invalid(&format!(
            "User_Account must hold 1 to {MAX_ROLE_USERS} users"
        )));
    }
    let users = body
        .accounts
        .iter()
        .map(|raw| user_id(raw))
        .collect::<Result<Vec<_>, _>>()?;
    let members = api
        .deps
        .services
        .groups
        .members_named(&as_admin(&api), id.as_str(), &users)
        .await
        .map_err(|e| group_error(&e))?;
    let items: Vec<Value> = users
        .iter()
        .map(|user| {
            let role = members
                .iter()
                .find(|m| &m.user == user)
                .map_or("NotMember", |m| role_name(m.role));
            json!({"Member_Account": user.as_str(), "Role": role})
        })
        .collect();
    Ok(ok(json!({ "UserIdList": items })))
}

#[derive(Deserialize)]
struct ChangeOwner {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "NewOwner_Account")]
    new_owner: String,
}

/// # POST /v4/group_open_http_svc/change_group_owner
/// Hands the group to a member, as its current owner would (the app administrator where the
/// app owns the group); the old owner stays an ordinary member.
pub(super) async fn change_group_owner(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: ChangeOwner = parse(&body)?;
    let id = group_id(&body.group_id)?;
    let heir = user_id(&body.new_owner)?;
    let group = group_info(&api, &id).await?;
    let caller = group.owner.map_or_else(|| as_admin(&api), as_user);
    let request = MemberRequest {
        group_id: id.to_string(),
        user_id: heir.to_string(),
    };
    api.deps
        .services
        .groups
        .transfer(&caller, request)
        .await
        .map_err(|e| group_error(&e))?;
    Ok(ok(json!({})))
}
