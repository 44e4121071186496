//! The frames the bench sends and reads: formatting `msg.send` and parsing acks and deliveries.

use bytes::BytesMut;
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt::Write as _;

/// Formats the `msg.send` frame for message `k` into `out` (the hot path; no JSON tree).
///
/// The reqId is `k` itself, so an ack finds its schedule without a lookup; the custom element's
/// data is `"<k>:<scheduled ns>"`. `to` and `client_msg_prefix` must need no JSON escaping, and
/// `payload` must be a JSON string literal's contents.
pub fn format_send_frame(
    out: &mut BytesMut,
    k: u64,
    at_ns: u64,
    to: &str,
    client_msg_prefix: &str,
    payload: &str,
) {
    // Writing into a BytesMut grows it and cannot fail.
    let _ = write!(
        out,
        r#"{{"action":"msg.send","reqId":"{k}","data":{{"to":{{"type":"c2c","id":"{to}"}},"clientMsgId":"{client_msg_prefix}{k}","body":[{{"type":"custom","data":"{k}:{at_ns}"}}"#
    );
    if !payload.is_empty() {
        let _ = write!(out, r#",{{"type":"text","text":"{payload}"}}"#);
    }
    out.extend_from_slice(b"]}}");
}

#[derive(Deserialize)]
pub(super) struct ReplyView<'a> {
    #[serde(borrow, rename = "type")]
    pub(super) kind: Cow<'a, str>,
    #[serde(borrow, default, rename = "reqId")]
    pub(super) req_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) ok: bool,
    #[serde(borrow, default)]
    pub(super) error: Option<ErrorView<'a>>,
}

#[derive(Deserialize)]
pub(super) struct ErrorView<'a> {
    #[serde(borrow)]
    pub(super) code: Cow<'a, str>,
}

/// What a sender learns from a reply: the message index and the error code, if any.
#[derive(Debug, PartialEq, Eq)]
pub struct AckView {
    /// The message index (the reqId).
    pub k: u64,
    /// `None` for a successful ack.
    pub error: Option<String>,
}

/// Reads a reply to a bench `msg.send`; `None` for events and replies to anything else.
pub fn parse_ack(text: &str) -> Option<AckView> {
    let reply: ReplyView<'_> = serde_json::from_str(text).ok()?;
    if reply.kind != "reply" {
        return None;
    }
    let k = reply.req_id?.parse().ok()?;
    let error = match (reply.ok, reply.error) {
        (true, _) => None,
        (false, Some(error)) => Some(error.code.into_owned()),
        (false, None) => Some("unknown".to_owned()),
    };
    Some(AckView { k, error })
}

#[derive(Deserialize)]
pub(super) struct EventView<'a> {
    #[serde(borrow, default)]
    pub(super) event: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) data: Option<MessageView<'a>>,
}

#[derive(Deserialize)]
pub(super) struct MessageView<'a> {
    #[serde(borrow, default)]
    pub(super) from: Cow<'a, str>,
    #[serde(borrow, default)]
    pub(super) body: Vec<ElementView<'a>>,
}

#[derive(Deserialize)]
pub(super) struct ElementView<'a> {
    #[serde(borrow, rename = "type")]
    pub(super) kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub(super) data: Option<Cow<'a, str>>,
}

/// What a receiver learns from a `msg.new`: who sent it, and the message index and schedule.
#[derive(Debug, PartialEq, Eq)]
pub struct DeliveryView {
    /// The sender's user id.
    pub from: String,
    /// The message index.
    pub k: u64,
    /// Its scheduled send time, ns since the bench start.
    pub at_ns: u64,
}

/// Reads a bench message out of a `msg.new` event; `None` for anything else.
pub fn parse_delivery(text: &str) -> Option<DeliveryView> {
    let event: EventView<'_> = serde_json::from_str(text).ok()?;
    if event.event.as_deref() != Some("msg.new") {
        return None;
    }
    let message = event.data?;
    let timing = message
        .body
        .iter()
        .find(|e| e.kind == "custom")?
        .data
        .as_deref()?;
    let (k, at_ns) = timing.split_once(':')?;
    Some(DeliveryView {
        from: message.from.into_owned(),
        k: k.parse().ok()?,
        at_ns: at_ns.parse().ok()?,
    })
}
