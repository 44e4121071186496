//! The server REST API, in Tencent IM's shape so an app server written against Tencent's works:
//! `POST /v4/{service}/{command}?sdkappid=…&identifier=administrator&usersig=…`, JSON bodies with
//! Tencent's field names, replies `{"ActionStatus":"OK"|"FAIL","ErrorCode":0,"ErrorInfo":""}` with
//! HTTP 200. Only the administrator's UserSig is accepted.

// The error side of these results is the HTTP answer itself, built once and returned at once per
// request: boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use super::{Api, json};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use cirrus_core::Error;
use cirrus_core::accounts::AccountKind;
use cirrus_core::ids::UserId;
use cirrus_core::service::ImportItem;
use cirrus_core::usersig::UserSigError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Why an admin request failed; each has its stable `ErrorCode` (Tencent's number where Tencent
/// has one with the same meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The UserSig has expired (70001).
    TokenExpired,
    /// The UserSig is missing, malformed, forged or of another app (70003).
    TokenInvalid,
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
    /// A server-side fault (70500).
    Internal,
}

impl Failure {
    /// The numeric `ErrorCode`.
    pub(crate) fn code(self) -> u32 {
        match self {
            Self::TokenExpired => 70001,
            Self::TokenInvalid => 70003,
            Self::IdentifierMismatch => 70013,
            Self::NotAdmin => 70403,
            Self::InvalidParameter => 70402,
            Self::UnknownUser => 70107,
            Self::UnknownCommand => 70404,
            Self::Internal => 70500,
        }
    }

    fn info(self) -> &'static str {
        match self {
            Self::TokenExpired => "UserSig expired",
            Self::TokenInvalid => "UserSig invalid",
            Self::IdentifierMismatch => "identifier does not match the UserSig",
            Self::NotAdmin => "only the app administrator may call the REST API",
            Self::InvalidParameter => "invalid parameter",
            Self::UnknownUser => "account not found",
            Self::UnknownCommand => "no such command",
            Self::Internal => "internal error; try again later",
        }
    }
}

/// A failed reply with the failure's generic text.
pub(crate) fn failure(failure: Failure) -> ApiGatewayV2httpResponse {
    failure_with(failure, failure.info())
}

pub(super) fn failure_with(failure: Failure, info: &str) -> ApiGatewayV2httpResponse {
    json(
        200,
        &json!({"ActionStatus": "FAIL", "ErrorCode": failure.code(), "ErrorInfo": info}),
    )
}

pub(super) fn ok(mut extra: Value) -> ApiGatewayV2httpResponse {
    let mut body = json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object_mut()) {
        body.append(extra);
    }
    json(200, &body)
}

/// Maps a service error to a failed reply, logging server faults.
pub(super) fn from_error(err: &Error) -> ApiGatewayV2httpResponse {
    if err.is_internal() {
        tracing::error!(error = ?err, "admin request failed");
        return failure(Failure::Internal);
    }
    failure_with(Failure::InvalidParameter, &err.client_message())
}

/// Checks that the request carries the administrator's genuine, current UserSig.
fn authenticate(api: &Api, request: &ApiGatewayV2httpRequest) -> Result<(), Failure> {
    let query = &request.query_string_parameters;
    let (Some(identifier), Some(usersig)) = (query.first("identifier"), query.first("usersig")) else {
        return Err(Failure::TokenInvalid);
    };
    if let Some(app) = query.first("sdkappid")
        && app != api.key.app_id().to_string()
    {
        return Err(Failure::TokenInvalid);
    }
    let now = api.deps.clock.now_ms().div_euclid(1000);
    let claims = api.key.verify(usersig, now).map_err(|err| match err {
        UserSigError::Expired => Failure::TokenExpired,
        _ => Failure::TokenInvalid,
    })?;
    if claims.identifier != identifier {
        return Err(Failure::IdentifierMismatch);
    }
    if claims.is_guest() || identifier != api.deps.limits.accounts.admin.as_str() {
        return Err(Failure::NotAdmin);
    }
    Ok(())
}

pub(super) fn parse<T: DeserializeOwned>(
    request: &ApiGatewayV2httpRequest,
) -> Result<T, ApiGatewayV2httpResponse> {
    super::json_body(request).map_err(|err| {
        failure_with(
            Failure::InvalidParameter,
            &format!("the body is not the expected JSON: {err}"),
        )
    })
}

pub(super) fn user_id(raw: &str) -> Result<UserId, ApiGatewayV2httpResponse> {
    UserId::parse(raw).map_err(|err| failure_with(Failure::InvalidParameter, &err.to_string()))
}

/// Runs `command` (`service/command`) for the administrator.
pub(crate) async fn handle(
    api: &Api,
    command: &str,
    request: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    if let Err(failed) = authenticate(api, request) {
        tracing::info!(code = failed.code(), "admin request refused");
        return failure(failed);
    }
    let outcome = match command {
        "im_open_login_svc/account_import" => account_import(api, request).await,
        "im_open_login_svc/multiaccount_import" => multiaccount_import(api, request).await,
        "im_open_login_svc/account_delete" => account_delete(api, request).await,
        "im_open_login_svc/account_check" => account_check(api, request).await,
        "im_open_login_svc/kick" => kick(api, request).await,
        "openim/query_online_status" => query_online_status(api, request).await,
        "profile/portrait_get" => super::admin_social::portrait_get(api, request).await,
        "profile/portrait_set" => super::admin_social::portrait_set(api, request).await,
        "sns/friend_add" => super::admin_social::friend_add(api, request).await,
        "sns/friend_import" => super::admin_social::friend_import(api, request).await,
        "sns/friend_delete" => super::admin_social::friend_delete(api, request).await,
        "sns/friend_get" => super::admin_social::friend_get(api, request).await,
        "sns/recommend_add" => super::admin_social::recommend_add(api, request).await,
        "sns/black_list_add" => super::admin_social::black_list_add(api, request).await,
        "sns/black_list_delete" => super::admin_social::black_list_delete(api, request).await,
        "openim/sendmsg" => super::admin_msg::sendmsg(api, request).await,
        "openim/batchsendmsg" => super::admin_msg::batchsendmsg(api, request).await,
        "openim/admin_msgwithdraw" => super::admin_msg::admin_msgwithdraw(api, request).await,
        _ => Err(failure(Failure::UnknownCommand)),
    };
    outcome.unwrap_or_else(|response| response)
}

pub(super) type Reply = Result<ApiGatewayV2httpResponse, ApiGatewayV2httpResponse>;

#[derive(Deserialize)]
struct AccountImport {
    #[serde(rename = "UserID")]
    user_id: String,
    #[serde(rename = "Nick", default)]
    nick: Option<String>,
    #[serde(rename = "FaceUrl", default)]
    face_url: Option<String>,
}

/// `account_import`: one account, with an optional nickname and avatar; importing an existing
/// account succeeds and changes nothing.
async fn account_import(api: &Api, request: &ApiGatewayV2httpRequest) -> Reply {
    let body: AccountImport = parse(request)?;
    let item = ImportItem {
        user: user_id(&body.user_id)?,
        nickname: body.nick,
        face_url: body.face_url,
    };
    api.deps
        .accounts
        .import(vec![item])
        .await
        .map_err(|e| from_error(&e))?;
    Ok(ok(json!({})))
}

#[derive(Deserialize)]
struct MultiImport {
    #[serde(rename = "AccountList")]
    accounts: Vec<String>,
}

/// `multiaccount_import`: up to 100 ids; malformed ids are listed in `FailAccounts`, the rest are
/// imported (existing ones left as they are).
async fn multiaccount_import(api: &Api, request: &ApiGatewayV2httpRequest) -> Reply {
    let body: MultiImport = parse(request)?;
    let (mut items, mut failed) = (Vec::new(), Vec::new());
    for raw in body.accounts {
        match UserId::parse(raw.as_str()) {
            Ok(user) => items.push(ImportItem {
                user,
                nickname: None,
                face_url: None,
            }),
            Err(_) => failed.push(raw),
        }
    }
    if !items.is_empty() || failed.is_empty() {
        api.deps
            .accounts
            .import(items)
            .await
            .map_err(|e| from_error(&e))?;
    }
    Ok(ok(json!({ "FailAccounts": failed })))
}

#[derive(Deserialize)]
struct UserItem {
    #[serde(rename = "UserID")]
    user_id: String,
}

fn user_items(items: &[UserItem]) -> Result<Vec<UserId>, ApiGatewayV2httpResponse> {
    items.iter().map(|item| user_id(&item.user_id)).collect()
}

#[derive(Deserialize)]
struct DeleteRequest {
    #[serde(rename = "DeleteItem")]
    items: Vec<UserItem>,
}

/// `account_delete`: deletes up to 100 accounts and closes their connections; `ResultItem` says
/// per user whether it existed (70107 if not).
async fn account_delete(api: &Api, request: &ApiGatewayV2httpRequest) -> Reply {
    let body: DeleteRequest = parse(request)?;
    let users = user_items(&body.items)?;
    let existed = api
        .deps
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

/// `account_check`: `AccountStatus` `Imported` or `NotImported` per user, with Cirrus's own
/// `AccountKind` (`imported`, `first_login`, `registered`, `federated`) for existing accounts.
async fn account_check(api: &Api, request: &ApiGatewayV2httpRequest) -> Reply {
    let body: CheckRequest = parse(request)?;
    let users = user_items(&body.items)?;
    let accounts = api
        .deps
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

/// `kick`: revokes every token of the user issued so far and closes all their connections.
async fn kick(api: &Api, request: &ApiGatewayV2httpRequest) -> Reply {
    let body: UserItem = parse(request)?;
    let user = user_id(&body.user_id)?;
    let found = api.deps.accounts.kick(&user).await.map_err(|e| from_error(&e))?;
    if !found {
        return Err(failure(Failure::UnknownUser));
    }
    Ok(ok(json!({})))
}

#[derive(Deserialize)]
struct OnlineStatusRequest {
    #[serde(rename = "To_Account")]
    accounts: Vec<String>,
    #[serde(rename = "IsNeedDetail", default)]
    need_detail: u8,
}

/// `query_online_status`: `Online` (connected), `PushOnline` (logged in, not connected) or
/// `Offline` per user, with per-platform `Detail` when `IsNeedDetail` is 1; malformed or unknown
/// ids go to `ErrorList` (70107).
async fn query_online_status(api: &Api, request: &ApiGatewayV2httpRequest) -> Reply {
    let body: OnlineStatusRequest = parse(request)?;
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
        let mut item = json!({"To_Account": status.user.as_str(), "Status": state});
        if body.need_detail == 1 {
            item["Detail"] = status
                .platforms
                .iter()
                .map(|p| json!({"Platform": p, "Status": "Online"}))
                .collect();
        }
        results.push(item);
    }
    Ok(ok(json!({ "QueryResult": results, "ErrorList": errors })))
}
