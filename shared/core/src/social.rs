//! Profiles and the relationship chain: the records the social stores keep.

use crate::ids::UserId;
use std::collections::BTreeMap;

/// Who may add a user as a friend (Tencent's `AllowType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllowType {
    /// Anyone may add them directly.
    AllowAny,
    /// A request they accept or reject (the default, as in Tencent IM).
    #[default]
    NeedConfirm,
    /// Nobody may add them.
    DenyAny,
}

impl AllowType {
    /// The type as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllowAny => "allow_any",
            Self::NeedConfirm => "need_confirm",
            Self::DenyAny => "deny_any",
        }
    }

    /// Reads a stored type; `None` for text this version does not know.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "allow_any" => Some(Self::AllowAny),
            "need_confirm" => Some(Self::NeedConfirm),
            "deny_any" => Some(Self::DenyAny),
            _ => None,
        }
    }
}

/// Gender, as Tencent's standard profile field has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Not said.
    #[default]
    Unknown,
    /// Female.
    Female,
    /// Male.
    Male,
}

impl Gender {
    /// The gender as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Female => "female",
            Self::Male => "male",
        }
    }

    /// Reads a stored gender; `None` for text this version does not know.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "unknown" => Some(Self::Unknown),
            "female" => Some(Self::Female),
            "male" => Some(Self::Male),
            _ => None,
        }
    }
}

/// One user's profile: the standard fields, custom fields and the friend-verification mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// Display name.
    pub nickname: Option<String>,
    /// Avatar: a URL or a media id.
    pub face_url: Option<String>,
    /// Gender.
    pub gender: Gender,
    /// Birthday as `YYYYMMDD`.
    pub birthday: Option<u32>,
    /// Personal signature.
    pub signature: Option<String>,
    /// Free-form location.
    pub location: Option<String>,
    /// Who may add them as a friend.
    pub allow_type: AllowType,
    /// App-defined fields (`Tag_Profile_Custom_*` in Tencent's terms), by key.
    pub custom: BTreeMap<String, String>,
    /// Last change, ms since the epoch (0: never set).
    pub updated_at: i64,
}

/// A stored profile and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    /// The user.
    pub user: UserId,
    /// Their profile.
    pub profile: Profile,
}

/// The nickname form searches match on: lower-cased, so a prefix search ignores case.
pub fn nickname_key(nickname: &str) -> String {
    nickname.to_lowercase()
}

/// One side of a friendship: `owner` has `peer` in their friend list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Friend {
    /// Whose list the entry is in.
    pub owner: UserId,
    /// The friend.
    pub peer: UserId,
    /// The owner's remark (display name) for the friend.
    pub remark: Option<String>,
    /// The owner's friend groups (tags) the friend is in, sorted, each once.
    pub groups: Vec<String>,
    /// When the friendship began, ms since the epoch.
    pub added_at: i64,
}

/// A pending friend request from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRequest {
    /// Who asks.
    pub from: UserId,
    /// Who is asked.
    pub to: UserId,
    /// The requester's optional reason.
    pub reason: Option<String>,
    /// The remark the requester will give the peer once accepted.
    pub remark: Option<String>,
    /// When it was made, ms since the epoch.
    pub created_at: i64,
}

/// Which side of a user's pending requests to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestDirection {
    /// Requests others made to the user.
    Incoming,
    /// Requests the user made to others.
    Outgoing,
}

/// `owner` blocked `peer`: the peer cannot send to, befriend or ask the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Who blocked.
    pub owner: UserId,
    /// Who is blocked.
    pub peer: UserId,
    /// When, ms since the epoch.
    pub blocked_at: i64,
}

/// A friend suggestion the app server put in `owner`'s recommendation buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    /// Whose buffer.
    pub owner: UserId,
    /// The suggested user.
    pub peer: UserId,
    /// Why, as the app says (shown to the user).
    pub reason: Option<String>,
    /// When it was added, ms since the epoch.
    pub added_at: i64,
}

/// A relationship event kept for a user to fetch later (a system notification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Whose.
    pub owner: UserId,
    /// Orders a user's notifications: increasing in time, unique per user (assigned by the
    /// service, e.g. a time-ordered id).
    pub id: String,
    /// The event name (`friend.added`, …).
    pub event: String,
    /// The event's data, as JSON text.
    pub data: String,
    /// When, ms since the epoch.
    pub time: i64,
}
