//! The send path's callbacks: `C2C.CallbackBeforeSendMsg` / `Group.CallbackBeforeSendMsg` before
//! a client's message is stored (the app may refuse it, or rewrite `MsgBody` and
//! `CloudCustomData`), and `C2C.CallbackAfterSendMsg` / `Group.CallbackAfterSendMsg` once it is.
//!
//! The fields are Tencent's (`From_Account`, `To_Account` or `GroupId`, `MsgBody`, …), plus
//! Cirrus's `ClientMsgId` and, after the send, `MsgId`. Messages the app server sends through
//! the REST API, and the server's notices, fire none, as in Tencent IM by default.

use crate::callbacks::CallbackCommand;
use crate::element::{Element, validate_body};
use crate::error::{Error, Result};
use crate::group::Group;
use crate::ids::{ClientMsgId, UserId};
use crate::limits::Limits;
use crate::message::{StoredMessage, Target};
use crate::ports::NewMessage;
use crate::service::callback_hooks::{CallbackHooks, Fields};
use crate::tim::{body_to_tim, rewrite_body};
use serde_json::{Value, json};

fn command(to: &Target, before: bool) -> CallbackCommand {
    match (to, before) {
        (Target::C2c(_), true) => CallbackCommand::C2cBeforeSendMsg,
        (Target::C2c(_), false) => CallbackCommand::C2cAfterSendMsg,
        (Target::Group(_), true) => CallbackCommand::GroupBeforeSendMsg,
        (Target::Group(_), false) => CallbackCommand::GroupAfterSendMsg,
    }
}

/// What both send callbacks tell of a message, before it is stored or after.
struct Sent<'a> {
    from: &'a UserId,
    to: &'a Target,
    client_msg_id: &'a ClientMsgId,
    body: &'a [Element],
    cloud_custom_data: Option<&'a str>,
    time: i64,
}

// A message before it is stored and after: the same fields under the same names.
macro_rules! sent_from {
    ($($message:ty),+) => {$(
        impl<'a> From<&'a $message> for Sent<'a> {
            fn from(message: &'a $message) -> Self {
                Self {
                    from: &message.from,
                    to: &message.to,
                    client_msg_id: &message.client_msg_id,
                    body: &message.body,
                    cloud_custom_data: message.cloud_custom_data.as_deref(),
                    time: message.time,
                }
            }
        }
    )+};
}

sent_from!(NewMessage, StoredMessage);

/// The fields both callbacks share.
fn common(sent: Sent<'_>, group: Option<&Group>) -> Fields {
    let mut fields = Fields::new();
    fields.insert("From_Account".into(), json!(sent.from.as_str()));
    match sent.to {
        Target::C2c(peer) => {
            fields.insert("To_Account".into(), json!(peer.as_str()));
            fields.insert("MsgTime".into(), json!(sent.time / 1000));
        }
        Target::Group(id) => {
            fields.insert("GroupId".into(), json!(id.as_str()));
            if let Some(group) = group {
                fields.insert("Type".into(), json!(group.kind.tencent_name()));
            }
            fields.insert("Operator_Account".into(), json!(sent.from.as_str()));
        }
    }
    fields.insert("OnlineOnlyFlag".into(), json!(0));
    fields.insert("MsgBody".into(), body_to_tim(sent.body));
    if let Some(data) = sent.cloud_custom_data {
        fields.insert("CloudCustomData".into(), json!(data));
    }
    fields.insert("ClientMsgId".into(), json!(sent.client_msg_id.as_str()));
    fields.insert("EventTime".into(), json!(sent.time));
    fields
}

/// Runs the before-send callback for `message`: refused, the send fails with the app's reason;
/// rewritten, its body and `cloudCustomData` become the app's (checked like a client's). A
/// rewrite that is no valid body refuses the send (`callback_failed`) rather than let the
/// original through.
pub(super) async fn before_send(
    hooks: &CallbackHooks,
    limits: &Limits,
    message: &mut NewMessage,
    group: Option<&Group>,
) -> Result<()> {
    let reply = hooks
        .before(command(&message.to, true), || {
            common(Sent::from(&*message), group)
        })
        .await?;
    let Some(reply) = reply else {
        return Ok(());
    };
    if let Some(answered) = reply.get("MsgBody") {
        let rewritten = rewrite_body(&message.body, answered).map_err(|reason| {
            tracing::warn!(%reason, "a before-send callback answered a body that is not valid");
            Error::CallbackFailed
        })?;
        validate_body(&rewritten, limits).map_err(|err| {
            tracing::warn!(error = %err, "a before-send callback's body breaks the message rules");
            Error::CallbackFailed
        })?;
        message.body = rewritten;
    }
    match reply.get("CloudCustomData") {
        Some(Value::String(data)) if data.len() <= limits.max_body_bytes => {
            message.cloud_custom_data = Some(data.clone()).filter(|data| !data.is_empty());
        }
        Some(Value::String(_)) => {
            tracing::warn!("a before-send callback's CloudCustomData is over the size limit");
            return Err(Error::CallbackFailed);
        }
        _ => {}
    }
    Ok(())
}

/// Queues the after-send callback for a newly stored client message.
pub(super) async fn after_send(hooks: &CallbackHooks, message: &StoredMessage, group: Option<&Group>) {
    hooks
        .after(command(&message.to, false), || {
            let mut fields = common(Sent::from(message), group);
            fields.insert("MsgSeq".into(), json!(message.seq));
            fields.insert("MsgId".into(), json!(message.msg_id.as_str()));
            if matches!(message.to, Target::C2c(_)) {
                // Tencent's MsgKey identifies a one-to-one message; Cirrus's msgId does.
                fields.insert("MsgKey".into(), json!(message.msg_id.as_str()));
                fields.insert("SendMsgResult".into(), json!(0));
            } else {
                fields.insert("MsgTime".into(), json!(message.time / 1000));
            }
            fields
        })
        .await;
}

/// Queues `C2C.CallbackAfterMsgWithDraw` or `Group.CallbackAfterRecallMsg` for a message just
/// recalled by `by`.
pub(super) async fn after_recall(hooks: &CallbackHooks, message: &StoredMessage, by: &UserId, now: i64) {
    let command = match message.to {
        Target::C2c(_) => CallbackCommand::C2cAfterMsgWithDraw,
        Target::Group(_) => CallbackCommand::GroupAfterRecallMsg,
    };
    hooks
        .after(command, || {
            let mut fields = Fields::new();
            match &message.to {
                Target::C2c(peer) => {
                    fields.insert("From_Account".into(), json!(message.from.as_str()));
                    fields.insert("To_Account".into(), json!(peer.as_str()));
                    fields.insert("MsgKey".into(), json!(message.msg_id.as_str()));
                    fields.insert("MsgSeq".into(), json!(message.seq));
                }
                Target::Group(group) => {
                    fields.insert("GroupId".into(), json!(group.as_str()));
                    fields.insert("MsgSeqList".into(), json!([{"MsgSeq": message.seq}]));
                }
            }
            fields.insert("Operator_Account".into(), json!(by.as_str()));
            fields.insert("EventTime".into(), json!(now));
            fields
        })
        .await;
}

/// Tells the app server a one-to-one message was edited (`C2C.CallbackAfterModifyMsg`, with
/// the new body); Tencent defines no group counterpart, so a group edit calls nothing.
pub(super) async fn after_edit(hooks: &CallbackHooks, message: &StoredMessage, by: &UserId, now: i64) {
    let Target::C2c(peer) = &message.to else {
        return;
    };
    hooks
        .after(CallbackCommand::C2cAfterModifyMsg, || {
            let mut fields = Fields::new();
            fields.insert("From_Account".into(), json!(message.from.as_str()));
            fields.insert("To_Account".into(), json!(peer.as_str()));
            fields.insert("Operator_Account".into(), json!(by.as_str()));
            fields.insert("MsgKey".into(), json!(message.msg_id.as_str()));
            fields.insert("MsgSeq".into(), json!(message.seq));
            fields.insert("MsgTime".into(), json!(message.time / 1000));
            fields.insert("MsgBody".into(), body_to_tim(&message.body));
            if let Some(data) = &message.cloud_custom_data {
                fields.insert("CloudCustomData".into(), json!(data));
            }
            fields.insert("EventTime".into(), json!(now));
            fields
        })
        .await;
}
