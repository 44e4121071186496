//! The server REST API's profile and relationship commands, in Tencent IM's shape
//! (`profile/portrait_get`, `profile/portrait_set`, `sns/friend_add`, `sns/friend_import`,
//! `sns/friend_delete`, `sns/friend_get`): the app server acting on a user's behalf.

use super::admin::{Admin, Failure, Refusal, Reply, failure, from_error, ok, parse, user_id};
use super::{Api, Shared};
use axum::body::Bytes;
use axum::extract::State;
use cirrus_core::Error;
use cirrus_core::protocol::social::{FriendDeleteRequest, FriendListRequest, FriendView, ProfileSetRequest};
use cirrus_core::service::Caller;
use cirrus_core::social::{AllowType, Gender};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use cirrus_core::tim::{
    ALLOW_TYPE, BIRTHDAY, CUSTOM, GENDER, IMAGE, LOCATION, NICK, SIGNATURE, profile_tags as tags_of,
};

fn as_user(user: cirrus_core::ids::UserId) -> Caller {
    Caller {
        user,
        connection: None,
        guest: false,
    }
}

/// A per-item `ResultCode` and `ResultInfo` for a service error.
fn result_of(outcome: Result<(), Error>) -> (u32, String) {
    match outcome {
        Ok(()) => (0, String::new()),
        Err(Error::NotFound(what)) => (Failure::UnknownUser.code(), format!("{what} not found")),
        Err(err) if err.is_internal() => {
            tracing::error!(error = ?err, "admin item failed");
            (
                Failure::Internal.code(),
                "internal error; try again later".to_owned(),
            )
        }
        Err(err) => (Failure::InvalidParameter.code(), err.client_message()),
    }
}

#[derive(Deserialize)]
struct PortraitGet {
    #[serde(rename = "To_Account")]
    accounts: Vec<String>,
    /// The tags to read; without it (Cirrus's leniency) every tag the user has.
    #[serde(rename = "TagList", default)]
    tags: Option<Vec<String>>,
}

/// Tencent's code for an account that does not exist, in `portrait_get`'s per-user results.
const NO_SUCH_ACCOUNT: u32 = 40003;

/// `tags` out of a profile's `{"Tag", "Value"}` list, in the order asked; a tag the user never
/// set is left out.
fn only_tags(items: Vec<Value>, tags: Option<&[String]>) -> Vec<Value> {
    let Some(tags) = tags else {
        return items;
    };
    tags.iter()
        .filter_map(|tag| items.iter().find(|item| item["Tag"] == tag.as_str()).cloned())
        .collect()
}

/// # POST /v4/profile/portrait_get
/// The `TagList` tags of up to 100 users; users without an account get `ResultCode` 40003 and
/// are listed in `Fail_Account`.
pub(super) async fn portrait_get(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: PortraitGet = parse(&body)?;
    let users = cirrus_core::service::ProfileService::user_ids(body.accounts).map_err(|e| from_error(&e))?;
    let (found, missing) = api
        .deps
        .services
        .profiles
        .profiles_of(&users)
        .await
        .map_err(|e| from_error(&e))?;
    let items: Vec<Value> = users
        .iter()
        .map(|user| match found.iter().find(|p| &p.user == user) {
            Some(p) => json!({
                "To_Account": user.as_str(),
                "ProfileItem": only_tags(tags_of(&p.profile), body.tags.as_deref()),
                "ResultCode": 0,
                "ResultInfo": "",
            }),
            None => json!({
                "To_Account": user.as_str(),
                "ProfileItem": [],
                "ResultCode": NO_SUCH_ACCOUNT,
                "ResultInfo": "the account does not exist",
            }),
        })
        .collect();
    let failed: Vec<&str> = missing.iter().map(|u| u.as_str()).collect();
    Ok(ok(json!({"UserProfileItem": items, "Fail_Account": failed})))
}

#[derive(Deserialize)]
struct TagValue {
    #[serde(rename = "Tag")]
    tag: String,
    #[serde(rename = "Value")]
    value: Value,
}

#[derive(Deserialize)]
struct PortraitSet {
    #[serde(rename = "From_Account")]
    account: String,
    #[serde(rename = "ProfileItem")]
    items: Vec<TagValue>,
}

fn text_of(value: &Value) -> Result<Option<String>, Refusal> {
    match value {
        Value::String(text) => Ok(Some(text.clone())),
        Value::Null => Ok(None),
        _ => Err(failure(Failure::InvalidParameter)),
    }
}

/// # POST /v4/profile/portrait_set
/// Sets profile tags of a user (the standard ones Cirrus keeps and
/// `Tag_Profile_Custom_*`); their friends are told as when the user sets them.
pub(super) async fn portrait_set(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: PortraitSet = parse(&body)?;
    let user = user_id(&body.account)?;
    let mut change = ProfileSetRequest::default();
    let mut custom = BTreeMap::new();
    for item in body.items {
        let invalid = || Err(failure(Failure::InvalidParameter));
        match item.tag.as_str() {
            NICK => change.nickname = Some(text_of(&item.value)?),
            IMAGE => change.face_url = Some(text_of(&item.value)?),
            LOCATION => change.location = Some(text_of(&item.value)?),
            SIGNATURE => change.signature = Some(text_of(&item.value)?),
            BIRTHDAY => match item.value.as_u64().and_then(|v| u32::try_from(v).ok()) {
                Some(day) => change.birthday = Some(Some(day)),
                None => return invalid(),
            },
            GENDER => {
                change.gender = Some(match item.value.as_str() {
                    Some("Gender_Type_Unknown") => Gender::Unknown,
                    Some("Gender_Type_Female") => Gender::Female,
                    Some("Gender_Type_Male") => Gender::Male,
                    _ => return invalid(),
                });
            }
            ALLOW_TYPE => {
                change.allow_type = Some(match item.value.as_str() {
                    Some("AllowType_Type_AllowAny") => AllowType::AllowAny,
                    Some("AllowType_Type_NeedConfirm") => AllowType::NeedConfirm,
                    Some("AllowType_Type_DenyAny") => AllowType::DenyAny,
                    _ => return invalid(),
                });
            }
            tag => match tag.strip_prefix(CUSTOM) {
                Some(key) => {
                    custom.insert(key.to_owned(), text_of(&item.value)?);
                }
                None => return invalid(),
            },
        }
    }
    if !custom.is_empty() {
        change.custom = Some(custom);
    }
    let known = api
        .deps
        .services
        .accounts
        .get(&user)
        .await
        .map_err(|e| from_error(&e))?;
    if known.is_none() {
        return Err(failure(Failure::UnknownUser));
    }
    api.deps
        .services
        .profiles
        .set(&as_user(user), change)
        .await
        .map_err(|e| from_error(&e))?;
    Ok(ok(json!({})))
}

/// `GroupName` as Tencent documents it (a list of names) or as one name.
#[derive(Deserialize)]
#[serde(untagged)]
enum GroupNames {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct AddItem {
    #[serde(rename = "To_Account")]
    account: String,
    #[serde(rename = "Remark", default)]
    remark: Option<String>,
    #[serde(rename = "GroupName", default)]
    groups: Option<GroupNames>,
    /// When the friendship began (s); `friend_import` keeps it.
    #[serde(rename = "AddTime", default)]
    add_time: Option<i64>,
    // `AddSource`, `AddWording`, `RemarkTime` and `CustomItem` are read and not kept: Cirrus's
    // friend entries have no place for them (docs/rest-api.md).
}

#[derive(Deserialize)]
struct FriendAdd {
    #[serde(rename = "From_Account")]
    account: String,
    #[serde(rename = "AddFriendItem")]
    items: Vec<AddItem>,
    #[serde(rename = "AddType", default)]
    add_type: Option<String>,
}

async fn add_friends(api: &Api, body: &[u8], default_both: bool, keep_time: bool) -> Reply {
    let body: FriendAdd = parse(body)?;
    let owner = user_id(&body.account)?;
    if body.items.is_empty() || body.items.len() > 100 {
        return Err(failure(Failure::InvalidParameter));
    }
    let both = match body.add_type.as_deref() {
        None => default_both,
        Some("Add_Type_Both") => true,
        Some("Add_Type_Single") => false,
        Some(_) => return Err(failure(Failure::InvalidParameter)),
    };
    let (mut results, mut failed) = (Vec::new(), Vec::new());
    for item in body.items {
        let groups = item.groups.map(|names| match names {
            GroupNames::One(name) => vec![name],
            GroupNames::Many(names) => names,
        });
        let added_at = item
            .add_time
            .filter(|_| keep_time)
            .map(|secs| secs.saturating_mul(1000));
        let outcome = match cirrus_core::ids::UserId::parse(item.account.as_str()) {
            Ok(peer) => {
                api.deps
                    .services
                    .friends
                    .force_add(&owner, &peer, both, item.remark, groups, added_at)
                    .await
            }
            Err(err) => Err(err.into()),
        };
        let (code, info) = result_of(outcome);
        if code != 0 {
            failed.push(item.account.clone());
        }
        results.push(json!({"To_Account": item.account, "ResultCode": code, "ResultInfo": info}));
    }
    Ok(ok(json!({ "ResultItem": results, "Fail_Account": failed })))
}

/// # POST /v4/sns/friend_add
/// Adds friends on a user's behalf without verification (both ways unless
/// `AddType` is `Add_Type_Single`); a result per friend.
pub(super) async fn friend_add(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    add_friends(&api, &body, true, false).await
}

/// # POST /v4/sns/friend_import
/// Imports friends into a user's list (one way unless `AddType` says both),
/// as when migrating a relationship chain: `Remark`, `GroupName` and `AddTime` are kept.
pub(super) async fn friend_import(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    add_friends(&api, &body, false, true).await
}

#[derive(Deserialize)]
struct FriendDelete {
    #[serde(rename = "From_Account")]
    account: String,
    #[serde(rename = "To_Account")]
    peers: Vec<String>,
    #[serde(rename = "DeleteType", default)]
    delete_type: Option<String>,
}

/// # POST /v4/sns/friend_delete
/// Removes friends of a user, both ways unless `DeleteType` is
/// `Delete_Type_Single`; 70107 per friend that was not in the list.
pub(super) async fn friend_delete(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: FriendDelete = parse(&body)?;
    let owner = user_id(&body.account)?;
    let both = match body.delete_type.as_deref() {
        None | Some("Delete_Type_Both") => true,
        Some("Delete_Type_Single") => false,
        Some(_) => return Err(failure(Failure::InvalidParameter)),
    };
    let results = api
        .deps
        .services
        .friends
        .delete(
            &as_user(owner),
            FriendDeleteRequest {
                user_ids: body.peers,
                both,
            },
        )
        .await
        .map_err(|e| from_error(&e))?;
    let items: Vec<Value> = results
        .iter()
        .map(|(peer, deleted)| {
            let code = if *deleted { 0 } else { Failure::UnknownUser.code() };
            json!({"To_Account": peer.as_str(), "ResultCode": code})
        })
        .collect();
    Ok(ok(json!({ "ResultItem": items })))
}

#[derive(Deserialize)]
struct FriendGet {
    #[serde(rename = "From_Account")]
    account: String,
    #[serde(rename = "StartIndex", default)]
    start_index: u32,
    #[serde(rename = "Cursor", default)]
    cursor: Option<String>,
    #[serde(rename = "Limit", default)]
    limit: Option<u32>,
}

/// Friends a `StartIndex` page holds unless `Limit` says fewer.
const FRIEND_PAGE: u32 = 100;

/// A friend entry as `friend_get` reports it.
fn friend_item(friend: &FriendView) -> Value {
    json!({"To_Account": friend.user_id, "ValueItem": [
        {"Tag": "Tag_SNS_IM_Remark", "Value": friend.remark.clone().unwrap_or_default()},
        {"Tag": "Tag_SNS_IM_Group", "Value": friend.groups},
        {"Tag": "Tag_SNS_IM_AddTime", "Value": friend.added_at.div_euclid(1000)},
    ]})
}

/// # POST /v4/sns/friend_get
/// One page of a user's friends (`Tag_SNS_IM_Remark`, `Tag_SNS_IM_Group`,
/// `Tag_SNS_IM_AddTime`) from `StartIndex`, with `FriendNum`, `NextStartIndex` and
/// `CompleteFlag`; or, with Cirrus's `Cursor`, the page after it and the next `Cursor`.
pub(super) async fn friend_get(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: FriendGet = parse(&body)?;
    let owner = user_id(&body.account)?;
    let friends = &api.deps.services.friends;
    if body.cursor.is_some() {
        let page = friends
            .list(
                &as_user(owner),
                FriendListRequest {
                    cursor: body.cursor,
                    limit: body.limit,
                    with_profiles: false,
                },
            )
            .await
            .map_err(|e| from_error(&e))?;
        let items: Vec<Value> = page.friends.iter().map(friend_item).collect();
        let complete = page.cursor.is_none();
        return Ok(ok(json!({
            "UserDataItem": items,
            "Cursor": page.cursor,
            "CompleteFlag": u8::from(complete),
        })));
    }
    let (page, total) = friends
        .page_at(&owner, body.start_index, body.limit.unwrap_or(FRIEND_PAGE))
        .await
        .map_err(|e| from_error(&e))?;
    let next = body
        .start_index
        .saturating_add(u32::try_from(page.len()).unwrap_or(u32::MAX));
    let items: Vec<Value> = page.iter().map(friend_item).collect();
    // Cirrus keeps no version of a friend list: the sequences are 0 and the data always comes.
    Ok(ok(json!({
        "UserDataItem": items,
        "StandardSequence": 0,
        "CustomSequence": 0,
        "FriendNum": total,
        "NextStartIndex": next,
        "CompleteFlag": u8::from(next >= total),
    })))
}

#[derive(Deserialize)]
struct RecommendItem {
    #[serde(rename = "To_Account")]
    account: String,
    #[serde(rename = "Reason", default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct RecommendAdd {
    #[serde(rename = "From_Account")]
    account: String,
    #[serde(rename = "RecommendItem")]
    items: Vec<RecommendItem>,
}

/// # POST /v4/sns/recommend_add (Cirrus's own)
/// Fills a user's recommendation buffer; users who do not
/// exist or are friends already get 70107 / 70402 in `ResultItem`.
pub(super) async fn recommend_add(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: RecommendAdd = parse(&body)?;
    let owner = user_id(&body.account)?;
    if body.items.is_empty() || body.items.len() > 100 {
        return Err(failure(Failure::InvalidParameter));
    }
    let mut items = Vec::new();
    for item in body.items {
        items.push((user_id(&item.account)?, item.reason));
    }
    let results = api
        .deps
        .services
        .friends
        .recommend(&owner, items)
        .await
        .map_err(|e| from_error(&e))?;
    let items: Vec<Value> = results
        .iter()
        .map(|(peer, added)| {
            let code = if *added { 0 } else { Failure::UnknownUser.code() };
            json!({"To_Account": peer.as_str(), "ResultCode": code})
        })
        .collect();
    Ok(ok(json!({ "ResultItem": items })))
}

#[derive(Deserialize)]
struct BlackList {
    #[serde(rename = "From_Account")]
    account: String,
    #[serde(rename = "To_Account")]
    peers: Vec<String>,
}

/// # POST /v4/sns/black_list_add
/// Blocks users on a user's behalf (ending friendships and requests).
pub(super) async fn black_list_add(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: BlackList = parse(&body)?;
    let owner = user_id(&body.account)?;
    let blocked = api
        .deps
        .services
        .blocks
        .add(
            &as_user(owner),
            cirrus_core::protocol::social::UserIdsRequest { user_ids: body.peers },
        )
        .await
        .map_err(|e| from_error(&e))?;
    let items: Vec<Value> = blocked
        .iter()
        .map(|b| json!({"To_Account": b.user_id, "ResultCode": 0}))
        .collect();
    Ok(ok(json!({ "ResultItem": items })))
}

/// # POST /v4/sns/black_list_delete
/// Unblocks users on a user's behalf; 70107 per id not blocked.
pub(super) async fn black_list_delete(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: BlackList = parse(&body)?;
    let owner = user_id(&body.account)?;
    let results = api
        .deps
        .services
        .blocks
        .remove(
            &as_user(owner),
            cirrus_core::protocol::social::UserIdsRequest { user_ids: body.peers },
        )
        .await
        .map_err(|e| from_error(&e))?;
    let items: Vec<Value> = results
        .iter()
        .map(|(peer, removed)| {
            let code = if *removed { 0 } else { Failure::UnknownUser.code() };
            json!({"To_Account": peer.as_str(), "ResultCode": code})
        })
        .collect();
    Ok(ok(json!({ "ResultItem": items })))
}
