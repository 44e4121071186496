//! The frames the fan-out bench sends: room creation, entry and the host's group messages.

use super::config::SETUP_REQ_ID;
use crate::frame::{self};
use serde_json::json;

/// The `group.create` frame of a live room.
pub fn create_room_frame(room: &str) -> String {
    frame::request_frame(
        "group.create",
        SETUP_REQ_ID,
        &json!({"type": "live", "groupId": room, "name": "cirrus bench-fanout"}),
    )
}

/// The `group.apply` frame that enters a live room.
pub fn apply_frame(room: &str) -> String {
    frame::request_frame("group.apply", SETUP_REQ_ID, &json!({"groupId": room}))
}

/// The host's `msg.send` of message `k` to the room, sent at `at_ns` (ns since the bench's
/// epoch). The reqId is `k` and the custom element's data `"<k>:<at_ns>"`, as in
/// [`crate::bench`], so [`parse_ack`] and [`parse_delivery`] read them back.
pub fn group_send_frame(room: &str, run_id: &str, k: u64, at_ns: u64, payload: &str) -> String {
    let mut body = vec![json!({"type": "custom", "data": format!("{k}:{at_ns}")})];
    if !payload.is_empty() {
        body.push(json!({"type": "text", "text": payload}));
    }
    frame::request_frame(
        "msg.send",
        &k.to_string(),
        &json!({
            "to": {"type": "group", "id": room},
            "clientMsgId": format!("{run_id}-fanout-{k}"),
            "body": body,
        }),
    )
}
