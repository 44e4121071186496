//! Wire types of the profile and relationship actions (`profile.*`, `user.search`, `friend.*`)
//! and their events.

use crate::social::{AllowType, Friend, FriendRequest, Gender, Profile, RequestDirection};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `profile.get` request: whose profiles (the caller's own when absent).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileGetRequest {
    /// 1 to 100 user ids.
    #[serde(default)]
    pub user_ids: Option<Vec<String>>,
}

/// A profile on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    /// Whose.
    pub user_id: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Avatar URL or media id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face_url: Option<String>,
    /// Gender.
    pub gender: Gender,
    /// `YYYYMMDD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<u32>,
    /// Signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Friend-verification mode.
    pub allow_type: AllowType,
    /// Custom fields.
    pub custom: BTreeMap<String, String>,
    /// Last change, ms (0: never set).
    pub updated_at: i64,
}

impl ProfileView {
    /// The wire form of `user`'s `profile`.
    pub fn new(user: &str, profile: &Profile) -> Self {
        Self {
            user_id: user.to_owned(),
            nickname: profile.nickname.clone(),
            face_url: profile.face_url.clone(),
            gender: profile.gender,
            birthday: profile.birthday,
            signature: profile.signature.clone(),
            location: profile.location.clone(),
            allow_type: profile.allow_type,
            custom: profile.custom.clone(),
            updated_at: profile.updated_at,
        }
    }
}

/// `profile.get` reply.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfilesReply {
    /// The profiles found, in the order asked.
    pub profiles: Vec<ProfileView>,
    /// Ids that name no user.
    pub not_found: Vec<String>,
}

/// `profile.set` request: only the fields present change; `null` clears a field (and a custom
/// key).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileSetRequest {
    /// Display name.
    #[serde(default, deserialize_with = "present")]
    pub nickname: Option<Option<String>>,
    /// Avatar URL or media id.
    #[serde(default, deserialize_with = "present")]
    pub face_url: Option<Option<String>>,
    /// Gender.
    #[serde(default)]
    pub gender: Option<Gender>,
    /// `YYYYMMDD`.
    #[serde(default, deserialize_with = "present")]
    pub birthday: Option<Option<u32>>,
    /// Signature.
    #[serde(default, deserialize_with = "present")]
    pub signature: Option<Option<String>>,
    /// Location.
    #[serde(default, deserialize_with = "present")]
    pub location: Option<Option<String>>,
    /// Friend-verification mode.
    #[serde(default)]
    pub allow_type: Option<AllowType>,
    /// Custom fields to set (a string) or remove (`null`).
    #[serde(default)]
    pub custom: Option<BTreeMap<String, Option<String>>>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `user.search` request: by exact user id or by nickname prefix.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSearchRequest {
    /// An exact user id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// A nickname prefix (case-insensitive).
    #[serde(default)]
    pub nickname: Option<String>,
    /// At most this many results (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `friend.add` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FriendAddRequest {
    /// Whom to add.
    pub user_id: String,
    /// Why (shown to them when a request is needed).
    #[serde(default)]
    pub reason: Option<String>,
    /// The caller's remark for them.
    #[serde(default)]
    pub remark: Option<String>,
    /// The caller's friend groups to put them in.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// The outcome of `friend.add`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddOutcome {
    /// Friends now, both ways.
    Added,
    /// A request is waiting for them.
    Pending,
}

/// `friend.add` reply.
#[derive(Debug, Serialize)]
pub struct FriendAddReply {
    /// Added or pending.
    pub result: AddOutcome,
}

/// A request naming one other user (`friend.accept`, `friend.reject`, `friend.withdraw`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerRequest {
    /// The other user.
    pub user_id: String,
    /// The caller's remark for them (`friend.accept` only).
    #[serde(default)]
    pub remark: Option<String>,
}

/// `friend.requests` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FriendRequestsRequest {
    /// Incoming (to the caller) or outgoing (from the caller).
    pub direction: RequestDirection,
    /// From a previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A pending request on the wire.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FriendRequestView {
    /// Who asks.
    pub from: String,
    /// Who is asked.
    pub to: String,
    /// The reason given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When, ms.
    pub created_at: i64,
}

impl From<&FriendRequest> for FriendRequestView {
    fn from(request: &FriendRequest) -> Self {
        Self {
            from: request.from.to_string(),
            to: request.to.to_string(),
            reason: request.reason.clone(),
            created_at: request.created_at,
        }
    }
}

/// `friend.requests` reply.
#[derive(Debug, Serialize)]
pub struct FriendRequestsReply {
    /// One page, by the other side's user id.
    pub requests: Vec<FriendRequestView>,
    /// Present when more pages follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `friend.list` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FriendListRequest {
    /// From a previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Also return each friend's profile.
    #[serde(default)]
    pub with_profiles: bool,
}

/// A friend on the wire.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FriendView {
    /// The friend.
    pub user_id: String,
    /// The caller's remark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// The caller's groups for them.
    pub groups: Vec<String>,
    /// Since when, ms.
    pub added_at: i64,
    /// Their profile, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileView>,
}

impl From<&Friend> for FriendView {
    fn from(friend: &Friend) -> Self {
        Self {
            user_id: friend.peer.to_string(),
            remark: friend.remark.clone(),
            groups: friend.groups.clone(),
            added_at: friend.added_at,
            profile: None,
        }
    }
}

/// `friend.list` reply.
#[derive(Debug, Serialize)]
pub struct FriendListReply {
    /// One page, by user id.
    pub friends: Vec<FriendView>,
    /// Present when more pages follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `friend.delete` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FriendDeleteRequest {
    /// 1 to 100 friends.
    pub user_ids: Vec<String>,
    /// Remove the caller from their lists too (the default), or only them from the caller's.
    #[serde(default = "yes")]
    pub both: bool,
}

fn yes() -> bool {
    true
}

/// `friend.check` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserIdsRequest {
    /// 1 to 100 user ids.
    pub user_ids: Vec<String>,
}

/// How the caller and another user are related.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// In neither list.
    None,
    /// In the caller's list only.
    OneWay,
    /// The caller is in their list only.
    ReverseOneWay,
    /// In each other's lists.
    Both,
}

/// One user's relation in a `friend.check` reply.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RelationView {
    /// The other user.
    pub user_id: String,
    /// The relation.
    pub relation: Relation,
}

/// `friend.remark` request: the caller's remark and groups for a friend.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FriendRemarkRequest {
    /// The friend.
    pub user_id: String,
    /// New remark (`null` clears it; absent keeps it).
    #[serde(default, deserialize_with = "present")]
    pub remark: Option<Option<String>>,
    /// New groups (absent keeps them).
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// Event data naming another user (`friend.added`, `friend.deleted`, `friend.request_*`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerEvent<'a> {
    /// The other user.
    pub user_id: &'a str,
}

/// A page request (`block.list`, `friend.recommendations`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageRequest {
    /// From a previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A block on the wire.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockView {
    /// The blocked user.
    pub user_id: String,
    /// Since when, ms.
    pub blocked_at: i64,
}

/// A recommendation on the wire.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecommendationView {
    /// The suggested user.
    pub user_id: String,
    /// Why, as the app says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was added, ms.
    pub added_at: i64,
}

/// `notify.list` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotifyListRequest {
    /// Only notifications after this id (the `cursor` of the previous page, or the last id seen).
    #[serde(default)]
    pub after: Option<String>,
    /// Page size (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A kept notification on the wire: the event as it was pushed, with its id and time.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    /// Orders the user's notifications.
    pub id: String,
    /// The event name.
    pub event: String,
    /// The event's data.
    pub data: serde_json::Value,
    /// When, ms.
    pub time: i64,
}

/// `notify.list` reply.
#[derive(Debug, Serialize)]
pub struct NotifyListReply {
    /// One page, oldest first.
    pub notifications: Vec<NotificationView>,
    /// Present when more follow: pass it as `after`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
