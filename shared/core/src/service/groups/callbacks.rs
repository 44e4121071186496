//! The groups' callbacks: before a group is created, an application taken or users invited
//! (`Group.CallbackBeforeCreateGroup`, `…BeforeApplyJoinGroup`, `…BeforeInviteJoinGroup`), and
//! after (`Group.CallbackAfterCreateGroup`, `…AfterGroupDestroyed`, `…AfterNewMemberJoin`,
//! `…AfterMemberExit`, `…AfterGroupInfoChanged`, `…AfterChangeGroupOwner`,
//! `…AfterMemberFieldChanged`, `…AfterGroupFull`), with Tencent's fields. Live rooms' viewers are
//! not members: their comings and goings are `Group.CallbackOnMemberStateChange`.

use super::*;
use crate::callbacks::CallbackCommand;
use crate::service::callback_hooks::Fields;
use serde_json::{Value, json};

/// `[{"Member_Account": …}, …]`.
fn member_list<'a>(users: impl IntoIterator<Item = &'a UserId>) -> Value {
    Value::Array(
        users
            .into_iter()
            .map(|user| json!({"Member_Account": user.as_str()}))
            .collect(),
    )
}

/// The fields every group callback starts with.
fn group_fields(group: &Group, now: i64) -> Fields {
    let mut fields = Fields::new();
    fields.insert("GroupId".into(), json!(group.id.as_str()));
    fields.insert("Type".into(), json!(group.kind.tencent_name()));
    fields.insert("EventTime".into(), json!(now));
    fields
}

/// The fields of a callback about the whole group (created, about to be, dismissed): who did
/// it, the owner, the name and the members.
fn whole_group_fields<'a>(
    group: &Group,
    now: i64,
    by: &UserId,
    members: impl IntoIterator<Item = &'a UserId>,
) -> Fields {
    let mut fields = group_fields(group, now);
    fields.insert("Operator_Account".into(), json!(by.as_str()));
    let owner = group.owner.as_ref().map(UserId::as_str).unwrap_or_default();
    fields.insert("Owner_Account".into(), json!(owner));
    fields.insert("Name".into(), json!(group.name));
    fields.insert("MemberList".into(), member_list(members));
    fields
}

/// What live-room viewers did (they are no members: no tip, no join or exit callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Viewers {
    /// They entered the room.
    Entered,
    /// They left it or were removed.
    Left,
}

impl GroupService {
    /// Runs `Group.CallbackBeforeCreateGroup`: the app may refuse the group.
    pub(super) async fn before_create(&self, group: &Group, by: &UserId, founders: &[Member]) -> Result<()> {
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .before(CallbackCommand::GroupBeforeCreateGroup, || {
                whole_group_fields(group, now, by, founders.iter().map(|m| &m.user))
            })
            .await
            .map(|_| ())
    }

    /// Runs `Group.CallbackBeforeApplyJoinGroup` for `user` asking to join.
    pub(super) async fn before_apply(&self, group: &Group, user: &UserId) -> Result<()> {
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .before(CallbackCommand::GroupBeforeApplyJoinGroup, || {
                let mut fields = group_fields(group, now);
                fields.insert("Requestor_Account".into(), json!(user.as_str()));
                fields
            })
            .await
            .map(|_| ())
    }

    /// Runs `Group.CallbackBeforeInviteJoinGroup`: the app may refuse the whole invitation
    /// (`ErrorCode`) or some of the users (`RefusedMembers_Account`); returns those kept.
    pub(super) async fn before_invite(
        &self,
        group: &Group,
        by: &UserId,
        users: Vec<UserId>,
    ) -> Result<Vec<UserId>> {
        if users.is_empty() {
            return Ok(users);
        }
        let now = self.ports.clock.now_ms();
        let reply = self
            .ports
            .callbacks
            .before(CallbackCommand::GroupBeforeInviteJoinGroup, || {
                let mut fields = group_fields(group, now);
                fields.insert("Operator_Account".into(), json!(by.as_str()));
                fields.insert("DestinationMembers".into(), member_list(&users));
                fields
            })
            .await?;
        let refused: Vec<&str> = reply
            .as_ref()
            .and_then(|reply| reply.get("RefusedMembers_Account"))
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        Ok(users
            .into_iter()
            .filter(|user| !refused.contains(&user.as_str()))
            .collect())
    }

    /// Queues `Group.CallbackAfterCreateGroup`: the group as created, by `by`, with its founders.
    pub(super) async fn created_callback(&self, group: &Group, by: &UserId, founders: &[Member]) {
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(CallbackCommand::GroupAfterCreateGroup, || {
                whole_group_fields(group, now, by, founders.iter().map(|m| &m.user))
            })
            .await;
    }

    /// Queues `Group.CallbackAfterGroupDestroyed`: the group dismissed by `by`, with the members
    /// it had.
    pub(super) async fn destroyed_callback(&self, group: &Group, by: &UserId, members: &[UserId]) {
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(CallbackCommand::GroupAfterGroupDestroyed, || {
                whole_group_fields(group, now, by, members)
            })
            .await;
    }

    /// Queues the callback of a membership change: `Group.CallbackAfterNewMemberJoin` for joins,
    /// `Group.CallbackAfterMemberExit` for exits.
    pub(super) async fn member_callback(
        &self,
        group: &Group,
        change: MemberChange,
        by: &UserId,
        users: &[UserId],
    ) {
        let (command, kind_field, kind, list_field) = match change {
            MemberChange::Invited => (
                CallbackCommand::GroupAfterNewMemberJoin,
                "JoinType",
                "Invited",
                "NewMemberList",
            ),
            MemberChange::Applied => (
                CallbackCommand::GroupAfterNewMemberJoin,
                "JoinType",
                "Apply",
                "NewMemberList",
            ),
            MemberChange::Quit => (
                CallbackCommand::GroupAfterMemberExit,
                "ExitType",
                "Quit",
                "ExitMemberList",
            ),
            MemberChange::Kicked => (
                CallbackCommand::GroupAfterMemberExit,
                "ExitType",
                "Kicked",
                "ExitMemberList",
            ),
        };
        if users.is_empty() || group.kind == GroupType::Live {
            return;
        }
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(command, || {
                let mut fields = group_fields(group, now);
                fields.insert(kind_field.into(), json!(kind));
                fields.insert("Operator_Account".into(), json!(by.as_str()));
                fields.insert(list_field.into(), member_list(users));
                fields
            })
            .await;
    }

    /// Queues `Group.CallbackAfterGroupInfoChanged` with the standard fields `changes` names
    /// (Tencent's `Name`, `Introduction`, `Notification`, `FaceUrl`); other changes fire nothing.
    pub(super) async fn info_changed_callback(&self, group: &Group, by: &UserId, changes: &Fields) {
        let renamed: Vec<(&str, Value)> = [
            ("name", "Name"),
            ("introduction", "Introduction"),
            ("notice", "Notification"),
            ("avatar", "FaceUrl"),
        ]
        .into_iter()
        .filter_map(|(ours, theirs)| {
            changes
                .get(ours)
                .map(|value| (theirs, if value.is_null() { json!("") } else { value.clone() }))
        })
        .collect();
        if renamed.is_empty() {
            return;
        }
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(CallbackCommand::GroupAfterGroupInfoChanged, || {
                let mut fields = group_fields(group, now);
                fields.insert("Operator_Account".into(), json!(by.as_str()));
                fields.extend(renamed.into_iter().map(|(k, v)| (k.to_owned(), v)));
                fields
            })
            .await;
    }

    /// Queues `Group.CallbackAfterChangeGroupOwner`.
    pub(super) async fn owner_changed_callback(&self, group: &Group, old: Option<&UserId>, new: &UserId) {
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(CallbackCommand::GroupAfterChangeGroupOwner, || {
                let mut fields = group_fields(group, now);
                fields.insert("NewOwner_Account".into(), json!(new.as_str()));
                fields.insert(
                    "OldOwner_Account".into(),
                    json!(old.map(UserId::as_str).unwrap_or_default()),
                );
                fields
            })
            .await;
    }

    /// Queues `Group.CallbackAfterMemberFieldChanged` for `member`'s name card and custom fields,
    /// as changed by `by`.
    pub(super) async fn member_field_callback(&self, group: &Group, by: &UserId, member: &Member) {
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(CallbackCommand::GroupAfterMemberFieldChanged, || {
                let mut fields = group_fields(group, now);
                fields.insert("Operator_Account".into(), json!(by.as_str()));
                let defined: Vec<Value> = member
                    .custom
                    .iter()
                    .map(|(key, value)| json!({"Key": key, "Value": value}))
                    .collect();
                fields.insert(
                    "MemberList".into(),
                    json!([{"Member_Account": member.user.as_str(),
                            "NameCard": member.name_card.clone().unwrap_or_default(),
                            "AppMemberDefinedData": defined}]),
                );
                fields
            })
            .await;
    }

    /// Queues `Group.CallbackAfterGroupFull` when `added` filled a group with a member cap (by
    /// the count read with the group, so a race may tell it a moment late).
    pub(super) async fn full_callback(&self, group: &Group, added: usize) {
        let full = group.kind.allows(Rule::MemberCap)
            && added > 0
            && group.member_count as usize + added >= group.max_members as usize;
        if !full {
            return;
        }
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(CallbackCommand::GroupAfterGroupFull, || group_fields(group, now))
            .await;
    }

    /// Queues `Group.CallbackOnMemberStateChange` for a live room's viewer: `Online` when they
    /// entered, `Offline` when they left or were removed.
    pub(super) async fn viewer_callback(&self, group: &Group, event: Viewers, users: &[UserId]) {
        if users.is_empty() {
            return;
        }
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(CallbackCommand::GroupOnMemberStateChange, || {
                let mut fields = group_fields(group, now);
                let event = match event {
                    Viewers::Entered => "Online",
                    Viewers::Left => "Offline",
                };
                fields.insert("EventType".into(), json!(event));
                fields.insert("MemberList".into(), member_list(users));
                fields
            })
            .await;
    }
}
