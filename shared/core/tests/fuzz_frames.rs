//! Fuzzes WebSocket frame parsing: `ClientFrame::parse` and the reading of a frame's `data`.

use cirrus_core::ErrorCode;
use cirrus_core::fuzzing::{arbitrary_text, config, json_value, mutated};
use cirrus_core::protocol::{Action, ClientFrame, ConvListRequest, SendRequest};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The frame's own fields, so generated objects often look like frames.
const KEYS: &[&str] = &[
    "action", "reqId", "data", "to", "type", "id", "body", "limit", "cursor",
];

/// A well-formed frame for any action, with some data.
fn valid_frame() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(Action::ALL.to_vec()),
        "[a-z0-9-]{0,12}",
        json_value(KEYS),
    )
        .prop_map(|(action, req_id, data)| json!({"action": action.name(), "reqId": req_id, "data": data}))
}

/// Anything `parse` accepts is an object whose fields have the declared types; anything it
/// refuses is `bad_json`.
fn check_parse(text: &str) {
    match ClientFrame::parse(text) {
        Ok(frame) => {
            // `data` is kept raw, so a number out of range in it (`1e999`) is only refused when
            // the data is read; otherwise the frame is the object it was parsed from.
            if let Ok(value) = serde_json::from_str::<Value>(text) {
                assert!(value.is_object(), "{text:.200}");
                assert_eq!(frame.action.as_deref(), value["action"].as_str());
                assert_eq!(frame.req_id.as_deref(), value["reqId"].as_str());
            }
            // Reading data is a coded refusal or a value, never an internal error.
            for result in [
                frame.data::<SendRequest>().err(),
                frame.data::<ConvListRequest>().err(),
                frame.data::<Value>().err(),
            ]
            .into_iter()
            .flatten()
            {
                assert!(!result.is_internal(), "{result:?}");
                assert!(matches!(
                    result.code(),
                    ErrorCode::MissingField | ErrorCode::InvalidField
                ));
            }
        }
        Err(err) => assert_eq!(err.code(), ErrorCode::BadJson, "{text:.200}"),
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_text_parses_or_is_bad_json(text in arbitrary_text(KEYS)) {
        check_parse(&text);
    }

    #[test]
    fn arbitrary_json_parses_or_is_bad_json(value in json_value(KEYS)) {
        check_parse(&value.to_string());
    }

    #[test]
    fn mutated_frames_parse_or_are_bad_json(text in valid_frame().prop_flat_map(|f| mutated(f, KEYS))) {
        check_parse(&text);
    }

    #[test]
    fn valid_frames_round_trip(frame in valid_frame()) {
        let text = frame.to_string();
        let parsed = ClientFrame::parse(&text).expect("a valid frame parses");
        prop_assert_eq!(parsed.action.as_deref(), frame["action"].as_str());
        prop_assert_eq!(parsed.req_id.as_deref(), frame["reqId"].as_str());
        // Null data reads as absent data does, as `{}`.
        let data = if frame["data"].is_null() { json!({}) } else { frame["data"].clone() };
        prop_assert_eq!(parsed.data::<Value>().expect("any data reads as a value"), data);
        prop_assert!(Action::from_name(parsed.action.as_deref().unwrap_or_default()).is_some());
    }
}
