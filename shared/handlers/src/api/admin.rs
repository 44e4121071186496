//! The server REST API, in Tencent IM's shape so an app server written against Tencent's works:
//! `POST /v4/{service}/{command}?sdkappid=…&identifier=administrator&usersig=…`, JSON bodies with
//! Tencent's field names, replies `{"ActionStatus":"OK"|"FAIL","ErrorCode":0,"ErrorInfo":""}` with
//! HTTP 200. Only the administrator's UserSig is accepted.

use super::{Api, Shared, json};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Query, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use cirrus_core::Error;
use cirrus_core::accounts::AccountKind;
use cirrus_core::ids::UserId;
use cirrus_core::protocol::social::ProfileSetRequest;
use cirrus_core::service::{Caller, ImportItem};
use cirrus_core::usersig::UserSigError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The `/v4` routes: one per command, and every other `/v4` path an unknown command.
pub(super) fn routes() -> Router<Shared> {
    use super::{
        admin_callback as callback, admin_group as group, admin_group_members as members, admin_msg as msg,
        admin_social as social,
    };
    Router::new()
        .route("/v4/im_open_login_svc/account_import", command(account_import))
        .route(
            "/v4/im_open_login_svc/multiaccount_import",
            command(multiaccount_import),
        )
        .route("/v4/im_open_login_svc/account_delete", command(account_delete))
        .route("/v4/im_open_login_svc/account_check", command(account_check))
        .route("/v4/im_open_login_svc/kick", command(kick))
        .route("/v4/openim/query_online_status", command(query_online_status))
        .route("/v4/profile/portrait_get", command(social::portrait_get))
        .route("/v4/profile/portrait_set", command(social::portrait_set))
        .route("/v4/sns/friend_add", command(social::friend_add))
        .route("/v4/sns/friend_import", command(social::friend_import))
        .route("/v4/sns/friend_delete", command(social::friend_delete))
        .route("/v4/sns/friend_get", command(social::friend_get))
        .route("/v4/sns/recommend_add", command(social::recommend_add))
        .route("/v4/sns/black_list_add", command(social::black_list_add))
        .route("/v4/sns/black_list_delete", command(social::black_list_delete))
        .route("/v4/openim/sendmsg", command(msg::sendmsg))
        .route("/v4/openim/batchsendmsg", command(msg::batchsendmsg))
        .route("/v4/openim/admin_msgwithdraw", command(msg::admin_msgwithdraw))
        .route("/v4/cirrus_callback/get_config", command(callback::get_config))
        .route("/v4/cirrus_callback/set_config", command(callback::set_config))
        .route("/v4/cirrus_callback/replay", command(callback::replay))
        .route(
            "/v4/group_open_http_svc/create_group",
            command(group::create_group),
        )
        .route(
            "/v4/group_open_http_svc/get_group_info",
            command(group::get_group_info),
        )
        .route(
            "/v4/group_open_http_svc/get_group_member_info",
            command(group::get_group_member_info),
        )
        .route(
            "/v4/group_open_http_svc/modify_group_base_info",
            command(group::modify_group_base_info),
        )
        .route(
            "/v4/group_open_http_svc/destroy_group",
            command(group::destroy_group),
        )
        .route(
            "/v4/group_open_http_svc/get_joined_group_list",
            command(members::get_joined_group_list),
        )
        .route(
            "/v4/group_open_http_svc/get_role_in_group",
            command(members::get_role_in_group),
        )
        .route(
            "/v4/group_open_http_svc/change_group_owner",
            command(members::change_group_owner),
        )
        .route(
            "/v4/group_open_http_svc/add_group_member",
            command(members::add_group_member),
        )
        .route(
            "/v4/group_open_http_svc/delete_group_member",
            command(members::delete_group_member),
        )
        .route(
            "/v4/group_open_http_svc/forbid_send_msg",
            command(members::forbid_send_msg),
        )
        .route(
            "/v4/group_open_http_svc/get_group_muted_account",
            command(members::get_group_muted_account),
        )
        .route(
            "/v4/group_open_http_svc/modify_group_member_info",
            command(members::modify_group_member_info),
        )
        .route(
            "/v4/group_open_http_svc/send_group_msg",
            command(msg::send_group_msg),
        )
        .route(
            "/v4/group_open_http_svc/get_group_shutted_uin",
            command(members::get_group_muted_account),
        )
        .route("/v4/{*command}", command(unknown_command))
}

/// A command answers POST; any other method is an unknown command, before any token check.
fn command<H, T>(handler: H) -> MethodRouter<Shared>
where
    H: Handler<T, Shared>,
    T: 'static,
{
    post(handler).fallback(async || failure(Failure::UnknownCommand))
}

/// # POST /v4/{anything else}
/// No such command (70404), once the administrator's token checks out.
async fn unknown_command(_: Admin) -> Refusal {
    failure(Failure::UnknownCommand)
}

/// Why an admin request failed; each has its stable `ErrorCode` (Tencent's number where Tencent
/// has one with the same meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The UserSig has expired (70001).
    TokenExpired,
    /// The UserSig is missing, malformed, forged or of another app (70003).
    TokenInvalid,
    /// The UserSig was revoked after it was issued (70003, said as such).
    TokenRevoked,
    /// `identifier` is not the UserSig's user (70013).
    IdentifierMismatch,
    /// The caller is not the app administrator (70403).
    NotAdmin,
    /// A parameter is missing or invalid (70402).
    InvalidParameter,
    /// The account does not exist (70107).
    UnknownUser,
    /// No such service or command (70404).
    UnknownCommand,
    /// Too many calls from this administrator: Tencent's REST frequency limit (60007).
    RateLimited,
    /// A server-side fault (70500).
    Internal,
    /// A group command's parameter is missing or invalid (10004).
    GroupInvalidParameter,
    /// The group's rules do not allow this (10007).
    GroupNoPermission,
    /// The group does not exist or was dismissed (10010).
    GroupNotFound,
    /// The group has no room for the members asked for (10014).
    GroupFull,
    /// The group id is malformed (10015).
    GroupIdInvalid,
    /// The group id is already used (10021).
    GroupIdTaken,
    /// The sender is muted in the group (10017).
    GroupMuted,
    /// The app's server refused the operation through a callback (10016).
    GroupCallbackRefused,
}

impl Failure {
    /// The numeric `ErrorCode`.
    pub(crate) fn code(self) -> u32 {
        match self {
            Self::TokenExpired => 70001,
            Self::TokenInvalid | Self::TokenRevoked => 70003,
            Self::IdentifierMismatch => 70013,
            Self::NotAdmin => 70403,
            Self::InvalidParameter => 70402,
            Self::UnknownUser => 70107,
            Self::UnknownCommand => 70404,
            Self::RateLimited => 60007,
            Self::Internal => 70500,
            Self::GroupInvalidParameter => 10004,
            Self::GroupNoPermission => 10007,
            Self::GroupNotFound => 10010,
            Self::GroupFull => 10014,
            Self::GroupIdInvalid => 10015,
            Self::GroupIdTaken => 10021,
            Self::GroupMuted => 10017,
            Self::GroupCallbackRefused => 10016,
        }
    }

    pub(super) fn info(self) -> &'static str {
        match self {
            Self::TokenExpired => "UserSig expired",
            Self::TokenInvalid => "UserSig invalid",
            Self::TokenRevoked => "UserSig revoked; issue a new one",
            Self::IdentifierMismatch => "identifier does not match the UserSig",
            Self::NotAdmin => "only the app administrator may call the REST API",
            Self::InvalidParameter => "invalid parameter",
            Self::UnknownUser => "account not found",
            Self::UnknownCommand => "no such command",
            Self::RateLimited => "too many requests; slow down and try again",
            Self::Internal => "internal error; try again later",
            Self::GroupInvalidParameter => "invalid parameter",
            Self::GroupNoPermission => "not allowed in this group",
            Self::GroupNotFound => "the group does not exist or was dismissed",
            Self::GroupFull => "the group is full",
            Self::GroupIdInvalid => "invalid group id",
            Self::GroupIdTaken => "the group id is already used",
            Self::GroupMuted => "muted in this group",
            Self::GroupCallbackRefused => "refused by the app's callback",
        }
    }
}

/// A failed command: its failure and the `ErrorInfo` the app server reads, answered with HTTP 200
/// as Tencent does.
pub(super) struct Refusal {
    failure: Failure,
    info: String,
}

impl Refusal {
    /// The numeric `ErrorCode` of this refusal.
    pub(super) fn code(&self) -> u32 {
        self.failure.code()
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        json(
            StatusCode::OK,
            &json!({"ActionStatus": "FAIL", "ErrorCode": self.failure.code(), "ErrorInfo": self.info}),
        )
    }
}

/// A failed reply with the failure's generic text.
pub(super) fn failure(failure: Failure) -> Refusal {
    failure_with(failure, failure.info())
}

pub(super) fn failure_with(failure: Failure, info: &str) -> Refusal {
    Refusal {
        failure,
        info: info.to_owned(),
    }
}

pub(super) fn ok(mut extra: Value) -> Response {
    let mut body = json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object_mut()) {
        body.append(extra);
    }
    json(StatusCode::OK, &body)
}

/// Maps a service error to a failed reply, logging server faults.
pub(super) fn from_error(err: &Error) -> Refusal {
    if err.is_internal() {
        tracing::error!(error = ?err, "admin request failed");
        return failure(Failure::Internal);
    }
    if matches!(err, Error::NotFound("user")) {
        return failure_with(Failure::UnknownUser, &err.client_message());
    }
    failure_with(Failure::InvalidParameter, &err.client_message())
}

/// The query string of every `/v4` call, as Tencent's REST API defines it.
#[derive(Deserialize)]
struct AdminQuery {
    sdkappid: Option<String>,
    identifier: Option<String>,
    usersig: Option<String>,
    /// Tencent's per-call random number: accepted, not used.
    #[expect(dead_code, reason = "Tencent's app servers send it; nothing here needs it")]
    random: Option<String>,
    /// Always `json` at Tencent: accepted, not used.
    #[expect(dead_code, reason = "Tencent's app servers send it; nothing here needs it")]
    contenttype: Option<String>,
}

/// The administrator's call, authenticated: the first extractor of every `/v4` handler, so that
/// no body is read for anyone else.
pub(super) struct Admin;

impl FromRequestParts<Shared> for Admin {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, api: &Shared) -> Result<Self, Refusal> {
        // A query string that does not parse carries no usable UserSig either.
        let checked = match Query::<AdminQuery>::try_from_uri(&parts.uri) {
            Ok(Query(query)) => authenticate(api, &query).await,
            Err(_) => Err(Failure::TokenInvalid),
        };
        checked.map(|()| Self).map_err(|failed| {
            tracing::info!(code = failed.code(), "admin request refused");
            failure(failed)
        })
    }
}

/// Checks that the query carries the administrator's genuine UserSig, not revoked since it was
/// issued (a kick or logout of the administrator refuses every earlier one), within the
/// administrator's rate.
async fn authenticate(api: &Api, query: &AdminQuery) -> Result<(), Failure> {
    let (Some(identifier), Some(usersig)) = (&query.identifier, &query.usersig) else {
        return Err(Failure::TokenInvalid);
    };
    if let Some(app) = &query.sdkappid
        && *app != api.key.app_id().to_string()
    {
        return Err(Failure::TokenInvalid);
    }
    let now = api.deps.clock.now_ms().div_euclid(1000);
    let claims = api.key.verify(usersig, now).map_err(|err| match err {
        UserSigError::Expired => Failure::TokenExpired,
        _ => Failure::TokenInvalid,
    })?;
    if claims.identifier != *identifier {
        return Err(Failure::IdentifierMismatch);
    }
    let admin = &api.deps.limits.accounts.admin;
    if claims.is_guest() || identifier != admin.as_str() {
        return Err(Failure::NotAdmin);
    }
    api.deps
        .rate_limiter
        .check_rest(admin)
        .map_err(|_| Failure::RateLimited)?;
    match api
        .deps
        .services
        .accounts
        .token_current(admin, claims.issued_at)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::TokenRevoked),
        Err(err) => {
            tracing::error!(error = ?err, "admin token check failed");
            Err(Failure::Internal)
        }
    }
}

pub(super) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|err| {
        failure_with(
            Failure::InvalidParameter,
            &format!("the body is not the expected JSON: {err}"),
        )
    })
}

pub(super) fn user_id(raw: &str) -> Result<UserId, Refusal> {
    UserId::parse(raw).map_err(|err| failure_with(Failure::InvalidParameter, &err.to_string()))
}

/// What a command handler answers.
pub(super) type Reply = Result<Response, Refusal>;

#[derive(Deserialize)]
struct AccountImport {
    #[serde(rename = "UserID")]
    user_id: String,
    #[serde(rename = "Nick", default)]
    nick: Option<String>,
    #[serde(rename = "FaceUrl", default)]
    face_url: Option<String>,
}

/// # POST /v4/im_open_login_svc/account_import
/// One account, with an optional nickname and avatar; importing an existing account again sets
/// the nickname and avatar it carries (as Tencent's import does) and changes nothing else.
async fn account_import(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: AccountImport = parse(&body)?;
    let item = ImportItem {
        user: user_id(&body.user_id)?,
        nickname: body.nick,
        face_url: body.face_url,
    };
    import(&api, vec![item]).await?;
    Ok(ok(json!({})))
}

/// Imports the accounts; those that existed already take the nickname and avatar given for
/// them, through `profile.set` so that their friends are told.
async fn import(api: &Api, items: Vec<ImportItem>) -> Result<(), Refusal> {
    let created = api
        .deps
        .services
        .accounts
        .import(items.clone())
        .await
        .map_err(|e| from_error(&e))?;
    for (item, _) in items.into_iter().zip(created).filter(|(_, made)| !made) {
        // Empty text is no value, as in the import of a new account.
        let given = |field: Option<String>| field.filter(|f| !f.is_empty()).map(Some);
        let change = ProfileSetRequest {
            nickname: given(item.nickname),
            face_url: given(item.face_url),
            ..ProfileSetRequest::default()
        };
        if change.nickname.is_none() && change.face_url.is_none() {
            continue;
        }
        let caller = Caller {
            user: item.user,
            connection: None,
            guest: false,
        };
        api.deps
            .services
            .profiles
            .set(&caller, change)
            .await
            .map_err(|e| from_error(&e))?;
    }
    Ok(())
}

/// One entry of `multiaccount_import`'s `AccountList`: Tencent's current `{UserID, Nick,
/// FaceUrl}` object, or a bare id as Cirrus took it before.
#[derive(Deserialize)]
#[serde(untagged)]
enum ImportEntry {
    Account(AccountImport),
    Id(String),
}

/// `multiaccount_import`'s body in either of Tencent's versions: `AccountList` (current) or
/// `Accounts` (a list of ids, the older one); exactly one of them.
#[derive(Deserialize)]
struct MultiImport {
    #[serde(rename = "AccountList", default)]
    list: Option<Vec<ImportEntry>>,
    #[serde(rename = "Accounts", default)]
    ids: Option<Vec<String>>,
}

impl MultiImport {
    fn entries(self) -> Result<Vec<AccountImport>, Refusal> {
        let id_only = |user_id| AccountImport {
            user_id,
            nick: None,
            face_url: None,
        };
        match (self.list, self.ids) {
            (Some(list), None) => Ok(list
                .into_iter()
                .map(|entry| match entry {
                    ImportEntry::Account(account) => account,
                    ImportEntry::Id(id) => id_only(id),
                })
                .collect()),
            (None, Some(ids)) => Ok(ids.into_iter().map(id_only).collect()),
            _ => Err(failure_with(
                Failure::InvalidParameter,
                "give the accounts in AccountList or in Accounts, not both",
            )),
        }
    }
}

/// # POST /v4/im_open_login_svc/multiaccount_import
/// Up to 100 accounts, as `AccountList: [{UserID, Nick, FaceUrl}]` or the older `Accounts: [id]`;
/// malformed ids are listed in `FailAccounts`, the rest are imported (existing ones take the
/// `Nick` and `FaceUrl` given, as with `account_import`).
async fn multiaccount_import(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: MultiImport = parse(&body)?;
    let (mut items, mut failed) = (Vec::new(), Vec::new());
    for entry in body.entries()? {
        match UserId::parse(entry.user_id.as_str()) {
            Ok(user) => items.push(ImportItem {
                user,
                nickname: entry.nick,
                face_url: entry.face_url,
            }),
            Err(_) => failed.push(entry.user_id),
        }
    }
    if !items.is_empty() || failed.is_empty() {
        import(&api, items).await?;
    }
    Ok(ok(json!({ "FailAccounts": failed })))
}

#[derive(Deserialize)]
struct UserItem {
    #[serde(rename = "UserID")]
    user_id: String,
}

fn user_items(items: &[UserItem]) -> Result<Vec<UserId>, Refusal> {
    items.iter().map(|item| user_id(&item.user_id)).collect()
}

#[derive(Deserialize)]
struct DeleteRequest {
    #[serde(rename = "DeleteItem")]
    items: Vec<UserItem>,
}

/// # POST /v4/im_open_login_svc/account_delete
/// Deletes up to 100 accounts and closes their connections; `ResultItem` says
/// per user whether it existed (70107 if not).
async fn account_delete(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: DeleteRequest = parse(&body)?;
    let users = user_items(&body.items)?;
    let existed = api
        .deps
        .services
        .accounts
        .delete(&users)
        .await
        .map_err(|e| from_error(&e))?;
    let results: Vec<Value> = users
        .iter()
        .zip(existed)
        .map(|(user, existed)| {
            let (code, info) = if existed {
                (0, "")
            } else {
                (Failure::UnknownUser.code(), Failure::UnknownUser.info())
            };
            json!({"UserID": user.as_str(), "ResultCode": code, "ResultInfo": info})
        })
        .collect();
    Ok(ok(json!({ "ResultItem": results })))
}

#[derive(Deserialize)]
struct CheckRequest {
    #[serde(rename = "CheckItem")]
    items: Vec<UserItem>,
}

/// # POST /v4/im_open_login_svc/account_check
/// `AccountStatus` `Imported` or `NotImported` per user, with Cirrus's own
/// `AccountKind` (`imported`, `first_login`, `registered`, `federated`) for existing accounts.
async fn account_check(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: CheckRequest = parse(&body)?;
    let users = user_items(&body.items)?;
    let accounts = api
        .deps
        .services
        .accounts
        .check(&users)
        .await
        .map_err(|e| from_error(&e))?;
    let results: Vec<Value> = users
        .iter()
        .zip(accounts)
        .map(|(user, account)| {
            let mut item = json!({
                "UserID": user.as_str(),
                "ResultCode": 0,
                "ResultInfo": "",
                "AccountStatus": if account.is_some() { "Imported" } else { "NotImported" },
            });
            if let Some(account) = account {
                item["AccountKind"] = Value::from(AccountKind::as_str(account.kind));
            }
            item
        })
        .collect();
    Ok(ok(json!({ "ResultItem": results })))
}

/// # POST /v4/im_open_login_svc/kick
/// Revokes every token of the user issued so far and closes all their connections.
async fn kick(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: UserItem = parse(&body)?;
    let user = user_id(&body.user_id)?;
    let found = api
        .deps
        .services
        .accounts
        .kick(&user)
        .await
        .map_err(|e| from_error(&e))?;
    if !found {
        return Err(failure(Failure::UnknownUser));
    }
    Ok(ok(json!({})))
}

/// Tencent's name for a Cirrus platform (the one a client gave at connect): `iPhone`, `iPad`,
/// `Android`, `Web`, `PC` (Windows and Linux) or `Mac`; a name Cirrus cannot map is passed on as
/// the client gave it (`unknown` when it gave none).
fn tencent_platform(platform: &str) -> &str {
    match platform.to_ascii_lowercase().as_str() {
        "ios" | "iphone" => "iPhone",
        "ipad" => "iPad",
        "android" => "Android",
        "web" => "Web",
        "windows" | "linux" | "pc" => "PC",
        "mac" | "macos" => "Mac",
        _ => platform,
    }
}

#[derive(Deserialize)]
struct OnlineStatusRequest {
    #[serde(rename = "To_Account")]
    accounts: Vec<String>,
    #[serde(rename = "IsNeedDetail", default)]
    need_detail: u8,
}

/// # POST /v4/openim/query_online_status
/// `Online` (connected), `PushOnline` (logged in, not connected) or
/// `Offline` per user, with per-platform `Detail` in Tencent's platform names when `IsNeedDetail`
/// is 1; malformed or unknown ids go to `ErrorList` (70107).
async fn query_online_status(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: OnlineStatusRequest = parse(&body)?;
    let mut users = Vec::new();
    let mut errors = Vec::new();
    for raw in &body.accounts {
        match UserId::parse(raw.as_str()) {
            Ok(user) if !users.contains(&user) => users.push(user),
            Ok(_) => {}
            Err(_) => errors.push(json!({"To_Account": raw, "ErrorCode": Failure::InvalidParameter.code()})),
        }
    }
    let statuses = if users.is_empty() && !errors.is_empty() {
        Vec::new()
    } else {
        api.deps
            .services
            .accounts
            .status(&users)
            .await
            .map_err(|e| from_error(&e))?
    };
    let mut results = Vec::new();
    for status in statuses {
        if !status.exists && status.platforms.is_empty() {
            errors
                .push(json!({"To_Account": status.user.as_str(), "ErrorCode": Failure::UnknownUser.code()}));
            continue;
        }
        let state = if !status.platforms.is_empty() {
            "Online"
        } else if status.logged_in {
            "PushOnline"
        } else {
            "Offline"
        };
        // `State` is Tencent's current name; `Status` its earlier one, still read by older servers.
        let mut item = json!({"To_Account": status.user.as_str(), "State": state, "Status": state});
        if body.need_detail == 1 {
            let named: BTreeSet<&str> = status.platforms.iter().map(|p| tencent_platform(p)).collect();
            item["Detail"] = named
                .iter()
                .map(|p| json!({"Platform": p, "Status": "Online"}))
                .collect();
        }
        results.push(item);
    }
    Ok(ok(json!({ "QueryResult": results, "ErrorList": errors })))
}
