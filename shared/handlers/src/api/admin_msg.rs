//! The server REST API's message commands, in Tencent IM's shape: `openim/sendmsg` (as a user,
//! or a system notice when `From_Account` is absent), `openim/batchsendmsg`,
//! `openim/admin_msgwithdraw` (recall at any age), `openim/modify_c2c_msg` (edit at any age), and
//! `group_open_http_svc/send_group_msg`.
//!
//! `MsgBody` is read by [`super::tim_body`]. `MsgKey` is the message's seq in the
//! conversation, as text; Tencent's own `seq_random_time` form is read for its seq.

use super::Shared;
use super::admin::{Admin, Failure, Refusal, Reply, failure_with, from_error, ok, parse, user_id};
use super::tim_body::{TimElement, body_of};
use axum::body::Bytes;
use axum::extract::State;
use cirrus_core::Error;
use cirrus_core::ids::{ClientMsgId, UserId};
use cirrus_core::message::Target;
use serde::Deserialize;
use serde_json::json;

/// Most recipients one `batchsendmsg` takes (Tencent: 500).
const MAX_BATCH_RECIPIENTS: usize = 500;

#[derive(Deserialize)]
struct SendMsg {
    #[serde(rename = "From_Account", default)]
    from: Option<String>,
    #[serde(rename = "To_Account")]
    to: String,
    #[serde(rename = "MsgRandom", default)]
    random: Option<u32>,
    #[serde(rename = "MsgBody")]
    body: Vec<TimElement>,
    #[serde(rename = "CloudCustomData", default)]
    cloud_custom_data: Option<String>,
    #[serde(rename = "SyncOtherMachine", default)]
    sync: Option<u8>,
}

#[derive(Deserialize)]
struct BatchSendMsg {
    #[serde(rename = "From_Account", default)]
    from: Option<String>,
    #[serde(rename = "To_Account")]
    to: Vec<String>,
    #[serde(rename = "MsgRandom", default)]
    random: Option<u32>,
    #[serde(rename = "MsgBody")]
    body: Vec<TimElement>,
    #[serde(rename = "CloudCustomData", default)]
    cloud_custom_data: Option<String>,
    #[serde(rename = "SyncOtherMachine", default)]
    sync: Option<u8>,
}

/// A one-to-one message as Tencent's admin commands name it: its two users and its `MsgKey`.
#[derive(Deserialize)]
struct C2cMessageRef {
    #[serde(rename = "From_Account")]
    from: String,
    #[serde(rename = "To_Account")]
    to: String,
    #[serde(rename = "MsgKey")]
    key: String,
}

impl C2cMessageRef {
    /// The sender, the recipient and the seq, each checked.
    fn resolve(&self) -> Result<(UserId, UserId, u64), Refusal> {
        Ok((user_id(&self.from)?, user_id(&self.to)?, msg_key_seq(&self.key)?))
    }
}

/// The reply to an admin command on one message: `{}`, or Tencent's invalid-parameter error when
/// the message is not (or no longer) stored.
fn message_command_reply<T>(result: cirrus_core::Result<T>) -> Reply {
    match result {
        Ok(_) => Ok(ok(json!({}))),
        Err(Error::NotFound(_)) => Err(failure_with(
            Failure::InvalidParameter,
            "no such message (or it is past roaming)",
        )),
        Err(err) => Err(from_error(&err)),
    }
}

/// The idempotency key of a REST send: `MsgRandom` makes a retried call one message (per
/// recipient); without it every call is a new message.
fn client_msg_id(random: Option<u32>, to: &str) -> Result<ClientMsgId, Refusal> {
    let raw = match random {
        Some(random) => format!("rest-{random}-{to}"),
        None => format!("rest-{}", uuid::Uuid::new_v4().simple()),
    };
    ClientMsgId::parse(raw).map_err(|err| failure_with(Failure::InvalidParameter, &err.to_string()))
}

/// Whether the sender's own connections get the message, from Tencent's `SyncOtherMachine`:
/// 1 (and absent) yes, 2 no.
fn sync_sender(sync: Option<u8>) -> Result<bool, Refusal> {
    match sync {
        None | Some(1) => Ok(true),
        Some(2) => Ok(false),
        Some(_) => Err(failure_with(
            Failure::InvalidParameter,
            "SyncOtherMachine must be 1 or 2",
        )),
    }
}

/// # POST /v4/openim/sendmsg
/// One message to one user, as `From_Account` or as a system notice; `SyncOtherMachine: 2`
/// keeps it from the sender's own connections.
pub(super) async fn sendmsg(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: SendMsg = parse(&body)?;
    let from = body.from.as_deref().map(user_id).transpose()?;
    let to = user_id(&body.to)?;
    let sync = sync_sender(body.sync)?;
    let elements = body_of(body.body)?;
    let stored = api
        .deps
        .services
        .messages
        .send_as_server(
            from,
            Target::C2c(to),
            client_msg_id(body.random, &body.to)?,
            elements,
            body.cloud_custom_data,
            sync,
        )
        .await
        .map_err(|e| from_error(&e))?;
    Ok(ok(json!({
        "MsgTime": stored.time.div_euclid(1000),
        "MsgKey": stored.seq.to_string(),
        "MsgSeq": stored.seq,
        "MsgId": stored.msg_id,
    })))
}

/// # POST /v4/openim/batchsendmsg
/// The same message to up to 500 users; each recipient's `MsgKey` (for `admin_msgwithdraw`) is
/// in `MsgKeyList`, per-recipient failures (70107: no such account) in `ErrorList`, and a
/// failure does not stop the others.
pub(super) async fn batchsendmsg(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: BatchSendMsg = parse(&body)?;
    if body.to.is_empty() || body.to.len() > MAX_BATCH_RECIPIENTS {
        return Err(failure_with(
            Failure::InvalidParameter,
            &format!("To_Account must name 1 to {MAX_BATCH_RECIPIENTS} users"),
        ));
    }
    let from = body.from.as_deref().map(user_id).transpose()?;
    let sync = sync_sender(body.sync)?;
    let elements = body_of(body.body)?;
    let (mut keys, mut errors) = (Vec::new(), Vec::new());
    for raw in &body.to {
        let outcome = async {
            let to = user_id(raw)?;
            api.deps
                .services
                .messages
                .send_as_server(
                    from.clone(),
                    Target::C2c(to),
                    client_msg_id(body.random, raw)?,
                    elements.clone(),
                    body.cloud_custom_data.clone(),
                    sync,
                )
                .await
                .map_err(|e| from_error(&e))
        }
        .await;
        match outcome {
            Ok(stored) => keys.push(json!({"To_Account": raw, "MsgKey": stored.seq.to_string()})),
            Err(refusal) => errors.push(json!({"To_Account": raw, "ErrorCode": refusal.code()})),
        }
    }
    Ok(ok(json!({ "MsgKeyList": keys, "ErrorList": errors })))
}

/// # POST /v4/openim/admin_msgwithdraw
/// Recalls a message between two users, whatever its age.
pub(super) async fn admin_msgwithdraw(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: C2cMessageRef = parse(&body)?;
    let (from, to, seq) = body.resolve()?;
    message_command_reply(api.deps.services.messages.recall_as_admin(&from, &to, seq).await)
}

/// The seq a `MsgKey` names: the key itself, or the first part of Tencent's `seq_random_time`.
fn msg_key_seq(key: &str) -> Result<u64, Refusal> {
    let seq = key.split('_').next().unwrap_or_default();
    seq.parse()
        .ok()
        .filter(|&seq| seq > 0)
        .ok_or_else(|| failure_with(Failure::InvalidParameter, "MsgKey is not one this server issued"))
}

#[derive(Deserialize)]
struct ModifyC2c {
    #[serde(flatten)]
    message: C2cMessageRef,
    #[serde(rename = "MsgBody", default)]
    body: Option<Vec<TimElement>>,
    #[serde(rename = "CloudCustomData", default)]
    cloud_custom_data: Option<String>,
}

/// # POST /v4/openim/modify_c2c_msg
/// Edits a one-to-one message, whatever its age: the `MsgBody` and `CloudCustomData` given
/// replace the stored ones (a field left out stays); both users' connections get `msg.edited`.
pub(super) async fn modify_c2c_msg(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: ModifyC2c = parse(&body)?;
    let (from, to, seq) = body.message.resolve()?;
    let elements = body.body.map(body_of).transpose()?;
    let edited = api
        .deps
        .services
        .messages
        .edit_as_admin(&from, &to, seq, elements, body.cloud_custom_data)
        .await;
    message_command_reply(edited)
}

#[derive(Deserialize)]
struct SendGroupMsg {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "From_Account", default)]
    from: Option<String>,
    #[serde(rename = "Random", default)]
    random: Option<u32>,
    #[serde(rename = "MsgBody")]
    body: Vec<TimElement>,
    #[serde(rename = "CloudCustomData", default)]
    cloud_custom_data: Option<String>,
}

/// # POST /v4/group_open_http_svc/send_group_msg
/// One message in a group, as the member `From_Account` (their mute applies: 10017) or, without
/// it, as the app administrator. Replies `MsgTime` (s) and `MsgSeq`.
pub(super) async fn send_group_msg(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: SendGroupMsg = parse(&body)?;
    let group = super::admin_group::group_id(&body.group_id)?;
    let from = body.from.as_deref().map(user_id).transpose()?;
    let elements = body_of(body.body)?;
    let stored = api
        .deps
        .services
        .messages
        .send_as_server(
            from,
            Target::Group(group),
            client_msg_id(body.random, &body.group_id)?,
            elements,
            body.cloud_custom_data,
            true,
        )
        .await
        .map_err(|err| match err {
            Error::Muted => failure_with(Failure::GroupMuted, "the sender is muted in this group"),
            err => super::admin_group::group_error(&err),
        })?;
    Ok(ok(json!({
        "MsgTime": stored.time.div_euclid(1000),
        "MsgSeq": stored.seq,
    })))
}
