//! Groups: the four group types, member roles, and the permission matrix every group operation
//! consults (Tencent IM's Work / Public / Meeting / AVChatRoom types).

use crate::ids::{GroupId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kind of a group, which fixes its rules ([`GroupType::allows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupType {
    /// A private discussion group among people who know each other (Tencent's Work).
    Private,
    /// A public group people find and apply to join.
    Public,
    /// A chat room anyone may enter and leave (Tencent's Meeting).
    Chatroom,
    /// A live-broadcast room: unlimited, membership is the set of connections (AVChatRoom).
    Live,
}

impl GroupType {
    /// Every type, in documentation order.
    pub const ALL: [GroupType; 4] = [Self::Private, Self::Public, Self::Chatroom, Self::Live];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Public => "public",
            Self::Chatroom => "chatroom",
            Self::Live => "live",
        }
    }

    /// Tencent's name, as the REST API and callbacks write it.
    pub fn tencent_name(self) -> &'static str {
        match self {
            Self::Private => "Private",
            Self::Public => "Public",
            Self::Chatroom => "ChatRoom",
            Self::Live => "AVChatRoom",
        }
    }

    /// Whether groups of this type follow `rule`: one row of the matrix per rule, one column
    /// per type.
    pub fn allows(self, rule: Rule) -> bool {
        let column = self as usize;
        MATRIX[rule as usize].1[column]
    }

    /// Who receives this type's messages and events: the members, or (live rooms, unlimited and
    /// open to guests) the connections seated in the room.
    pub fn audience(self) -> Audience {
        match self {
            Self::Live => Audience::Seats,
            Self::Private | Self::Public | Self::Chatroom => Audience::Members,
        }
    }

    /// How people join a new group of this type unless its creator says otherwise.
    pub fn default_join_policy(self) -> JoinPolicy {
        match self {
            Self::Private => JoinPolicy::Forbidden,
            Self::Public => JoinPolicy::NeedApproval,
            Self::Chatroom | Self::Live => JoinPolicy::Free,
        }
    }
}

/// Who receives a group's messages, tips, recalls and notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Its members, from the member list.
    Members,
    /// The connections seated in it (live rooms): nothing is read or written per viewer.
    Seats,
}

/// One rule of the group-type matrix (the rows of the table in docs/groups.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// An ordinary member may edit the group profile (name, introduction, notice, avatar).
    MemberEditsProfile,
    /// The group can be found by searching its name.
    Searchable,
    /// People may apply to join (approval per the join policy).
    JoinByApplication,
    /// Members may pull others in directly, without their consent.
    MembersInvite,
    /// The owner may quit (private groups pass on; others must transfer or dismiss).
    OwnerQuits,
    /// The owner may dismiss the group.
    OwnerDismisses,
    /// Admins can be appointed.
    HasAdmins,
    /// Ordinary members may kick others.
    MembersKick,
    /// New members see the history from before they joined.
    HistoryBeforeJoin,
    /// Members are told when members join, leave or are removed.
    MemberNotifications,
    /// The group shows in members' conversation lists only once its first message is sent.
    ActivatedByFirstMessage,
    /// The member cap applies.
    MemberCap,
    /// Connections may receive messages without logging in (guests, read-only).
    GuestsReceive,
}

impl Rule {
    /// Every rule, in matrix order.
    pub const ALL: [Rule; 13] = [
        Self::MemberEditsProfile,
        Self::Searchable,
        Self::JoinByApplication,
        Self::MembersInvite,
        Self::OwnerQuits,
        Self::OwnerDismisses,
        Self::HasAdmins,
        Self::MembersKick,
        Self::HistoryBeforeJoin,
        Self::MemberNotifications,
        Self::ActivatedByFirstMessage,
        Self::MemberCap,
        Self::GuestsReceive,
    ];

    /// The rule as the matrix's documentation words it.
    pub fn describe(self) -> &'static str {
        MATRIX[self as usize].0
    }
}

/// The permission matrix: for each [`Rule`] (in declaration order), its wording and whether it
/// holds for private, public, chat room and live room (in [`GroupType`] order).
const MATRIX: [(&str, [bool; 4]); 13] = [
    (
        "ordinary member may edit group profile",
        [true, false, false, false],
    ),
    ("can be found by search", [false, true, true, false]),
    ("join by application", [false, true, true, false]),
    ("members may pull others in directly", [true, false, false, false]),
    ("owner may quit", [true, false, false, false]),
    ("owner may dismiss", [false, true, true, false]),
    ("admins can be set", [false, true, true, false]),
    ("ordinary members may kick", [false, false, false, false]),
    ("history before joining visible", [false, false, true, true]),
    ("member change notifications", [true, true, false, true]),
    (
        "activated only after the first message",
        [true, false, false, false],
    ),
    ("member cap applies", [true, true, true, false]),
    (
        "receive without logging in (web, guest)",
        [false, false, false, true],
    ),
];

/// A member's standing in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The owner: one per group.
    Owner,
    /// An administrator appointed by the owner (public groups and chat rooms).
    Admin,
    /// An ordinary member.
    Member,
}

impl Role {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Whether this role manages the group (owner or admin).
    pub fn manages(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

/// How people may join a group on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinPolicy {
    /// Anyone may join at once.
    Free,
    /// An owner or admin approves each application.
    NeedApproval,
    /// Nobody may apply (invitation only).
    Forbidden,
}

/// A group's profile and settings, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group id.
    pub id: GroupId,
    /// Its type.
    pub kind: GroupType,
    /// Display name.
    pub name: String,
    /// Introduction.
    pub introduction: Option<String>,
    /// Notice (announcement).
    pub notice: Option<String>,
    /// Avatar URL or media id.
    pub avatar: Option<String>,
    /// The current owner (none once a live room's creator left, or for an app-owned group).
    pub owner: Option<UserId>,
    /// Who created it.
    pub creator: UserId,
    /// When, ms since the epoch.
    pub created_at: i64,
    /// How people may join.
    pub join_policy: JoinPolicy,
    /// Whether only the owner and admins may speak.
    pub mute_all: bool,
    /// The member cap (ignored where [`Rule::MemberCap`] does not hold).
    pub max_members: u32,
    /// App-defined fields.
    pub custom: BTreeMap<String, String>,
    /// Members right now (live rooms: connections that joined).
    pub member_count: u32,
    /// Whether it has been dismissed (kept as a tombstone so the id stays taken).
    pub dismissed: bool,
}

/// One member of a group, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The group.
    pub group: GroupId,
    /// The member.
    pub user: UserId,
    /// Their role.
    pub role: Role,
    /// When they joined, ms since the epoch.
    pub joined_at: i64,
    /// The group stream's last seq when they joined: history before it is hidden where
    /// [`Rule::HistoryBeforeJoin`] does not hold.
    pub joined_seq: u64,
    /// Their name card in this group.
    pub name_card: Option<String>,
    /// Muted until this time, ms since the epoch (0: not muted).
    pub muted_until: i64,
    /// App-defined member fields.
    pub custom: BTreeMap<String, String>,
}

/// Why a pending request to join a group exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// The user applied; an owner or admin decides.
    Application,
    /// A member invited the user; the user decides.
    Invitation,
}

/// A pending application to join, or invitation into, a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// The group.
    pub group: GroupId,
    /// Who would join.
    pub user: UserId,
    /// Application or invitation.
    pub kind: RequestKind,
    /// Who made it: the applicant, or the inviting member.
    pub by: UserId,
    /// Their message.
    pub reason: Option<String>,
    /// When, ms since the epoch.
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matrix as issue 7 states it, parsed from its own text so a slip in [`MATRIX`] (or
    /// in the order of the enums) shows up as a failing cell.
    const ISSUE_TABLE: &str = "\
| ordinary member may edit group profile | yes | no | no | no |
| can be found by search | no | yes | yes | no |
| join by application | no | yes | yes | no (joins freely) |
| members may pull others in directly | yes | no | no | no |
| owner may quit | yes | no | no | no |
| owner may dismiss | no | yes | yes | no |
| admins can be set | no | yes | yes | no |
| ordinary members may kick | no | no | no | no |
| history before joining visible | no | no | yes | yes |
| member change notifications | yes | yes | no | yes |
| activated only after the first message | yes | no | no | no |
| member cap applies | yes | yes | yes | no (unlimited) |
| receive without logging in (web, guest) | no | no | no | yes |";

    #[test]
    fn given_the_issue_table_when_every_cell_is_compared_then_the_matrix_agrees() {
        let rows: Vec<Vec<&str>> = ISSUE_TABLE
            .lines()
            .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
            .collect();
        assert_eq!(rows.len(), Rule::ALL.len());
        for (rule, row) in Rule::ALL.into_iter().zip(&rows) {
            assert_eq!(rule.describe(), row[0]);
            for (kind, cell) in GroupType::ALL.into_iter().zip(&row[1..]) {
                let expected = cell.starts_with("yes");
                assert_eq!(kind.allows(rule), expected, "{} / {}", row[0], kind.name());
            }
        }
    }

    #[test]
    fn given_each_type_when_created_then_its_default_join_policy_follows_the_matrix() {
        for kind in GroupType::ALL {
            let policy = kind.default_join_policy();
            if kind.allows(Rule::JoinByApplication) {
                assert_ne!(policy, JoinPolicy::Forbidden, "{}", kind.name());
            }
            if kind.allows(Rule::MembersInvite) {
                assert_eq!(policy, JoinPolicy::Forbidden, "{}", kind.name());
            }
        }
        assert_eq!(GroupType::Live.default_join_policy(), JoinPolicy::Free);
    }

    #[test]
    fn given_wire_names_when_parsed_then_they_round_trip() {
        for kind in GroupType::ALL {
            let text = serde_json::to_string(&kind).unwrap();
            assert_eq!(text, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<GroupType>(&text).unwrap(), kind);
        }
        assert!(serde_json::from_str::<GroupType>("\"work\"").is_err());
        assert_eq!(
            serde_json::to_string(&JoinPolicy::NeedApproval).unwrap(),
            "\"need_approval\""
        );
        assert!(Role::Owner.manages() && Role::Admin.manages() && !Role::Member.manages());
    }
}
