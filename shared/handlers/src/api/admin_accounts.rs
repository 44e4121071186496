//! The server REST API's account commands, in Tencent IM's shape (`im_open_login_svc/account_import`,
//! `multiaccount_import`, `account_delete`, `account_check`, `kick`, `openim/query_online_status`).

use super::admin::{Admin, Failure, Refusal, Reply, failure, failure_with, from_error, ok, parse, user_id};
use super::{Api, Shared};
use axum::body::Bytes;
use axum::extract::State;
use cirrus_core::accounts::AccountKind;
use cirrus_core::ids::UserId;
use cirrus_core::protocol::social::ProfileSetRequest;
use cirrus_core::service::{Caller, ImportItem};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;

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
pub(super) async fn account_import(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
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
pub(super) async fn multiaccount_import(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
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
pub(super) async fn account_delete(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
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
pub(super) async fn account_check(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
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
pub(super) async fn kick(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
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
pub(super) async fn query_online_status(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
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
