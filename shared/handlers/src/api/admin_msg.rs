//! The server REST API's one-to-one message commands, in Tencent IM's shape: `openim/sendmsg`
//! (as a user, or a system notice when `From_Account` is absent), `openim/batchsendmsg`, and
//! `openim/admin_msgwithdraw` (recall at any age).
//!
//! `MsgBody` takes Tencent's element objects for the element types Tencent defines the same way:
//! `TIMTextElem`, `TIMCustomElem`, `TIMFaceElem` and `TIMLocationElem`. Media elements need a
//! media id from `media.upload`, which an app server does not have: they are refused. `MsgKey`
//! is the message's seq in the conversation, as text.

use super::Shared;
use super::admin::{Admin, Failure, Refusal, Reply, failure_with, from_error, ok, parse, user_id};
use axum::body::Bytes;
use axum::extract::State;
use cirrus_core::element::Element;
use cirrus_core::ids::ClientMsgId;
use serde::Deserialize;
use serde_json::{Value, json};

/// Most recipients one `batchsendmsg` takes (Tencent: 500).
const MAX_BATCH_RECIPIENTS: usize = 500;

#[derive(Deserialize)]
struct TimElement {
    #[serde(rename = "MsgType")]
    kind: String,
    #[serde(rename = "MsgContent", default)]
    content: Value,
}

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
}

#[derive(Deserialize)]
struct Withdraw {
    #[serde(rename = "From_Account")]
    from: String,
    #[serde(rename = "To_Account")]
    to: String,
    #[serde(rename = "MsgKey")]
    key: String,
}

fn text_of(content: &Value, field: &str) -> Option<String> {
    content.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn number_of(content: &Value, field: &str, kind: &str) -> Result<f64, String> {
    content
        .get(field)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("{kind} needs {field}"))
}

/// Converts one of Tencent's `MsgBody` elements into a Cirrus element.
fn element(element: TimElement) -> Result<Element, String> {
    let content = &element.content;
    match element.kind.as_str() {
        "TIMTextElem" => Ok(Element::Text {
            text: text_of(content, "Text").ok_or("TIMTextElem needs Text")?,
        }),
        "TIMCustomElem" => Ok(Element::Custom {
            data: text_of(content, "Data").unwrap_or_default(),
            desc: text_of(content, "Desc"),
            ext: text_of(content, "Ext"),
        }),
        "TIMFaceElem" => Ok(Element::Face {
            index: content
                .get("Index")
                .and_then(Value::as_i64)
                .ok_or("TIMFaceElem needs Index")?,
            data: text_of(content, "Data"),
        }),
        "TIMLocationElem" => Ok(Element::Location {
            latitude: number_of(content, "Latitude", "TIMLocationElem")?,
            longitude: number_of(content, "Longitude", "TIMLocationElem")?,
            desc: text_of(content, "Desc").unwrap_or_default(),
        }),
        other => Err(format!("MsgType {other} is not supported by the REST API")),
    }
}

fn body_of(body: Vec<TimElement>) -> Result<Vec<Element>, Refusal> {
    body.into_iter()
        .map(element)
        .collect::<Result<_, _>>()
        .map_err(|reason| failure_with(Failure::InvalidParameter, &reason))
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

/// # POST /v4/openim/sendmsg
/// One message to one user, as `From_Account` or as a system notice.
pub(super) async fn sendmsg(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: SendMsg = parse(&body)?;
    let from = body.from.as_deref().map(user_id).transpose()?;
    let to = user_id(&body.to)?;
    let elements = body_of(body.body)?;
    let stored = api
        .deps
        .services
        .messages
        .send_as_server(
            from,
            to,
            client_msg_id(body.random, &body.to)?,
            elements,
            body.cloud_custom_data,
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
/// The same message to up to 500 users; per-recipient failures are listed
/// in `ErrorList` and do not stop the others.
pub(super) async fn batchsendmsg(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: BatchSendMsg = parse(&body)?;
    if body.to.is_empty() || body.to.len() > MAX_BATCH_RECIPIENTS {
        return Err(failure_with(
            Failure::InvalidParameter,
            &format!("To_Account must name 1 to {MAX_BATCH_RECIPIENTS} users"),
        ));
    }
    let from = body.from.as_deref().map(user_id).transpose()?;
    let elements = body_of(body.body)?;
    let mut errors = Vec::new();
    for raw in &body.to {
        let outcome = async {
            let to = user_id(raw)?;
            api.deps
                .services
                .messages
                .send_as_server(
                    from.clone(),
                    to,
                    client_msg_id(body.random, raw)?,
                    elements.clone(),
                    body.cloud_custom_data.clone(),
                )
                .await
                .map_err(|e| from_error(&e))
        }
        .await;
        if let Err(refusal) = outcome {
            errors.push(json!({"To_Account": raw, "ErrorCode": refusal.code()}));
        }
    }
    Ok(ok(json!({ "ErrorList": errors })))
}

/// # POST /v4/openim/admin_msgwithdraw
/// Recalls a message between two users, whatever its age.
pub(super) async fn admin_msgwithdraw(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: Withdraw = parse(&body)?;
    let from = user_id(&body.from)?;
    let to = user_id(&body.to)?;
    let seq: u64 = body
        .key
        .parse()
        .map_err(|_| failure_with(Failure::InvalidParameter, "MsgKey is not one this server issued"))?;
    match api.deps.services.messages.recall_as_admin(&from, &to, seq).await {
        Ok(_) => Ok(ok(json!({}))),
        Err(cirrus_core::Error::NotFound(_)) => Err(failure_with(
            Failure::InvalidParameter,
            "no such message (or it is past roaming)",
        )),
        Err(err) => Err(from_error(&err)),
    }
}
