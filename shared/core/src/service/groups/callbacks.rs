//! The groups' after-callbacks: `Group.CallbackAfterCreateGroup`, `…AfterGroupDestroyed`,
//! `…AfterNewMemberJoin` and `…AfterMemberExit`, with Tencent's fields. Live rooms' viewers are
//! not members: their comings and goings are `Group.CallbackOnMemberStateChange` (not built
//! yet), so they fire none of these.

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

impl GroupService {
    /// Queues `Group.CallbackAfterCreateGroup`: the group as created, by `by`, with its founders.
    pub(super) async fn created_callback(&self, group: &Group, by: &UserId, founders: &[Member]) {
        let now = self.ports.clock.now_ms();
        self.ports
            .callbacks
            .after(CallbackCommand::GroupAfterCreateGroup, || {
                let mut fields = group_fields(group, now);
                fields.insert("Operator_Account".into(), json!(by.as_str()));
                let owner = group.owner.as_ref().map(UserId::as_str).unwrap_or_default();
                fields.insert("Owner_Account".into(), json!(owner));
                fields.insert("Name".into(), json!(group.name));
                fields.insert("MemberList".into(), member_list(founders.iter().map(|m| &m.user)));
                fields
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
                let mut fields = group_fields(group, now);
                fields.insert("Operator_Account".into(), json!(by.as_str()));
                let owner = group.owner.as_ref().map(UserId::as_str).unwrap_or_default();
                fields.insert("Owner_Account".into(), json!(owner));
                fields.insert("Name".into(), json!(group.name));
                fields.insert("MemberList".into(), member_list(members));
                fields
            })
            .await;
    }

    /// Queues the callback of a membership change a tip names: joins (`members_invited`:
    /// `JoinType` `Invited`; `member_joined`: `Apply`) and exits (`member_quit`: `ExitType`
    /// `Quit`; `members_kicked`: `Kicked`). Other tips fire nothing.
    pub(super) async fn member_callback(&self, group: &Group, tip: &str, by: &UserId, users: &[UserId]) {
        let (command, kind_field, kind, list_field) = match tip {
            "members_invited" => (
                CallbackCommand::GroupAfterNewMemberJoin,
                "JoinType",
                "Invited",
                "NewMemberList",
            ),
            "member_joined" => (
                CallbackCommand::GroupAfterNewMemberJoin,
                "JoinType",
                "Apply",
                "NewMemberList",
            ),
            "member_quit" => (
                CallbackCommand::GroupAfterMemberExit,
                "ExitType",
                "Quit",
                "ExitMemberList",
            ),
            "members_kicked" => (
                CallbackCommand::GroupAfterMemberExit,
                "ExitType",
                "Kicked",
                "ExitMemberList",
            ),
            _ => return,
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
}
