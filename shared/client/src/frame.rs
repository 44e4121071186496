//! Building client frames and reading server frames (DESIGN.md §3), plus the connect URL.

use cirrus_core::protocol::ErrorBody;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The reqId the client puts on its `n`-th request.
pub fn req_id(n: u64) -> String {
    format!("r{n}")
}

/// Reads back a reqId made by [`req_id`]; `None` for any other shape.
pub fn parse_req_id(raw: &str) -> Option<u64> {
    raw.strip_prefix('r')?.parse().ok()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestFrame<'a> {
    action: &'a str,
    req_id: &'a str,
    data: &'a Value,
}

/// The text of a client frame: `{"action": …, "reqId": …, "data": …}`.
pub fn request_frame(action: &str, req_id: &str, data: &Value) -> String {
    let frame = RequestFrame { action, req_id, data };
    // A `Value` always serializes (its map keys are strings), so the fallback is unreachable.
    serde_json::to_string(&frame).unwrap_or_default()
}

/// A frame the server sent.
#[derive(Debug, PartialEq)]
pub enum ServerFrame {
    /// The answer to a request.
    Reply {
        /// The request's reqId, if the server could read it.
        req_id: Option<String>,
        /// The reply data (`null` when absent), or the error object.
        outcome: Result<Value, ErrorBody>,
    },
    /// A pushed event.
    Event {
        /// The event name, e.g. `msg.new`.
        event: String,
        /// The event data.
        data: Value,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFrame {
    r#type: String,
    #[serde(default)]
    req_id: Option<String>,
    #[serde(default)]
    ok: Option<bool>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    error: Option<ErrorBody>,
    #[serde(default)]
    event: Option<String>,
}

/// Why a server frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Not JSON, or not an object of the documented shape.
    #[error("malformed server frame: {0}")]
    Json(#[from] serde_json::Error),
    /// `type` is neither `reply` nor `event`.
    #[error("unknown server frame type {0:?}")]
    UnknownType(String),
    /// An event without its name.
    #[error("event frame without an event name")]
    MissingEvent,
}

/// Parses one text frame from the server.
///
/// A reply with `"ok": false` (or no `ok` at all) but no error object reads as an error with code
/// `unknown`, so a broken reply still completes its request.
pub fn parse_server_frame(text: &str) -> Result<ServerFrame, FrameError> {
    let raw: RawFrame = serde_json::from_str(text)?;
    match raw.r#type.as_str() {
        "reply" => {
            let outcome = if raw.ok == Some(true) {
                Ok(raw.data.unwrap_or(Value::Null))
            } else {
                Err(raw.error.unwrap_or_else(|| ErrorBody {
                    code: "unknown".to_owned(),
                    message: "error reply without an error object".to_owned(),
                    retry_after_ms: None,
                }))
            };
            Ok(ServerFrame::Reply {
                req_id: raw.req_id,
                outcome,
            })
        }
        "event" => Ok(ServerFrame::Event {
            event: raw.event.ok_or(FrameError::MissingEvent)?,
            data: raw.data.unwrap_or(Value::Null),
        }),
        _ => Err(FrameError::UnknownType(raw.r#type)),
    }
}

/// The URL to open: `base` with `token` (and `platform`) added to its query string.
///
/// `ws://host:port` gains the `/` path; an existing query is kept. Values are percent-encoded.
pub fn connect_url(base: &str, token: &str, platform: Option<&str>) -> Result<String, String> {
    let Some((scheme, rest)) = base.split_once("://") else {
        return Err(format!("{base:?} has no scheme; expected ws:// or wss://"));
    };
    if scheme != "ws" && scheme != "wss" {
        return Err(format!("{base:?} is not a ws:// or wss:// URL"));
    }
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    if before_query.is_empty() || before_query.starts_with('/') {
        return Err(format!("{base:?} has no host"));
    }
    let mut url = format!("{scheme}://{before_query}");
    if !before_query.contains('/') {
        url.push('/');
    }
    url.push('?');
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        url.push_str(query);
        url.push('&');
    }
    url.push_str("token=");
    percent_encode_into(&mut url, token);
    if let Some(platform) = platform {
        url.push_str("&platform=");
        percent_encode_into(&mut url, platform);
    }
    Ok(url)
}

fn percent_encode_into(out: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'*') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_frames_have_the_documented_shape() {
        // GIVEN an action with data WHEN framed THEN it reads back as action/reqId/data.
        let text = request_frame("msg.send", &req_id(7), &json!({"clientMsgId": "c\"1"}));
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"action": "msg.send", "reqId": "r7", "data": {"clientMsgId": "c\"1"}})
        );
    }

    #[test]
    fn req_ids_round_trip_and_foreign_ids_are_ignored() {
        assert_eq!(parse_req_id(&req_id(0)), Some(0));
        assert_eq!(parse_req_id(&req_id(u64::MAX)), Some(u64::MAX));
        for foreign in ["", "r", "7", "rx", "p1", "r-1"] {
            assert_eq!(parse_req_id(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn replies_and_events_parse() {
        let ok = parse_server_frame(r#"{"type":"reply","reqId":"r1","ok":true,"data":{"time":5}}"#).unwrap();
        assert_eq!(
            ok,
            ServerFrame::Reply {
                req_id: Some("r1".into()),
                outcome: Ok(json!({"time": 5}))
            }
        );
        let err = parse_server_frame(
            r#"{"type":"reply","reqId":"r2","ok":false,"error":{"code":"forbidden","message":"no"}}"#,
        )
        .unwrap();
        let ServerFrame::Reply {
            outcome: Err(body), ..
        } = err
        else {
            panic!("expected an error reply, got {err:?}")
        };
        assert_eq!(body.code, "forbidden");
        let event = parse_server_frame(r#"{"type":"event","event":"msg.new","data":{"seq":1}}"#).unwrap();
        assert_eq!(
            event,
            ServerFrame::Event {
                event: "msg.new".into(),
                data: json!({"seq": 1})
            }
        );
    }

    #[test]
    fn odd_frames_are_handled() {
        // An ok reply without data is null; an error reply without an error object still fails.
        let bare = parse_server_frame(r#"{"type":"reply","reqId":"r3","ok":true}"#).unwrap();
        assert!(matches!(
            bare,
            ServerFrame::Reply {
                outcome: Ok(Value::Null),
                ..
            }
        ));
        let broken = parse_server_frame(r#"{"type":"reply","ok":false}"#).unwrap();
        assert!(
            matches!(broken, ServerFrame::Reply { req_id: None, outcome: Err(ref e) } if e.code == "unknown")
        );
        assert!(matches!(
            parse_server_frame(r#"{"type":"gossip"}"#),
            Err(FrameError::UnknownType(_))
        ));
        assert!(matches!(
            parse_server_frame(r#"{"type":"event"}"#),
            Err(FrameError::MissingEvent)
        ));
        assert!(matches!(parse_server_frame("nope"), Err(FrameError::Json(_))));
    }

    #[test]
    fn connect_urls_carry_the_token() {
        assert_eq!(
            connect_url("ws://127.0.0.1:8080", "a*b-c_", None).unwrap(),
            "ws://127.0.0.1:8080/?token=a*b-c_"
        );
        assert_eq!(
            connect_url("wss://x.example/prod", "t", Some("ios app")).unwrap(),
            "wss://x.example/prod?token=t&platform=ios%20app"
        );
        assert_eq!(
            connect_url("ws://h:1/?v=2", "t+/=", None).unwrap(),
            "ws://h:1/?v=2&token=t%2B%2F%3D"
        );
        for bad in ["127.0.0.1:8080", "http://h", "ws://", "ws:///x"] {
            assert!(connect_url(bad, "t", None).is_err(), "{bad}");
        }
    }
}
