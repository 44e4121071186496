//! Callbacks to the app's server, in Tencent IM's shape: the commands (Tencent's names), and the
//! configuration an administrator sets at run time (the URL, the commands turned on, each one's
//! timeout and fail mode, the token that signs every call).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A callback command, by Tencent's `CallbackCommand` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallbackCommand {
    /// A user's connection state changed (login, logout, disconnect).
    StateChange,
    /// A user set their profile.
    PortraitSet,
    /// Before a friend request is sent.
    PrevFriendAdd,
    /// Before a friend request is answered.
    PrevFriendResponse,
    /// After a friendship was made.
    FriendAdd,
    /// After a friendship was removed.
    FriendDelete,
    /// After a user was blocked.
    BlackListAdd,
    /// After a user was unblocked.
    BlackListDelete,
    /// Before a one-to-one message is stored and delivered: may refuse or rewrite it.
    C2cBeforeSendMsg,
    /// After a one-to-one message was stored.
    C2cAfterSendMsg,
    /// After a one-to-one conversation was read.
    C2cAfterMsgReport,
    /// After a one-to-one message was recalled.
    C2cAfterMsgWithDraw,
    /// After a one-to-one message was edited.
    C2cAfterModifyMsg,
    /// Before a group is created.
    GroupBeforeCreateGroup,
    /// After a group was created.
    GroupAfterCreateGroup,
    /// Before an application to join a group is taken.
    GroupBeforeApplyJoinGroup,
    /// Before users are invited into a group.
    GroupBeforeInviteJoinGroup,
    /// After members joined a group.
    GroupAfterNewMemberJoin,
    /// After members left or were removed.
    GroupAfterMemberExit,
    /// Before a group message is stored and delivered: may refuse or rewrite it.
    GroupBeforeSendMsg,
    /// After a group message was stored.
    GroupAfterSendMsg,
    /// After a group reached its member cap.
    GroupAfterGroupFull,
    /// After a group was dismissed.
    GroupAfterGroupDestroyed,
    /// After a group's profile changed.
    GroupAfterGroupInfoChanged,
    /// After a member's fields changed (name card, custom fields).
    GroupAfterMemberFieldChanged,
    /// After a group changed owner.
    GroupAfterChangeGroupOwner,
    /// After a group message was recalled.
    GroupAfterRecallMsg,
    /// A live-room viewer entered or left.
    GroupOnMemberStateChange,
}

impl CallbackCommand {
    /// Every command.
    pub const ALL: [Self; 28] = [
        Self::StateChange,
        Self::PortraitSet,
        Self::PrevFriendAdd,
        Self::PrevFriendResponse,
        Self::FriendAdd,
        Self::FriendDelete,
        Self::BlackListAdd,
        Self::BlackListDelete,
        Self::C2cBeforeSendMsg,
        Self::C2cAfterSendMsg,
        Self::C2cAfterMsgReport,
        Self::C2cAfterMsgWithDraw,
        Self::C2cAfterModifyMsg,
        Self::GroupBeforeCreateGroup,
        Self::GroupAfterCreateGroup,
        Self::GroupBeforeApplyJoinGroup,
        Self::GroupBeforeInviteJoinGroup,
        Self::GroupAfterNewMemberJoin,
        Self::GroupAfterMemberExit,
        Self::GroupBeforeSendMsg,
        Self::GroupAfterSendMsg,
        Self::GroupAfterGroupFull,
        Self::GroupAfterGroupDestroyed,
        Self::GroupAfterGroupInfoChanged,
        Self::GroupAfterMemberFieldChanged,
        Self::GroupAfterChangeGroupOwner,
        Self::GroupAfterRecallMsg,
        Self::GroupOnMemberStateChange,
    ];

    /// Tencent's `CallbackCommand` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::StateChange => "State.StateChange",
            Self::PortraitSet => "Profile.CallbackPortraitSet",
            Self::PrevFriendAdd => "Sns.CallbackPrevFriendAdd",
            Self::PrevFriendResponse => "Sns.CallbackPrevFriendResponse",
            Self::FriendAdd => "Sns.CallbackFriendAdd",
            Self::FriendDelete => "Sns.CallbackFriendDelete",
            Self::BlackListAdd => "Sns.CallbackBlackListAdd",
            Self::BlackListDelete => "Sns.CallbackBlackListDelete",
            Self::C2cBeforeSendMsg => "C2C.CallbackBeforeSendMsg",
            Self::C2cAfterSendMsg => "C2C.CallbackAfterSendMsg",
            Self::C2cAfterMsgReport => "C2C.CallbackAfterMsgReport",
            Self::C2cAfterMsgWithDraw => "C2C.CallbackAfterMsgWithDraw",
            Self::C2cAfterModifyMsg => "C2C.CallbackAfterModifyMsg",
            Self::GroupBeforeCreateGroup => "Group.CallbackBeforeCreateGroup",
            Self::GroupAfterCreateGroup => "Group.CallbackAfterCreateGroup",
            Self::GroupBeforeApplyJoinGroup => "Group.CallbackBeforeApplyJoinGroup",
            Self::GroupBeforeInviteJoinGroup => "Group.CallbackBeforeInviteJoinGroup",
            Self::GroupAfterNewMemberJoin => "Group.CallbackAfterNewMemberJoin",
            Self::GroupAfterMemberExit => "Group.CallbackAfterMemberExit",
            Self::GroupBeforeSendMsg => "Group.CallbackBeforeSendMsg",
            Self::GroupAfterSendMsg => "Group.CallbackAfterSendMsg",
            Self::GroupAfterGroupFull => "Group.CallbackAfterGroupFull",
            Self::GroupAfterGroupDestroyed => "Group.CallbackAfterGroupDestroyed",
            Self::GroupAfterGroupInfoChanged => "Group.CallbackAfterGroupInfoChanged",
            Self::GroupAfterMemberFieldChanged => "Group.CallbackAfterMemberFieldChanged",
            Self::GroupAfterChangeGroupOwner => "Group.CallbackAfterChangeGroupOwner",
            Self::GroupAfterRecallMsg => "Group.CallbackAfterRecallMsg",
            Self::GroupOnMemberStateChange => "Group.CallbackOnMemberStateChange",
        }
    }

    /// The command with Tencent's name `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|command| command.name() == name)
    }

    /// Whether it runs before the operation and decides on it (the others tell what happened).
    pub fn is_before(self) -> bool {
        matches!(
            self,
            Self::PrevFriendAdd
                | Self::PrevFriendResponse
                | Self::C2cBeforeSendMsg
                | Self::GroupBeforeCreateGroup
                | Self::GroupBeforeApplyJoinGroup
                | Self::GroupBeforeInviteJoinGroup
                | Self::GroupBeforeSendMsg
        )
    }
}

impl Serialize for CallbackCommand {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for CallbackCommand {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown callback command `{name}`")))
    }
}

/// What a before-callback that times out or fails decides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// The operation goes ahead (Tencent's behaviour).
    #[default]
    Open,
    /// The operation is refused with `callback_failed`.
    Closed,
}

/// How one command is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandSettings {
    /// How long one call may take, in ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
    /// What a before-callback that times out or fails decides (after-callbacks are retried).
    #[serde(default)]
    pub fail: FailMode,
}

impl Default for CommandSettings {
    fn default() -> Self {
        Self {
            timeout_ms: DEFAULT_TIMEOUT_MS,
            fail: FailMode::Open,
        }
    }
}

/// A call's timeout when none is set (Tencent's before-callbacks: 2 s).
pub const DEFAULT_TIMEOUT_MS: u32 = 2000;
/// The shortest timeout a command may have, in ms.
pub const MIN_TIMEOUT_MS: u32 = 100;
/// The longest timeout a command may have, in ms.
pub const MAX_TIMEOUT_MS: u32 = 10_000;
/// The longest callback URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

/// The app's callback configuration: one URL, the commands turned on, and the token that
/// authenticates every call (Tencent's `Sign` in the query, and the key of the body signature).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallbackConfig {
    /// Where every callback is POSTed (`http` or `https`).
    pub url: String,
    /// The authentication token; without one calls are unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The commands turned on, each with its settings.
    #[serde(default)]
    pub commands: BTreeMap<CallbackCommand, CommandSettings>,
}

impl CallbackConfig {
    /// Checks what an administrator sent: an http(s) URL, timeouts in range, a token of
    /// printable ASCII. Unknown command names are refused when the JSON is read.
    pub fn validate(&self) -> Result<()> {
        let url = self.url.trim();
        let scheme_ok = ["http://", "https://"].iter().any(|scheme| {
            url.get(..scheme.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
                && url.len() > scheme.len()
        });
        if !scheme_ok || url.len() > MAX_URL_BYTES || url.chars().any(char::is_whitespace) {
            return Err(Error::InvalidField(format!(
                "url must be an http or https URL of at most {MAX_URL_BYTES} bytes"
            )));
        }
        if let Some(token) = &self.token
            && (token.is_empty() || token.len() > 256 || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(Error::InvalidField(
                "token must be 1 to 256 printable ASCII characters".to_owned(),
            ));
        }
        for (command, settings) in &self.commands {
            if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&settings.timeout_ms) {
                return Err(Error::InvalidField(format!(
                    "{}: timeoutMs must be from {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}",
                    command.name()
                )));
            }
        }
        Ok(())
    }

    /// How `command` is called, if it is turned on.
    pub fn command(&self, command: CallbackCommand) -> Option<CommandSettings> {
        self.commands.get(&command).copied()
    }

    /// Reads a configuration an administrator sent, refusing anything [`validate`](Self::validate)
    /// or the JSON shape refuses.
    pub fn from_json(json: &str) -> Result<Self> {
        let config: Self = serde_json::from_str(json).map_err(|err| Error::InvalidField(err.to_string()))?;
        config.validate()?;
        Ok(config)
    }
}

/// One call to the app's server: the command and its fields, as Tencent names them, with an id
/// that stays the same across the retries of an after-callback (the receiver de-duplicates on
/// it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackCall {
    /// Unique per event; retries keep it.
    pub id: String,
    /// What happened, or is about to.
    pub command: CallbackCommand,
    /// The command's fields (Tencent's names: `From_Account`, `MsgBody`, …), without
    /// `CallbackCommand`, which the client adds.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// What the app's server answered: `ErrorCode` 0 allows, anything else refuses (a before-callback)
/// or is only logged (an after-callback); `fields` is the whole reply, for rewrites.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackReply {
    /// Tencent's `ErrorCode`.
    pub error_code: i64,
    /// Tencent's `ErrorInfo`, shown to the refused client.
    pub error_info: String,
    /// Every field of the reply.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Why a call brought no answer to act on. Never carries the URL or the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackFailure {
    /// No answer within the command's timeout.
    #[error("the callback timed out")]
    Timeout,
    /// The connection failed.
    #[error("the callback could not be sent: {0}")]
    Transport(String),
    /// The server answered with a status other than 2xx.
    #[error("the callback server answered HTTP {0}")]
    Status(u16),
    /// The answer is not Tencent's JSON reply.
    #[error("the callback server's answer is not a callback reply")]
    BadReply,
}

/// Most bytes of the app's `ErrorInfo` passed on to a refused client.
pub const MAX_ERROR_INFO_BYTES: usize = 256;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

    use super::*;

    #[test]
    fn every_command_round_trips_by_its_tencent_name() {
        for command in CallbackCommand::ALL {
            assert_eq!(CallbackCommand::from_name(command.name()), Some(command));
            let json = serde_json::to_string(&command).unwrap();
            assert_eq!(serde_json::from_str::<CallbackCommand>(&json).unwrap(), command);
        }
        let names: std::collections::HashSet<_> = CallbackCommand::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), CallbackCommand::ALL.len());
        assert!(CallbackCommand::C2cBeforeSendMsg.is_before());
        assert!(!CallbackCommand::C2cAfterSendMsg.is_before());
    }

    #[test]
    fn a_configuration_is_read_with_its_defaults() {
        let config = CallbackConfig::from_json(
            r#"{"url": "https://app.example/im", "token": "t0ken",
                "commands": {"C2C.CallbackBeforeSendMsg": {"fail": "closed"},
                             "C2C.CallbackAfterSendMsg": {"timeoutMs": 500}}}"#,
        )
        .unwrap();
        let before = config.command(CallbackCommand::C2cBeforeSendMsg).unwrap();
        assert_eq!(
            (before.timeout_ms, before.fail),
            (DEFAULT_TIMEOUT_MS, FailMode::Closed)
        );
        let after = config.command(CallbackCommand::C2cAfterSendMsg).unwrap();
        assert_eq!((after.timeout_ms, after.fail), (500, FailMode::Open));
        assert_eq!(config.command(CallbackCommand::StateChange), None);
        // AND it survives a round trip through its stored form
        let stored = serde_json::to_string(&config).unwrap();
        assert_eq!(CallbackConfig::from_json(&stored).unwrap(), config);
    }

    #[test]
    fn bad_configurations_are_refused_as_invalid_fields() {
        for bad in [
            r#"{"url": "ftp://app.example/im"}"#,
            r#"{"url": "https://"}"#,
            r#"{"url": "app.example/im"}"#,
            r#"{"url": "https://app.example/a b"}"#,
            r#"{"url": "https://app.example", "token": ""}"#,
            r#"{"url": "https://app.example", "commands": {"C2C.Nope": {}}}"#,
            r#"{"url": "https://app.example", "commands": {"State.StateChange": {"timeoutMs": 50}}}"#,
            r#"{"url": "https://app.example", "commands": {"State.StateChange": {"timeoutMs": 10001}}}"#,
            r#"{"url": "https://app.example", "extra": 1}"#,
        ] {
            let refused = CallbackConfig::from_json(bad);
            assert!(
                matches!(refused, Err(Error::InvalidField(_))),
                "{bad}: {refused:?}"
            );
        }
    }
}
